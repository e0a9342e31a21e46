"""The 7-point checklist from the network: the criteria as a dermatologist scores them, the
committed concept split, readers whose maps are CAMs with their weights, and TCAV, on
hand-made data whose concept is known and on real derm7pt images."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from skinxai.concepts.checklist import (
    CRITERIA,
    POINTS,
    presence,
    presence_matrix,
    read_scored_images,
    seven_point_score,
)
from skinxai.concepts.features import INNER, LAST, read_network
from skinxai.concepts.readers import ConceptReaders, fit_readers
from skinxai.concepts.split import make_concept_split, read_concept_split
from skinxai.concepts.tcav import head_alignment, tcav, tcav_score
from skinxai.explain.hooks import find_layer


@pytest.fixture(scope="module")
def scored(data_dir):
    return read_scored_images(data_dir / "derm7pt")


def test_a_meta_row_is_read_in_the_checklists_binary_form() -> None:
    row = {
        "pigment_network": "atypical",
        "blue_whitish_veil": "absent",
        "vascular_structures": "within regression",  # not atypical in Argenziano's sense
        "streaks": "regular",
        "pigmentation": "localized irregular",
        "dots_and_globules": "irregular",
        "regression_structures": "white areas",
    }
    assert presence(row) == (1, 0, 0, 0, 1, 1, 1)
    assert seven_point_score(np.array([presence(row)])).tolist() == [5.0]
    assert POINTS.tolist() == [2, 2, 2, 1, 1, 1, 1] and len(CRITERIA) == 7


def test_the_committed_concept_split_is_the_seeded_stratified_one(scored) -> None:
    committed = read_concept_split()
    assert committed == make_concept_split(scored)  # reproducible from meta.csv
    assert len(committed) == len(scored) == 1003
    fit = [image for image in scored if committed[image.file] == "concept-fit"]
    test = [image for image in scored if committed[image.file] == "concept-test"]
    assert 0.58 <= len(fit) / len(scored) <= 0.62
    for part in (fit, test):  # every criterion and the diagnosis keep their prevalence
        share = presence_matrix(part).mean(axis=0)
        assert np.abs(share - presence_matrix(scored).mean(axis=0)).max() < 0.03
        malignant = np.mean([image.malignant for image in part])
        assert abs(malignant - np.mean([image.malignant for image in scored])) < 0.02


def test_readers_find_a_known_concept_and_their_maps_are_cams() -> None:
    """Feature 3 carries the concept: the reader finds it; its map is sum_k v_k A_k, whose
    spatial mean plus the bias is the reader's logit."""
    rng = np.random.default_rng(0)
    activations = torch.from_numpy(rng.standard_normal((240, 16, 5, 5)).astype(np.float32))
    pooled = activations.mean(dim=(2, 3)).numpy()
    present = np.stack([pooled[:, 3] > 0, pooled[:, 7] > 0.1], axis=1).astype(int)
    readers = fit_readers("toy", ("three", "seven"), pooled, present)
    assert np.argmax(np.abs(readers.weight[0])) == 3 and np.argmax(np.abs(readers.weight[1])) == 7
    assert (readers.decisions(pooled) == present).mean() > 0.9
    maps = readers.maps(activations)
    explicit = sum(readers.weight[1, k] * activations[:, k] for k in range(16))
    torch.testing.assert_close(maps[:, 1], explicit, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        maps.mean(dim=(2, 3)).numpy() + readers.bias, readers.logits(pooled), rtol=1e-4, atol=1e-4
    )


def test_tcav_tells_a_direction_the_decision_uses_from_random_ones() -> None:
    rng = np.random.default_rng(1)
    pooled = rng.standard_normal((300, 12))
    present = (pooled[:, 2] > 0.5).astype(int)
    along = rng.standard_normal((200, 12)) + 3 * np.eye(12)[2]  # the logit grows with feature 2
    used = tcav(pooled, present, along, runs=12)
    assert used.mean > 0.9 and used.significant(0.01)
    assert 0.2 < np.mean(used.random_scores) < 0.8  # a random direction's sign is a coin
    against = tcav(pooled, present, -along, runs=12)
    assert against.mean < 0.1 and against.significant(0.01)
    assert tcav_score(along, np.eye(12)[2]) > 0.99
    head = np.zeros((2, 12))
    head[1, 2], head[0, 2] = 1.0, -1.0
    assert head_alignment(np.eye(12)[2], head) == pytest.approx(1.0)
    assert head_alignment(np.eye(12)[5], head) == pytest.approx(0.0)


