"""Validation of the arrays the scores are computed from.

Every problem a user can cause (NaN or inf in a map, a mask of the wrong shape, a map larger
than the image grid, a bad option) becomes an :class:`~coloc_viewer.errors.InputError` with a
one-line reason. Non-boolean masks are thresholded: a pixel belongs to the mask when its value
is >= 0.5 (so 0/1 and 0/255 masks, and probability or partial-volume masks, all work).
"""

from __future__ import annotations

import numpy as np

from coloc_viewer.errors import InputError
from coloc_viewer.metrics.upsample import MODES, upsample

MASK_THRESHOLD = 0.5


def as_map(values: object, name: str = "saliency map", ndim: int = 2) -> np.ndarray:
    """``values`` as a finite float64 array with ``ndim`` dimensions."""
    arr = _as_real_array(values, name)
    if arr.ndim != ndim or arr.size == 0:
        raise InputError(f"{name} must be a non-empty {ndim}-D array, got shape {arr.shape}")
    arr = arr.astype(np.float64, copy=False)
    if not np.isfinite(arr).all():
        raise InputError(f"{name} contains NaN or infinite values")
    return arr


def as_mask(values: object, shape: tuple[int, ...], name: str = "ROI") -> np.ndarray:
    """``values`` as a boolean mask of exactly ``shape`` (non-boolean: ``value >= 0.5``)."""
    arr = _as_real_array(values, name)
    if arr.shape != tuple(shape):
        raise InputError(
            f"{name} shape {tuple(arr.shape)} does not match the image grid {tuple(shape)}"
        )
    if arr.dtype == np.bool_:
        return arr
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise InputError(f"{name} contains NaN or infinite values")
    return arr >= MASK_THRESHOLD


def on_grid(
    map2d: np.ndarray, grid: tuple[int, int], mode: str, name: str = "saliency map"
) -> tuple[np.ndarray, bool]:
    """``map2d`` (finite, 2-D) brought to ``grid``; True when it had to be upsampled.

    A map smaller than the grid (in one or both axes) is upsampled with ``mode``; a map larger
    than the grid in either axis is an error (down-sampling a map would hide its peaks).
    """
    check_mode(mode)
    if map2d.shape == tuple(grid):
        return map2d, False
    if map2d.shape[0] > grid[0] or map2d.shape[1] > grid[1]:
        raise InputError(
            f"{name} {tuple(map2d.shape)} is larger than the ROI grid {tuple(grid)}; "
            "resample it to the image grid first"
        )
    return upsample(map2d, grid, mode), True


def check_mode(mode: str) -> None:
    if mode not in MODES:
        raise InputError(f"unknown upsample mode {mode!r}; use 'bilinear' or 'nearest'")


def check_threshold(threshold: float) -> float:
    try:
        t = float(threshold)
    except (TypeError, ValueError):
        raise InputError(f"threshold must be a number in [0, 1], got {threshold!r}") from None
    if not 0.0 <= t <= 1.0:
        raise InputError(f"threshold must be a number in [0, 1], got {threshold!r}")
    return t


def check_grid(shape: object) -> tuple[int, int]:
    try:
        h, w = (int(n) for n in shape)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise InputError(f"ROI grid shape must be two integers, got {shape!r}") from None
    if h < 1 or w < 1:
        raise InputError(f"ROI grid shape must be positive, got {shape!r}")
    return h, w


def _as_real_array(values: object, name: str) -> np.ndarray:
    try:
        arr = np.asarray(values)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} is not an array: {exc}") from None
    if arr.dtype.kind not in "biuf":
        raise InputError(f"{name} must hold real numbers or booleans, got dtype {arr.dtype}")
    return arr
