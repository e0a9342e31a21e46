"""Calibration math on cases whose answers are known by hand or by construction."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from skinxai.metrics.calibration import (
    Band,
    brier_score,
    calibrated_logit,
    coverage_and_accuracy,
    cross_validated_nll,
    expected_calibration_error,
    fit_beta,
    fit_platt,
    fit_temperature,
    fit_uncertain_band,
    negative_log_likelihood,
    p_malignant,
    parse_operating_point,
    rates_at,
    risk_coverage_curve,
    threshold_for_goal,
)
from skinxai.metrics.operating_point import confident_threshold
from skinxai.model_config import ModelConfig, ModelFileError


def calibrated_sample(n: int = 20_000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Logit differences whose sigmoid is the true P(malignant); labels drawn from it."""
    rng = np.random.default_rng(seed)
    margin = rng.normal(0, 2.5, n)
    labels = (rng.random(n) < 1 / (1 + np.exp(-margin))).astype(int)
    return np.stack([np.zeros(n), margin], axis=1), labels


def test_temperature_recovers_an_overconfident_scale() -> None:
    logits, labels = calibrated_sample()
    assert fit_temperature(logits * 3.0, labels) == pytest.approx(3.0, rel=0.05)
    assert fit_temperature(logits, labels) == pytest.approx(1.0, rel=0.05)


def test_calibration_errors_known_by_hand() -> None:
    logits, labels = calibrated_sample()
    calibrated = p_malignant(logits)
    overconfident = p_malignant(logits * 3.0)
    assert expected_calibration_error(calibrated, labels) < 0.015
    assert expected_calibration_error(overconfident, labels) > 0.05
    # Always certain, right half of the time: confidence 1, accuracy 0.5.
    certain = np.ones(10)
    assert expected_calibration_error(certain, np.array([1, 0] * 5)) == pytest.approx(0.5)
    assert brier_score(np.array([1.0, 0.0, 0.5]), np.array([1, 1, 0])) == pytest.approx(
        (0 + 1 + 0.25) / 3
    )
    assert negative_log_likelihood(np.array([0.5, 0.5]), np.array([0, 1])) == pytest.approx(
        np.log(2)
    )


def test_threshold_for_a_sensitivity_or_specificity_goal() -> None:
    p = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95])
    labels = np.array([0, 0, 1, 0, 1, 0, 1, 1, 1, 1])
    # 6 malignant; sensitivity >= 0.8 allows one miss: the lowest malignant (0.3) is missed.
    # The threshold sits in the middle of the gap below the malignant image that sets it (0.5;
    # the next score is 0.4), so rounding cannot move that image across it.
    threshold = threshold_for_goal(p, labels, "sensitivity", 0.8)
    assert threshold == pytest.approx(0.45)
    assert rates_at(p, labels, threshold)["sensitivity"] == pytest.approx(5 / 6)
    assert rates_at(p, labels, threshold)["specificity"] == pytest.approx(3 / 4)
    assert rates_at(p - 1e-3, labels, threshold) == rates_at(p + 1e-3, labels, threshold)
    assert threshold_for_goal(p, labels, "sensitivity", 1.0) == pytest.approx(0.25)
    # 4 benign (0.1, 0.2, 0.4, 0.6); specificity >= 0.75 keeps three of them below: the
    # threshold is midway from the third (0.4) to the next score (0.5).
    threshold = threshold_for_goal(p, labels, "specificity", 0.75)
    assert threshold == pytest.approx(0.45)
    assert rates_at(p, labels, threshold)["specificity"] == pytest.approx(0.75)


def test_operating_point_parsing() -> None:
    assert parse_operating_point("sensitivity=0.90") == ("sensitivity", 0.9)
    assert parse_operating_point("Specificity = 0.8") == ("specificity", 0.8)
    for bad in ("sensitivity", "accuracy=0.9", "sensitivity=1.5", "sensitivity=x"):
        with pytest.raises(ValueError, match="operating point"):
            parse_operating_point(bad)