def test_real_readings_carry_the_exact_gradients_tcav_needs(default_model, scored) -> None:
    """On real derm7pt images: the pooled last map is what the head reads, and the gradient at
    block 5 gives the directional derivative of the malignant logit (checked by moving the
    block's output a step along a direction: under D4 the step moves all 8 views)."""
    paths = [image.path for image in scored[:6]]
    readings = read_network(default_model, paths, batch_size=3)
    assert readings.pooled[LAST].shape == (6, 1280) and readings.pooled[INNER].shape == (6, 192)
    head = default_model.classifier
    logits = readings.pooled[LAST] @ head.weight.detach().numpy().T + head.bias.detach().numpy()
    np.testing.assert_allclose(logits, readings.logits, rtol=1e-4, atol=1e-4)
    direction = np.random.default_rng(2).standard_normal(192).astype(np.float32)
    step = 1e-2
    block = find_layer(default_model, INNER)
    shift = torch.from_numpy(direction * step)[None, :, None, None]
    handle = block.register_forward_hook(lambda _m, _i, output: output + shift)
    try:
        moved = read_network(default_model, paths, batch_size=3).logits
    finally:
        handle.remove()
    numeric = (moved[:, 1] - readings.logits[:, 1]) / step
    # the derivatives are about 0.02-0.05: an atol of their size let D4's 8x-too-small mean pass
    np.testing.assert_allclose(readings.inner_gradient @ direction, numeric, rtol=0.05, atol=1e-3)


def test_reader_maps_on_a_real_image_are_cams_of_the_last_map(default_model, scored) -> None:
    readings = read_network(default_model, [scored[0].path])
    rng = np.random.default_rng(3)
    readers = ConceptReaders(
        LAST,
        tuple(c.name for c in CRITERIA),
        rng.standard_normal((7, 1280)).astype(np.float32),
        np.zeros(7, dtype=np.float32),
    )
    x = default_model.preprocess(scored[0].path)[None]
    with torch.no_grad():
        activations = default_model.features(x)
    maps = readers.maps(activations)
    assert maps.shape == (1, 7, 7, 7)
    np.testing.assert_allclose(
        maps.mean(dim=(2, 3)).numpy(), readers.logits(readings.pooled[LAST]), rtol=1e-3, atol=1e-3
    )


def test_the_shipped_model_carries_its_readers_and_they_travel_with_it(tmp_path) -> None:
    """Readers live beside the weights, are checked on load, are carried by save_model, and
    a damaged or mis-shaped readers file is one ModelFileError, never garbage."""
    import json

    from skinxai.concepts.store import readers_path_for, save_readers
    from skinxai.model import load_default_model, load_model_file, save_model
    from skinxai.model_config import ModelFileError

    shipped = load_default_model(precision="32")
    readers = shipped.concept_readers
    assert readers is not None and readers.layer == INNER and readers.weight.shape == (7, 192)
    assert shipped.config.concepts["fit_images"] == 602
    copy = save_model(shipped, tmp_path / "copy" / "model.safetensors")
    again = load_model_file(copy, precision="32").concept_readers
    np.testing.assert_array_equal(again.weight, readers.weight)
    beside = readers_path_for(copy)
    beside.write_bytes(beside.read_bytes()[:40])
    with pytest.raises(ModelFileError, match="missing or damaged"):
        load_model_file(copy)
    wrong = ConceptReaders(INNER, readers.names, readers.weight[:, :10], readers.bias)
    save_readers(wrong, beside)
    with pytest.raises(ModelFileError, match="do not fit layer"):
        load_model_file(copy)
    config = json.loads(copy.with_suffix(".json").read_text())
    config["concepts"]["file"] = "../elsewhere.safetensors"
    copy.with_suffix(".json").write_text(json.dumps(config))
    with pytest.raises(ModelFileError, match=r"concepts\.file must be"):
        load_model_file(copy)


def test_concepts_fit_on_a_missing_model_is_one_line(tmp_path) -> None:
    from typer.testing import CliRunner

    from skinxai.cli import app

    result = CliRunner().invoke(
        app, ["concepts", "fit", "--model", str(tmp_path / "no.safetensors")]
    )
    assert result.exit_code == 2 and "does not exist" in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1


def test_read_concepts_is_the_readers_on_the_pooled_layer(scored) -> None:
    """What explain shows is what the benchmark measures: the readers' probabilities from
    the concept maps equal those from the pooled layer, on real images."""
    from skinxai.concepts.reading import concept_row, read_concepts
    from skinxai.model import load_default_model

    shipped = load_default_model(precision="32")
    paths = [image.path for image in scored[:4]]
    pooled = read_network(shipped, paths).pooled[shipped.concept_readers.layer]
    batch = torch.stack([shipped.preprocess(path) for path in paths])
    reading = read_concepts(shipped, batch)
    np.testing.assert_allclose(
        reading.probabilities, shipped.concept_readers.probabilities(pooled), atol=1e-3
    )
    assert reading.maps.shape == (4, 7, 7, 7)
    row = concept_row(reading, 0)
    assert [c["name"] for c in row["criteria"]] == [c.name for c in CRITERIA]
    assert row["total_points"] == sum(c["points"] for c in row["criteria"] if c["present"])
    from skinxai.model import SkinClassifier

    with pytest.raises(ValueError, match="no 7-point checklist readers"):
        read_concepts(SkinClassifier(shipped.config, pretrained=False).eval(), batch)


