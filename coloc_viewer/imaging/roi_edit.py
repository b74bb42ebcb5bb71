"""Editing operations on the ROIs of a :class:`~coloc_viewer.imaging.roi.RoiSet`.

Every operation edits one slice ``z`` of one ROI in place, records only the touched
bounding box in the set's shared history, and returns the changed region (or None).
Coordinates are pixel indices: ``(y, x)`` = (row, column), fractional allowed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage

from coloc_viewer.imaging.roi import Roi, RoiSet
from coloc_viewer.imaging.roi_history import Region

__all__ = ["paint", "erase", "polygon_fill", "fill_holes", "clear_slice", "disk_footprint",
           "polygon_mask"]


def _editable(roiset: RoiSet, name: str | None) -> Roi:
    roi = roiset[name or roiset.active or ""]
    if roi.locked:
        raise ValueError(f"ROI {roi.name!r} is locked")
    return roi


def _check_z(roiset: RoiSet, z: int) -> int:
    z = int(z)
    if not 0 <= z < roiset.shape[0]:
        raise IndexError(f"slice {z} outside 0..{roiset.shape[0] - 1}")
    return z


def disk_footprint(center_yx: Sequence[float], radius_mm: float,
                   spacing_yx: Sequence[float], shape_yx: Sequence[int]
                   ) -> tuple[slice, slice, np.ndarray] | None:
    """Pixels whose centres lie within ``radius_mm`` of ``center_yx`` (pixel coordinates),
    with anisotropic pixel spacing (an ellipse in pixels). Returns (rows, cols, bool box)
    clipped to the image, or None when nothing is inside."""
    cy, cx = float(center_yx[0]), float(center_yx[1])
    sy, sx = float(spacing_yx[0]), float(spacing_yx[1])
    r = float(radius_mm)
    if r < 0:
        raise ValueError("radius must be >= 0")
    ry, rx = r / sy, r / sx
    y0, y1 = max(int(np.ceil(cy - ry)), 0), min(int(np.floor(cy + ry)) + 1, int(shape_yx[0]))
    x0, x1 = max(int(np.ceil(cx - rx)), 0), min(int(np.floor(cx + rx)) + 1, int(shape_yx[1]))
    if y1 <= y0 or x1 <= x0:
        return None
    dy = ((np.arange(y0, y1) - cy) * sy) ** 2
    dx = ((np.arange(x0, x1) - cx) * sx) ** 2
    box = dy[:, None] + dx[None, :] <= r * r + 1e-9
    return slice(y0, y1), slice(x0, x1), box


def _apply_box(roiset: RoiSet, roi: Roi, z: int,
               footprint: tuple[slice, slice, np.ndarray] | None, value: bool,
               label: str) -> Region | None:
    """Set (or clear) the footprint's pixels on slice ``z`` as one undoable step."""
    if footprint is None:
        return None
    rows, cols, box = footprint
    region: Region = (slice(z, z + 1), rows, cols)
    with roiset.history.stroke(label) as stroke:
        stroke.record(roi, region)
        view = roi.mask[z, rows, cols]
        if value:
            view |= box
        else:
            view &= ~box
    return region


def paint(roiset: RoiSet, name: str | None, z: int, center_yx: Sequence[float],
          radius_mm: float, value: bool = True) -> Region | None:
    """A brush dab: set (or, with ``value=False``, clear) a disk of ``radius_mm``."""
    roi = _editable(roiset, name)
    z = _check_z(roiset, z)
    fp = disk_footprint(center_yx, radius_mm, roiset.spacing[1:], roiset.shape[1:])
    return _apply_box(roiset, roi, z, fp, value, "paint" if value else "erase")


def erase(roiset: RoiSet, name: str | None, z: int, center_yx: Sequence[float],
          radius_mm: float) -> Region | None:
    """Clear a disk of ``radius_mm`` (the eraser brush)."""
    return paint(roiset, name, z, center_yx, radius_mm, value=False)


