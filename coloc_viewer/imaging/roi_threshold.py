"""The threshold-limited brush: a disk of the brush radius that paints only the pixels whose
intensity (physical units, after the modality LUT) lies in ``[low, high]``, like the
"threshold paint" of 3D Slicer's Paint effect. Erasing is not limited."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from coloc_viewer.imaging.roi import RoiSet
from coloc_viewer.imaging.roi_edit import disk_footprint
from coloc_viewer.imaging.roi_history import Region

__all__ = ["paint_in_range", "range_from_window"]


def range_from_window(center: float, width: float) -> tuple[float, float]:
    """The intensities a window shows between black and white: centre -/+ width / 2."""
    half = abs(float(width)) / 2.0
    return float(center) - half, float(center) + half


def paint_in_range(roiset: RoiSet, name: str | None, z: int, center_yx: Sequence[float],
                   radius_mm: float, image: np.ndarray,
                   value_range: tuple[float, float]) -> Region | None:
    """One dab on slice ``z`` limited to ``image`` (that slice, (y, x)) in ``value_range``;
    returns the touched region or None (nothing in range under the disk)."""
    roi = roiset[name or roiset.active or ""]
    if roi.locked:
        raise ValueError(f"ROI {roi.name!r} is locked")
    z = int(z)
    if not 0 <= z < roiset.shape[0]:
        raise IndexError(f"slice {z} outside 0..{roiset.shape[0] - 1}")
    img = np.asarray(image)
    if img.shape != roiset.shape[1:]:
        raise ValueError(f"image {img.shape} does not match the ROI slice {roiset.shape[1:]}")
    low, high = sorted((float(value_range[0]), float(value_range[1])))
    fp = disk_footprint(center_yx, radius_mm, roiset.spacing[1:], roiset.shape[1:])
    if fp is None:
        return None
    rows, cols, box = fp
    values = img[rows, cols]
    box = box & (values >= low) & (values <= high)
    if not box.any():
        return None
    region: Region = (slice(z, z + 1), rows, cols)
    with roiset.history.stroke("threshold paint") as stroke:
        stroke.record(roi, region)
        roi.mask[z, rows, cols] |= box
    return region
