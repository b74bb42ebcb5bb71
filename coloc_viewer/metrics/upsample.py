"""Resize a 2-D map to the image grid exactly as ``torch.nn.functional.interpolate`` does.

``bilinear`` matches ``mode="bilinear", align_corners=False`` (half-pixel centres, source
positions below 0 clamped to 0, no antialiasing); ``nearest`` matches torch's legacy
``mode="nearest"`` (source index ``floor(dst * in / out)`` computed in float32, as torch does,
with the exact shortcuts torch takes for factors 1 and 2). Numpy only: the metrics layer never
imports torch; the tests compare against torch.
"""

from __future__ import annotations

import numpy as np

from coloc_viewer.errors import InputError

MODES = ("bilinear", "nearest")


def upsample(map2d: np.ndarray, shape: tuple[int, int], mode: str = "bilinear") -> np.ndarray:
    """Return ``map2d`` resized to ``shape`` (rows, columns) as float64.

    Works for any target size (down-sizing behaves like torch without antialiasing, too).
    Raises :class:`InputError` for a non-2-D map, a bad shape or an unknown mode.
    """
    a = np.asarray(map2d)
    if a.ndim != 2 or a.size == 0:
        raise InputError(f"map to upsample must be a non-empty 2-D array, got shape {a.shape}")
    if mode not in MODES:
        raise InputError(f"unknown upsample mode {mode!r}; use 'bilinear' or 'nearest'")
    out_h, out_w = _check_shape(shape)
    a = a.astype(np.float64, copy=False)
    if mode == "nearest":
        return a[np.ix_(_nearest_index(a.shape[0], out_h), _nearest_index(a.shape[1], out_w))]
    y0, y1, wy = _linear_taps(a.shape[0], out_h)
    x0, x1, wx = _linear_taps(a.shape[1], out_w)
    rows = a[y0] * (1.0 - wy)[:, None] + a[y1] * wy[:, None]
    return rows[:, x0] * (1.0 - wx) + rows[:, x1] * wx


def _check_shape(shape: tuple[int, int]) -> tuple[int, int]:
    try:
        out_h, out_w = (int(n) for n in shape)
    except (TypeError, ValueError):
        raise InputError(f"target shape must be two integers, got {shape!r}") from None
    if out_h < 1 or out_w < 1:
        raise InputError(f"target shape must be positive, got {shape!r}")
    return out_h, out_w


def _linear_taps(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lower and upper source index and the weight of the upper one, per output index."""
    src = (np.arange(n_out, dtype=np.float64) + 0.5) * (n_in / n_out) - 0.5
    src = np.maximum(src, 0.0)
    lower = np.minimum(np.floor(src).astype(np.intp), n_in - 1)
    upper = np.minimum(lower + 1, n_in - 1)
    weight = np.clip(src - lower, 0.0, 1.0)
    return lower, upper, weight


def _nearest_index(n_in: int, n_out: int) -> np.ndarray:
    """Source index per output index, reproducing torch's float32 arithmetic."""
    dst = np.arange(n_out)
    if n_out == n_in:
        return dst
    if n_out == 2 * n_in:
        return dst >> 1
    scale = np.float32(n_in) / np.float32(n_out)
    src = np.floor(dst.astype(np.float32) * scale).astype(np.intp)
    return np.minimum(src, n_in - 1)
