"""Score-CAM (Wang et al. 2020) batched over channels, with a top-k variant.

Each channel's map is upsampled to the model input (bilinear in 2-D, trilinear in 3-D,
``align_corners=True`` as in the reference implementations), min-max scaled to [0, 1],
multiplied with the input, and the masked inputs are scored in batches (no graph). The
target scores over the scored channels go through a softmax to give the weights; the map
is ReLU(sum_k w_k A_k) on raw activations -- the same definition as pytorch-grad-cam
1.5.7's ScoreCAM (before its display normalisation). Masks are built per batch, so
memory stays at one batch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from coloc_viewer.explain.capture import as_logits


def _batch_size(x: torch.Tensor, budget_bytes: int = 32 * 2**20) -> int:
    """Masked inputs per batch: at most 64, and about 32 MB of input (activations inside
    the network are many times that)."""
    per = x[0].numel() * x.element_size()
    return max(1, min(64, budget_bytes // max(per, 1)))


Reader = Callable[[object], torch.Tensor]


def scorecam_scores(module: nn.Module, x: torch.Tensor, acts: torch.Tensor, target: int,
                    channels: Sequence[int] | None = None, batch_size: int | None = None,
                    reader: Reader = as_logits) -> tuple[torch.Tensor, torch.Tensor]:
    """(channels, target scores) for the masked inputs of ``channels`` (default: all);
    ``reader`` turns a model output into (B, K) class scores."""
    chans = (torch.arange(acts.shape[0], device=acts.device) if channels is None
             else torch.as_tensor(list(channels), dtype=torch.long, device=acts.device))
    bs = batch_size or _batch_size(x)
    mode = "trilinear" if acts.ndim == 4 else "bilinear"
    scores = []
    with torch.no_grad():
        for start in range(0, chans.numel(), bs):
            idx = chans[start:start + bs]
            up = F.interpolate(acts[idx][None], size=x.shape[2:], mode=mode,
                               align_corners=True)[0]
            flat = up.reshape(up.shape[0], -1)
            shape = (-1,) + (1,) * (up.ndim - 1)
            lo = flat.min(dim=1).values.reshape(shape)
            hi = flat.max(dim=1).values.reshape(shape)
            masks = (up - lo) / (hi - lo + 1e-8)
            batch = x[0][None] * masks[:, None]
            scores.append(reader(module(batch))[:, target].float())
    return chans, torch.cat(scores) if scores else torch.zeros(0)


def scorecam(module: nn.Module, x: torch.Tensor, acts: torch.Tensor, target: int,
             channels: Sequence[int] | None = None, batch_size: int | None = None,
             reader: Reader = as_logits) -> torch.Tensor:
    """Raw Score-CAM (h, w) or (d, h, w) over ``channels`` (all when None; pass the top-k
    channels of a ranking for the fast variant)."""
    chans, scores = scorecam_scores(module, x, acts, target, channels, batch_size, reader)
    weights = torch.softmax(scores, dim=0).to(acts.dtype)
    return torch.relu(torch.tensordot(weights, acts[chans], dims=1))
