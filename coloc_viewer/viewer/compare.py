"""Qt-free logic of the compare window: studies, pane settings, links between the panes'
view states, computing and scaling maps.

Everything the compare window shows can be reproduced with these functions: a pane is a
:class:`PaneSpec` (model, layer, target, ranking, map) applied to a :class:`Study` at one
slice; :func:`compute_pane` runs the model (called from a worker thread) and
:func:`display_ranges` decides how raw map values become colours.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
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
from coloc_viewer.imaging.roi import RoiSet
from coloc_viewer.imaging.volume import Volume
from coloc_viewer.viewer.analysis import (
    AnalysisKey,
    AnalysisSettings,
    ResultCache,
    SliceResult,
    VolumeSlice,
    explain_slice,
    explain_volume,
    is_volume_model,
)
from coloc_viewer.viewer.compare_inputs import pane_series
from coloc_viewer.viewer.registry import ModelRegistry
from coloc_viewer.viewer.settings import model_label
from coloc_viewer.viewer.state import ViewerState

MAP_CHOICES: tuple[str, ...] = tuple(c for c, _label in map_choices())
RANKS = RANKINGS
SCALE_COMMON = "common"
SCALE_IMAGE = "per-image"


class Study:
    """One study of the compare window: the volume and its ROI set (shared with the main
    window when opened from it, so an ROI drawn in either is in both)."""

    def __init__(self, volume: Volume, roi: np.ndarray | None = None, label: str = "", *,
                 rois: Any = None) -> None:
        self.volume = volume
        if rois is None:
            mask = np.zeros(volume.shape, bool) if roi is None else np.asarray(roi, bool)
            if mask.shape != volume.shape:
                raise ValueError(f"ROI shape {mask.shape} != volume shape {volume.shape}")
            rois = RoiSet.from_mask(mask, volume.spacing, name="lesion")
        self.rois = rois
        self.label = label or str(volume.metadata.get("description") or "study")

    @property
    def roi(self) -> np.ndarray:
        """The active ROI's mask (z, y, x bool), the one the score table summarises."""
        if len(self.rois) == 0 or self.rois.active is None:
            return np.zeros(self.volume.shape, bool)
        return self.rois.mask()

    @property
    def roi_name(self) -> str:  # what reports and CSVs call the scored (active) ROI
        return self.rois.active or "ROI"

    def set_mask(self, mask: np.ndarray) -> None:
        """Replace the active ROI's voxels (not undoable: a scripted replacement)."""
        mask = np.asarray(mask, dtype=bool)
        if len(self.rois) == 0:
            self.rois.add("lesion", mask, record=False)
        else:
            self.rois.mask()[...] = mask

    @property
    def n_slices(self) -> int:
        return self.volume.shape[0]

    def largest_roi_slice(self) -> int:
        areas = np.zeros(self.n_slices)
        for r in self.rois:
            areas += r.mask.reshape(self.n_slices, -1).sum(axis=1)
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


def spec_of(choices: Any) -> PaneSpec:
    """The PaneSpec of an :class:`~coloc_viewer.viewer.settings.AnalysisChoices`."""
    return PaneSpec(choices.model or "", choices.layer, choices.target, choices.rank,
                    choices.map_choice)


@dataclass(eq=False)
class Pane:
    """One compare pane without Qt: a study seen through the pane's own view state (slice,
    window, tool, overlay, per-ROI live scores, and the analysis settings,
    ``state.choices`` -- the same settings model as the main window's) with its result.
    ``spec`` mirrors ``state.choices``; write settings with :meth:`set_spec` or into
    ``state.choices`` directly."""

    letter: str
    study: Study
    spec: PaneSpec
    state: ViewerState = field(default_factory=ViewerState)
    result: PaneResult | None = None

    def __post_init__(self) -> None:
        self.state.set_tool("wl")
        self.state.choices.events.changed.connect(self._choices_changed)
        self.set_spec(self.spec)
        self.show_study(self.study)

    def show_study(self, study: Study) -> None:
        """Show ``study`` (its volume and shared ROI set) at its largest-ROI slice."""
        self.study = study
        self.state.set_volume(study.volume, study.rois)
        self.state.set_slice(study.largest_roi_slice())
        self.set_result(None)

    def set_spec(self, spec: PaneSpec) -> None:
        """New settings (into the state's choices): the old result no longer applies."""
        self.state.choices.set(model=spec.model or None, layer=spec.layer,
                               target=spec.target, rank=spec.rank,
                               map_choice=spec.map_choice)
        self.spec = spec_of(self.state.choices)

    def _choices_changed(self, _changes: dict[str, Any]) -> None:
        self.spec = spec_of(self.state.choices)
        self.set_result(None)

    def set_result(self, result: PaneResult | None) -> None:
        """Show a computed pane (None: clear); the state scores every ROI live."""
        self.result = result
        if result is None:
            self.state.set_explanations({})
            return
        expl = result.explanation if result.explanation is not None \
            else fixed_map(result.saliency)
        self.state.set_explanations({result.slice_index: expl})

    def slice_moved(self) -> None:
        if self.result is not None and self.result.slice_index != self.state.slice_index:
            self.result = None

    @property
    def shown_result(self) -> PaneResult | None:
        """The result of the shown slice (None when not analysed)."""
        res = self.result
        return res if res is not None and res.slice_index == self.state.slice_index else None

    def model_label(self) -> str:
        """The model's display name (card name, or file stem); the full name is the spec's."""
        offered = {o.key: o.label for o in self.state.choices.models}
        return offered.get(self.spec.model) or model_label(self.spec.model)

    def describe(self) -> str:
        spec = self.spec
        text = f"{self.letter}: {self.model_label()} / {spec.layer or 'default layer'} / " \
               f"{spec.method_label()} ({spec.rank})"
        if self.result is not None and self.result.explanation is not None:
            pred = self.result.explanation.prediction
            probs = pred.get("probabilities") or []
            p = probs[pred["index"]] if len(probs) > pred["index"] else None
            text += f" -- predicts {pred.get('label')}" + (f" ({p:.2f})" if p is not None else "")
        return text


