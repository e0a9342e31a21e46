"""One place decides a run's precision: bf16 autocast where the device has bf16 (this CPU's
AVX-512 BF16 / AMX included), fp32 when asked; a small real run in each, for training and for
inference."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from skinxai.explain import explain, explain_methods
from skinxai.model import load_default_model, load_model_file
from skinxai.precision import (
    BF16_MIXED,
    FP32,
    bf16_supported,
    inference_precision,
    training_precision,
)
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
    model = load_model_file(out / "model.safetensors", precision="32")
    samples = stratified_subset(resolve_spec("fanconic:test"), 24, 0)  # fit's validation subset
    p = model.predict_proba([s.path for s in samples])[:, 1]
    logged = float(history(out)[0]["val_auroc"])
    assert logged == pytest.approx(roc_auc_score([s.label for s in samples], p), abs=1e-6)


def test_inference_precision_names() -> None:
    expected = BF16_MIXED if bf16_supported("cpu") else FP32
    assert inference_precision("auto", "cpu") == expected
    assert inference_precision("32", "cpu") == inference_precision("32-true", "cpu") == FP32
    assert inference_precision("bf16", "cpu") == BF16_MIXED
    assert inference_precision("auto", "mps") == FP32
    with pytest.raises(ValueError, match="auto, 32 or bf16"):
        inference_precision("fp16", "cpu")


@pytest.fixture(scope="module")
def models() -> tuple:
    return load_default_model(precision="32"), load_default_model(precision="bf16")


@pytest.fixture(scope="module")
def lesion_batch(fanconic: Path, models) -> torch.Tensor:
    paths = [*sorted((fanconic / "test" / "benign").glob("*.jpg"))[:8]]
    paths += sorted((fanconic / "test" / "malignant").glob("*.jpg"))[:8]
    return models[0].to_batch(paths)


def test_bf16_inference_stays_close_to_fp32(models, lesion_batch: torch.Tensor) -> None:
    """bf16 runs (the outputs differ) and stays near fp32 on 16 real lesions: P(malignant)
    within 0.05, CAM and Grad-CAM maps within 0.02 on average (benchmarks/scale.py measures
    this on 600 images)."""
    fp32, bf16 = models
    p32, p16 = fp32.predict_proba(lesion_batch)[:, 1], bf16.predict_proba(lesion_batch)[:, 1]
    assert not torch.equal(p32, p16)
    assert (p32 - p16).abs().max() < 0.05
    maps32 = explain_methods(fp32, lesion_batch, ["cam", "gradcam"])
    maps16 = explain_methods(bf16, lesion_batch, ["cam", "gradcam"])
    for method in ("cam", "gradcam"):
        assert maps16[method].maps.dtype == torch.float32
        difference = (maps32[method].maps - maps16[method].maps).abs().mean()
        assert difference < 0.02, method


def test_differentiated_passes_stay_fp32(models, lesion_batch: torch.Tensor) -> None:
    """Grad-CAM at a named layer and guided backprop differentiate the backbone: they run in
    fp32 whatever the model's precision, so they equal the fp32 model's maps."""
    fp32, bf16 = models
    batch = lesion_batch[:4]
    for method, layer in (("gradcam", "backbone.blocks.5"), ("guided-backprop", None)):
        a = explain(fp32, batch, method, layer=layer).maps
        b = explain(bf16, batch, method, layer=layer).maps
        torch.testing.assert_close(a, b, rtol=0, atol=1e-5, msg=method)


def test_training_mode_never_computes_in_bf16(models, lesion_batch: torch.Tensor) -> None:
    _, bf16 = models
    bf16.train()
    try:
        with torch.no_grad():
            assert not bf16._computes_in_bf16()
    finally:
        bf16.eval()
    with torch.no_grad():
        assert bf16._computes_in_bf16() == (bf16.precision == BF16_MIXED)
