"""Model cards: the JSON that says how to rebuild, load and feed a model (DESIGN §6)."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from coloc_viewer.errors import ModelError

NORMALIZATION_MODES = ("fixed", "zscore", "minmax", "percentile")
REQUIRED = ("name", "architecture", "weights", "in_channels", "input_size", "normalization",
            "classes")


@dataclass(frozen=True)
class ModelCard:
    """A parsed, validated model card. ``path`` is the card file (``None`` when built in
    code); ``weights`` is resolved relative to it by :meth:`weights_path`."""

    name: str
    architecture: str
    weights: str
    in_channels: int
    input_size: tuple[int, int]
    normalization: dict[str, Any]
    classes: tuple[str, ...]
    positive_class: int | None = None
    target_layer: str | None = None
    description: str = ""
    path: str | None = field(default=None, compare=False)

    @property
    def is_torchscript(self) -> bool:
        return self.architecture == "torchscript"

    def weights_path(self) -> Path:
        base = Path(self.path).parent if self.path else Path.cwd()
        return (base / self.weights).resolve()

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("path")
        d["input_size"] = list(self.input_size)
        d["classes"] = list(self.classes)
        return d


def _check_normalization(norm: Any, in_channels: int, path: str | None) -> dict[str, Any]:
    if not isinstance(norm, dict) or norm.get("mode") not in NORMALIZATION_MODES:
        raise ModelError(f"normalization.mode must be one of {', '.join(NORMALIZATION_MODES)}",
                         path)
    norm = dict(norm)
    if norm["mode"] == "fixed":
        for key in ("mean", "std"):
            vals = norm.get(key)
            if isinstance(vals, int | float):
                vals = [vals]
            if not isinstance(vals, list) or len(vals) not in (1, in_channels):
                raise ModelError(f"normalization.{key} must be a list of 1 or in_channels "
                                 f"({in_channels}) numbers", path)
            norm[key] = [float(v) for v in vals]
        if any(s == 0 for s in norm["std"]):
            raise ModelError("normalization.std must not contain 0", path)
    elif norm["mode"] == "percentile":
        low, high = float(norm.get("low", 1.0)), float(norm.get("high", 99.0))
        if not 0.0 <= low < high <= 100.0:
            raise ModelError("normalization low/high must satisfy 0 <= low < high <= 100", path)
        norm["low"], norm["high"] = low, high
    return norm


def card_from_dict(data: dict[str, Any], path: str | os.PathLike[str] | None = None) -> ModelCard:
    """Validate a card dict; every problem is a :class:`ModelError` naming the card."""
    p = None if path is None else os.fspath(path)
    if not isinstance(data, dict):
        raise ModelError("a model card must be a JSON object", p)
    missing = [k for k in REQUIRED if k not in data]
    if missing:
        raise ModelError(f"model card lacks {', '.join(missing)}", p)
    try:
        in_channels = int(data["in_channels"])
        size = tuple(int(v) for v in data["input_size"])
        classes = tuple(str(c) for c in data["classes"])
    except (TypeError, ValueError) as err:
        raise ModelError(f"bad in_channels, input_size or classes ({err})", p) from None
    if in_channels < 1 or len(size) != 2 or min(size) < 1:
        raise ModelError("in_channels must be >= 1 and input_size must be [h, w]", p)
    if len(classes) < 1:
        raise ModelError("classes must list at least one class name", p)
    positive = data.get("positive_class")
    if positive is not None:
        if isinstance(positive, str) and positive in classes:
            positive = classes.index(positive)
        if not isinstance(positive, int) or not 0 <= positive < len(classes):
            raise ModelError(f"positive_class must index classes (0..{len(classes) - 1})", p)
    return ModelCard(
        name=str(data["name"]), architecture=str(data["architecture"]),
        weights=str(data["weights"]), in_channels=in_channels,
        input_size=(size[0], size[1]),
        normalization=_check_normalization(data["normalization"], in_channels, p),
        classes=classes, positive_class=positive,
        target_layer=data.get("target_layer") or None,
        description=str(data.get("description", "")), path=p,
    )


def read_card(path: str | os.PathLike[str]) -> ModelCard:
    """Read and validate a card JSON file."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError("model card not found", path) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ModelError(f"not a readable JSON model card ({err})", path) from None
    return card_from_dict(data, path)