def explained(model: Any, volume: Volume, key: AnalysisKey, cache: ResultCache | None,
              inputs: Any = None) -> SliceResult:
    """The explanation of ``key``, from ``cache`` when it is there. A 3-D model runs once
    on the whole volume -- the main window's path -- and every slice of that one run goes
    into the cache, so scrolling a pane never runs the model again. ``inputs``: the other
    series of a multi-series model (a RoleInputs; ``key.series`` names them)."""
    hit = None if cache is None else cache.get(key)
    if hit is not None:
        return hit
    if not is_volume_model(model):
        hit = explain_slice(model, volume, key, inputs)
        if cache is not None:
            cache.put(hit)
        return hit
    whole, seconds = explain_volume(model, volume, key, inputs)
    n = int(volume.shape[0])
    results = [SliceResult(AnalysisKey(key.series, z, key.settings), VolumeSlice(whole, z),
                           seconds) for z in range(n)]
    if cache is not None:
        cache.capacity = max(cache.capacity, n + 64)  # keep every slice of the one run
        for result in results:
            cache.put(result)
    return results[key.slice_index]


def pane_result(registry: ModelRegistry, study: Study, slice_index: int, spec: PaneSpec,
                hit: SliceResult, list_layers: bool = True) -> PaneResult:
    """Score the chosen map of an explained slice against the study's ROI there
    (``list_layers=False``: the layers only if known, so no dry run on the GUI thread)."""
    from coloc_viewer.metrics.scores import score

    expl = hit.explanation
    saliency = map_of(expl, spec.map_choice)
    seed = expl.seed_map if spec.map_choice == "top" else None
    scores = score(saliency, study.roi[slice_index], seed_map=seed)
    listed = registry.layers(spec.model) if list_layers else \
        registry.known_layers(spec.model) or []
    return PaneResult(spec, slice_index, np.asarray(saliency, np.float32), scores, expl,
                      [name for name, _shape in listed], registry.get(spec.model).card.to_dict())


def cached_pane(registry: ModelRegistry, study: Study, slice_index: int, spec: PaneSpec,
                cache: ResultCache | None, inputs: Any = None) -> PaneResult | None:
    """The pane's result when the cache holds its slice (no model run), else None."""
    if cache is None or not spec.model or not registry.is_loaded(spec.model):
        return None
    key = AnalysisKey(pane_series(study.volume, inputs), int(slice_index), spec.settings())
    hit = cache.get(key)
    if hit is None or map_of(hit.explanation, spec.map_choice) is None:
        return None
    return pane_result(registry, study, slice_index, spec, hit, list_layers=False)


def compute_pane(registry: ModelRegistry, study: Study, slice_index: int, spec: PaneSpec,
                 cache: ResultCache | None = None,
                 cancelled: Callable[[], bool] = lambda: False,
                 inputs: Any = None) -> PaneResult | None:
    """Explain ``slice_index`` of ``study`` as ``spec`` says and score the map against the
    study's ROI on that slice. Heavy (torch): call it off the GUI thread. ``cache`` is the
    session's one result cache (the main window's results are reused here); ``inputs``
    the other series of a multi-series model (``compare_inputs.PaneInputs.resolve``)."""
    model = registry.get(spec.model)
    key = AnalysisKey(pane_series(study.volume, inputs), int(slice_index), spec.settings())
    if (cache is None or cache.get(key) is None) and cancelled():
        return None
    hit = explained(model, study.volume, key, cache, inputs)
    return pane_result(registry, study, slice_index, spec, hit)


