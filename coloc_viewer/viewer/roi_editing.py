"""ROI editing of a view: the tools' calls into :mod:`coloc_viewer.imaging.roi_edit` and
the :class:`RoiEditing` part of the view state (strokes, undo/redo, fill, clear)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from coloc_viewer.imaging import roi_edit, roi_interpolate, roi_threshold
from coloc_viewer.imaging.roi import RoiSet
from coloc_viewer.imaging.volume import Volume

LOCKED_NOTICE_S = 3.0  # the "ROI is locked" notice at most this often


def new_roiset(volume: Volume) -> RoiSet:
    """An empty set on the volume's grid with one ROI, "lesion", to draw on."""
    rois = RoiSet.for_volume(volume)
    rois.add("lesion", record=False)
    return rois


def paint_disk(rois: Any, z: int, row: float, col: float, radius_mm: float,
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


class RoiEditing:
    """The ROI tools of :class:`~coloc_viewer.viewer.state.ViewerState` (a mixin using its
    ``rois``, ``volume``, ``slice_index``, ``tools``, ``events`` and ``refresh_scores``)."""

    rois: Any
    volume: Any
    slice_index: int
    slice: Any
    tools: Any
    events: Any
    dirty_region: Any
    _stroke_open: bool

    def refresh_scores(self, p_value: bool = True, volume: bool = True) -> None:
        raise NotImplementedError

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
        """Whether the tools may edit the active ROI; a locked one says so (status bar, at
        most every few seconds: a drag asks on every mouse move)."""
        roi = self.active_roi()
        if roi is not None and roi.locked:
            now = time.monotonic()
            if now - getattr(self, "_locked_said", -LOCKED_NOTICE_S) >= LOCKED_NOTICE_S:
                self._locked_said = now
                self.events.notice.emit(f"{roi.name} is locked: unlock it (ROI panel, Lock) "
                                        "to edit it")
        return roi is not None and not roi.locked

    def begin_stroke(self, label: str | None = None) -> None:
        """Group the following dabs into one undo step (one mouse drag)."""
        if self.rois is not None and not self._stroke_open:
            tool = getattr(self.tools, "tool", "brush")
            self.rois.history.begin_stroke(label or ("threshold paint" if tool == "threshold"
                                                     else "brush"))
            self._stroke_open = True

    def end_stroke(self) -> None:
        if self._stroke_open:
            self.rois.history.end_stroke()
            self._stroke_open = False
            self.refresh_scores(p_value=True)

    def threshold_range(self) -> tuple[float, float]:
        """The threshold brush's range: the one typed in, else the window's."""
        typed = getattr(self.tools, "threshold_range", None)
        if typed is not None:
            return float(typed[0]), float(typed[1])
        w = self.window  # type: ignore[attr-defined]
        return roi_threshold.range_from_window(w.center, w.width)

    def dab(self, row: float, col: float, *, erase: bool = False) -> None:
        """One brush (or eraser) disk of the current radius at (row, col) on this slice;
        with the threshold brush only the pixels in :meth:`threshold_range` are painted."""
        if self.volume is None or not self.active_roi_editable():
            return
        opened = not self._stroke_open
        self.begin_stroke()
        if self.tools.tool == "threshold" and not erase:
            region = roi_threshold.paint_in_range(
                self.rois, None, self.slice_index, (row, col), self.tools.brush_radius_mm,
                self.volume.voxels[self.slice_index], self.threshold_range())
        else:
            region = paint_disk(self.rois, self.slice_index, row, col,
                                self.tools.brush_radius_mm, erase=erase)
        if region is not None:
            self.dirty_region = (self.slice_index, region[1], region[2])
            self.events.rois.emit(self.dirty_region)
            self.dirty_region = None
        if opened:
            self.end_stroke()
        else:
            self.refresh_scores(p_value=False)

    def fill_polygon(self, vertices_rc: np.ndarray) -> None:
        if self.volume is None or not self.active_roi_editable() or len(vertices_rc) < 3:
            return
        self._edit(lambda: polygon_fill(self.rois, self.slice_index,
                                             np.asarray(vertices_rc)))

    def fill_holes(self) -> None:
        if self.active_roi_editable():
            self._edit(lambda: fill_holes(self.rois, self.slice_index))

    def clear_slice(self) -> None:
        if self.active_roi_editable():
            self._edit(lambda: clear_slice(self.rois, self.slice_index))

    def fill_between_slices(self, method: str = "auto", filled: np.ndarray | None = None
                            ) -> bool:
        """Interpolate the active ROI between its drawn slices (one undo step); ``filled``:
        the result of :meth:`interpolation_input`'s computation done in a worker. Returns
        whether anything changed."""
        if self.volume is None or not self.active_roi_editable():
            return False
        changed: list[Any] = []
        self._edit(lambda: changed.append(roi_interpolate.interpolate_slices(
            self.rois, None, method, filled=filled)), "fill between slices")
        return changed[0] is not None

    def interpolation_input(self) -> tuple[str, np.ndarray, tuple[float, float, float]] | None:
        """(ROI name, a copy of its mask, spacing) for computing the fill off the GUI thread
        (``roi_interpolate.interpolate_mask``); None when the active ROI is not editable."""
        if self.volume is None or not self.active_roi_editable():
            return None
        roi = self.active_roi()
        return roi.name, roi.mask.copy(), tuple(float(s) for s in self.rois.spacing)

    def copy_to_slice(self, steps: int) -> bool:
        """Add this slice's outline of the active ROI to the slice ``steps`` away and show
        that slice (one undo step). Returns whether the target slice exists."""
        if self.volume is None or not self.active_roi_editable():
            return False
        target = self.slice_index + int(steps)
        if not 0 <= target < self.volume.shape[0]:
            return False
        z = self.slice_index
        self.slice.set(target)  # the reader adjusts the copy there; _edit scores that slice
        self._edit(lambda: roi_interpolate.copy_slice(self.rois, None, z, target), "copy slice")
        return True

    def erase_active_roi(self) -> bool:
        """Erase the active ROI's outline on every slice (one undo step); what Delete does to
        the only ROI, which stays as the one to draw on. Returns whether anything was drawn."""
        if self.volume is None or not self.active_roi_editable():
            return False
        roi = self.active_roi()
        drawn = np.flatnonzero(roi.mask.any(axis=(1, 2)))
        if not len(drawn):
            return False
        _, rows, cols = roi.mask.shape
        region = (slice(int(drawn[0]), int(drawn[-1]) + 1), slice(0, rows), slice(0, cols))

        def erase() -> None:
            with self.rois.history.stroke("erase ROI") as stroke:
                stroke.record(roi, region)
                roi.mask[region] = False

        self._edit(erase, "erase ROI")
        return True

    def copy_to_next_slice(self) -> bool:
        return self.copy_to_slice(1)

    def copy_to_previous_slice(self) -> bool:
        return self.copy_to_slice(-1)

    def undo(self) -> None:
        self._history(self.rois.history.undo if self.rois is not None else None)

    def redo(self) -> None:
        self._history(self.rois.history.redo if self.rois is not None else None)

    def _history(self, action: Any) -> None:
        if action is None:
            return
        z = changed_slice(action())
        if z is not None and z != self.slice_index:
            self.slice.set(z)  # show where the change happened, like Slicer
        self.events.roi_list.emit(self.rois)
        self.events.rois.emit(None)
        self.refresh_scores()

    def _edit(self, operation: Any, label: str = "edit") -> None:
        self.begin_stroke(label)
        try:
            operation()
        finally:
            self.rois.history.end_stroke()
            self._stroke_open = False
        self.events.rois.emit(None)
        self.refresh_scores()

    def rois_changed(self) -> None:
        """Called after add/rename/recolour/show/hide/lock/delete or loading ROIs."""
        self.events.roi_list.emit(self.rois)
        self.events.rois.emit(None)
        self.refresh_scores()
