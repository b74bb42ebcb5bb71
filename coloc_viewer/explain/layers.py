"""Layer discovery: every module with a spatial (4-D) output, from one dry run."""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import torch
from torch import nn

from coloc_viewer.errors import ModelError

_CACHE: weakref.WeakKeyDictionary[nn.Module, dict] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class LayerInfo:
    """A layer whose output is a (1, C, h, w) tensor. ``calls`` counts how often the module
    ran in one forward pass (shared modules such as a block's ReLU run more than once; the
    last call is the one captured)."""

    name: str
    type: str
    out_shape: tuple[int, int, int]
    calls: int = 1


def model_cache(module: nn.Module) -> dict:
    """Per-module memo of dry-run facts (dropped with the module)."""
    return _CACHE.setdefault(module, {})


def dry_run_probe(input_shape: tuple[int, ...]) -> torch.Tensor:
    """The seeded standard-normal input (1, *input_shape) used for dry runs."""
    gen = torch.Generator().manual_seed(0)
    return torch.randn((1, *input_shape), generator=gen)


def list_layers(module: nn.Module, input_shape: tuple[int, int, int],
                device: torch.device | str | None = None) -> list[LayerInfo]:
    """Layers with a 4-D output, in the order their (last) call completes, from one dry
    run on a seeded random probe of shape ``(1, *input_shape)`` (kept, with the model's
    output, for the capture plan's check)."""
    key = ("layers", tuple(int(s) for s in input_shape))
    memo = model_cache(module)
    if key in memo:
        return memo[key]
    if isinstance(module, torch.jit.ScriptModule):
        raise ModelError("layer capture needs hooks, which TorchScript modules do not run; "
                         "export the model's state_dict with a torchvision card instead")
    if device is None:
        device = next((p.device for p in module.parameters()), torch.device("cpu"))
    seen: dict[str, tuple[str, tuple[int, int, int], int]] = {}
    order: list[str] = []
    handles = []

    def make_hook(name: str):
        def hook(mod: nn.Module, _inp: object, out: object) -> None:
            if isinstance(out, torch.Tensor) and out.ndim == 4:
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
        with torch.no_grad():
            out = module(probe)
        memo[("probe", probe.shape)] = (probe, out)
    finally:
        for h in handles:
            h.remove()
    layers = [LayerInfo(n, seen[n][0], seen[n][1], seen[n][2]) for n in order]  # type: ignore[arg-type]
    if not layers:
        raise ModelError("the model has no layer with a spatial (C, h, w) output")
    memo[key] = layers
    return layers


def resolve_layer(layers: list[LayerInfo], name: str | None,
                  card_default: str | None = None) -> LayerInfo:
    """The layer called ``name``; else the card's ``target_layer``; else the last layer
    whose output is still spatial (h * w > 1; global pools are skipped)."""
    by_name = {info.name: info for info in layers}
    wanted = name or card_default
    if wanted is None:
        spatial = [i for i in layers if i.out_shape[1] * i.out_shape[2] > 1]
        return (spatial or layers)[-1]
    if wanted not in by_name:
        near = [n for n in by_name if wanted in n or n in wanted][:5] or [i.name for i in
                                                                          layers[-5:]]
        raise ModelError(f"no layer {wanted!r} with a spatial output; try one of "
                         f"{', '.join(near)}")
    return by_name[wanted]
