"""The Grad-CAM family from a layer's activations A and the gradient G of the target's
pre-softmax score with respect to A, both (B, C, h, w). Each returns the raw map (B, h, w)."""

from __future__ import annotations

import torch


def gradcam(activations: torch.Tensor, gradients: torch.Tensor) -> torch.Tensor:
    """Selvaraju et al.: alpha_k = mean_ij dy/dA_k_ij, M = ReLU(sum_k alpha_k A_k)."""
    alpha = gradients.mean(dim=(2, 3), keepdim=True)
    return torch.relu((alpha * activations).sum(dim=1))


def hirescam(activations: torch.Tensor, gradients: torch.Tensor) -> torch.Tensor:
    """Draelos & Carin: element-wise gradient x activation, summed over channels."""
    return torch.relu((gradients * activations).sum(dim=1))


def gradcam_plusplus(activations: torch.Tensor, gradients: torch.Tensor) -> torch.Tensor:
    """Chattopadhyay et al. (eq. 19, exponential-score closed form for the alphas)."""
    g2 = gradients.pow(2)
    g3 = g2 * gradients
    sum_a = activations.sum(dim=(2, 3), keepdim=True)
    alpha = g2 / (2 * g2 + sum_a * g3 + 1e-6)
    alpha = torch.where(gradients != 0, alpha, torch.zeros_like(alpha))
    weights = (torch.relu(gradients) * alpha).sum(dim=(2, 3), keepdim=True)
    return torch.relu((weights * activations).sum(dim=1))


def xgradcam(activations: torch.Tensor, gradients: torch.Tensor) -> torch.Tensor:
    """Fu et al.: weights = sum_ij (A_k_ij / sum_ij A_k) dy/dA_k_ij."""
    sum_a = activations.sum(dim=(2, 3), keepdim=True)
    weights = (gradients * activations / (sum_a + 1e-7)).sum(dim=(2, 3), keepdim=True)
    return torch.relu((weights * activations).sum(dim=1))


def layercam(activations: torch.Tensor, gradients: torch.Tensor) -> torch.Tensor:
    """Jiang et al.: sum_k ReLU(dy/dA_k_ij) A_k_ij."""
    return torch.relu((torch.relu(gradients) * activations).sum(dim=1))


def eigencam(activations: torch.Tensor) -> torch.Tensor:
    """Muhammad & Yeasin: projection of the centred activations on their first principal
    component (class-agnostic), ReLU'd. An SVD's sign is arbitrary (numpy's and torch's LAPACK
    builds disagree), so the map is flipped when its largest magnitude is negative (the sign
    correction of Chung & Ying, Seg-Eigen-CAM, eq. 13)."""
    batch, channels, height, width = activations.shape
    flat = activations.reshape(batch, channels, height * width).transpose(1, 2).float()
    centred = flat - flat.mean(dim=1, keepdim=True)
    _, _, vh = torch.linalg.svd(centred, full_matrices=False)
    projection = torch.einsum("bpc,bc->bp", centred, vh[:, 0, :])
    flip = projection.min(dim=1).values.abs() > projection.max(dim=1).values.abs()
    projection = torch.where(flip[:, None], -projection, projection)
    return torch.relu(projection.reshape(batch, height, width)).to(activations.dtype)


GRADIENT_METHODS = {
    "gradcam": gradcam,
    "gradcam++": gradcam_plusplus,
    "hirescam": hirescam,
    "xgradcam": xgradcam,
    "layercam": layercam,
}
