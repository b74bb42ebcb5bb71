"""The viewer's Qt-free model: study, slice, window, tools, ROIs, the shown map and scores.

The Qt widgets observe the :class:`Event` attributes and write back through the methods;
everything the window shows can be reproduced from Python with this class alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from coloc_viewer.explain.scale import CommonScale
from coloc_viewer.gui.display import (
    WindowLevel,
    normalise_map,
    overlay_rgba,
    presets_for,
    robust_window,
)
from coloc_viewer.gui.events import Event
from coloc_viewer.gui.live_scores import LiveScores
from coloc_viewer.imaging import roi_edit
from coloc_viewer.imaging.roi import RoiSet
from coloc_viewer.imaging.volume import Volume
from coloc_viewer.metrics.scorer import Scorer
from coloc_viewer.metrics.volume import score_volume

TOOLS = ("wl", "brush", "eraser", "polygon")
MAP_CAMS = ("cam", "gradcam", "gradcam++", "layercam", "scorecam")


@dataclass
class ToolSettings:
    """The active tool and its parameters (persisted by the window)."""

    tool: str = "brush"
    brush_radius_mm: float = 4.0
    min_radius_mm: float = 0.5
    max_radius_mm: float = 50.0


@dataclass
class OverlaySettings:
    """How the map is drawn: which map, opacity, contour, normalisation."""

    choice: str = "top"  # "top", "channel:<rank>", or one of MAP_CAMS
    opacity: float = 0.5
    visible: bool = True
    contour: bool = False
    normalisation: str = "image"  # "image" or "common"
    threshold: float = 0.5


@dataclass
class ViewerEvents:
    volume: Event = field(default_factory=Event)
    slice: Event = field(default_factory=Event)
    window: Event = field(default_factory=Event)
    tool: Event = field(default_factory=Event)
    rois: Event = field(default_factory=Event)  # masks changed (see ``dirty_region``)
    roi_list: Event = field(default_factory=Event)  # ROIs added/removed/renamed/recoloured
    overlay: Event = field(default_factory=Event)
    explanation: Event = field(default_factory=Event)
    scores: Event = field(default_factory=Event)


class ViewerState:
    """Everything the viewer shows, without Qt."""

    def __init__(self) -> None:
        self.events = ViewerEvents()
        self.volume: Volume | None = None
        self.slice_index = 0
        self.window = WindowLevel(0.0, 1.0)
        self.presets: list[tuple[str, WindowLevel]] = []
        self.tools = ToolSettings()
        self.overlay = OverlaySettings()
        self.rois: Any = None  # coloc_viewer.imaging.roi.RoiSet
        self.explanations: dict[int, Any] = {}  # slice -> Explanation (current settings)
        self.live = LiveScores()
        self.scores: dict[str, dict[str, Any]] = {}
        self.volume_scores: dict[str, dict[str, Any]] = {}
        self._stroke_open = False
        self._maps: dict[tuple[int, str], tuple[Any, np.ndarray]] = {}
        self._prepared_scores: Any = None
        self._prepared_overlay: Any = None
        #: (z, rows, cols) touched by the edit being announced on ``events.rois``, or None
        #: when anything may have changed (views then redraw the whole slice).
        self.dirty_region: tuple[int, slice, slice] | None = None
        #: slices a progressive loader has not decoded yet (shown blank)
        self.loading: set[int] = set()

    # -- study ---------------------------------------------------------------------------
    def set_volume(self, volume: Volume, rois: Any = None,
                   presets: list[tuple[str, WindowLevel]] | None = None) -> None:
        """Show a new study (the middle slice, its default window) with ``rois`` or one ROI;
        ``presets`` when a worker computed them already."""
        self.volume = volume
        self.slice_index = volume.shape[0] // 2
        loading = bool(volume.metadata.get("loading"))  # only the middle slice is decoded
        self.presets = presets if presets is not None else presets_for(
            volume.metadata.get("modality"),
            volume.voxels[self.slice_index] if loading else volume.voxels)
        self.window = self.default_window()
        self.explanations = {}
        self._maps.clear()
        self.rois = rois if rois is not None else new_roiset(volume)
        self.live.clear()
        self.scores, self.volume_scores = {}, {}
        self.loading = set()
        if loading:
            self.loading = set(range(volume.shape[0])) - {self.slice_index}
        self.events.volume.emit()
        self.events.roi_list.emit()
        self.events.rois.emit()
        self.events.explanation.emit()
        self.events.scores.emit()

    def replace_volume(self, volume: Volume,
                       presets: list[tuple[str, WindowLevel]] | None = None) -> None:
        """The finished volume of a progressive load: same grid, so the slice, window and
        ROIs drawn meanwhile stay; otherwise the same as :meth:`set_volume`. ``presets``:
        computed by the loading worker (else here)."""
        if self.volume is None or self.volume.shape != volume.shape:
            self.set_volume(volume)
            return
        self.volume = volume
        self.presets = presets if presets is not None else \
            presets_for(volume.metadata.get("modality"), volume.voxels)
        self.voxels_filled(None)

    def voxels_filled(self, indices: list[int] | None = None) -> None:
        """A progressive loader decoded ``indices`` (None: all) in place: redraw if shown."""
        done = set(self.loading) if indices is None else set(indices)
        self.loading -= done
        if self.slice_index in done:
            self.events.slice.emit()

    def default_window(self) -> WindowLevel:
        """The DICOM window of the series when it has one, else the 1-99 % window."""
        assert self.volume is not None
        win = self.volume.metadata.get("window")
        try:
            centre, width = (float(v) for v in win)  # type: ignore[union-attr]
            if width > 0:
                return WindowLevel(centre, width)
        except (TypeError, ValueError):
            pass
        if self.volume.metadata.get("loading"):
            return robust_window(self.volume.voxels[self.slice_index])
        return robust_window(self.volume.voxels)

    @property
    def n_slices(self) -> int:
        return 0 if self.volume is None else self.volume.shape[0]

    def current_image(self) -> np.ndarray | None:
        return None if self.volume is None else self.volume.voxels[self.slice_index]

    # -- navigation and window -----------------------------------------------------------
    def set_slice(self, index: int) -> None:
        if self.volume is None:
            return
        index = int(np.clip(index, 0, self.n_slices - 1))
        if index != self.slice_index:
            self.slice_index = index
            self.events.slice.emit()
            self.refresh_scores()

    def step_slice(self, steps: int) -> None:
        self.set_slice(self.slice_index + int(steps))

    def set_window(self, window: WindowLevel) -> None:
        self.window = WindowLevel(float(window.center), max(float(window.width), 1e-6))
        self.events.window.emit()

    def apply_preset(self, number: int) -> None:
        """Keys 1-5: preset ``number`` (1-based)."""
        if 1 <= number <= len(self.presets):
            self.set_window(self.presets[number - 1][1])

    def reset_window(self) -> None:
        if self.volume is not None:
            self.set_window(self.default_window())

    def drag_window(self, dx: float, dy: float) -> None:
        """W/L drag by (dx, dy) screen pixels: right widens, down raises the level."""
        scale = max(self.window.width, 1e-3) / 256.0
        width = max(self.window.width + dx * scale, 1e-3)
        self.set_window(WindowLevel(self.window.center + dy * scale, width))

    # -- tools ---------------------------------------------------------------------------
    def set_tool(self, tool: str) -> None:
        if tool not in TOOLS:
            raise ValueError(f"unknown tool {tool!r}")
        self.tools.tool = tool
        self.events.tool.emit()

    def set_brush_radius(self, radius_mm: float) -> None:
        t = self.tools
        t.brush_radius_mm = float(np.clip(radius_mm, t.min_radius_mm, t.max_radius_mm))
        self.events.tool.emit()

    def grow_brush(self, steps: int) -> None:
        """Shift+wheel and [ ]: 20 % per step, as in 3D Slicer."""
        self.set_brush_radius(self.tools.brush_radius_mm * (1.2 ** int(steps)))

    # -- ROI editing (delegated to the RoiSet) --------------------------------------------
    @property
    def stroke_in_progress(self) -> bool:
        """A brush drag is going on (scores are live, p-values follow at its end)."""
        return self._stroke_open

    def active_roi(self) -> Any:
        """The ROI the tools draw on (None when the set is empty)."""
        if self.rois is None or self.rois.active is None:
            return None
        return self.rois[self.rois.active]

    def active_roi_editable(self) -> bool:
        roi = self.active_roi()
        return roi is not None and not roi.locked

    def begin_stroke(self) -> None:
        """Group the following dabs into one undo step (one mouse drag)."""
        if self.rois is not None and not self._stroke_open:
            self.rois.history.begin_stroke("brush")
            self._stroke_open = True

    def end_stroke(self) -> None:
        if self._stroke_open:
            self.rois.history.end_stroke()
            self._stroke_open = False
            self.refresh_scores(p_value=True)

    def dab(self, row: float, col: float, *, erase: bool = False) -> None:
        """One brush (or eraser) disk of the current radius at (row, col) on this slice."""
        if self.volume is None or not self.active_roi_editable():
            return
        opened = not self._stroke_open
        self.begin_stroke()
        region = paint_disk(self.rois, self.volume, self.slice_index, row, col,
                            self.tools.brush_radius_mm, erase=erase)
        if region is not None:
            self.dirty_region = (self.slice_index, region[1], region[2])
            self.events.rois.emit()
            self.dirty_region = None
        if opened:
            self.end_stroke()
        else:
            self.refresh_scores(p_value=False)

    def fill_polygon(self, vertices_rc: np.ndarray) -> None:
        if self.volume is None or not self.active_roi_editable() or len(vertices_rc) < 3:
            return
        self._edit(lambda: polygon_fill(self.rois, self.slice_index, np.asarray(vertices_rc)))

    def fill_holes(self) -> None:
        if self.active_roi_editable():
            self._edit(lambda: fill_holes(self.rois, self.slice_index))

    def clear_slice(self) -> None:
        if self.active_roi_editable():
            self._edit(lambda: clear_slice(self.rois, self.slice_index))

    def undo(self) -> None:
        self._history(self.rois.history.undo if self.rois is not None else None)

    def redo(self) -> None:
        self._history(self.rois.history.redo if self.rois is not None else None)

    def _history(self, action: Any) -> None:
        if action is None:
            return
        changed = action()
        z = changed_slice(changed)
        if z is not None and z != self.slice_index:
            self.slice_index = z  # show where the change happened, like Slicer
            self.events.slice.emit()
        self.events.roi_list.emit()
        self.events.rois.emit()
        self.refresh_scores()

    def _edit(self, operation: Any) -> None:
        self.begin_stroke()
        try:
            operation()
        finally:
            self.rois.history.end_stroke()
            self._stroke_open = False
        self.events.rois.emit()
        self.refresh_scores()

    def rois_changed(self) -> None:
        """Called after add/rename/recolour/show/hide/lock/delete or loading ROIs."""
        self.events.roi_list.emit()
        self.events.rois.emit()
        self.refresh_scores()

    # -- explanation, map, scores --------------------------------------------------------
    def set_explanations(self, explanations: dict[int, Any]) -> None:
        self.explanations = dict(explanations)
        self.events.explanation.emit()
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
            self.events.explanation.emit()
            self.refresh_scores(p_value=True, volume=rescore_volume)
        elif rescore_volume:
            self.refresh_volume_scores()

    def refresh_volume_scores(self) -> None:
        self.volume_scores = self._volume_scores() if self.rois is not None else {}
        self.events.scores.emit()

    def set_overlay(self, **changes: Any) -> None:
        rescore = "choice" in changes or "threshold" in changes
        for key, value in changes.items():
            if not hasattr(self.overlay, key):
                raise AttributeError(key)
            setattr(self.overlay, key, value)
        self.events.overlay.emit()
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
        if hit is None or ov.normalisation != "image":
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
            self.scores, self.volume_scores = {}, {}
            self.live.clear()
        else:
            key = (id(ex), self.overlay.choice, self.overlay.threshold)
            if self.live.key != key:
                seed = getattr(ex, "seed_map", None) if self.overlay.choice == "top" else None
                self.live.set_map(key, saliency, threshold=self.overlay.threshold,
                                  seed_map=seed)
            current = self.roi_slices()
            ready = self._prepared_scores
            self._prepared_scores = None
            if p_value and ready is not None and ready[0] == key and _same_masks(ready[1],
                                                                                  current):
                self.scores = dict(ready[2])  # scored in the worker on these very masks
            else:
                self.scores = self.live.update(current, p_value=p_value)
            if p_value and volume:
                self.volume_scores = self._volume_scores()
        self.events.scores.emit()

    def _volume_scores(self) -> dict[str, dict[str, Any]]:
        """Pooled scores over the analysed slices, for ROIs that span several slices."""
        if len(self.explanations) < 2 or self.rois is None:
            return {}
        maps = {z: self.map_for(e) for z, e in self.explanations.items()}
        out = {}
        for roi in self.rois:
            spans = [z for z in maps if roi.mask[z].any()]
            if len(spans) >= 2:
                result = score_volume({z: maps[z] for z in spans}, roi.mask,
                                      threshold=self.overlay.threshold)
                out[roi.name] = dict(result["aggregate"], n_slices=len(spans))
        return out


@dataclass
class PreparedMap:
    """What the GUI thread would otherwise compute when a map arrives, made in a worker:
    the map on the image grid, its Scorer, the scores of the ROI slices as they were when
    the run started (used only if they are unchanged), and the per-image overlay RGBA."""

    choice: str
    threshold: float
    saliency: np.ndarray
    scorer: Any = None
    masks: list[tuple[str, np.ndarray]] = field(default_factory=list)
    scores: dict[str, dict[str, Any]] | None = None
    overlay: tuple[float, np.ndarray, float, float] | None = None  # opacity, rgba, low, high


def prepare_map(explanation: Any, choice: str, threshold: float,
                masks: list[tuple[str, np.ndarray]] | None = None,
                opacity: float | None = None) -> PreparedMap | None:
    """Upsample the chosen map, build its Scorer, score ``masks`` (name, 2-D copy) with
    p-values, and colour the per-image overlay at ``opacity``."""
    saliency = select_map(explanation, choice)
    if saliency is None:
        return None
    seed = explanation.seed_map if choice == "top" else None
    scorer = Scorer(saliency, threshold=threshold, seed_map=seed)
    masks = list(masks or [])
    scores = {name: scorer.update(mask, p_value=True) for name, mask in masks}
    overlay = None
    if opacity is not None:
        scaled, low, high = normalise_map(saliency)
        overlay = (float(opacity), overlay_rgba(scaled, opacity), low, high)
    return PreparedMap(choice, threshold, saliency, scorer, masks, scores, overlay)


def _same_masks(a: list[tuple[str, np.ndarray]], b: list[tuple[str, np.ndarray]]) -> bool:
    return len(a) == len(b) and all(
        na == nb and np.array_equal(ma, mb) for (na, ma), (nb, mb) in zip(a, b, strict=True))


def select_map(explanation: Any, choice: str) -> np.ndarray | None:
    """Map ``choice`` ("top", "channel:<rank>", a CAM name) of an Explanation on the image
    grid; None for a CAM the explanation does not hold."""
    if choice == "top":
        return np.asarray(explanation.top_map)
    if choice.startswith("channel:"):
        rank = int(choice.split(":", 1)[1])
        channel = explanation.top_channels[rank][0]
        return np.asarray(explanation.channel_map(channel))
    try:
        return np.asarray(explanation.cam_map(choice))
    except KeyError:
        return None


# The RoiSet adapter: the few calls the viewer makes into coloc_viewer.imaging.roi(_edit).
def new_roiset(volume: Volume) -> Any:
    """An empty set on the volume's grid with one ROI, "lesion", to draw on."""
    rois = RoiSet.for_volume(volume)
    rois.add("lesion", record=False)
    return rois


def paint_disk(rois: Any, volume: Volume, z: int, row: float, col: float, radius_mm: float,
               *, erase: bool) -> Any:
    """One dab; returns the touched region (z, rows, cols slices) or None."""
    return roi_edit.paint(rois, None, z, (row, col), radius_mm, value=not erase)


def polygon_fill(rois: Any, z: int, vertices_rc: np.ndarray) -> None:
    roi_edit.polygon_fill(rois, None, z, vertices_rc)


def fill_holes(rois: Any, z: int) -> None:
    roi_edit.fill_holes(rois, None, z)


def clear_slice(rois: Any, z: int) -> None:
    roi_edit.clear_slice(rois, None, z)


def changed_slice(step: Any) -> int | None:
    """The first slice an undone/redone mask step touched (None for list/property steps)."""
    z_range = getattr(step, "z_range", None)
    return None if z_range is None else int(z_range[0])
