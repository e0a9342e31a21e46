"""One place decides a run's precision: bf16 autocast where the device has bf16 (this CPU's
AVX-512 BF16 / AMX included), fp32 when asked; a small real run in each."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from skinxai.model import load_model_file
from skinxai.precision import BF16_MIXED, FP32, bf16_supported, training_precision
from tests.test_training import history, run_training


def test_auto_picks_bf16_where_the_device_has_it() -> None:
    expected = BF16_MIXED if bf16_supported("cpu") else FP32
    assert training_precision("auto", "cpu") == expected
    assert training_precision("32-true", "cpu") == FP32  # fp32 when asked
    assert training_precision("bf16-mixed", "cpu") == BF16_MIXED
    assert training_precision("auto", "mps") == FP32  # no native bf16 known: fp32
    if not torch.cuda.is_available():
        assert not bf16_supported("cuda")


@pytest.mark.parametrize("precision", ["auto", "32-true"])
def test_a_small_run_trains_and_exports_fp32_weights(tmp_path: Path, precision: str) -> None:
    out = tmp_path / precision
    run_training(
        out,
        *("--limit", "48", "--epochs", "1", "--batch-size", "16"),
        *("--precision", precision, "--freeze-blocks", "3"),
    )
    summary = json.loads((out / "summary.json").read_text())
    assert summary["precision"] == training_precision(precision, "cpu")
    row = history(out)[0]
    assert float(row["loss"]) > 0 and 0 <= float(row["val_auroc"]) <= 1
    model = load_model_file(out / "model.safetensors")
    dtypes = {t.dtype for t in model.state_dict().values() if t.is_floating_point()}
    assert dtypes == {torch.float32}  # autocast computes in bf16; the weights stay fp32


def test_validation_scores_in_fp32_under_bf16_training(tmp_path: Path, fanconic: Path) -> None:
    """The selection sees what inference computes: validation inside a bf16 run gives the
    exported model's own fp32 AUROC on the same images."""
    from sklearn.metrics import roc_auc_score

    from skinxai.data.specs import resolve_spec, stratified_subset

    if not bf16_supported("cpu"):
        pytest.skip("this CPU has no bf16: auto trains in fp32")
    out = tmp_path / "bf16"
    run_training(out, "--limit", "48", "--epochs", "1", "--batch-size", "16")
    model = load_model_file(out / "model.safetensors")
    samples = stratified_subset(resolve_spec("fanconic:test"), 24, 0)  # fit's validation subset
    p = model.predict_proba([s.path for s in samples])[:, 1]
    logged = float(history(out)[0]["val_auroc"])
    assert logged == pytest.approx(roc_auc_score([s.label for s in samples], p), abs=1e-6)
