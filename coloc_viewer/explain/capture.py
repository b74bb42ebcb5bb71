"""Capture a layer's activations and the target logit's gradient w.r.t. them, building an
autograd graph only for the part of the network after the layer.

Two plans, chosen once per (model, layer) and memoised:

* ``chain`` -- the model is numerically a chain of modules (its children, with nested
  ``nn.Sequential`` expanded and a flatten before a ``Linear``), verified on a dry run.
  The prefix runs under ``no_grad``; the suffix alone is run on the captured activations
  (also for ablation: only the suffix is re-run).
* ``hook`` -- generic: the whole forward runs under ``no_grad``; a forward hook on the
  layer swaps its output for a fresh leaf tensor (plus any extra rows, e.g. ablated
  copies) and switches gradients on, so only the rest of the forward is recorded.

Class scores come from a *reader* of the model output: :func:`as_logits` for classifiers,
:class:`~coloc_viewer.explain.targets.SegmentationTarget` for segmentation networks.
Activations are (C, h, w) or (C, d, h, w). Hooks are removed in ``finally`` blocks; nothing
stays attached after a call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from coloc_viewer.errors import ModelError
from coloc_viewer.explain.layers import LayerInfo, dry_run_probe, model_cache


@dataclass
class Capture:
    """One input's capture: ``acts``/``grads`` (C, *spatial), ``logits`` (K,) class scores,
    ``zero_logits`` (K,) = the scores when the layer's activations are all zero (the head's
    bias for a GAP + linear head), and the ``target`` class."""

    acts: torch.Tensor
    grads: torch.Tensor
    logits: torch.Tensor
    zero_logits: torch.Tensor
    target: int
    plan: str


def output_tensor(out: object) -> torch.Tensor:
    """The tensor of a model output (a tensor, a tuple's first item, or a dict's
    ``logits``/``out``)."""
    if isinstance(out, torch.Tensor):
        t = out
    elif isinstance(out, tuple | list) and out and isinstance(out[0], torch.Tensor):
        t = out[0]
    elif isinstance(out, dict):
        t = out.get("logits", out.get("out"))
    else:
        t = None
    if not isinstance(t, torch.Tensor):
        raise ModelError(f"cannot read class scores from a model output of type "
                         f"{type(out).__name__}")
    return t


def as_logits(out: object) -> torch.Tensor:
    """The (B, K) logits of a classifier's output (see :func:`output_tensor`)."""
    t = output_tensor(out)
    return t.reshape(t.shape[0], -1)


Reader = Callable[[Any], torch.Tensor]


# --- chain plan -------------------------------------------------------------------------
def _chain_of(module: nn.Module) -> tuple[list[tuple[str, nn.Module]], dict[str, int]]:
    items: list[tuple[str, nn.Module]] = []
    alias: dict[str, int] = {}

    def expand(prefix: str, mod: nn.Module) -> None:
        for name, child in mod.named_children():
            full = f"{prefix}{name}"
            if isinstance(child, nn.Sequential) and len(child):
                expand(full + ".", child)
                alias[full] = len(items) - 1
            else:
                items.append((full, child))
                alias[full] = len(items) - 1

    expand("", module)
    return items, alias


def _run_chain(items: list[tuple[str, nn.Module]], x: torch.Tensor) -> torch.Tensor:
    for _, mod in items:
        if isinstance(mod, nn.Linear) and x.ndim > 2:
            x = torch.flatten(x, 1)
        x = mod(x)
    return x


#: public name of the batch-capture building block: run a chain of modules on a batch
#: (cohort.batched runs the prefix once and the suffix batched over cases)
run_chain = _run_chain


def _chain_plan(module: nn.Module, layer: str, x: torch.Tensor):
    """(prefix, suffix) module lists when the model is a verified chain, else None."""
    memo = model_cache(module)
    if "chain" not in memo:
        items, alias = _chain_of(module)
        ok = False
        if items:
            known = memo.get(("probe", x.shape))
            probe = dry_run_probe(tuple(x.shape[1:])).to(x.device, x.dtype)
            try:
                with torch.no_grad():
                    ref = as_logits(known[1] if known is not None else module(probe))
                    got = as_logits(_run_chain(items, probe))
                ok = ref.shape == got.shape and torch.allclose(
                    ref, got, rtol=1e-4, atol=1e-5 * float(ref.abs().max()) + 1e-7)
            except (RuntimeError, ValueError, TypeError, ModelError):
                ok = False
        memo["chain"] = (items, alias) if ok else None
    chain = memo["chain"]
    if chain is None or layer not in chain[1]:
        return None
    items, alias = chain
    cut = alias[layer] + 1
    return items[:cut], items[cut:]


