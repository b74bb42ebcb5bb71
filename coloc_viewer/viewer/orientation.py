"""Standard radiological display orientation, whatever the storage order.

An axial slice is shown with anterior at the top and the patient's right on the screen's
left (as Slicer, ITK-SNAP and OHIF do); a coronal one with the head at the top and the
right on the left; a sagittal one with the head at the top and anterior on the left. Only
the in-plane axes are flipped or swapped (the slice index stays the one scripts use); the
display volume is a *view* of the stored voxels with the geometry (origin, direction,
spacing) rewritten to match, so LPS coordinates and orientation letters stay exact.

ROIs drawn on the display grid go back to the stored grid with :meth:`to_storage` (files
are read and written on the stored grid), and the model runs on the stored slice: its
maps come to the display with :meth:`to_display`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from coloc_viewer.imaging.volume import Volume

KEY = "display_orientation"
_X, _Y, _Z = np.eye(3)
# (screen right, screen down) in LPS for the plane whose normal is closest to x, y, z
_TARGETS = {0: (_Y, -_Z), 1: (_X, -_Z), 2: (_X, _Y)}


@dataclass(frozen=True)
class DisplayOrientation:
    """How the stored in-plane axes become the screen's: swap, then flip rows / columns."""

    transpose: bool = False
    flip_rows: bool = False
    flip_cols: bool = False

    @property
    def identity(self) -> bool:
        return not (self.transpose or self.flip_rows or self.flip_cols)

    def to_display(self, array: np.ndarray) -> np.ndarray:
        """Stored -> display, on the last two axes (rows, columns); a view."""
        a = np.asarray(array)
        if self.transpose:
            a = np.swapaxes(a, -1, -2)
        if self.flip_rows:
            a = np.flip(a, -2)
        if self.flip_cols:
            a = np.flip(a, -1)
        return a

    def to_storage(self, array: np.ndarray) -> np.ndarray:
        """Display -> stored, on the last two axes; a view."""
        a = np.asarray(array)
        if self.flip_cols:
            a = np.flip(a, -1)
        if self.flip_rows:
            a = np.flip(a, -2)
        if self.transpose:
            a = np.swapaxes(a, -1, -2)
        return a

    def storage_index(self, zyx: tuple[float, float, float],
                      display_shape: tuple[int, int, int]) -> tuple[float, float, float]:
        """The stored [z, y, x] of a display index (fractional indices allowed)."""
        z, r, c = (float(v) for v in zyx)
        _, n_r, n_c = display_shape
        if self.flip_rows:
            r = n_r - 1 - r
        if self.flip_cols:
            c = n_c - 1 - c
        return (z, c, r) if self.transpose else (z, r, c)


def orientation_for(direction: np.ndarray) -> DisplayOrientation:
    """The in-plane swap and flips that show a slice of ``direction`` in standard
    orientation (columns of ``direction``: LPS of index axes x, y, z)."""
    d = np.asarray(direction, float).reshape(3, 3)
    normal = int(np.argmax(np.abs(d[:, 2])))
    right, down = _TARGETS[normal]
    col, row = d[:, 0], d[:, 1]
    transpose = abs(row @ right) > abs(col @ right)
    if transpose:
        col, row = row, col
    return DisplayOrientation(transpose, bool(row @ down < 0), bool(col @ right < 0))


