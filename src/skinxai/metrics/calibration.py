"""How much a probability can be trusted: temperature, Platt and beta scaling, calibration
error, Brier score, negative log-likelihood, an operating threshold for a stated goal, an
"uncertain" band, and the risk-coverage trade-off. Small pure functions on arrays; fitted on
validation data only."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

EPSILON = 1e-12


def calibrated_logit(
    margin: torch.Tensor,
    temperature: float | torch.Tensor = 1.0,
    bias: float | torch.Tensor = 0.0,
    shape: float | torch.Tensor = 0.0,
) -> torch.Tensor:
    """logit P(malignant) = m / T + bias + shape * ln(p (1 - p)) with p = sigmoid(m), m the
    logit margin z1 - z0: the one formula that fitting, :func:`p_malignant` and
    ``ModelConfig.probabilities`` share (differentiable in every argument)."""
    log_p_times_one_minus_p = -(
        torch.nn.functional.softplus(margin) + torch.nn.functional.softplus(-margin)
    )
    return margin / temperature + bias + shape * log_p_times_one_minus_p


def _fit_margin_scaling(
    logits: np.ndarray, labels: np.ndarray, with_bias: bool, with_shape: bool = False
) -> tuple[float, float, float]:
    """(T, b, s) minimising the NLL of :func:`p_malignant`; s = tanh(u) / T keeps the map
    monotone (both beta-calibration slopes 1/T +- s stay >= 0)."""
    z = np.asarray(logits, dtype=np.float64)
    margin = torch.as_tensor(z[:, 1] - z[:, 0])
    target = torch.as_tensor(np.asarray(labels), dtype=torch.float64)
    log_t = torch.zeros((), dtype=torch.float64, requires_grad=True)
    bias = torch.zeros((), dtype=torch.float64, requires_grad=with_bias)
    shape = torch.zeros((), dtype=torch.float64, requires_grad=with_shape)
    parameters = [log_t] + [bias] * with_bias + [shape] * with_shape
    optimiser = torch.optim.LBFGS(parameters, lr=0.1, max_iter=500, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimiser.zero_grad()
        temperature = log_t.exp()
        calibrated = calibrated_logit(margin, temperature, bias, torch.tanh(shape) / temperature)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(calibrated, target)
        loss.backward()
        return loss

    optimiser.step(closure)
    temperature = float(log_t.detach().exp())
    return temperature, float(bias.detach()), float(torch.tanh(shape.detach())) / temperature


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature T > 0 that minimises the NLL of softmax(logits / T) (Guo et al., 2017)."""
    return _fit_margin_scaling(logits, labels, with_bias=False)[0]