def display_ranges(maps: Sequence[np.ndarray | None], mode: str, common: Any = None,
                   kinds: Sequence[str] | None = None) -> list[tuple[float, float] | None]:
    """(low, high) raw values at the ends of each pane's colour scale.

    ``mode`` "common": maps of the same kind (``kinds``, :func:`~coloc_viewer.explain.
    choices.map_kind` of each pane's choice; one kind when None) share one range,
    calibrated over those maps (90th percentile of their maxima, 50th of their minima,
    Li et al. 2024) -- a Grad-CAM and a feature channel never share a scale. ``common`` (a
    CommonScale loaded from a cohort calibration) replaces the calibration for every pane.
    "per-image": each map's own min/max."""
    from coloc_viewer.explain.scale import CommonScale

    kinds = list(kinds) if kinds is not None else [""] * len(maps)
    out: list[tuple[float, float] | None] = []
    for m, kind in zip(maps, kinds):
        if m is None:
            out.append(None)
        elif mode != SCALE_COMMON:
            out.append((float(np.nanmin(m)), float(np.nanmax(m))))
        else:
            same = [x for x, k in zip(maps, kinds) if x is not None and k == kind]
            scale = common if common is not None else CommonScale.calibrate(same)
            out.append((float(scale.low), float(scale.high)))
    return out


def scale_groups(kinds: Sequence[str], letters: Sequence[str]) -> dict[str, list[str]]:
    """kind -> the letters of the panes showing that kind of map (who shares a scale)."""
    groups: dict[str, list[str]] = {}
    for kind, letter in zip(kinds, letters):
        groups.setdefault(kind, []).append(letter)
    return groups


def fixed_map(saliency: np.ndarray) -> Any:
    """A stand-in Explanation showing one given map (a script's or a test's own map)."""
    sal = np.asarray(saliency, np.float32)
    return SimpleNamespace(top_map=sal, seed_map=None, prediction={}, target=None,
                           target_label="", top_channels=[(0, 0.0)], layer="", rank="",
                           cam_map=lambda *_a, **_k: sal, channel_map=lambda *_a, **_k: sal)


class Links:
    """Forwards the events of linked view states (Qt-free): the shown slice, the window of
    states on the same volume, and ROI edits of states sharing a RoiSet. ``slice`` and
    ``window`` switch those links; ROI edits are always forwarded."""

    def __init__(self) -> None:
        self.slice = True
        self.window = True
        self._members: list[tuple[Any, dict[str, Any]]] = []
        self._busy = False

    def add(self, state: Any, *, views: bool = True) -> None:
        """Link ``state``; ``views=False``: its ROI edits only (the main window's state)."""
        hooks: dict[str, Any] = {"rois": lambda region: self._rois(state, region),
                                 "roi_list": lambda _r: self._rois(state, None)}
        if views:
            hooks["slice"] = lambda k: self._slice(state, k)
            hooks["window"] = lambda w: self._window(state, w)
        for name, hook in hooks.items():
            getattr(state.events, name).connect(hook)
        self._members.append((state, hooks))

    def remove(self, state: Any) -> None:
        for member in [m for m in self._members if m[0] is state]:
            for name, hook in member[1].items():
                getattr(state.events, name).disconnect(hook)
            self._members.remove(member)

    def clear(self) -> None:
        for state, _hooks in list(self._members):
            self.remove(state)

    def _others(self, state: Any, kind: str) -> list[Any]:
        return [s for s, hooks in self._members if s is not state and kind in hooks]

    def _forward(self, action: Any) -> None:
        if self._busy:
            return
        self._busy = True
        try:
            action()
        finally:
            self._busy = False

    def _slice(self, state: Any, k: int) -> None:
        if self.slice:
            self._forward(lambda: [s.set_slice(k) for s in self._others(state, "slice")])

    def _window(self, state: Any, window: Any) -> None:
        if self.window:
            self._forward(lambda: [s.set_window(window) for s in self._others(state, "window")
                                   if s.volume is state.volume])

    def _rois(self, state: Any, region: Any) -> None:
        def redraw() -> None:
            for other in self._others(state, "rois"):
                if other.rois is state.rois:
                    other.dirty_region = region
                    other.events.rois.emit(region)
                    other.dirty_region = None
                    other.refresh_scores(p_value=not state.stroke_in_progress)
        self._forward(redraw)


def safe_stem(study: Study, slice_index: int, prefix: str = "coloc-compare") -> str:
    """A PHI-free default file name: a hash of the input path and the slice."""
    from coloc_viewer.workspace.paths import source_hash

    src = os.fspath(study.volume.source or "")
    return f"{prefix}-{source_hash(src)[:10] if src else 'unknown'}-slice{slice_index + 1:03d}"