def test_uncertain_band_reaches_the_target_accuracy_with_most_coverage() -> None:
    p = np.array([0.05, 0.1, 0.2, 0.35, 0.45, 0.55, 0.65, 0.8, 0.9, 0.95])
    labels = np.array([0, 0, 0, 1, 0, 1, 0, 1, 1, 1])
    # At 0.5 the mistakes are 0.35 (malignant) and 0.65 (benign): the band must hold both.
    band = fit_uncertain_band(p, labels, 0.5, target_accuracy=1.0)
    assert band.low <= 0.35 and band.high > 0.65
    assert band.low > 0.2 and band.high <= 0.8
    result = coverage_and_accuracy(p, labels, band)
    assert result == {"coverage": 0.6, "covered_accuracy": 1.0}
    assert list(band.decisions(p)) == [0, 0, 0, -1, -1, -1, -1, 1, 1, 1]
    # A lax target needs no band at all.
    assert fit_uncertain_band(p, labels, 0.5, target_accuracy=0.8) == Band(0.5, 0.5)


def test_risk_coverage_abstains_on_the_closest_calls_first() -> None:
    p = np.array([0.05, 0.45, 0.55, 0.95])
    labels = np.array([0, 1, 0, 1])  # the two calls closest to 0.5 are wrong
    curve = risk_coverage_curve(p, labels, 0.5)
    assert curve["coverage"] == [0.25, 0.5, 0.75, 1.0]
    assert curve["risk"] == [0.0, 0.0, pytest.approx(1 / 3), 0.5]


def test_platt_scaling_recovers_a_shifted_base_rate() -> None:
    logits, labels = calibrated_sample()
    shifted = logits.copy()
    shifted[:, 1] = logits[:, 1] * 2.0 + 1.5  # overconfident and biased towards malignant
    temperature, bias = fit_platt(shifted, labels)
    assert temperature == pytest.approx(2.0, rel=0.05)
    assert bias == pytest.approx(-0.75, abs=0.1)
    assert cross_validated_nll(shifted, labels, "temperature and bias (Platt)") < (
        cross_validated_nll(shifted, labels, "temperature") - 0.01
    )
    calibrated = p_malignant(shifted, temperature, bias)
    assert expected_calibration_error(calibrated, labels) < 0.015


def test_beta_calibration_recovers_sides_stretched_differently() -> None:
    """Labels drawn from logit P = a ln p - b ln(1 - p) + c with a != b: beta scaling finds
    1/T = (a + b) / 2 and shape (a - b) / 2, predicts held-out halves better than Platt, and
    the model config computes the same probabilities."""
    rng = np.random.default_rng(1)
    margin = rng.normal(0, 2.5, 20_000)
    a, b, c = 2.0, 0.5, 0.3
    true_logit = a * -np.logaddexp(0, -margin) - b * -np.logaddexp(0, margin) + c
    labels = (rng.random(len(margin)) < 1 / (1 + np.exp(-true_logit))).astype(int)
    logits = np.stack([np.zeros_like(margin), margin], axis=1)
    temperature, bias, shape = fit_beta(logits, labels)
    assert 1 / temperature == pytest.approx((a + b) / 2, rel=0.05)
    assert shape == pytest.approx((a - b) / 2, abs=0.08)
    assert bias == pytest.approx(c, abs=0.1)
    assert calibrated_logit(torch.from_numpy(margin), temperature, bias, shape).numpy() == (
        pytest.approx(true_logit, abs=0.25)
    )
    assert cross_validated_nll(logits, labels, "beta (Kull et al., 2017)") < (
        cross_validated_nll(logits, labels, "temperature and bias (Platt)") - 0.005
    )
    config = ModelConfig(temperature=temperature, bias=bias, beta_shape=shape)
    from_config = config.probabilities(torch.from_numpy(logits[:50]))[:, 1].double().numpy()
    assert from_config == pytest.approx(
        p_malignant(logits[:50], temperature, bias, shape), abs=1e-6
    )
    # Shape 0 is Platt scaling: softmax(logits / T + [0, bias]).
    platt = ModelConfig(temperature=0.7, bias=-1.2).probabilities(torch.from_numpy(logits[:50]))
    expected = torch.softmax(
        torch.from_numpy(logits[:50]).float() / 0.7 + torch.tensor([0, -1.2]), 1
    )
    assert torch.allclose(platt, expected, atol=1e-6)


