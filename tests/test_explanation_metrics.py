"""The explanation-quality metrics on cases whose answers are known by hand, and against
pytorch-grad-cam's ROAD and confidence-change metrics where the two overlap."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pytorch_grad_cam.metrics.cam_mult_image import (
    CamMultImageConfidenceChange,
    DropInConfidence,
    IncreaseInConfidence,
)
from pytorch_grad_cam.metrics.road import ROADLeastRelevantFirst, ROADMostRelevantFirst
from pytorch_grad_cam.utils.model_targets import ClassifierOutputSoftmaxTarget
from scipy.stats import spearmanr
from skimage.metrics import structural_similarity

from skinxai.explain import explain
from skinxai.explain.baselines import BASELINES, centred_gaussian, random_map, sobel_edges
from skinxai.metrics import faithfulness as faith
from skinxai.metrics.bootstrap import bootstrap_mean
from skinxai.metrics.localization import (
    energy_inside,
    iou_per_threshold,
    localisation_scores,
    pointing_game,
    thresholded_iou,
    tolerance_for,
)
from skinxai.metrics.sanity import label_randomised_copy, randomised_copy, spearman, ssim

SIZE = 224
# pytorch-grad-cam's metrics hand torch tensors to numpy reductions (its warning, not ours)
pytestmark = pytest.mark.filterwarnings("ignore:__array_wrap__:DeprecationWarning")


def square(top: int, left: int, side: int, size: int = SIZE) -> torch.Tensor:
    mask = torch.zeros(size, size, dtype=torch.bool)
    mask[top : top + side, left : left + side] = True
    return mask


def test_a_map_that_is_the_mask_scores_perfectly_and_its_complement_scores_nothing() -> None:
    mask = square(60, 80, 50)[None]
    perfect = localisation_scores(mask.float(), mask)
    assert perfect["pointing_game"].item() == 1.0
    assert perfect["energy_inside"].item() == 1.0
    assert perfect["iou_at_0.5"].item() == 1.0
    complement = localisation_scores((~mask).float(), mask)
    assert complement["pointing_game"].item() == 0.0
    assert complement["energy_inside"].item() == 0.0
    assert complement["iou_at_0.5"].item() == 0.0


def test_a_shifted_mask_has_the_iou_worked_out_by_hand() -> None:
    mask = square(40, 50, 40)[None]
    shifted = square(40, 70, 40)[None].float()  # 20 of 40 columns overlap: 800 / 2400
    assert thresholded_iou(shifted, mask, 0.5).item() == pytest.approx(1 / 3)
    assert energy_inside(shifted, mask).item() == pytest.approx(0.5)
    # a graded map: the best threshold recovers the mask exactly
    graded = mask.float() * 0.6 + 0.2
    per_threshold = iou_per_threshold(graded, mask)
    assert per_threshold.max().item() == 1.0
    assert per_threshold[0, 0].item() == pytest.approx(1.0 * 1600 / (SIZE * SIZE))


def test_pointing_game_tolerance_is_15_px_at_224_and_scales() -> None:
    assert tolerance_for(224) == 15 and tolerance_for(448) == 30 and tolerance_for(112) == 8
    mask = square(100, 100, 20)[None]  # columns 100..119
    near, far = torch.zeros(1, SIZE, SIZE), torch.zeros(1, SIZE, SIZE)
    near[0, 110, 130] = 1.0  # 11 px right of the edge
    far[0, 110, 140] = 1.0  # 21 px right of the edge
    assert pointing_game(near, mask).item() == 0.0
    assert pointing_game(near, mask, tolerance=15).item() == 1.0
    assert pointing_game(far, mask, tolerance=15).item() == 0.0


def test_a_flat_map_scores_the_lesion_share_not_a_lucky_tie_break() -> None:
    mask = square(0, 0, 112)[None]  # the top-left quarter, where argmax would land
    flat = torch.ones(1, SIZE, SIZE)
    assert pointing_game(flat, mask).item() == pytest.approx(0.25)


def test_baselines_know_nothing_of_the_model_but_what_they_claim() -> None:
    inputs = torch.zeros(2, 3, SIZE, SIZE)
    inputs[1, :, 60:100, 150:190] = 2.0  # a bright square in the second image
    gaussian = centred_gaussian(inputs)
    assert gaussian.flatten(1).argmax(1).tolist() == [111 * SIZE + 111] * 2
    edges = sobel_edges(inputs)
    row, col = divmod(int(edges[1].argmax()), SIZE)
    assert 50 <= row <= 110 and 140 <= col <= 200  # on the square's border
    assert torch.equal(random_map(inputs), random_map(inputs.clone()))  # seeded by content
    assert not torch.equal(random_map(inputs)[0], random_map(inputs)[1])
    for name, baseline in BASELINES.items():
        maps = baseline(inputs)
        assert maps.shape == (2, SIZE, SIZE) and maps.min() >= 0 and maps.max() <= 1, name


def box_evidence(inputs: torch.Tensor) -> torch.Tensor:
    """A classifier whose evidence is known: P(class 1) rises with the contrast (mean square)
    inside the box rows 80..143, columns 80..143, and nothing else counts."""
    evidence = inputs[:, :, 80:144, 80:144].pow(2).mean(dim=(1, 2, 3))
    logit = 8 * (evidence - 0.5)
    return torch.stack([torch.zeros_like(logit), logit], dim=1).softmax(dim=1)


def test_deletion_and_insertion_reward_the_map_of_the_true_evidence() -> None:
    checks = (torch.arange(SIZE)[:, None] + torch.arange(SIZE)[None, :]) % 2 * 2.0 - 1
    image = checks.expand(3, -1, -1).contiguous()  # a blur wipes its contrast out
    box = square(80, 80, 64).float()
    maps = torch.stack([box, 1 - box])
    classes = torch.tensor([1, 1])
    deletion, insertion = faith.deletion_insertion(box_evidence, image, maps, classes, steps=8)
    auc_deletion, auc_insertion = faith.curve_auc(deletion), faith.curve_auc(insertion)
    assert auc_deletion[0] < auc_deletion[1] - 0.3  # removing the box first kills the score
    assert auc_insertion[0] > auc_insertion[1] + 0.3
    assert deletion[1, : 8 - 1].max() - deletion[1, 0] < 1e-6  # the complement: flat at first


def test_average_drop_and_increase_by_hand() -> None:
    before, after = torch.tensor([0.8, 0.5, 0.4]), torch.tensor([0.4, 0.5, 0.6])
    assert faith.average_drop(before, after).tolist() == pytest.approx([50.0, 0.0, 0.0])
    assert faith.increase_in_confidence(before, after).tolist() == [0.0, 0.0, 1.0]


@pytest.fixture(scope="module")
def real_case(default_model, fanconic):
    """Two real lesions, their CAM and Grad-CAM maps from the shipped model."""
    paths = sorted((fanconic / "test" / "malignant").glob("*.jpg"))[:1]
    paths += sorted((fanconic / "test" / "benign").glob("*.jpg"))[:1]
    cam = explain(default_model, paths, "cam")
    gradcam = explain(default_model, paths, "gradcam")
    return default_model, cam.inputs, torch.stack([cam.maps, gradcam.maps], 1), cam.targets


def softmax_of(model):
    def probabilities(inputs: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return model(inputs).softmax(dim=1)

    return probabilities


def reference_road(model, inputs, maps, classes, percentiles, kind):
    """pytorch-grad-cam's ROAD, averaged over percentiles, with the imputation noise off."""
    metric_class = ROADMostRelevantFirst if kind == "morf" else ROADLeastRelevantFirst
    scores = []
    targets = [ClassifierOutputSoftmaxTarget(int(c)) for c in classes]
    for percentile in percentiles:
        metric = metric_class(percentile)
        metric.perturbation.imputer.noise = 0.0
        scores.append(metric(inputs, maps.numpy(), targets, model))
    return np.mean(scores, axis=0)


