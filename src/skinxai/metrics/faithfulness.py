"""Does the model need what a map highlights? Perturbation metrics on one image at a time.

``probabilities`` is the classifier as a function: a preprocessed batch (N, 3, H, W) in,
class probabilities (N, K) out. Every metric takes one image (3, H, W), several maps of it
(M, H, W) in [0, 1] and the class each map explains (M,), and scores all maps in batched
forward passes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from scipy.sparse import coo_matrix
from scipy.sparse.linalg import spsolve
from torchvision.transforms.v2 import functional as TF

Probabilities = Callable[[torch.Tensor], torch.Tensor]
ROAD_PERCENTILES: tuple[int, ...] = (20, 50, 80)
# Noisy linear imputation (Rong et al. 2022): each removed pixel is the weighted mean of its
# 8 neighbours, edges 1/6 and corners 1/12.
_NEIGHBOURS = tuple(
    ((dy, dx), 1 / 12 if dy and dx else 1 / 6) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx
)


def _scores(
    probabilities: Probabilities, inputs: torch.Tensor, classes: torch.Tensor, chunk: int = 32
):
    """P(class) of each input, in chunks."""
    out = [probabilities(part) for part in inputs.split(chunk)]
    return torch.cat(out).gather(1, classes[:, None].to(out[0].device))[:, 0].float().cpu()


def relevance_ranks(maps: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """(M, H*W): each pixel's place in the order most relevant first; ties in random order
    (seeded), so a flat map removes pixels at random rather than row by row."""
    generator = torch.Generator().manual_seed(seed)
    flat = maps.flatten(1).float().cpu()
    jitter = torch.rand(flat.shape, generator=generator) * 1e-6
    order = torch.argsort(flat + jitter, dim=1, descending=True)
    ranks = torch.empty_like(order)
    ranks.scatter_(1, order, torch.arange(flat.shape[1]).expand_as(order).contiguous())
    return ranks


def blurred(image: torch.Tensor, sigma: float = 5.0) -> torch.Tensor:
    """The insertion game's start: the image under a Gaussian blur (RISE: sigma 5)."""
    size = 2 * int(2 * sigma) + 1
    return TF.gaussian_blur(image, [size, size], [sigma, sigma])