def test_a_beta_shape_that_would_reverse_the_ranking_is_refused() -> None:
    ModelConfig(temperature=0.5, beta_shape=1.99).validate()
    with pytest.raises(ModelFileError, match="beta_shape"):
        ModelConfig(temperature=0.5, beta_shape=2.5).validate()


def test_confident_threshold_leaves_a_margin_that_holds_on_new_lesions() -> None:
    """A threshold fitted on 150 malignant lesions for sensitivity >= 0.90 reaches it on new
    lesions about half the time; at the 95% bootstrap bound nearly always. Counting three
    photographs of one lesion as three draws would claim more certainty than there is."""
    rng = np.random.default_rng(0)

    def lesions(n_malignant: int, n_benign: int) -> tuple[np.ndarray, np.ndarray]:
        p = np.concatenate([rng.beta(5, 2, n_malignant), rng.beta(2, 5, n_benign)])
        return p, np.r_[np.ones(n_malignant, int), np.zeros(n_benign, int)]

    point_met, confident_met = [], []
    for _ in range(40):
        p, labels = lesions(150, 600)
        new_p, new_labels = lesions(5000, 100)
        point = threshold_for_goal(p, labels, "sensitivity", 0.90)
        confident = confident_threshold(p, labels, "sensitivity", 0.90, replicates=500)
        assert confident <= point
        point_met.append(rates_at(new_p, new_labels, point)["sensitivity"] >= 0.90)
        confident_met.append(rates_at(new_p, new_labels, confident)["sensitivity"] >= 0.90)
    assert 0.2 < np.mean(point_met) < 0.8
    assert np.mean(confident_met) >= 0.9
    # The same images, each photographed three times: by lesion the bound is as before; taken
    # as 3x as many independent images it is narrower, i.e. the threshold higher.
    tripled_p, tripled_labels = np.repeat(p, 3), np.repeat(labels, 3)
    by_lesion = confident_threshold(
        tripled_p, tripled_labels, "sensitivity", 0.9, groups=np.repeat(np.arange(750), 3)
    )
    by_image = confident_threshold(tripled_p, tripled_labels, "sensitivity", 0.9)
    assert by_lesion == pytest.approx(confident_threshold(p, labels, "sensitivity", 0.9), abs=0.02)
    assert by_image > by_lesion
    # A specificity goal: the lowest threshold whose bound clears 90% of benign lesions.
    spec = confident_threshold(p, labels, "specificity", 0.90)
    assert spec >= threshold_for_goal(p, labels, "specificity", 0.90)
    with pytest.raises(ValueError, match="confidence"):
        confident_threshold(p, labels, "sensitivity", 0.9, confidence=0.2)


def test_lesion_groups_join_the_photographs_of_one_lesion(ham_root) -> None:
    from skinxai.data.ham10000 import read_ham_records
    from skinxai.data.specs import lesion_groups

    records = read_ham_records(ham_root)
    by_lesion: dict[str, list] = {}
    for record in records:
        by_lesion.setdefault(record.lesion_id, []).append(record.image_path)
    pair = next(paths for paths in by_lesion.values() if len(paths) > 1)[:2]
    other = Path("elsewhere/x.jpg")
    groups = lesion_groups([*pair, records[0].image_path, other])
    assert groups[0] == groups[1] == next(k for k, v in by_lesion.items() if pair[0] in v)
    assert groups[3] == f"image:{other}"