PERCENTILES = (20, 80)  # both ends of the shipped (20, 50, 80), at two thirds of the cost


def test_road_and_confidence_change_agree_with_pytorch_grad_cam(real_case) -> None:
    model, inputs, maps, classes = real_case
    probabilities = softmax_of(model)
    targets = [ClassifierOutputSoftmaxTarget(int(c)) for c in classes]
    for method in range(maps.shape[1]):
        method_maps = maps[:, method]
        morf, lerf = [], []
        for image in range(len(inputs)):
            one = faith.road(
                probabilities,
                inputs[image],
                method_maps[image : image + 1],
                classes[image : image + 1],
                percentiles=PERCENTILES,
                noise=0.0,
            )
            morf.append(float(one[0][0]))
            lerf.append(float(one[1][0]))
        expected_morf = reference_road(model, inputs, method_maps, classes, PERCENTILES, "morf")
        expected_lerf = reference_road(model, inputs, method_maps, classes, PERCENTILES, "lerf")
        np.testing.assert_allclose(morf, expected_morf, atol=1e-4)
        np.testing.assert_allclose(lerf, expected_lerf, atol=1e-4)

        before, after = [], []
        for image in range(len(inputs)):
            b, a = faith.confidence_change(
                probabilities,
                inputs[image],
                method_maps[image : image + 1],
                classes[image : image + 1],
            )
            before.append(float(b[0]))
            after.append(float(a[0]))
        before_t, after_t = torch.tensor(before), torch.tensor(after)
        cams = method_maps.numpy()
        change = CamMultImageConfidenceChange()(inputs, cams, targets, model)
        np.testing.assert_allclose(after_t - before_t, change, atol=1e-5)
        drop = DropInConfidence()(inputs, cams, targets, model)
        ours = faith.average_drop(before_t, after_t) * before_t / 100
        np.testing.assert_allclose(ours, drop, atol=1e-5)
        increase = IncreaseInConfidence()(inputs, cams, targets, model)
        np.testing.assert_array_equal(faith.increase_in_confidence(before_t, after_t), increase)


