"""Build torchvision classifiers with the project's adaptation convention.

The convention (the demo models are trained with exactly this function, and every card
with a torchvision ``architecture`` is rebuilt with it before its weights are loaded):

1. ``torchvision.models.get_model(architecture, weights=None, num_classes=num_classes)``;
2. if ``in_channels != 3``, the FIRST ``nn.Conv2d`` in module order is replaced by a new
   ``Conv2d`` with the same settings (out channels, kernel, stride, padding, dilation,
   groups, bias, padding mode) and ``in_channels`` inputs.
"""

from __future__ import annotations

from torch import nn


def available_architectures() -> list[str]:
    """Names accepted by :func:`build_torchvision` (torchvision's classification models)."""
    import torchvision

    return sorted(torchvision.models.list_models(module=torchvision.models))


def _replace_first_conv(model: nn.Module, in_channels: int) -> None:
    first = next(((name, m) for name, m in model.named_modules() if isinstance(m, nn.Conv2d)),
                 None)
    if first is None:
        raise ValueError("the model has no nn.Conv2d to adapt to the number of input channels")
    name, conv = first
    if conv.groups != 1:
        raise ValueError(f"cannot adapt the grouped first convolution {name!r} to "
                         f"{in_channels} input channels")
    new = nn.Conv2d(
        in_channels, conv.out_channels, kernel_size=conv.kernel_size, stride=conv.stride,
        padding=conv.padding, dilation=conv.dilation, groups=conv.groups,
        bias=conv.bias is not None, padding_mode=conv.padding_mode,
    )
    parent_name, _, attr = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, attr, new)


def build_torchvision(architecture: str, num_classes: int, in_channels: int = 3) -> nn.Module:
    """A randomly initialised torchvision ``architecture`` with ``num_classes`` outputs
    and ``in_channels`` input channels (see the module docstring for the convention).

    Raises ``ValueError`` for an unknown architecture name.
    """
    import torchvision

    if architecture not in torchvision.models.list_models(module=torchvision.models):
        raise ValueError(f"unknown torchvision classification architecture {architecture!r}")
    model = torchvision.models.get_model(architecture, weights=None, num_classes=num_classes)
    if in_channels != 3:
        _replace_first_conv(model, int(in_channels))
    return model
