"""The viewer's Qt-free model: one study shown through the slice, window, tool and overlay
view models, its ROIs, the explanations of its slices and the live scores.

The Qt widgets connect to :attr:`ViewerState.events` (each event carries its value) and
write back through the methods; everything a window shows can be reproduced from Python
with this class alone. A compare pane holds one of these too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from coloc_viewer.explain.scale import CommonScale
from coloc_viewer.imaging.volume import Volume
from coloc_viewer.metrics.volume import score_volume
from coloc_viewer.viewer.display import WindowLevel
from coloc_viewer.viewer.events import Event
from coloc_viewer.viewer.live_scores import LiveScores, pooled_volume_scores
from coloc_viewer.viewer.maps import PreparedMap, prepare_map, same_masks, seed_for, select_map  # noqa: F401,E501
from coloc_viewer.viewer.orientation import orientation_of
from coloc_viewer.viewer.roi_editing import RoiEditing, new_roiset
from coloc_viewer.viewer.settings import AnalysisChoices
from coloc_viewer.viewer.tools import TOOLS  # noqa: F401  (re-exported)
from coloc_viewer.viewer.view_models import (
    OverlayModel,
    SliceModel,
    ToolModel,
    WindowModel,
    default_window,
    volume_presets,
)


@dataclass
class ViewerEvents:
    """What the views listen to; the argument each emits is in the comment."""

    volume: Event = field(default_factory=Event)  # the Volume
    slice: Event = field(default_factory=Event)  # the slice index (0-based)
    window: Event = field(default_factory=Event)  # the WindowLevel
    tool: Event = field(default_factory=Event)  # the ToolModel
    rois: Event = field(default_factory=Event)  # dirty region (z, rows, cols) or None
    roi_list: Event = field(default_factory=Event)  # the RoiSet
    overlay: Event = field(default_factory=Event)  # the OverlayModel
    explanation: Event = field(default_factory=Event)  # the shown slice's Explanation
    scores: Event = field(default_factory=Event)  # {roi name: scores}
    analysis: Event = field(default_factory=Event)  # the AnalysisSettings (or None)
    notice: Event = field(default_factory=Event)  # a sentence for the status bar


class ViewerState(RoiEditing):
    """Everything one view shows, without Qt."""

    def __init__(self) -> None:
        self.events = ViewerEvents()
        self.volume: Volume | None = None
        self.slice = SliceModel()
        self.window_model = WindowModel()
        self.tools = ToolModel()
        self.overlay = OverlayModel()
        self.slice.events.index.connect(self.events.slice.emit)
        self.window_model.events.window.connect(self.events.window.emit)
        for name in ("tool", "brush_radius_mm"):
            getattr(self.tools.events, name).connect(lambda _v: self.events.tool.emit(self.tools))
        self.rois: Any = None  # coloc_viewer.imaging.roi.RoiSet
        self.explanations: dict[int, Any] = {}  # slice -> Explanation (current settings)
        self.live = LiveScores()
        self.scores: dict[str, dict[str, Any]] = {}
        self.volume_scores: dict[str, dict[str, Any]] = {}
        self.outside: float | None = None  # share of the map's mass outside every ROI
        self.card: Any = None  # the shown model's card (its ``expects``, positive class)
        #: the analysis settings (model, layer, target, ranking, map): the source of truth
        #: the model panel and the compare panes render and write to
        self.choices = AnalysisChoices()
        self.choices.events.changed.connect(self._choices_changed)
        self._announced: Any = None
        self._stroke_open = False
        self._maps: dict[tuple[int, str], tuple[Any, np.ndarray]] = {}
        self._prepared_scores: Any = None
        self._prepared_overlay: Any = None
        self._volume_cache: Any = None  # (key, volume explanation, scores) of a 3-D model
        #: (z, rows, cols) touched by the edit being announced on ``events.rois``, or None
        #: when anything may have changed (views then redraw the whole slice).
        self.dirty_region: tuple[int, slice, slice] | None = None
        #: slices a progressive loader has not decoded yet (shown blank)
        self.loading: set[int] = set()

    @property
    def slice_index(self) -> int:
        return self.slice.index

    @slice_index.setter
    def slice_index(self, index: int) -> None:
        self.slice.index = int(index)

    @property
    def window(self) -> WindowLevel:
        return self.window_model.window

    @property
    def presets(self) -> list[tuple[str, WindowLevel]]:
        return self.window_model.presets

    @property
    def n_slices(self) -> int:
        return 0 if self.volume is None else self.volume.shape[0]

    def current_image(self) -> np.ndarray | None:
        return None if self.volume is None else self.volume.voxels[self.slice_index]

    # -- study ---------------------------------------------------------------------------
    def set_volume(self, volume: Volume, rois: Any = None,
                   presets: list[tuple[str, WindowLevel]] | None = None) -> None:
        """Show a new study (the middle slice, its default window) with ``rois`` or one ROI;
        ``presets`` when a worker computed them already."""
        self.volume = volume
        middle = volume.shape[0] // 2
        loading = bool(volume.metadata.get("loading"))  # only the middle slice is decoded
        self.explanations = {}
        self._maps.clear()
        self.rois = rois if rois is not None else new_roiset(volume)
        self.live.clear()
        self.scores, self.volume_scores = {}, {}
        self.loading = set(range(volume.shape[0])) - {middle} if loading else set()
        self.slice.set_quietly(n_slices=volume.shape[0], index=middle)  # volume event redraws
        self.window_model.presets = presets if presets is not None else \
            volume_presets(volume, middle)
        self.window_model.window = default_window(volume, middle)
        self.events.volume.emit(volume)
        self.events.roi_list.emit(self.rois)
        self.events.rois.emit(None)
        self.events.explanation.emit(None)
        self.events.scores.emit(self.scores)

    def replace_volume(self, volume: Volume,
                       presets: list[tuple[str, WindowLevel]] | None = None) -> None:
        """The finished volume of a progressive load: same grid, so the slice, window and
        ROIs drawn meanwhile stay; otherwise the same as :meth:`set_volume`."""
        if self.volume is None or self.volume.shape != volume.shape:
            self.set_volume(volume)
            return
        self.volume = volume
        self.window_model.presets = presets if presets is not None else volume_presets(volume)
        self.voxels_filled(None)

    def voxels_filled(self, indices: list[int] | None = None) -> None:
        """A progressive loader decoded ``indices`` (None: all) in place: redraw if shown."""
        done = set(self.loading) if indices is None else set(indices)
        self.loading -= done
        if self.slice_index in done:
            self.events.slice.emit(self.slice_index)

    def default_window(self) -> WindowLevel:
        """The DICOM window of the series when it has one, else the 1-99 % window."""
        assert self.volume is not None
        return default_window(self.volume, self.slice_index)

    # -- navigation and window -----------------------------------------------------------
    def set_slice(self, index: int) -> None:
        if self.volume is None:
            return
        before = self.slice_index
        self.slice.set(index)
        if self.slice_index != before:
            self.refresh_scores()

    def step_slice(self, steps: int) -> None:
        self.set_slice(self.slice_index + int(steps))

    def set_window(self, window: WindowLevel) -> None:
        self.window_model.set(window)

    def apply_preset(self, number: int) -> None:
        """Keys 1-5: preset ``number`` (1-based)."""
        self.window_model.apply_preset(number)

    def reset_window(self) -> None:
        if self.volume is not None:
            self.set_window(self.default_window())

    def drag_window(self, dx: float, dy: float) -> None:
        """W/L drag by (dx, dy) screen pixels: right widens, down raises the level."""
        self.window_model.drag(dx, dy)

    # -- tools ---------------------------------------------------------------------------
    def set_tool(self, tool: str) -> None:
        self.tools.set_tool(tool)

    def set_brush_radius(self, radius_mm: float) -> None:
        self.tools.set_radius(radius_mm)

    def grow_brush(self, steps: int) -> None:
        """Shift+wheel and [ ]: 20 % per step."""
        self.tools.grow(steps)

    @property
    def analysis(self) -> Any:
        """What to compute (an AnalysisSettings, None without a model), from :attr:`choices`."""
        return self.choices.settings()

    def set_analysis(self, settings: Any) -> None:
        """Take the values of an AnalysisSettings (or None) into :attr:`choices`."""
        self.choices.apply(settings)

    def _choices_changed(self, changes: dict[str, Any]) -> None:
        if "map_choice" in changes:
            self.set_overlay(choice=changes["map_choice"])
        settings = self.analysis
        if settings != self._announced:
            self._announced = settings
            self.events.analysis.emit(settings)

    # -- explanation, map, scores --------------------------------------------------------
    def set_explanations(self, explanations: dict[int, Any]) -> None:
        self.explanations = dict(explanations)
        self.events.explanation.emit(self.explanation)
        self.refresh_scores()

    def add_explanation(self, slice_index: int, explanation: Any, *,
                        prepared: PreparedMap | None = None,
                        rescore_volume: bool = True) -> None:
        """Store a slice's explanation (with its map and Scorer when a worker prepared
        them); rescore when it is the shown slice. During a run over many slices pass
        ``rescore_volume=False`` and call :meth:`refresh_volume_scores` once at the end."""
        self.explanations[int(slice_index)] = explanation
        if prepared is not None:
            self.install_prepared(explanation, prepared)
        if int(slice_index) == self.slice_index:
            self.events.explanation.emit(explanation)
            self.refresh_scores(p_value=True, volume=rescore_volume)
        elif rescore_volume:
            self.refresh_volume_scores()

    def refresh_volume_scores(self) -> None:
        self.volume_scores = self._volume_scores() if self.rois is not None else {}
        self.events.scores.emit(self.scores)

    def set_overlay(self, **changes: Any) -> None:
        if "choice" in changes and changes["choice"] != self.choices.map_choice:
            self.choices.set(map_choice=changes.pop("choice"))  # comes back here
            if not changes:
                return
        rescore = "choice" in changes or "threshold" in changes
        self.overlay.update(**changes)
        self.events.overlay.emit(self.overlay)
        if rescore:
            self.refresh_scores()

    def install_prepared(self, explanation: Any, prepared: PreparedMap) -> None:
        """Use a map and Scorer computed in a worker (so the GUI thread does not upsample
        the map or sort its pixels)."""
        if prepared.choice == self.overlay.choice:
            self._maps[(id(explanation), prepared.choice)] = (explanation, prepared.saliency)
        if prepared.scorer is not None and prepared.choice == self.overlay.choice \
                and prepared.threshold == self.overlay.threshold:
            key = (id(explanation), prepared.choice, prepared.threshold)
            self.live.install(key, prepared.scorer)
            if prepared.scores is not None:
                self._prepared_scores = (key, prepared.masks, prepared.scores)
        if prepared.overlay is not None:
            self._prepared_overlay = (explanation, prepared.choice, *prepared.overlay)

    def prepared_overlay(self) -> tuple[np.ndarray, float, float] | None:
        """The worker-made overlay (rgba, low, high) if it fits the shown map and look."""
        hit = self._prepared_overlay
        ov = self.overlay
        if hit is None or ov.normalisation != "image" or ov.fixed_range is not None:
            return None
        explanation, choice, opacity, rgba, low, high = hit
        if explanation is not self.explanation or choice != ov.choice or opacity != ov.opacity:
            return None
        return rgba, low, high

    @property
    def explanation(self) -> Any:
        return self.explanations.get(self.slice_index)

    def map_for(self, explanation: Any) -> np.ndarray | None:
        """The chosen map of ``explanation`` on the image grid (raw values), computed once
        per (explanation, choice): upsampling a map costs more than scoring it."""
        if explanation is None:
            return None
        key = (id(explanation), self.overlay.choice)
        hit = self._maps.get(key)
        if hit is None or hit[0] is not explanation:
            saliency = select_map(explanation, self.overlay.choice)
            if saliency is None:  # a CAM this explanation did not compute (yet)
                return None
            if len(self._maps) > 512:
                self._maps.clear()
            hit = (explanation, saliency)
            self._maps[key] = hit
        return hit[1]

    def current_map(self) -> np.ndarray | None:
        return self.map_for(self.explanation)

    def display_range(self) -> tuple[float, float] | None:
        """Raw (low, high) for the colour scale: this map, or a common scale over slices."""
        current = self.current_map()
        if current is None:
            return None
        if self.overlay.fixed_range is not None:
            return self.overlay.fixed_range
        if self.overlay.normalisation == "common" and len(self.explanations) > 1:
            maps = [self.map_for(e) for e in self.explanations.values()]
            scale = CommonScale.calibrate([m for m in maps if m is not None])
            return float(scale.low), float(scale.high)
        return float(np.min(current)), float(np.max(current))

    def roi_slices(self) -> list[tuple[str, np.ndarray]]:
        """(name, 2-D mask) of every ROI on the current slice."""
        if self.rois is None:
            return []
        return [(r.name, r.mask[self.slice_index]) for r in self.rois]

    def refresh_scores(self, p_value: bool = True, volume: bool = True) -> None:
        """Recompute the live scores of every ROI for the shown map (Scorer built once);
        the p-value and the volume aggregate only when ``p_value`` (not during a stroke)."""
        ex = self.explanation
        saliency = self.map_for(ex)
        if saliency is None or self.rois is None:
            self.scores, self.volume_scores, self.outside = {}, {}, None
            self.live.clear()
        else:
            key = (id(ex), self.overlay.choice, self.overlay.threshold)
            if self.live.key != key:
                self.live.set_map(key, saliency, threshold=self.overlay.threshold,
                                  seed_map=seed_for(ex, self.overlay.choice))
            current = self.roi_slices()
            ready, self._prepared_scores = self._prepared_scores, None
            if p_value and ready is not None and ready[0] == key and same_masks(ready[1],
                                                                                 current):
                self.scores = dict(ready[2])  # scored in the worker on these very masks
            else:
                self.scores = self.live.update(current, p_value=p_value)
            if p_value:
                self.outside = self.live.outside_share(current)
            if p_value and volume:
                self.volume_scores = self._volume_scores()
        self.events.scores.emit(self.scores)

    def _volume_scores(self) -> dict[str, dict[str, Any]]:
        """Pooled scores over the analysed slices, for ROIs that span several slices; for a
        3-D model the volume scores of its one map of the whole volume (3-D shifts)."""
        whole = getattr(self.explanation, "volume_explanation", None)
        if whole is not None and self.rois is not None:
            return self._volume_model_scores(whole)
        if len(self.explanations) < 2 or self.rois is None:
            return {}
        maps = {z: self.map_for(e) for z, e in self.explanations.items()}
        return pooled_volume_scores(maps, self.rois, self.overlay.threshold)

    def _volume_model_scores(self, whole: Any) -> dict[str, dict[str, Any]]:
        """``score_volume(map, roi, shifts="3d")`` of every non-empty ROI for a 3-D model's
        chosen map (the values ``explain.scoring.score_explanation`` gives), computed once
        per map, threshold and ROI content."""
        choice, threshold = self.overlay.choice, self.overlay.threshold
        rois = [(r.name, r.mask) for r in self.rois if np.asarray(r.mask).any()]
        key = (id(whole), choice, threshold,
               tuple((n, hash(np.asarray(m, bool).tobytes())) for n, m in rois))
        hit = self._volume_cache
        if hit is not None and hit[0] == key and hit[1] is whole:
            return dict(hit[2])
        volume_map = select_map(whole, choice)
        if volume_map is None:
            return {}
        seed = seed_for(whole, choice)
        # scored on the stored grid, the model's, as the CLI scores (ties of the N-highest
        # ranking follow row-major order, which a display flip would change)
        stored = orientation_of(self.volume).to_storage
        volume_map, seed = stored(volume_map), None if seed is None else stored(seed)
        out = {}
        for name, mask in rois:
            res = score_volume(volume_map, stored(mask), threshold=threshold, seed_map=seed,
                               shifts="3d")
            out[name] = dict(res["aggregate"])
        self._volume_cache = (key, whole, out)
        return dict(out)
