"""Model cards: the JSON that says how to rebuild, load and feed a model (DESIGN §6)."""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from coloc_viewer.errors import ModelError
from coloc_viewer.limits import MAX_MODEL_INPUT_EDGE, MAX_MODEL_INPUT_VOXELS
from coloc_viewer.model.architectures import check_architecture_args, parse_architecture

NORMALIZATION_MODES = ("fixed", "zscore", "minmax", "percentile")
TASKS = ("classification", "segmentation")
REQUIRED = ("name", "architecture", "weights", "in_channels", "input_size", "normalization",
            "classes")
#: Largest card file read (a card is a few kB; this keeps a hostile card from filling memory).
MAX_CARD_BYTES = 1024**2


@dataclass(frozen=True)
class ModelCard:
    """A parsed, validated model card. ``path`` is the card file (``None`` when built in
    code); ``weights`` is resolved relative to it by :meth:`weights_path`.

    ``input_size`` is ``(h, w)`` for ``spatial_dims == 2`` and ``(d, h, w)`` for 3."""

    name: str
    architecture: str
    weights: str
    in_channels: int
    input_size: tuple[int, ...]
    normalization: dict[str, Any]
    classes: tuple[str, ...]
    positive_class: int | None = None
    target_layer: str | None = None
    description: str = ""
    architecture_args: dict[str, Any] = field(default_factory=dict)
    spatial_dims: int = 2
    task: str = "classification"
    inputs: tuple[dict[str, str], ...] | None = None
    expects: dict[str, Any] | None = None
    refined_from: dict[str, Any] | None = None  # {name, sha256} of the card refine started from
    refine: dict[str, Any] | None = None  # {method, lambda, epochs, lr, seed, ...} (refine)
    path: str | None = field(default=None, compare=False)

    @property
    def is_torchscript(self) -> bool:
        return self.architecture == "torchscript"

    @property
    def is_export(self) -> bool:
        return self.architecture == "export"

    @property
    def library(self) -> str:
        """``torchvision``, ``timm``, ``monai``, or the special ``architecture`` itself."""
        return parse_architecture(self.architecture)[0]

    def weights_path(self) -> Path:
        """The weights file, resolved and confined to the card's folder or a configured
        models folder (:func:`coloc_viewer.model.safety.resolve_weights`)."""
        from coloc_viewer.model.safety import resolve_weights

        return resolve_weights(self.weights, self.path)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("path")
        d["input_size"] = list(self.input_size)
        d["classes"] = list(self.classes)
        d["inputs"] = None if self.inputs is None else [dict(i) for i in self.inputs]
        for key in ("refined_from", "refine"):  # only refined cards carry them
            if d[key] is None:
                d.pop(key)
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


def _int(value: Any) -> int:
    """A JSON integer (an integral float is accepted; booleans and fractions are not)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{value!r} is not an integer")
    if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
        raise ValueError(f"{value!r} is not an integer")
    return int(value)


def _check_input_size(raw: Any, spatial_dims: int, path: str | None) -> tuple[int, ...]:
    """``input_size`` as a tuple, bounded by the limits before anything is allocated."""
    shape = "[h, w]" if spatial_dims == 2 else "[d, h, w]"
    try:
        if not isinstance(raw, list | tuple) or len(raw) > 8:
            raise ValueError("not a short list")
        size = tuple(_int(v) for v in raw)
    except ValueError as err:
        raise ModelError(f"input_size must be {shape} of integers ({err})", path) from None
    if len(size) != spatial_dims or min(size) < 1:
        raise ModelError(f"input_size must be {shape} of positive integers for spatial_dims "
                         f"{spatial_dims}, got {list(size)}", path)
    if max(size) > MAX_MODEL_INPUT_EDGE:
        raise ModelError(f"input_size {list(size)} exceeds the largest model input edge "
                         f"({MAX_MODEL_INPUT_EDGE}, coloc_viewer.limits)", path)
    if math.prod(size) > MAX_MODEL_INPUT_VOXELS:
        raise ModelError(f"input_size {list(size)} has {math.prod(size):,} voxels, more than "
                         f"the limit ({MAX_MODEL_INPUT_VOXELS:,}, coloc_viewer.limits)", path)
    return size


def _check_inputs(raw: Any, in_channels: int, path: str | None
                  ) -> tuple[dict[str, str], ...] | None:
    if raw is None:
        return None
    if not isinstance(raw, list) or len(raw) != in_channels:
        raise ModelError(f"inputs must list one {{role, series}} per input channel "
                         f"({in_channels})", path)
    out: list[dict[str, str]] = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or not isinstance(item.get("role"), str) \
                or not item["role"].strip() or not isinstance(item.get("series"), str):
            raise ModelError(f"inputs[{i}] must be {{\"role\": name, \"series\": regex}}", path)
        if len(item["series"]) > 1000:
            raise ModelError(f"inputs[{i}].series is too long (1000 characters at most)", path)
        try:
            re.compile(item["series"])
        except re.error as err:
            raise ModelError(f"inputs[{i}].series is not a valid regular expression ({err})",
                             path) from None
        out.append({"role": item["role"].strip(), "series": item["series"]})
    roles = [i["role"] for i in out]
    if len(set(roles)) != len(roles):
        raise ModelError(f"inputs roles must be unique, got {roles}", path)
    return tuple(out)


def _refuse_misspelt_fields(data: dict[str, Any], path: str | None) -> None:
    """A key that is not a card field but nearly spells one ("target_layr") is a
    :class:`ModelError`: ignored, it would run the model with a default the user did not
    choose. Other unknown keys are the user's own metadata and stay."""
    import difflib

    known = [f.name for f in fields(ModelCard) if f.name != "path"]
    for key in data:
        if key in known or not isinstance(key, str):
            continue
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.8)
        if close:
            raise ModelError(f"unknown card field {key!r} (did you mean {close[0]!r}?)", path)


