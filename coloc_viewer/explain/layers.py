"""Layer discovery: every module with a spatial output ((1, C, h, w) for 2-D models,
(1, C, d, h, w) for 3-D ones), from one dry run."""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import torch
from torch import nn

from coloc_viewer.errors import ModelError

_CACHE: weakref.WeakKeyDictionary[nn.Module, dict] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class LayerInfo:
    """A layer whose output is a (1, C, h, w) or (1, C, d, h, w) tensor. ``calls`` counts
    how often the module ran in one forward pass (shared modules such as a block's ReLU run
    more than once; the last call is the one captured)."""

    name: str
    type: str
    out_shape: tuple[int, ...]
    calls: int = 1

    @property
    def n_cells(self) -> int:
        """Spatial cells of the output (h*w or d*h*w)."""
        n = 1
        for v in self.out_shape[1:]:
            n *= v
        return n


def model_cache(module: nn.Module) -> dict:
    """Per-module memo of dry-run facts (dropped with the module)."""
    return _CACHE.setdefault(module, {})


def dry_run_probe(input_shape: tuple[int, ...]) -> torch.Tensor:
    """The seeded standard-normal input (1, *input_shape) used for dry runs."""
    gen = torch.Generator().manual_seed(0)
    return torch.randn((1, *input_shape), generator=gen)


def list_layers(module: nn.Module, input_shape: tuple[int, ...],
                device: torch.device | str | None = None) -> list[LayerInfo]:
    """Layers whose output has the input's rank ((C, h, w) or (C, d, h, w)), in the order
    their (last) call completes, from one dry run on a seeded random probe of shape
    ``(1, *input_shape)`` (kept, with the model's output, for the capture plan's check)."""
    key = ("layers", tuple(int(s) for s in input_shape))
    memo = model_cache(module)
    if key in memo:
        return memo[key]
    if isinstance(module, torch.jit.ScriptModule):
        raise ModelError("layer capture needs hooks, which TorchScript modules do not run; "
                         "give the model as a torch.export program (.pt2, architecture "
                         "\"export\") or its state_dict with a torchvision:, timm: or monai: "
                         "card (docs/models/bring-your-own.md)")
    if device is None:
        device = next((p.device for p in module.parameters()), torch.device("cpu"))
    rank = len(input_shape) + 1
    seen: dict[str, tuple[str, tuple[int, ...], int]] = {}
    order: list[str] = []
    handles = []

    def make_hook(name: str):
        def hook(mod: nn.Module, _inp: object, out: object) -> None:
            if isinstance(out, torch.Tensor) and out.ndim == rank:
                calls = seen[name][2] + 1 if name in seen else 1
                seen[name] = (type(mod).__name__, tuple(int(s) for s in out.shape[1:]), calls)
                if name in order:
                    order.remove(name)
                order.append(name)
        return hook

    try:
        for name, sub in module.named_modules():
            if name:
                handles.append(sub.register_forward_hook(make_hook(name)))
        probe = dry_run_probe(input_shape).to(device)
        try:
            with torch.no_grad():
                out = module(probe)
        except (RuntimeError, ValueError, TypeError, IndexError) as err:
            msg = (str(err).strip().splitlines() or [type(err).__name__])[0]
            raise ModelError(f"the model does not run on an input of shape "
                             f"{tuple(probe.shape)} (its card's in_channels and input_size): "
                             f"{msg}") from None
        memo[("probe", probe.shape)] = (probe, out)
    finally:
        for h in handles:
            h.remove()
    layers = [LayerInfo(n, seen[n][0], seen[n][1], seen[n][2]) for n in order]  # type: ignore[arg-type]
    if not layers:
        raise ModelError(f"the model has no layer with a spatial output of rank {rank}")
    memo[key] = layers
    return layers


def resolve_layer(layers: list[LayerInfo], name: str | None,
                  card_default: str | None = None, deepest: bool = False) -> LayerInfo:
    """The layer called ``name``; else the card's ``target_layer``; else the last layer
    whose output is still spatial (more than one cell; global pools are skipped) -- or with
    ``deepest`` (segmentation networks, whose output is spatial too) the last of the
    spatial layers with the fewest cells (a U-Net's bottleneck)."""
    by_name = {info.name: info for info in layers}
    wanted = name or card_default
    if wanted is None:
        spatial = [i for i in layers if i.n_cells > 1] or layers
        if deepest:
            fewest = min(i.n_cells for i in spatial)
            spatial = [i for i in spatial if i.n_cells == fewest]
        return spatial[-1]
    if wanted not in by_name:
        near = [n for n in by_name if wanted in n or n in wanted][:5] or [i.name for i in
                                                                          layers[-5:]]
        raise ModelError(f"no layer {wanted!r} with a spatial output; try one of "
                         f"{', '.join(near)}")
    return by_name[wanted]
