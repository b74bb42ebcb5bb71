"""Class activation maps on raw values, from one capture (activations A and gradients G of
the target score, both (C, h, w) or (C, d, h, w): every sum and mean "over x,y" below runs
over all spatial axes). No normalisation happens here (see ``scale.py``).

* ``cam``      -- sum_k W_ck A_k for a global-average-pool + linear head, where
                  W_ck = h*w * mean(G_k) (exact for such heads); not rectified.
* ``gradcam``  -- ReLU(sum_k alpha_k A_k), alpha_k = mean over x,y of G_k.
* ``gradcam++``-- ReLU(sum_k beta_k A_k), beta_k = sum_xy ReLU(G) a_kxy with
                  a = G^2 / (2 G^2 + sum_xy(A_k) G^3 + 1e-6) where G != 0 (Chattopadhay
                  et al. 2018, eq. 19, with the same epsilon as pytorch-grad-cam).
* ``layercam`` -- ReLU(sum_k ReLU(G_k) * A_k) (Jiang et al. 2021).
* ``scorecam`` -- see :mod:`coloc_viewer.explain.scorecam`.
"""

from __future__ import annotations

import torch

from coloc_viewer.errors import ModelError
from coloc_viewer.explain.choices import GRADIENT_METHODS, METHODS  # noqa: F401 (the one list)


def spatial_axes(t: torch.Tensor) -> tuple[int, ...]:
    """The spatial axes of a (C, *spatial) tensor."""
    return tuple(range(1, t.ndim))


def gradcam_weights(grads: torch.Tensor) -> torch.Tensor:
    """alpha_k: the spatial mean of each channel's gradient, (C,)."""
    return grads.mean(dim=spatial_axes(grads))


def weighted_sum(weights: torch.Tensor, acts: torch.Tensor) -> torch.Tensor:
    """sum_k w_k A_k: (C,) x (C, *spatial) -> (*spatial)."""
    return torch.tensordot(weights, acts, dims=1)


def gradcam(acts: torch.Tensor, grads: torch.Tensor) -> torch.Tensor:
    return torch.relu(weighted_sum(gradcam_weights(grads), acts))


def gradcampp_weights(acts: torch.Tensor, grads: torch.Tensor) -> torch.Tensor:
    g2 = grads * grads
    g3 = g2 * grads
    sum_a = acts.sum(dim=spatial_axes(acts), keepdim=True)
    aij = g2 / (2 * g2 + sum_a * g3 + 1e-6)
    aij = torch.where(grads != 0, aij, torch.zeros_like(aij))
    return (torch.relu(grads) * aij).sum(dim=spatial_axes(grads))


def gradcampp(acts: torch.Tensor, grads: torch.Tensor) -> torch.Tensor:
    return torch.relu(weighted_sum(gradcampp_weights(acts, grads), acts))


def layercam(acts: torch.Tensor, grads: torch.Tensor) -> torch.Tensor:
    return torch.relu((torch.relu(grads) * acts).sum(dim=0))


def has_linear_gap_head(grads: torch.Tensor, rtol: float = 1e-4) -> bool:
    """True when each channel's gradient is spatially constant (a GAP + linear head)."""
    spread = (grads - grads.mean(dim=spatial_axes(grads), keepdim=True)).abs().amax()
    return bool(spread <= rtol * grads.abs().amax() + 1e-12)


def class_activation_map(acts: torch.Tensor, grads: torch.Tensor) -> torch.Tensor:
    """CAM (Zhou et al. 2016) for a GAP + linear head; ModelError for other heads."""
    if not has_linear_gap_head(grads):
        raise ModelError("CAM needs a global-average-pool + linear head after the chosen "
                         "layer; use gradcam for this layer")
    return weighted_sum(gradcam_weights(grads) * acts[0].numel(), acts)


def gradient_cam(method: str, acts: torch.Tensor, grads: torch.Tensor) -> torch.Tensor:
    """The raw (h, w) or (d, h, w) map of one gradient-based ``method`` (see the module
    docstring)."""
    if method == "gradcam":
        return gradcam(acts, grads)
    if method == "gradcam++":
        return gradcampp(acts, grads)
    if method == "layercam":
        return layercam(acts, grads)
    if method == "cam":
        return class_activation_map(acts, grads)
    raise ValueError(f"unknown CAM method {method!r}; choose from {', '.join(METHODS)}")
