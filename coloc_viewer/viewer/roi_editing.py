"""The few calls the viewer makes into :mod:`coloc_viewer.imaging.roi` and ``roi_edit``."""

from __future__ import annotations

from typing import Any

import numpy as np

from coloc_viewer.imaging import roi_edit
from coloc_viewer.imaging.roi import RoiSet
from coloc_viewer.imaging.volume import Volume


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
