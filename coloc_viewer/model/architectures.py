"""Build a card's network by name, from torchvision, timm or MONAI registries only.

``architecture`` is ``"torchvision:NAME"`` (a bare ``"NAME"`` means torchvision),
``"timm:NAME"`` or ``"monai:CLASS"``. Names are looked up in the library's own registry
(``torchvision.models.list_models``, ``timm.list_models``, the classes exported by
``monai.networks.nets``); nothing is ever imported from a string path, and no builder is
asked for pretrained weights.

The torchvision convention (the demo models are trained with exactly this function):

1. ``torchvision.models.get_model(architecture, weights=None, num_classes=num_classes)``;
2. if ``in_channels != 3``, the FIRST ``nn.Conv2d`` in module order is replaced by a new
   ``Conv2d`` with the same settings (out channels, kernel, stride, padding, dilation,
   groups, bias, padding mode) and ``in_channels`` inputs.

timm: ``timm.create_model(NAME, pretrained=False, num_classes=len(classes),
in_chans=in_channels, **architecture_args)`` (the args win). MONAI:
``monai.networks.nets.CLASS(**architecture_args)``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from torch import nn

LIBRARIES = ("torchvision", "timm", "monai")
#: Card architectures that are not built from a registry.
SPECIAL = ("torchscript", "export", "module")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_]*\Z")
#: Builder keyword arguments that could download or read files; refused in any case.
_FORBIDDEN_ARG_WORDS = ("pretrain", "checkpoint", "path", "file", "url", "download", "cache",
                        "hub")


def parse_architecture(spec: str) -> tuple[str, str]:
    """``(library, name)`` of a card's ``architecture``; ``(spec, "")`` for the special
    values (``torchscript``, ``export``, ``module``). Only checks the syntax: the library
    is one of :data:`LIBRARIES` and the name is a plain identifier (no dots, slashes or
    leading underscore). Raises ``ValueError``."""
    if not isinstance(spec, str) or not spec:
        raise ValueError("architecture must be a non-empty string")
    if spec in SPECIAL:
        return spec, ""
    library, sep, name = spec.partition(":")
    if not sep:
        library, name = "torchvision", spec
    if library not in LIBRARIES:
        raise ValueError(f"unknown architecture library {library!r} in {spec!r}; use "
                         "torchvision:NAME, timm:NAME, monai:CLASS, export or torchscript")
    if not _NAME.match(name):
        raise ValueError(f"architecture name {name!r} must be a plain name from the "
                         f"{library} registry (letters, digits, '_'; no dots or paths)")
    return library, name


def check_architecture_args(args: Any) -> dict[str, Any]:
    """A copy of ``architecture_args`` if it is a JSON object of numbers, strings, booleans
    and (nested) lists of those, with identifier keys; else ``ValueError``."""
    if args is None:
        return {}
    if not isinstance(args, Mapping):
        raise ValueError("architecture_args must be a JSON object of keyword arguments")

    def ok(value: Any, depth: int = 0) -> bool:
        if isinstance(value, bool | int | float | str):
            return True
        return isinstance(value, list) and depth < 4 and all(ok(v, depth + 1) for v in value)

    out: dict[str, Any] = {}
    for key, value in args.items():
        if not isinstance(key, str) or not key.isidentifier() or key.startswith("_"):
            raise ValueError(f"architecture_args key {key!r} is not a keyword argument name")
        if any(word in key.lower() for word in _FORBIDDEN_ARG_WORDS):
            raise ValueError(f"architecture_args {key!r} is refused: weights come only from "
                             "the card's weights file, never downloaded or read by the builder")
        if not ok(value):
            raise ValueError(f"architecture_args {key!r} must be a number, string, boolean or "
                             "a list of those (no objects or null)")
        out[key] = value
    return out


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


def build_torchvision(architecture: str, num_classes: int, in_channels: int = 3,
                      **kwargs: Any) -> nn.Module:
    """A randomly initialised torchvision ``architecture`` with ``num_classes`` outputs
    and ``in_channels`` input channels (see the module docstring for the convention).

    Raises ``ValueError`` for an unknown architecture name.
    """
    import torchvision

    if architecture not in torchvision.models.list_models(module=torchvision.models):
        raise ValueError(f"unknown torchvision classification architecture {architecture!r}")
    model = torchvision.models.get_model(architecture, weights=None, num_classes=num_classes,
                                         **kwargs)
    if in_channels != 3:
        _replace_first_conv(model, int(in_channels))
    return model


def build_timm(name: str, num_classes: int, in_channels: int, **kwargs: Any) -> nn.Module:
    """``timm.create_model(name, pretrained=False, ...)`` for a name in ``timm.list_models()``."""
    import timm

    if name not in timm.list_models():
        raise ValueError(f"unknown timm architecture {name!r} (not in timm.list_models(); "
                         "give the name without a pretrained tag)")
    return timm.create_model(name, pretrained=False, num_classes=num_classes,
                             in_chans=in_channels, **kwargs)


def monai_class(name: str) -> type[nn.Module]:
    """The ``nn.Module`` subclass ``monai.networks.nets.<name>`` (looked up on that module
    only; names with dots or a leading underscore are refused)."""
    import monai.networks.nets as nets

    if not _NAME.match(name) or name.startswith("_"):
        raise ValueError(f"monai architecture {name!r} must be a class name of "
                         "monai.networks.nets")
    cls = getattr(nets, name, None)
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        raise ValueError(f"unknown monai architecture {name!r}: not an nn.Module class "
                         "exported by monai.networks.nets")
    return cls


def build_architecture(spec: str, num_classes: int, in_channels: int,
                       args: Mapping[str, Any] | None = None) -> nn.Module:
    """The randomly initialised network of a card's ``architecture`` and
    ``architecture_args``. Raises ``ValueError`` for an unknown or unsafe name and for
    arguments the builder rejects."""
    library, name = parse_architecture(spec)
    kwargs = check_architecture_args(args)
    try:
        if library == "torchvision":
            return build_torchvision(name, kwargs.pop("num_classes", num_classes), in_channels,
                                     **kwargs)
        if library == "timm":
            return build_timm(name, kwargs.pop("num_classes", num_classes),
                              kwargs.pop("in_chans", in_channels), **kwargs)
        if library == "monai":
            return monai_class(name)(**kwargs)
    except ValueError:
        raise
    except (TypeError, RuntimeError, AssertionError, KeyError, IndexError) as err:
        raise ValueError(f"{spec} rejects architecture_args {kwargs} "
                         f"({type(err).__name__}: {err})") from None
    raise ValueError(f"architecture {spec!r} is not built from a registry")
