"""Qt-free logic of the compare window: studies, pane settings, computing and scaling maps.

Everything the compare window shows can be reproduced with these functions: a pane is a
:class:`PaneSpec` (model, layer, target, ranking, map) applied to a :class:`Study` at one
slice; :func:`compute_pane` runs the model (called from a worker thread) and
:func:`display_ranges` decides how raw map values become colours.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from coloc_viewer.imaging.volume import Volume

MAP_CHOICES = ("top", "gradcam", "gradcam++", "layercam", "cam", "scorecam:8")
RANKS = ("contribution", "gradient", "max", "mean", "ablation")
SCALE_COMMON = "common"
SCALE_IMAGE = "per-image"


@dataclass(eq=False)
class Study:
    """One study shown in the compare window, with its own ROI (z, y, x bool)."""

    volume: Volume
    roi: np.ndarray | None = None
    label: str = ""

    def __post_init__(self) -> None:
        if self.roi is None:
            self.roi = np.zeros(self.volume.shape, bool)
        self.roi = np.asarray(self.roi, dtype=bool)
        if self.roi.shape != self.volume.shape:
            raise ValueError(f"ROI shape {self.roi.shape} != volume shape {self.volume.shape}")
        if not self.label:
            self.label = str(self.volume.metadata.get("description") or "study")

    @property
    def n_slices(self) -> int:
        return self.volume.shape[0]

    def largest_roi_slice(self) -> int:
        areas = self.roi.reshape(self.roi.shape[0], -1).sum(axis=1)
        return int(areas.argmax()) if areas.any() else self.n_slices // 2


@dataclass
class PaneSpec:
    """What one pane shows: model (a registry name), layer (None = the card's), target
    (None = predicted class), ranking criterion and map choice ("top", "channel:<k>", a
    CAM method, or "scorecam:<k>")."""

    model: str
    layer: str | None = None
    target: int | None = None
    rank: str = "contribution"
    map_choice: str = "top"

    def method_label(self) -> str:
        if self.map_choice == "top":
            return "top channel"
        if self.map_choice.startswith("channel:"):
            return f"channel {self.map_choice.split(':', 1)[1]}"
        return self.map_choice


@dataclass
class PaneResult:
    """A computed pane: the raw map on the image grid, its scores, and where it came from."""

    spec: PaneSpec
    slice_index: int
    saliency: np.ndarray
    scores: dict[str, Any]
    explanation: Any = None
    layers: list[str] = field(default_factory=list)
    card: dict[str, Any] = field(default_factory=dict)

    @property
    def channel(self) -> int | None:
        if self.explanation is None:
            return None
        if self.spec.map_choice == "top":
            return int(self.explanation.top_channel)
        if self.spec.map_choice.startswith("channel:"):
            return int(self.spec.map_choice.split(":", 1)[1])
        return None


class ModelRegistry:
    """Named models for the panes' choosers, loaded once on first use (thread-safe).

    ``sources`` maps a display name to a LoadedModel, a card path or a bundled name.
    """

    def __init__(self, sources: dict[str, Any] | None = None) -> None:
        if sources is None:
            from coloc_viewer.model.loading import list_bundled_models

            sources = {name: name for name in list_bundled_models()}
        self.sources = dict(sources)
        self._loaded: dict[str, Any] = {}
        self._lock = threading.Lock()

    @property
    def names(self) -> list[str]:
        return list(self.sources)

    def get(self, name: str) -> Any:
        if name not in self.sources:
            from coloc_viewer.errors import ModelError

            have = ", ".join(self.sources) or "none -- pass a model card"
            raise ModelError(f"no model named {name!r} (available: {have})")
        with self._lock:
            if name not in self._loaded:
                from coloc_viewer.model.loading import LoadedModel, load_model

                src = self.sources[name]
                self._loaded[name] = src if isinstance(src, LoadedModel) else load_model(src)
            return self._loaded[name]


def _methods_for(choice: str) -> tuple[str, ...]:
    if choice == "top" or choice.startswith("channel:"):
        return ("gradcam",)
    return (choice,) if choice == "gradcam" else (choice, "gradcam")


def compute_pane(registry: ModelRegistry, study: Study, slice_index: int, spec: PaneSpec,
                 cache: dict[tuple, Any] | None = None,
                 cancelled: Callable[[], bool] = lambda: False) -> PaneResult | None:
    """Explain ``slice_index`` of ``study`` as ``spec`` says and score the map against the
    study's ROI on that slice. Heavy (torch): call it off the GUI thread."""
    from coloc_viewer.explain.engine import explain
    from coloc_viewer.explain.layers import list_layers
    from coloc_viewer.metrics.scores import score

    model = registry.get(spec.model)
    key = (id(study), slice_index, spec.model, spec.layer, spec.target, spec.rank,
           _methods_for(spec.map_choice))
    expl = None if cache is None else cache.get(key)
    if expl is None:
        if cancelled():
            return None
        expl = explain(model, study.volume, slice_index, layer=spec.layer, target=spec.target,
                       rank=spec.rank, methods=_methods_for(spec.map_choice))
        if cache is not None:
            cache[key] = expl
    if spec.map_choice == "top":
        saliency, seed = expl.top_map, expl.seed_map
    elif spec.map_choice.startswith("channel:"):
        k = int(spec.map_choice.split(":", 1)[1])
        saliency, seed = expl.channel_map(k), expl.channel_map(k, mode="nearest")
    else:
        saliency, seed = expl.cam_map(spec.map_choice), None
    roi2d = study.roi[slice_index]
    scores = score(saliency, roi2d, seed_map=seed)
    card = model.card
    layers = [info.name for info in list_layers(model.module, (card.in_channels,
                                                               *card.input_size), model.device)]
    return PaneResult(spec, slice_index, np.asarray(saliency, np.float32), scores, expl, layers,
                      card.to_dict())


def display_ranges(maps: Sequence[np.ndarray | None], mode: str,
                   common: Any = None) -> list[tuple[float, float] | None]:
    """(low, high) raw values at the ends of each pane's colour scale.

    ``mode`` "common": one range for all panes -- ``common`` (a CommonScale loaded from a
    cohort calibration) if given, else calibrated over these maps (90th percentile of their
    maxima, 50th of their minima, Li et al. 2024). "per-image": each map's own min/max.
    """
    from coloc_viewer.explain.scale import CommonScale

    present = [m for m in maps if m is not None]
    if mode == SCALE_COMMON and present:
        scale = common if common is not None else CommonScale.calibrate(present)
        rng = (float(scale.low), float(scale.high))
        return [rng if m is not None else None for m in maps]
    out: list[tuple[float, float] | None] = []
    for m in maps:
        if m is None:
            out.append(None)
        else:
            out.append((float(np.nanmin(m)), float(np.nanmax(m))))
    return out


def roi_outline(mask2d: np.ndarray) -> np.ndarray:
    """Boundary pixels of a 2-D mask (inside pixels with an outside 4-neighbour)."""
    m = np.asarray(mask2d, dtype=bool)
    if not m.any():
        return m.copy()
    p = np.pad(m, 1)
    inner = p[1:-1, 1:-1] & p[:-2, 1:-1] & p[2:, 1:-1] & p[1:-1, :-2] & p[1:-1, 2:]
    return m & ~inner


def safe_stem(study: Study, slice_index: int, prefix: str = "coloc-compare") -> str:
    """A PHI-free default file name: a hash of the input path and the slice."""
    from coloc_viewer.workspace.paths import source_hash

    src = os.fspath(study.volume.source or "")
    return f"{prefix}-{source_hash(src)[:10] if src else 'unknown'}-slice{slice_index:03d}"