def polygon_mask(vertices_yx: np.ndarray | Sequence[Sequence[float]], shape_yx: Sequence[int]
                 ) -> tuple[slice, slice, np.ndarray] | None:
    """Pixels whose centres are inside the polygon (even-odd rule), as (rows, cols, box)."""
    v = np.asarray(vertices_yx, dtype=float).reshape(-1, 2)
    if len(v) < 3:
        return None
    y0 = max(int(np.floor(v[:, 0].min())), 0)
    y1 = min(int(np.ceil(v[:, 0].max())) + 1, int(shape_yx[0]))
    x0 = max(int(np.floor(v[:, 1].min())), 0)
    x1 = min(int(np.ceil(v[:, 1].max())) + 1, int(shape_yx[1]))
    if y1 <= y0 or x1 <= x0:
        return None
    py = np.arange(y0, y1, dtype=float)[:, None]
    px = np.arange(x0, x1, dtype=float)[None, :]
    inside = np.zeros((y1 - y0, x1 - x0), dtype=bool)
    ay, ax = v[:, 0], v[:, 1]
    by, bx = np.roll(ay, -1), np.roll(ax, -1)
    for i in range(len(v)):  # crossing number, one edge at a time (vectorised over pixels)
        if ay[i] == by[i]:
            continue
        crosses = (ay[i] > py) != (by[i] > py)
        x_at = ax[i] + (py - ay[i]) * (bx[i] - ax[i]) / (by[i] - ay[i])
        inside ^= crosses & (px < x_at)
    return slice(y0, y1), slice(x0, x1), inside


def polygon_fill(roiset: RoiSet, name: str | None, z: int,
                 vertices_yx: np.ndarray | Sequence[Sequence[float]],
                 value: bool = True) -> Region | None:
    """Fill (or clear) the polygon with the given vertices (pixel coordinates)."""
    roi = _editable(roiset, name)
    z = _check_z(roiset, z)
    fp = polygon_mask(vertices_yx, roiset.shape[1:])
    return _apply_box(roiset, roi, z, fp, value, "polygon")


def fill_holes(roiset: RoiSet, name: str | None, z: int | None = None) -> Region | None:
    """Fill enclosed holes slice by slice (slice ``z``, or every slice when None)."""
    roi = _editable(roiset, name)
    zs = range(roiset.shape[0]) if z is None else [_check_z(roiset, z)]
    touched: list[Region] = []
    with roiset.history.stroke("fill holes") as stroke:
        for k in zs:
            plane = roi.mask[k]
            if not plane.any():
                continue
            filled = ndimage.binary_fill_holes(plane)
            if np.array_equal(filled, plane):
                continue
            ys, xs = np.nonzero(filled & ~plane)
            region: Region = (slice(k, k + 1), slice(int(ys.min()), int(ys.max()) + 1),
                              slice(int(xs.min()), int(xs.max()) + 1))
            stroke.record(roi, region)
            roi.mask[region] = filled[region[1:]]
            touched.append(region)
    if not touched:
        return None
    return (slice(touched[0][0].start, touched[-1][0].stop),
            slice(min(r[1].start for r in touched), max(r[1].stop for r in touched)),
            slice(min(r[2].start for r in touched), max(r[2].stop for r in touched)))


def clear_slice(roiset: RoiSet, name: str | None, z: int) -> Region | None:
    """Remove the ROI from slice ``z``."""
    roi = _editable(roiset, name)
    z = _check_z(roiset, z)
    ys, xs = np.nonzero(roi.mask[z])
    if ys.size == 0:
        return None
    region: Region = (slice(z, z + 1), slice(int(ys.min()), int(ys.max()) + 1),
                      slice(int(xs.min()), int(xs.max()) + 1))
    with roiset.history.stroke("clear slice") as stroke:
        stroke.record(roi, region)
        roi.mask[region] = False
    return region