def oriented(volume: Volume) -> Volume:
    """``volume`` in standard display orientation (itself when it already is, or when it was
    oriented before); the stored volume stays reachable through :func:`storage_of`."""
    if KEY in volume.metadata:
        return volume
    orient = orientation_for(volume.direction)
    meta = dict(volume.metadata)
    meta[KEY] = {"transpose": orient.transpose, "flip_rows": orient.flip_rows,
                 "flip_cols": orient.flip_cols}  # plain values: metadata goes to JSON
    if orient.identity:  # already standard: the volume itself, marked as shown
        volume.metadata[KEY] = meta[KEY]
        return volume
    else:
        d = volume.direction.copy()
        sz, sy, sx = volume.spacing
        col, row = d[:, 0].copy(), d[:, 1].copy()
        if orient.transpose:
            col, row, sy, sx = row, col, sx, sy
        voxels = orient.to_display(volume.voxels)
        origin = volume.index_to_lps(orient.storage_index((0, 0, 0), voxels.shape))
        d[:, 0] = -col if orient.flip_cols else col
        d[:, 1] = -row if orient.flip_rows else row
        shown = replace(volume, voxels=voxels, spacing=(sz, sy, sx), origin=tuple(origin),
                        direction=d, metadata=meta)
    shown.private = volume.private
    return shown


def orientation_of(volume: Any) -> DisplayOrientation:
    """The display orientation applied to ``volume`` (identity for a stored volume)."""
    meta = getattr(volume, "metadata", None) or {}
    found = meta.get(KEY)
    return DisplayOrientation(**found) if isinstance(found, dict) else DisplayOrientation()


def storage_of(volume: Volume) -> Volume:
    """The stored volume a display volume shows (the volume itself if not oriented)."""
    orient = orientation_of(volume)
    if orient.identity:
        return volume
    meta = {k: v for k, v in volume.metadata.items() if k != KEY}
    d = volume.direction.copy()
    sz, sy, sx = volume.spacing
    col = -d[:, 0] if orient.flip_cols else d[:, 0].copy()
    row = -d[:, 1] if orient.flip_rows else d[:, 1].copy()
    if orient.transpose:
        col, row, sy, sx = row, col, sx, sy
    d[:, 0], d[:, 1] = col, row
    voxels = orient.to_storage(volume.voxels)
    origin = volume.index_to_lps(_display_index_of_stored_origin(orient, volume.shape))
    stored = replace(volume, voxels=voxels, spacing=(sz, sy, sx), origin=tuple(origin),
                     direction=d, metadata=meta)
    stored.private = volume.private
    return stored


class DisplayExplanation:
    """An Explanation of the stored slice whose maps are given on the display grid."""

    def __init__(self, explanation: Any, orientation: DisplayOrientation) -> None:
        self.stored = explanation
        self.orientation = orientation

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stored, name)

    def _shown(self, array: Any) -> Any:
        return None if array is None else np.ascontiguousarray(self.orientation.to_display(array))

    @property
    def top_map(self) -> np.ndarray:
        return self._shown(self.stored.top_map)

    @property
    def seed_map(self) -> np.ndarray:
        return self._shown(self.stored.seed_map)

    @property
    def activations(self) -> np.ndarray:
        return self._shown(self.stored.activations)

    @property
    def cams(self) -> dict[str, np.ndarray]:
        return {k: self._shown(v) for k, v in self.stored.cams.items()}

    def channel_map(self, *args: Any, **kwargs: Any) -> np.ndarray:
        return self._shown(self.stored.channel_map(*args, **kwargs))

    def cam_map(self, *args: Any, **kwargs: Any) -> np.ndarray:
        return self._shown(self.stored.cam_map(*args, **kwargs))

    def predicted_mask(self, *args: Any, **kwargs: Any) -> np.ndarray | None:
        return self._shown(self.stored.predicted_mask(*args, **kwargs))


def shown_explanation(explanation: Any, volume: Any) -> Any:
    """``explanation`` (of the stored volume) with maps on ``volume``'s display grid."""
    orient = orientation_of(volume)
    return explanation if orient.identity else DisplayExplanation(explanation, orient)


def _display_index_of_stored_origin(orient: DisplayOrientation,
                                    display_shape: tuple[int, int, int]) -> tuple[int, int, int]:
    _, n_r, n_c = display_shape
    return (0, n_r - 1 if orient.flip_rows else 0, n_c - 1 if orient.flip_cols else 0)
