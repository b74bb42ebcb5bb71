"""Qt-free logic of the compare window: studies, pane settings, computing and scaling maps.

Everything the compare window shows can be reproduced with these functions: a pane is a
:class:`PaneSpec` (model, layer, target, ranking, map) applied to a :class:`Study` at one
slice; :func:`compute_pane` runs the model (called from a worker thread) and
:func:`display_ranges` decides how raw map values become colours.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from coloc_viewer.explain.choices import (
    RANKINGS,
    channel_of,
    label,
    map_choices,
    map_of,
    methods_needed,
)
from coloc_viewer.imaging.volume import Volume
from coloc_viewer.viewer.analysis import (
    AnalysisKey,
    AnalysisSettings,
    ResultCache,
    explain_slice,
    series_key,
)
from coloc_viewer.viewer.display import mask_outline
from coloc_viewer.viewer.registry import ModelRegistry

MAP_CHOICES: tuple[str, ...] = tuple(c for c, _label in map_choices())
RANKS = RANKINGS
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
    (None = predicted class), ranking criterion and map choice (a
    :mod:`coloc_viewer.explain.choices` spelling: "channel:<r>" is the r-th *ranked*
    channel, as in the main window and the reports)."""

    model: str
    layer: str | None = None
    target: int | None = None
    rank: str = "contribution"
    map_choice: str = "top"

    def method_label(self) -> str:
        return label(self.map_choice)

    def settings(self) -> AnalysisSettings:
        """The analysis this pane needs (the main window's cache key without the slice)."""
        return AnalysisSettings(model=self.model, layer=self.layer, target=self.target,
                                rank=self.rank, methods=methods_needed(self.map_choice))


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
        """The raw channel index shown (None for a CAM)."""
        if self.explanation is None:
            return None
        return channel_of(self.explanation, self.spec.map_choice)


def compute_pane(registry: ModelRegistry, study: Study, slice_index: int, spec: PaneSpec,
                 cache: ResultCache | None = None,
                 cancelled: Callable[[], bool] = lambda: False) -> PaneResult | None:
    """Explain ``slice_index`` of ``study`` as ``spec`` says and score the map against the
    study's ROI on that slice. Heavy (torch): call it off the GUI thread. ``cache`` is the
    session's one result cache (the main window's results are reused here)."""
    from coloc_viewer.metrics.scores import score

    model = registry.get(spec.model)
    key = AnalysisKey(series_key(study.volume), int(slice_index), spec.settings())
    hit = None if cache is None else cache.get(key)
    if hit is None:
        if cancelled():
            return None
        hit = explain_slice(model, study.volume, key)
        if cache is not None:
            cache.put(hit)
    expl = hit.explanation
    saliency = map_of(expl, spec.map_choice)
    seed = expl.seed_map if spec.map_choice == "top" else None
    roi2d = study.roi[slice_index]
    scores = score(saliency, roi2d, seed_map=seed)
    layers = [name for name, _shape in registry.layers(spec.model)]
    return PaneResult(spec, slice_index, np.asarray(saliency, np.float32), scores, expl, layers,
                      model.card.to_dict())


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
    """Boundary pixels of a 2-D mask (the main view's outline rule)."""
    return mask_outline(mask2d)


def safe_stem(study: Study, slice_index: int, prefix: str = "coloc-compare") -> str:
    """A PHI-free default file name: a hash of the input path and the slice."""
    from coloc_viewer.workspace.paths import source_hash

    src = os.fspath(study.volume.source or "")
    return f"{prefix}-{source_hash(src)[:10] if src else 'unknown'}-slice{slice_index + 1:03d}"
