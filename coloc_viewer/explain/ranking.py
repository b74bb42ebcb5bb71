"""The five "most important feature map" criteria of DESIGN §5 and the decomposition check.

For activations A (C, h, w) or (C, d, h, w), gradients G of the target score y_c and
alpha_k = mean_xy G_k (means, sums and maxima "over x,y" run over all spatial axes):

* ``max``          -- max_xy A_k (the original method)
* ``mean``         -- mean_xy A_k
* ``gradient``     -- alpha_k * mean_xy A_k
* ``contribution`` -- IM_k = sum_xy alpha_k A_k; for a GAP + linear head exactly channel
  k's share of the logit: sum_k IM_k + bias = y_c
* ``ablation``     -- y_c(A) - y_c(A with channel k zeroed), re-running only the network
  after the layer, batched over channels.

Order: descending importance, ties by the lower channel index.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from coloc_viewer.explain.choices import CRITERIA  # noqa: F401 (the one list)


def _sp(t: torch.Tensor) -> tuple[int, ...]:
    return tuple(range(1, t.ndim))


def contributions(acts: torch.Tensor, grads: torch.Tensor) -> torch.Tensor:
    """IM_k = alpha_k * sum_xy A_k, (C,)."""
    return grads.mean(dim=_sp(grads)) * acts.sum(dim=_sp(acts))


def ablation_drops(acts: torch.Tensor, target: int, logit: float,
                   run_suffix: Callable[[torch.Tensor], torch.Tensor],
                   budget_bytes: int = 64 * 2**20) -> torch.Tensor:
    """y_c(A) - y_c(A without channel k) for every k, in batches of zeroed copies."""
    C = acts.shape[0]
    per = acts.numel() * acts.element_size()
    bs = int(max(1, min(C, budget_bytes // max(per, 1))))
    drops = torch.empty(C, dtype=torch.float64)
    for start in range(0, C, bs):
        idx = torch.arange(start, min(C, start + bs))
        batch = acts[None].repeat(idx.numel(), *([1] * acts.ndim))
        batch[torch.arange(idx.numel()), idx] = 0
        out = run_suffix(batch)[:, target].double().cpu()
        drops[idx] = logit - out
    return drops


def importance(criterion: str, acts: torch.Tensor, grads: torch.Tensor, *, target: int = 0,
               logit: float = 0.0,
               run_suffix: Callable[[torch.Tensor], torch.Tensor] | None = None) -> np.ndarray:
    """Per-channel importance (C,) float64 for one criterion of :data:`CRITERIA`."""
    if criterion == "max":
        vals = acts.amax(dim=_sp(acts))
    elif criterion == "mean":
        vals = acts.mean(dim=_sp(acts))
    elif criterion == "gradient":
        vals = grads.mean(dim=_sp(grads)) * acts.mean(dim=_sp(acts))
    elif criterion == "contribution":
        vals = contributions(acts, grads)
    elif criterion == "ablation":
        if run_suffix is None:
            raise ValueError("ablation needs a suffix runner")
        vals = ablation_drops(acts, target, logit, run_suffix)
    else:
        raise ValueError(f"unknown ranking {criterion!r}; choose from {', '.join(CRITERIA)}")
    return np.array(vals.detach().double().cpu().numpy(), copy=True)


def order_of(importance_values: np.ndarray) -> np.ndarray:
    """Channel indices, most important first (stable: ties keep the lower index first)."""
    return np.argsort(-np.asarray(importance_values), kind="stable")


def decomposition(acts: torch.Tensor, grads: torch.Tensor, logit: float,
                  bias: float) -> dict[str, float | bool]:
    """{logit, sum_contributions, bias, residual, exact}: residual = logit - (sum + bias);
    ``bias`` is the target logit with the layer's activations set to zero; ``exact`` when
    the residual is within float tolerance (true for GAP + linear heads)."""
    total = float(contributions(acts.double(), grads.double()).sum())
    residual = float(logit) - (total + float(bias))
    scale = max(1.0, abs(float(logit)), abs(total), abs(float(bias)))
    return {"logit": float(logit), "sum_contributions": total, "bias": float(bias),
            "residual": residual, "exact": bool(abs(residual) <= 1e-4 * scale)}