def test_calibrate_command_writes_a_calibrated_model(tmp_path, fanconic) -> None:
    """On a small validation folder (fanconic test images stand in; the command itself only
    refuses the names of test splits): the config gains scaling, operating point and band,
    the gate comes along, and test splits are refused."""
    import json
    import shutil

    from typer.testing import CliRunner

    from skinxai.cli import app
    from skinxai.model import load_model_file

    folder = tmp_path / "val"
    for cls, count in (("benign", 24), ("malignant", 16)):
        (folder / cls).mkdir(parents=True)
        for path in sorted((fanconic / "test" / cls).glob("*.jpg"))[:count]:
            shutil.copy(path, folder / cls / path.name)
    out = tmp_path / "model.safetensors"
    runner = CliRunner()
    result = runner.invoke(
        app,
        [
            "calibrate",
            "--val",
            str(folder),
            "--operating-point",
            "sensitivity=0.75",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    config = json.loads(out.with_suffix(".json").read_text())
    assert config["operating_point"]["goal"] == "sensitivity"
    assert config["operating_point"]["sensitivity"] >= 0.75
    low, high = config["uncertain_band"]
    assert low <= config["threshold"] <= high
    assert config["calibration"]["n"] == 40
    assert set(config["calibration"]["two_fold_nll_by_method"]) == {
        "temperature",
        "temperature and bias (Platt)",
        "beta (Kull et al., 2017)",
    }
    assert config["operating_point"]["confidence"] == 0.95
    assert config["operating_point"]["n_lesions"] == 40  # not HAM10000: each image alone
    assert load_model_file(out).gate is not None  # the shipped gate is kept
    for bad in (["--val", "ham10000:test"], ["--val", str(folder), "--gate-val", "derm7pt"]):
        refused = runner.invoke(app, ["calibrate", *bad, "--out", str(out)])
        assert refused.exit_code == 2 and "validation data only" in refused.output
    bad_goal = runner.invoke(
        app,
        ["calibrate", "--val", str(folder), "--operating-point", "accuracy=0.9", "--out", str(out)],
    )
    assert bad_goal.exit_code == 2 and "operating point" in bad_goal.output


def test_per_source_threshold_is_the_strictest_of_the_sources() -> None:
    from skinxai.metrics.operating_point import per_source_threshold

    rng = np.random.default_rng(0)
    easy = (rng.beta(2, 5, 300), rng.beta(5, 2, 100))  # source a separates well
    hard = (rng.beta(2, 3, 300), rng.beta(3, 2, 100))  # source b does not
    p = np.concatenate([*easy, *hard])
    labels = np.array(([0] * 300 + [1] * 100) * 2)
    sources = ["a"] * 400 + ["b"] * 400
    threshold, own = per_source_threshold(p, labels, sources, "sensitivity", 0.9, None)
    assert threshold == min(own.values()) == own["b"] < own["a"]
    for name in ("a", "b"):
        part = np.array(sources) == name
        assert rates_at(p[part], labels[part], threshold)["sensitivity"] >= 0.9
    highest, own_spec = per_source_threshold(p, labels, sources, "specificity", 0.8, None)
    assert highest == max(own_spec.values())


def test_calibrate_with_the_goal_on_each_source(tmp_path, fanconic, data_dir) -> None:
    """Two real validation folders (fanconic test and melanoma10k val images stand in): the
    sensitivity goal holds on each, and the config reports each source's rates."""
    import json
    import shutil

    from typer.testing import CliRunner

    from skinxai.cli import app

    folders = []
    for name, root in (("a", fanconic / "test"), ("b", data_dir / "melanoma10k" / "val")):
        for cls, count in (("benign", 30), ("malignant", 20)):
            (tmp_path / name / cls).mkdir(parents=True)
            for path in sorted((root / cls).glob("*.jpg"))[:count]:
                shutil.copy(path, tmp_path / name / cls / path.name)
        folders += ["--val", str(tmp_path / name)]
    out = tmp_path / "model.safetensors"
    result = CliRunner().invoke(
        app,
        [
            *("calibrate", *folders, "--operating-point", "sensitivity=0.85"),
            *("--goal-per-source", "--goal-confidence", "0", "--out", str(out)),
        ],
    )
    assert result.exit_code == 0, result.output
    config = json.loads(out.with_suffix(".json").read_text())
    point = config["operating_point"]
    assert point["holds_on"] == "each source" and set(point["per_source"]) == {
        str(tmp_path / "a"),
        str(tmp_path / "b"),
    }
    for rates in point["per_source"].values():
        assert rates["n"] == 50 and rates["sensitivity"] >= 0.85
    assert config["threshold"] == min(r["own_threshold"] for r in point["per_source"].values())
    assert "sensitivity / specificity" in result.output
