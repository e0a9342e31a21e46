"""A threshold whose goal holds with stated confidence, not only on the validation images it was
fitted on: the goal's rate must reach its value at the lower bound of a bootstrap over lesions
(several photographs of one lesion are one draw, not several)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from skinxai.metrics.calibration import GOALS, inside_gap, threshold_for_goal


def bootstrap_weights(groups: Sequence[str], replicates: int, seed: int = 0) -> np.ndarray:
    """(replicates, N) counts: how often each image's group is drawn when the groups are
    resampled with replacement."""
    names, index = np.unique(np.asarray(groups), return_inverse=True)
    rng = np.random.default_rng(seed)
    drawn = rng.multinomial(len(names), np.full(len(names), 1.0 / len(names)), size=replicates)
    return drawn[:, index].astype(np.float64)


def confident_threshold(
    p: np.ndarray,
    labels: np.ndarray,
    goal: str,
    value: float,
    confidence: float = 0.95,
    groups: Sequence[str] | None = None,
    replicates: int = 2000,
    seed: int = 0,
) -> float:
    """The threshold on P(malignant) whose ``goal`` rate is >= ``value`` at the one-sided
    ``confidence`` lower bound of a bootstrap over ``groups`` (default: each image its own),
    and best for the other rate: the highest such threshold for a sensitivity goal, the
    lowest for a specificity goal. Calls are malignant when P >= threshold."""
    if goal not in GOALS:
        raise ValueError(f"unknown goal {goal!r}; choose from {GOALS}")
    if not 0.5 <= confidence < 1.0:
        raise ValueError(f"confidence must lie in [0.5, 1), not {confidence}")
    p, labels = np.asarray(p, dtype=np.float64), np.asarray(labels)
    groups = [str(i) for i in range(len(p))] if groups is None else list(groups)
    if len(groups) != len(p):
        raise ValueError("one group per image is needed")
    weights = bootstrap_weights(groups, replicates, seed)
    wanted = labels == (1 if goal == "sensitivity" else 0)
    if not wanted.any():
        raise ValueError(f"no {'malignant' if goal == 'sensitivity' else 'benign'} images")
    # Candidates in the order in which the goal's rate rises: a sensitivity goal catches the
    # malignant images from the highest P down, a specificity goal clears the benign ones from
    # the lowest P up.
    scores = p[wanted] if goal == "specificity" else -p[wanted]
    order = np.argsort(scores, kind="stable")
    sorted_scores = scores[order]
    reached = np.cumsum(weights[:, wanted][:, order], axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        rates = reached / reached[:, -1:]
    # A candidate includes every image tied with it.
    last_tied = np.searchsorted(sorted_scores, sorted_scores, side="right") - 1
    bound = np.nanquantile(rates[:, last_tied], 1.0 - confidence, axis=0)
    k = int(np.argmax(bound >= value - 1e-12))  # the first candidate that reaches the goal
    if goal == "sensitivity":
        return inside_gap(p, float(-sorted_scores[k]), goal)
    return inside_gap(p, float(sorted_scores[k]), goal)


def per_source_threshold(
    p: np.ndarray,
    labels: np.ndarray,
    sources: Sequence[str],
    goal: str,
    value: float,
    confidence: float | None = 0.95,
    groups: Sequence[str] | None = None,
) -> tuple[float, dict[str, float]]:
    """One threshold whose ``goal`` >= ``value`` holds on every source, not only on the pool:
    each source's own threshold (with ``confidence`` over its lesions, or on its images when
    None), then the strictest of them (the lowest for a sensitivity goal, the highest for a
    specificity goal). Returns it and each source's own threshold."""
    p, labels, sources = np.asarray(p, dtype=np.float64), np.asarray(labels), np.asarray(sources)
    groups = np.asarray([str(i) for i in range(len(p))] if groups is None else list(groups))
    own: dict[str, float] = {}
    for name in dict.fromkeys(sources.tolist()):
        part = sources == name
        if confidence is None:
            own[name] = threshold_for_goal(p[part], labels[part], goal, value)
        else:
            own[name] = confident_threshold(
                p[part], labels[part], goal, value, confidence, groups[part].tolist()
            )
    strictest = min(own.values()) if goal == "sensitivity" else max(own.values())
    return strictest, own