def test_imputation_fills_a_smooth_gradient_exactly() -> None:
    """A linear ramp is its own neighbour mean, so linear imputation restores it."""
    ramp = torch.linspace(0, 1, 32)[None, None, :].expand(3, 32, 32).contiguous()
    keep = torch.ones(32, 32, dtype=torch.bool)
    keep[8:24, 8:24] = False
    filled = faith.noisy_linear_impute(ramp, keep, noise=0.0)
    assert torch.allclose(filled, ramp, atol=1e-5)
    noisy = faith.noisy_linear_impute(ramp, keep, noise=0.01, seed=3)
    assert torch.equal(noisy, faith.noisy_linear_impute(ramp, keep, noise=0.01, seed=3))
    assert torch.equal(noisy[:, keep], ramp[:, keep])  # given pixels are kept as they are
    holes = (noisy - ramp)[:, ~keep]
    assert 0 < holes.abs().max() < 0.06  # filled pixels: the ramp plus noise of scale 0.01


def test_rank_correlation_and_ssim_match_scipy_and_scikit_image() -> None:
    generator = torch.Generator().manual_seed(0)
    first = torch.rand(3, 56, 56, generator=generator)
    second = 0.5 * first + 0.5 * torch.rand(3, 56, 56, generator=generator)
    expected_rho = [
        spearmanr(a.flatten(), b.flatten())[0] for a, b in zip(first, second, strict=True)
    ]
    expected_ssim = [
        structural_similarity(
            a.numpy(),
            b.numpy(),
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
            data_range=1.0,
        )
        for a, b in zip(first, second, strict=True)
    ]
    np.testing.assert_allclose(spearman(first, second), expected_rho, atol=1e-9)
    np.testing.assert_allclose(ssim(first, second), expected_ssim, atol=1e-6)
    assert np.isnan(spearman(torch.ones(1, 56, 56), first[:1])[0])


def test_randomised_copies_leave_the_model_alone(default_model) -> None:
    before = default_model.classifier.weight.clone()
    copy = randomised_copy(default_model, ["classifier", "backbone.blocks.6"])
    assert torch.equal(default_model.classifier.weight, before)
    assert not torch.equal(copy.classifier.weight, before)
    assert torch.equal(
        copy.backbone.blocks[0][0].conv_dw.weight,
        default_model.backbone.blocks[0][0].conv_dw.weight,
    )
    with pytest.raises(ValueError, match="no module"):
        randomised_copy(default_model, ["backbone.nothing"])
    pooled = torch.randn(64, default_model.classifier.in_features)
    shuffled = label_randomised_copy(default_model, pooled)
    assert not torch.equal(shuffled.classifier.weight, before)
    assert torch.equal(default_model.classifier.weight, before)


def test_bootstrap_interval_holds_the_mean_and_ignores_missing_values() -> None:
    values = np.r_[np.random.default_rng(0).normal(0.6, 0.1, 200), [np.nan] * 5]
    result = bootstrap_mean(values)
    assert result["n"] == 200
    assert result["low"] < result["mean"] < result["high"]
    assert result["high"] - result["low"] < 0.05
    assert bootstrap_mean(np.array([np.nan]))["mean"] is None
