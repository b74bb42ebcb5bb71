"""The attribution losses of Viviano et al. (ICLR 2021), on a batch of model inputs.

Every function takes the input batch ``x`` (B, C, *spatial) and ``outside`` (B, 1,
*spatial) or (B, C, *spatial), a boolean tensor that is True where the model must *not*
look: the pixels outside the expert's mask (and any shortcut ROI). A sample whose
``outside`` is all False carries no attribution constraint (no mask drawn: the paper's
rule). Reductions, fixed here and in docs/refine.md:

* **ActDiff** -- the mean, over samples with a non-empty ``outside``, of the L2 distance
  between the flattened activations of the image and of the same image with its
  ``outside`` pixels shuffled (:func:`shuffle_outside`).
* **GradMask** -- per sample, the sum over ``outside`` of ``|d|y_c - y_rest|/dx|`` (for two
  classes ``|y_0 - y_1|``); the mean over the batch.
* **RRR** (Ross et al. 2017) -- per sample, the sum over ``outside`` of
  ``(d sum_k log softmax_k / dx)^2``; the mean over the batch.
* **masked** -- the classifier sees ``x`` with ``outside`` set to ``fill`` (0: the
  normalised input's zero).

The two gradient penalties differentiate an input gradient (``create_graph``): a double
backward, which ``benchmarks/bench_refine.py`` prices.
"""

from __future__ import annotations

import torch


def _expand(outside: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``outside`` as a bool tensor of ``x``'s shape (a 1-channel mask covers every channel)."""
    out = outside.to(device=x.device, dtype=torch.bool)
    if out.shape != x.shape:
        out = out.expand_as(x)
    return out


def shuffle_outside(x: torch.Tensor, outside: torch.Tensor,
                    generator: torch.Generator | None = None) -> torch.Tensor:
    """A copy of ``x`` whose ``outside`` pixels are randomly permuted among themselves, per
    sample (one permutation of pixel positions moves every channel of a pixel together);
    pixels inside the mask keep their value and place. ``outside`` is (B, 1, *spatial)."""
    out = x.detach().clone()
    where_all = outside.to(device=x.device, dtype=torch.bool)[:, 0]
    for b in range(x.shape[0]):
        where = where_all[b]
        n = int(where.sum())
        if n < 2:
            continue
        perm = torch.randperm(n, generator=generator).to(x.device)
        vals = out[b][:, where]  # (C, n)
        out[b][:, where] = vals[:, perm]
    return out


def masked_input(x: torch.Tensor, outside: torch.Tensor, fill: float = 0.0) -> torch.Tensor:
    """``x`` with its ``outside`` pixels set to ``fill``."""
    return torch.where(_expand(outside, x), torch.full_like(x, fill), x)


def has_outside(outside: torch.Tensor) -> torch.Tensor:
    """(B,) bool: samples that carry a constraint."""
    return outside.reshape(outside.shape[0], -1).any(dim=1)


def actdiff_loss(acts: torch.Tensor, acts_shuffled: torch.Tensor,
                 outside: torch.Tensor) -> torch.Tensor:
    """Mean L2 distance between the activations of the images and of their shuffled
    copies, over the samples with a non-empty ``outside`` (0 when none has one)."""
    keep = has_outside(outside).to(acts.device)
    if not bool(keep.any()):
        return acts.sum() * 0.0
    diff = (acts - acts_shuffled).reshape(acts.shape[0], -1)
    dist = torch.sqrt((diff * diff).sum(dim=1) + 1e-12)
    return dist[keep].mean()


def contrast(logits: torch.Tensor, positive: int = 1) -> torch.Tensor:
    """(B,) ``|y_positive - mean of the other logits|``: ``|y_1 - y_0|`` for two classes."""
    if logits.shape[1] < 2:
        return logits[:, 0].abs()
    others = torch.cat([logits[:, :positive], logits[:, positive + 1:]], dim=1)
    return (logits[:, positive] - others.mean(dim=1)).abs()


def input_gradient(x: torch.Tensor, output: torch.Tensor) -> torch.Tensor:
    """d(sum of ``output``)/dx, kept differentiable (``create_graph``) for a double backward."""
    (grad,) = torch.autograd.grad(output.sum(), x, create_graph=True)
    return grad


def gradmask_loss(x: torch.Tensor, logits: torch.Tensor, outside: torch.Tensor,
                  positive: int = 1) -> torch.Tensor:
    """GradMask: per sample the sum of ``|d contrast / dx|`` over ``outside``; batch mean.
    ``x`` must require grad and ``logits`` come from it."""
    grad = input_gradient(x, contrast(logits, positive))
    pen = (grad.abs() * _expand(outside, grad)).reshape(x.shape[0], -1).sum(dim=1)
    return pen.mean()


def rrr_loss(x: torch.Tensor, logits: torch.Tensor, outside: torch.Tensor) -> torch.Tensor:
    """Right for the Right Reasons: per sample the sum of ``(d sum log softmax / dx)^2``
    over ``outside``; batch mean."""
    grad = input_gradient(x, torch.log_softmax(logits, dim=1).sum(dim=1))
    pen = (grad * grad * _expand(outside, grad)).reshape(x.shape[0], -1).sum(dim=1)
    return pen.mean()