def deletion_insertion(
    probabilities: Probabilities,
    image: torch.Tensor,
    maps: torch.Tensor,
    classes: torch.Tensor,
    steps: int = 16,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Deletion and insertion curves (Petsiuk et al., RISE), each (M, steps + 1).

    Deletion: the most relevant pixels first are set to 0 in the normalised input (the
    normalisation's mean colour) and P(class) is read after each 1/steps of the pixels. Insertion:
    starting from a blurred copy, the original pixels come back in the same order.
    """
    ranks = relevance_ranks(maps).to(image.device)
    n_pixels = ranks.shape[1]
    counts = torch.tensor([round(s * n_pixels / steps) for s in range(steps + 1)])
    selected = (ranks[:, None, :] < counts[None, :, None].to(image.device)).view(
        len(maps), steps + 1, 1, *image.shape[-2:]
    )
    repeated = classes.repeat_interleave(steps + 1)
    deleted = torch.where(selected, torch.zeros_like(image), image)
    start = blurred(image)
    inserted = torch.where(selected, image, start)
    deletion = _scores(probabilities, deleted.flatten(0, 1), repeated).view(len(maps), -1)
    insertion = _scores(probabilities, inserted.flatten(0, 1), repeated).view(len(maps), -1)
    return deletion, insertion


def curve_auc(curves: torch.Tensor) -> torch.Tensor:
    """Area under curves sampled at equal steps over [0, 1] (trapezoid rule)."""
    return torch.trapezoid(curves, dx=1.0 / (curves.shape[-1] - 1), dim=-1)


def confidence_change(
    probabilities: Probabilities, image: torch.Tensor, maps: torch.Tensor, classes: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """(P(class) of the image, P(class) of the image multiplied by the map), each (M,): the
    "explanation map" input of Chattopadhay et al. (Grad-CAM++)."""
    before = _scores(probabilities, image[None].expand(len(maps), -1, -1, -1), classes)
    after = _scores(probabilities, image[None] * maps[:, None], classes)
    return before, after


def average_drop(before: torch.Tensor, after: torch.Tensor) -> torch.Tensor:
    """Per map: 100 * max(0, Y - O) / Y (Grad-CAM++'s Average Drop %, lower is better)."""
    return 100 * torch.clamp(before - after, min=0) / before.clamp_min(1e-12)


def increase_in_confidence(before: torch.Tensor, after: torch.Tensor) -> torch.Tensor:
    """Per map: 1 where the map alone raises P(class) (Grad-CAM++'s Increase in Confidence)."""
    return (after > before).float()


def noisy_linear_impute(
    image: torch.Tensor, keep: torch.Tensor, noise: float = 0.01, seed: int = 0
) -> torch.Tensor:
    """Fill the pixels where ``keep`` (H, W) is False with the solution of the linear system
    "each filled pixel is the weighted mean of its neighbours", plus Gaussian noise of scale
    ``noise`` (ROAD's noisy linear imputation, Rong et al. 2022)."""
    height, width = keep.shape
    known = keep.cpu().numpy().reshape(-1).astype(bool)
    values = image.detach().cpu().numpy().reshape(image.shape[0], -1)
    missing = np.flatnonzero(~known)
    if len(missing) == 0:
        return image.clone()
    unknown_index = np.full(known.shape, -1)
    unknown_index[missing] = np.arange(len(missing))
    row, col = np.divmod(missing, width)
    rows, cols, weights = [np.arange(len(missing))], [np.arange(len(missing))], []
    diagonal = np.zeros(len(missing))
    rhs = np.zeros((len(missing), image.shape[0]))
    for (dy, dx), weight in _NEIGHBOURS:
        ny, nx = row + dy, col + dx
        inside = (ny >= 0) & (ny < height) & (nx >= 0) & (nx < width)
        neighbour = np.where(inside, ny * width + nx, 0)
        diagonal[inside] += weight
        given = inside & known[neighbour]
        rhs[given] -= weight * values[:, neighbour[given]].T
        free = inside & ~known[neighbour]
        rows.append(np.flatnonzero(free))
        cols.append(unknown_index[neighbour[free]])
        weights.append(np.full(free.sum(), weight))
    data = np.concatenate([-diagonal, *weights])
    system = coo_matrix(
        (data, (np.concatenate(rows), np.concatenate(cols))), shape=(len(missing),) * 2
    )
    solution = np.asarray(spsolve(system.tocsc(), rhs)).reshape(len(missing), -1)
    filled = torch.from_numpy(values.copy()).float()
    fill = torch.from_numpy(solution.T).float()
    if noise:
        generator = torch.Generator().manual_seed(seed)
        fill = fill + noise * torch.randn(fill.shape, generator=generator)
    filled[:, torch.from_numpy(missing)] = fill
    return filled.view_as(image).to(image.device)


def road(
    probabilities: Probabilities,
    image: torch.Tensor,
    maps: torch.Tensor,
    classes: torch.Tensor,
    percentiles: Sequence[int] = ROAD_PERCENTILES,
    noise: float = 0.01,
) -> tuple[torch.Tensor, torch.Tensor]:
    """ROAD (Rong et al. 2022) as pytorch-grad-cam defines it: the change in P(class) after
    removing and imputing the pixels above the p-th percentile of the map (most relevant
    first, MoRF; lower is better) or of its complement (least relevant first, LeRF; higher is
    better), averaged over ``percentiles``. Returns (MoRF, LeRF), each (M,); NaN for a flat
    map, which ranks no pixel above another (the percentile rule would remove every pixel)."""
    flat = maps.flatten(1).amax(1) - maps.flatten(1).amin(1) < 1e-8
    if flat.all():
        nan = torch.full((len(maps),), torch.nan)
        return nan, nan.clone()
    live = (~flat).nonzero().squeeze(1)
    morf, lerf = torch.full((len(maps),), torch.nan), torch.full((len(maps),), torch.nan)
    morf[live], lerf[live] = _road_ranked(
        probabilities, image, maps[live], classes[live], percentiles, noise
    )
    return morf, lerf


def _road_ranked(probabilities, image, maps, classes, percentiles, noise):
    before = _scores(probabilities, image[None].expand(len(maps), -1, -1, -1), classes)
    imputed = {"morf": [], "lerf": []}
    for index, saliency in enumerate(maps.float().cpu()):
        for kind, ranking in (("morf", saliency), ("lerf", 1 - saliency)):
            for percentile in percentiles:
                keep = ranking < float(np.percentile(ranking.numpy(), percentile))
                imputed[kind].append(noisy_linear_impute(image, keep, noise, seed=index))
    repeated = classes.repeat_interleave(len(percentiles))
    results = []
    for kind in ("morf", "lerf"):
        after = _scores(probabilities, torch.stack(imputed[kind]), repeated)
        change = after.view(len(maps), -1) - before[:, None]
        results.append(change.mean(dim=1))
    return results[0], results[1]