def test_explain_with_concepts_lists_and_draws_the_criteria(scored, tmp_path) -> None:
    import json

    from typer.testing import CliRunner

    from skinxai.cli import app

    # two melanomas and two nevi, so that some criteria are found and some are not
    chosen = [i for i in scored if i.melanoma][:2] + [i for i in scored if not i.malignant][:2]
    out = tmp_path / "out"
    args = ["explain", *(str(i.path) for i in chosen), "--out", str(out), "--concepts"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code in (0, 1), result.output
    rows = json.loads((out / "explanations.json").read_text())
    read = [row for row in rows if row["error"] is None]
    assert read, "the gate refused every image"
    for row in read:
        concepts = row["concepts"]
        assert len(concepts["criteria"]) == 7 and "research aid" in concepts["note"]
        found = [c for c in concepts["criteria"] if c["present"]]
        assert concepts["total_points"] == sum(c["worth"] for c in found)
        assert (row["concepts_figure"] is not None) == bool(found)
    figures = {row["figure"] for row in read} | {r["concepts_figure"] for r in read} - {None}
    assert figures == {p.name for p in out.glob("*.png")}
    assert (out / "index.html").read_text().count("What a dermatologist would check") == len(read)


class BlobNet(torch.nn.Module):
    """A hand-made network whose concepts are known: channel 0 of its 7x7 map is brightness,
    channel 1 redness, and the malignant logit reads brightness only."""

    def features(self, x: torch.Tensor) -> torch.Tensor:
        brightness = x.mean(dim=1, keepdim=True)
        redness = x[:, :1] - x[:, 1:].mean(dim=1, keepdim=True)
        return torch.nn.functional.adaptive_avg_pool2d(torch.cat([brightness, redness], 1), 7)

    def logits(self, features: torch.Tensor) -> torch.Tensor:
        malignant = features[:, 0].mean(dim=(1, 2))
        return torch.stack([-malignant, malignant], dim=1)


def blob_images(count: int, seed: int) -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
    """Noise images, half with a bright blob in a random cell of the 7x7 grid; the blob's
    cell (-1 without one)."""
    rng = np.random.default_rng(seed)
    images = torch.from_numpy(rng.normal(0, 0.3, (count, 3, 70, 70)).astype(np.float32))
    present = (np.arange(count) % 2).astype(int)
    cells = np.full(count, -1)
    for index in np.flatnonzero(present):
        cell = int(rng.integers(49))
        row, column = divmod(cell, 7)
        images[index, :, row * 10 : row * 10 + 10, column * 10 : column * 10 + 10] += 3.0
        cells[index] = cell
    return images, present, cells


def test_on_a_hand_made_network_the_reader_finds_and_tcav_weighs_the_known_concept() -> None:
    net = BlobNet()
    images, present, _ = blob_images(200, seed=4)
    activations = net.features(images)
    pooled = activations.mean(dim=(2, 3)).numpy()
    readers = fit_readers(LAST, ("bright blob",), pooled, present[:, None])
    assert readers.weight[0, 0] > 0 and abs(readers.weight[0, 0]) > abs(readers.weight[0, 1])
    test_images, test_present, test_cells = blob_images(100, seed=5)
    test_maps = readers.maps(net.features(test_images))[:, 0]
    peaks = test_maps.flatten(1).argmax(dim=1).numpy()
    assert (peaks[test_present == 1] == test_cells[test_present == 1]).mean() > 0.9
    # TCAV: the malignant logit's gradient, summed over positions, is the head's weight
    leaf = net.features(test_images).requires_grad_(True)
    (gradient,) = torch.autograd.grad(net.logits(leaf)[:, 1].sum(), leaf)
    gradients = gradient.sum(dim=(2, 3)).numpy()
    bright = tcav(pooled, present, gradients, runs=12)
    assert bright.mean > 0.95 and bright.significant(0.01)
    head = np.array([[-1.0, 0.0], [1.0, 0.0]])
    assert head_alignment(readers.weight[0], head) > 0.7
    red = (pooled[:, 1] > np.median(pooled[:, 1])).astype(int)  # a concept the logit ignores
    red_direction = fit_readers(LAST, ("red",), pooled, red[:, None]).weight[0]
    assert abs(head_alignment(red_direction, head)) < abs(head_alignment(readers.weight[0], head))