def card_from_dict(data: dict[str, Any], path: str | os.PathLike[str] | None = None) -> ModelCard:
    """Validate a card dict; every problem is a :class:`ModelError` naming the card."""
    p = None if path is None else os.fspath(path)
    if not isinstance(data, dict):
        raise ModelError("a model card must be a JSON object", p)
    _refuse_misspelt_fields(data, p)
    missing = [k for k in REQUIRED if k not in data]
    if missing:
        raise ModelError(f"model card lacks {', '.join(missing)}", p)
    try:
        parse_architecture(data["architecture"])
        args = check_architecture_args(data.get("architecture_args"))
    except ValueError as err:
        raise ModelError(str(err), p) from None
    try:
        in_channels = _int(data["in_channels"])
        spatial_dims = _int(data.get("spatial_dims", 2))
        if not isinstance(data["classes"], list):
            raise ValueError("classes must be a list")
        classes = tuple(str(c) for c in data["classes"])
    except (TypeError, ValueError) as err:
        raise ModelError(f"bad in_channels, spatial_dims or classes ({err})", p) from None
    if spatial_dims not in (2, 3):
        raise ModelError(f"spatial_dims must be 2 or 3, got {spatial_dims}", p)
    if not 1 <= in_channels <= 256:
        raise ModelError("in_channels must be between 1 and 256", p)
    size = _check_input_size(data["input_size"], spatial_dims, p)
    if len(classes) < 1:
        raise ModelError("classes must list at least one class name", p)
    task = data.get("task", "classification")
    if task not in TASKS:
        raise ModelError(f"task must be one of {', '.join(TASKS)}", p)
    positive = data.get("positive_class")
    if positive is not None:
        if isinstance(positive, str) and positive in classes:
            positive = classes.index(positive)
        if isinstance(positive, bool) or not isinstance(positive, int) \
                or not 0 <= positive < len(classes):
            raise ModelError(f"positive_class must index classes (0..{len(classes) - 1})", p)
    expects = data.get("expects")
    if expects is not None and not isinstance(expects, dict):
        raise ModelError("expects must be a JSON object", p)
    for key in ("refined_from", "refine"):
        if data.get(key) is not None and not isinstance(data[key], dict):
            raise ModelError(f"{key} must be a JSON object", p)
    if not isinstance(data["weights"], str):
        raise ModelError("weights must be a file name (a string)", p)
    return ModelCard(
        name=str(data["name"]), architecture=data["architecture"],
        weights=data["weights"], in_channels=in_channels, input_size=size,
        normalization=_check_normalization(data["normalization"], in_channels, p),
        classes=classes, positive_class=positive,
        target_layer=data.get("target_layer") or None,
        description=str(data.get("description", "")), architecture_args=args,
        spatial_dims=spatial_dims, task=task,
        inputs=_check_inputs(data.get("inputs"), in_channels, p),
        expects=None if expects is None else dict(expects),
        refined_from=dict(data["refined_from"]) if data.get("refined_from") else None,
        refine=dict(data["refine"]) if data.get("refine") else None, path=p,
    )


def read_card(path: str | os.PathLike[str]) -> ModelCard:
    """Read and validate a card JSON file."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_CARD_BYTES + 1)
        if len(raw) > MAX_CARD_BYTES:
            raise ModelError(f"model card is larger than {MAX_CARD_BYTES} bytes", path)
        data = json.loads(raw.decode("utf-8"))
    except FileNotFoundError:
        raise ModelError("model card not found", path) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
        raise ModelError(f"not a readable JSON model card ({err})", path) from None
    return card_from_dict(data, path)