def fit_platt(logits: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Temperature and bias (Platt scaling of the logit margin): also corrects a shift of the
    base rate, e.g. from class-weighted training, which a temperature alone cannot."""
    return _fit_margin_scaling(logits, labels, with_bias=True)[:2]


def fit_beta(logits: np.ndarray, labels: np.ndarray) -> tuple[float, float, float]:
    """Beta calibration (Kull, Silva Filho & Flach, 2017) of p = sigmoid(z1 - z0):
    logit P = a ln p - b ln(1 - p) + c, written as temperature, bias and shape
    (1/T = (a + b) / 2, s = (a - b) / 2): it can stretch the benign and malignant sides
    differently, which temperature and bias cannot."""
    return _fit_margin_scaling(logits, labels, with_bias=True, with_shape=True)


def p_malignant(
    logits: np.ndarray, temperature: float = 1.0, bias: float = 0.0, shape: float = 0.0
) -> np.ndarray:
    """Calibrated P(malignant) for (N, 2) logits: sigmoid of :func:`calibrated_logit` of
    z1 - z0 (shape 0: sigmoid((z1 - z0) / T + bias), the temperature-scaled softmax)."""
    z = np.asarray(logits, dtype=np.float64)
    margin = torch.as_tensor(z[:, 1] - z[:, 0])
    return torch.sigmoid(calibrated_logit(margin, temperature, bias, shape)).numpy()


SCALINGS = {
    "temperature": lambda z, y: (fit_temperature(z, y), 0.0, 0.0),
    "temperature and bias (Platt)": lambda z, y: (*fit_platt(z, y), 0.0),
    "beta (Kull et al., 2017)": fit_beta,
}


def cross_validated_nll(
    logits: np.ndarray, labels: np.ndarray, scaling: str, seed: int = 0
) -> float:
    """NLL of a scaling fitted on one half of the data and scored on the other, both ways."""
    order = np.random.default_rng(seed).permutation(len(labels))
    halves = (order[::2], order[1::2])
    losses = []
    for fit_on, score_on in (halves, halves[::-1]):
        p = p_malignant(logits[score_on], *SCALINGS[scaling](logits[fit_on], labels[fit_on]))
        losses.append(negative_log_likelihood(p, labels[score_on]))
    return float(np.mean(losses))


def expected_calibration_error(p: np.ndarray, labels: np.ndarray, bins: int = 15) -> float:
    """Top-label ECE: confidence max(p, 1 - p) against correctness of the argmax call, in
    ``bins`` equal-width confidence bins, weighted by their share (Guo et al., 2017)."""
    p, labels = np.asarray(p, dtype=np.float64), np.asarray(labels)
    confidence = np.maximum(p, 1.0 - p)
    correct = (p >= 0.5).astype(int) == labels
    edges = np.linspace(0.5, 1.0, bins + 1)
    index = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    error = 0.0
    for b in range(bins):
        members = index == b
        if members.any():
            error += members.mean() * abs(correct[members].mean() - confidence[members].mean())
    return float(error)


def brier_score(p: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean((np.asarray(p, dtype=np.float64) - np.asarray(labels)) ** 2))


def negative_log_likelihood(p: np.ndarray, labels: np.ndarray) -> float:
    p = np.clip(np.asarray(p, dtype=np.float64), EPSILON, 1.0 - EPSILON)
    y = np.asarray(labels)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1.0 - p)))


def calibration_quality(p: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """ECE (15 bins), Brier score and NLL of P(malignant) against the labels."""
    return {
        "ece_15_bins": expected_calibration_error(p, labels),
        "brier": brier_score(p, labels),
        "nll": negative_log_likelihood(p, labels),
    }


def reliability_bins(p: np.ndarray, labels: np.ndarray, bins: int = 15) -> dict[str, list]:
    """Per equal-width bin of P(malignant): mean prediction, observed malignant rate, count."""
    p, labels = np.asarray(p, dtype=np.float64), np.asarray(labels)
    index = np.clip((p * bins).astype(int), 0, bins - 1)
    rows: dict[str, list] = {"mean_p": [], "observed": [], "count": []}
    for b in range(bins):
        members = index == b
        rows["count"].append(int(members.sum()))
        rows["mean_p"].append(float(p[members].mean()) if members.any() else None)
        rows["observed"].append(float(labels[members].mean()) if members.any() else None)
    return rows


GOALS = ("sensitivity", "specificity")


def parse_operating_point(text: str) -> tuple[str, float]:
    """``sensitivity=0.90`` -> ("sensitivity", 0.9); a ValueError says what is allowed."""
    goal, _, value = text.partition("=")
    goal = goal.strip().lower()
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if goal not in GOALS or not 0.0 < number <= 1.0:
        raise ValueError(
            f"operating point {text!r}: give sensitivity=X or specificity=X with 0 < X <= 1"
        )
    return goal, number


def threshold_for_goal(p: np.ndarray, labels: np.ndarray, goal: str, value: float) -> float:
    """The threshold on P(malignant) that reaches ``goal`` >= ``value`` on these data and is
    best for the other rate: the highest threshold keeping the sensitivity, or the lowest
    keeping the specificity. Calls are malignant when P >= threshold."""
    p, labels = np.asarray(p, dtype=np.float64), np.asarray(labels)
    if goal not in GOALS:
        raise ValueError(f"unknown goal {goal!r}; choose from {GOALS}")
    if goal == "sensitivity":
        positives = np.sort(p[labels == 1])
        if len(positives) == 0:
            raise ValueError("no malignant images to set a sensitivity on")
        allowed_misses = int(np.floor((1.0 - value) * len(positives) + 1e-9))
        return inside_gap(p, float(positives[allowed_misses]), goal)
    negatives = np.sort(p[labels == 0])
    if len(negatives) == 0:
        raise ValueError("no benign images to set a specificity on")
    keep = int(np.ceil(value * len(negatives) - 1e-9))
    return inside_gap(p, float(negatives[keep - 1]), goal) if keep else 0.0


def inside_gap(p: np.ndarray, score: float, goal: str) -> float:
    """A threshold that makes the same calls on ``p`` as the boundary at ``score`` (called
    malignant for a sensitivity goal, benign for a specificity goal), set in the middle of
    the gap to the next score, so that rounding (bf16, another batch size) cannot move the
    image that sets it across: a threshold on a validation score is a coin toss for it."""
    p = np.asarray(p, dtype=np.float64)
    if goal == "sensitivity":
        below = p[p < score]
        return float((score + below.max()) / 2) if len(below) else score
    above = p[p > score]
    return float((score + above.min()) / 2) if len(above) else float(np.nextafter(score, np.inf))


def rates_at(p: np.ndarray, labels: np.ndarray, threshold: float) -> dict[str, float]:
    """Sensitivity and specificity of the calls P >= threshold."""
    p, labels = np.asarray(p, dtype=np.float64), np.asarray(labels)
    called = p >= threshold
    positives, negatives = labels == 1, labels == 0
    return {
        "sensitivity": float(called[positives].mean()) if positives.any() else float("nan"),
        "specificity": float((~called[negatives]).mean()) if negatives.any() else float("nan"),
    }


@dataclass(frozen=True)
class Band:
    """P(malignant) in [low, high) is answered "uncertain"; below low benign, from high up
    malignant. ``low <= threshold <= high``."""

    low: float
    high: float

    def decisions(self, p: np.ndarray) -> np.ndarray:
        """0 benign, 1 malignant, -1 uncertain."""
        p = np.asarray(p, dtype=np.float64)
        return np.where(p >= self.high, 1, np.where(p < self.low, 0, -1))


def coverage_and_accuracy(p: np.ndarray, labels: np.ndarray, band: Band) -> dict[str, float]:
    """The share of images that get a benign/malignant answer, and those answers' accuracy."""
    decided = band.decisions(p)
    covered = decided >= 0
    right = decided[covered] == np.asarray(labels)[covered]
    accuracy = float(right.mean()) if covered.any() else 1.0
    return {"coverage": float(covered.mean()), "covered_accuracy": accuracy}


def fit_uncertain_band(
    p: np.ndarray, labels: np.ndarray, threshold: float, target_accuracy: float = 0.95
) -> Band:
    """The widest-coverage band around ``threshold`` whose confident answers reach
    ``target_accuracy`` on these data (ties: the narrower band). Candidates are the observed
    probabilities on each side of the threshold."""
    p, labels = np.asarray(p, dtype=np.float64), np.asarray(labels)
    lows = np.unique(np.concatenate([[threshold], p[p < threshold]]))
    highs = np.unique(np.concatenate([[threshold], np.nextafter(p[p >= threshold], np.inf)]))
    order = np.argsort(p)
    sorted_p, sorted_y = p[order], labels[order]
    # Benign calls below `low`: count and correct ones via prefix sums on sorted p.
    below = np.searchsorted(sorted_p, lows, side="left")
    benign_correct = np.concatenate([[0], np.cumsum(sorted_y == 0)])[below]
    at_or_above = len(p) - np.searchsorted(sorted_p, highs, side="left")
    malignant_correct = np.concatenate([[0], np.cumsum((sorted_y == 1)[::-1])])[at_or_above]
    covered = below[:, None] + at_or_above[None, :]
    correct = benign_correct[:, None] + malignant_correct[None, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        accuracy = np.where(covered > 0, correct / covered, 1.0)
    feasible = accuracy >= target_accuracy
    if not feasible.any():
        return Band(float(lows.min()), float(highs.max()))
    width = highs[None, :] - lows[:, None]
    score = np.where(feasible, covered - width * 1e-9, -np.inf)
    i, j = np.unravel_index(int(np.argmax(score)), score.shape)
    return Band(float(lows[i]), float(highs[j]))


def risk_coverage_curve(p: np.ndarray, labels: np.ndarray, threshold: float) -> dict[str, list]:
    """Abstaining on the images closest to the threshold first: coverage and the error rate of
    the answered ones, from full coverage down to the single most confident image."""
    p, labels = np.asarray(p, dtype=np.float64), np.asarray(labels)
    margin = np.abs(p - threshold)
    order = np.argsort(-margin, kind="stable")
    wrong = ((p[order] >= threshold).astype(int) != labels[order]).astype(float)
    answered = np.arange(1, len(p) + 1)
    return {
        "coverage": (answered / len(p)).tolist(),
        "risk": (np.cumsum(wrong) / answered).tolist(),
    }