# --- hook plan --------------------------------------------------------------------------
def _run_with_swap(module: nn.Module, x: torch.Tensor, info: LayerInfo,
                   make_batch: Callable[[torch.Tensor], torch.Tensor],
                   grad_after: bool, reader: Reader) -> tuple[torch.Tensor, torch.Tensor]:
    """Run ``module(x)`` under no_grad, replacing the layer's last call output ``A`` by
    ``make_batch(A)`` (and turning grad mode on there when ``grad_after``).
    Returns (A detached, class scores read by ``reader``)."""
    layer = module.get_submodule(info.name)
    state = {"calls": 0, "acts": None}

    def hook(_mod: nn.Module, _inp: object, out: torch.Tensor) -> torch.Tensor | None:
        state["calls"] += 1
        if state["calls"] != info.calls:
            return None
        acts = out.detach()
        state["acts"] = acts
        if grad_after:
            torch.set_grad_enabled(True)
        return make_batch(acts)

    handle = layer.register_forward_hook(hook)
    try:
        with torch.no_grad():
            raw = module(x)
    finally:
        handle.remove()
    if state["acts"] is None:
        raise ModelError(f"layer {info.name!r} did not run in the forward pass")
    return state["acts"], reader(raw)


def _batched_hook_run(module, x, info, make_batch, grad_after, batch, reader):
    try:
        return _run_with_swap(module, x, info, make_batch, grad_after, reader)
    except RuntimeError as err:
        first = err
    if batch > 1 and x.shape[0] == 1:  # a cat/stack with batch-1 prefix tensors: expand x
        try:
            return _run_with_swap(module, x.expand(batch, *x.shape[1:]), info,
                                  lambda a: make_batch(a[:1]), grad_after, reader)
        except RuntimeError:
            pass
    msg = str(first).strip().splitlines()
    raise ModelError(f"running the model failed ({msg[0] if msg else type(first).__name__})")


# --- public -----------------------------------------------------------------------------
class LayerCapture:
    """Capture and suffix re-runs for one (module, layer); see the module docstring."""

    def __init__(self, module: nn.Module, info: LayerInfo, example: torch.Tensor,
                 reader: Reader = as_logits):
        self.module = module
        self.info = info
        self.reader = reader
        self.plan = _chain_plan(module, info.name, example)

    @property
    def plan_name(self) -> str:
        return "chain" if self.plan is not None else "hook"

    def capture(self, x: torch.Tensor, target: int | None = None,
                choose: Callable[[torch.Tensor], int] | None = None) -> Capture:
        """Activations, the target score's gradient w.r.t. them, scores and zero-scores.
        Without ``target`` the class is ``choose(scores)`` (default: the argmax)."""
        if self.plan is not None:
            prefix, suffix = self.plan
            with torch.no_grad():
                acts = _run_chain(prefix, x).detach()
            leaf = acts.requires_grad_(True)
            with torch.enable_grad():
                logits2 = self.reader(_run_chain(suffix, torch.cat([leaf, torch.zeros_like(
                    leaf)])))
        else:
            holder: dict[str, torch.Tensor] = {}

            def make_batch(a: torch.Tensor) -> torch.Tensor:
                holder["leaf"] = a.clone().requires_grad_(True)
                return torch.cat([holder["leaf"], torch.zeros_like(a)])

            prev = torch.is_grad_enabled()
            try:
                _, logits2 = _batched_hook_run(self.module, x, self.info, make_batch, True, 2,
                                               self.reader)
            finally:
                torch.set_grad_enabled(prev)
            leaf = holder["leaf"]
        logits = logits2[0]
        if target is not None:
            c = int(target)
        else:
            c = int(logits.argmax()) if choose is None else int(choose(logits.detach()))
        if not 0 <= c < logits.numel():
            raise ModelError(f"target class {c} is out of range (the model has "
                             f"{logits.numel()} outputs)")
        if not logits2.requires_grad:
            raise ModelError(f"the output does not depend on layer {self.info.name!r}")
        (grads,) = torch.autograd.grad(logits[c], leaf, allow_unused=True)
        if grads is None:
            grads = torch.zeros_like(leaf)
        return Capture(leaf.detach()[0], grads.detach()[0], logits.detach(),
                       logits2[1].detach(), c, self.plan_name)

    def run_suffix(self, x: torch.Tensor, acts_batch: torch.Tensor) -> torch.Tensor:
        """Scores (B, K) for a batch of replacement activations (B, C, ...), no graph.
        The chain plan runs only the suffix; the hook plan reruns the prefix once."""
        with torch.no_grad():
            if self.plan is not None:
                return self.reader(_run_chain(self.plan[1], acts_batch))
            _, out = _batched_hook_run(self.module, x, self.info, lambda a: acts_batch,
                                       False, acts_batch.shape[0], self.reader)
            return out
