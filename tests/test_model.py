"""SkinClassifier: the ImageNet mapping, the features/head split, save/load safety."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
import torch
from PIL import Image

from skinxai.model import (
    ModelConfig,
    ModelFileError,
    SkinClassifier,
    create_imagenet_model,
    load_model_file,
    save_model,
)


@pytest.fixture(scope="module")
def imagenet_model():
    return create_imagenet_model()


@pytest.mark.parametrize(("name", "expected"), [("chelsea", 285), ("coffee", 967)])
def test_imagenet_sanity_with_packaged_weights(imagenet_model, name: str, expected: int) -> None:
    """The offline weights, mapped by order, must recognise scikit-image's bundled photos.

    Uses skinxai's own preprocessing (whole image resized to 224x224, mean/std 0.5).
    """
    from skimage import data

    preprocess = SkinClassifier(pretrained=False).preprocess
    image = Image.fromarray(getattr(data, name)())
    with torch.no_grad():
        probs = imagenet_model(preprocess(image)[None]).softmax(1)[0]
    assert int(probs.argmax()) == expected
    assert float(probs[expected]) > 0.5


def test_features_head_split_is_the_forward_pass() -> None:
    torch.manual_seed(0)
    model = SkinClassifier(pretrained=False).eval()
    x = torch.randn(2, 3, 224, 224)
    features = model.features(x)
    assert features.shape == (2, 1280, 7, 7)
    logits = model.head(features)
    assert logits.shape == (2, 2)
    torch.testing.assert_close(logits, model(x))
    # GAP + linear: the logits are the mean over positions of the per-position class scores
    cam = torch.einsum("kc,bchw->bkhw", model.classifier.weight, features)
    torch.testing.assert_close(cam.mean(dim=(2, 3)) + model.classifier.bias, logits)


def test_pretrained_backbone_equals_imagenet_backbone(imagenet_model) -> None:
    model = SkinClassifier(pretrained=True).eval()
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        torch.testing.assert_close(model.features(x), imagenet_model.forward_features(x))


def test_save_load_round_trip(tmp_path: Path, fanconic: Path) -> None:
    torch.manual_seed(1)
    model = SkinClassifier(ModelConfig(version="round-trip", temperature=1.5), pretrained=False)
    path = save_model(model, tmp_path / "m")
    assert path.suffix == ".safetensors" and path.with_suffix(".json").is_file()
    loaded = load_model_file(path, precision="32")  # the built model computes in fp32 too
    assert loaded.config.version == "round-trip" and loaded.config.temperature == 1.5
    image = next((fanconic / "test" / "benign").glob("*.jpg"))
    torch.testing.assert_close(model.predict_proba(image), loaded.predict_proba(image))
    assert json.loads(path.with_suffix(".json").read_text())["backbone"] == "tf_efficientnet_lite0"


def test_half_precision_weights_load_as_float(tmp_path: Path) -> None:
    model = SkinClassifier(pretrained=False)
    loaded = load_model_file(save_model(model, tmp_path / "h", half=True))
    assert loaded.classifier.weight.dtype == torch.float32


def test_predict_proba_accepts_paths_pil_and_tensors(fanconic: Path, default_model) -> None:
    paths = sorted((fanconic / "test" / "malignant").glob("*.jpg"))[:3]
    from_paths = default_model.predict_proba(paths)
    from_pil = default_model.predict_proba([Image.open(p) for p in paths])
    from_tensor = default_model.predict_proba(
        torch.stack([default_model.preprocess(p) for p in paths])
    )
    assert from_paths.shape == (3, 2)
    torch.testing.assert_close(from_paths.sum(1), torch.ones(3))
    torch.testing.assert_close(from_paths, from_pil)
    torch.testing.assert_close(from_paths, from_tensor)
    torch.testing.assert_close(default_model.predict_proba(paths[0]), from_paths[:1])


def test_pickles_are_refused(tmp_path: Path) -> None:
    evil = tmp_path / "weights.pth"
    evil.write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(ModelFileError, match="pickle"):
        load_model_file(evil)
    disguised = tmp_path / "weights.safetensors"
    disguised.write_bytes(pickle.dumps({"a": 1}))
    disguised.with_suffix(".json").write_text(ModelConfig().to_json())
    with pytest.raises(ModelFileError, match="not a safetensors"):
        load_model_file(disguised)


def test_bad_configs_are_refused(tmp_path: Path) -> None:
    path = save_model(SkinClassifier(pretrained=False), tmp_path / "m")
    config = json.loads(path.with_suffix(".json").read_text())
    for change in ({"class_names": ["a", "b"]}, {"surprise": 1}, {"temperature": 0}):
        path.with_suffix(".json").write_text(json.dumps({**config, **change}))
        with pytest.raises(ModelFileError):
            load_model_file(path)
    path.with_suffix(".json").unlink()
    with pytest.raises(ModelFileError, match="missing"):
        load_model_file(path)


def test_weights_that_do_not_fit_are_refused(tmp_path: Path) -> None:
    path = save_model(SkinClassifier(pretrained=False), tmp_path / "m")
    config = json.loads(path.with_suffix(".json").read_text())
    path.with_suffix(".json").write_text(json.dumps({**config, "backbone": "resnet18"}))
    with pytest.raises(ModelFileError, match="do not fit"):
        load_model_file(path)


def test_load_model_api(tmp_path: Path) -> None:
    import skinxai

    path = save_model(SkinClassifier(pretrained=False), tmp_path / "m")
    assert isinstance(skinxai.load_model(str(path)), SkinClassifier)
    assert isinstance(skinxai.load_model(), SkinClassifier)


def test_without_a_shipped_model_the_head_is_untrained_but_reproducible(
    tmp_path: Path, monkeypatch
) -> None:
    import skinxai.model as model_module

    monkeypatch.setattr(model_module, "default_model_path", lambda: tmp_path / "none.safetensors")
    first, second = model_module.load_default_model(), model_module.load_default_model()
    assert not first.config.trained
    torch.testing.assert_close(first.classifier.weight, second.classifier.weight)
