"""Display defaults: the initial window (center, width) and window presets by modality."""

from __future__ import annotations

import numpy as np

__all__ = ["robust_window", "window_presets", "CT_PRESETS"]

#: (center, width) in HU, as in OHIF / Stone Web Viewer.
CT_PRESETS: dict[str, tuple[float, float]] = {
    "Soft tissue": (40.0, 400.0),
    "Lung": (-600.0, 1500.0),
    "Liver": (90.0, 150.0),
    "Bone": (480.0, 2500.0),
    "Brain": (40.0, 80.0),
}


def robust_window(voxels: np.ndarray, low: float = 0.5, high: float = 99.5,
                  max_samples: int = 262_144) -> tuple[float, float]:
    """(center, width) spanning the ``low``..``high`` percentiles of the finite voxels.

    Large volumes are subsampled with a fixed stride, so the result is deterministic.
    """
    flat = np.asarray(voxels).reshape(-1)
    if flat.size > max_samples:
        flat = flat[:: int(np.ceil(flat.size / max_samples))]
    flat = flat[np.isfinite(flat)]
    if flat.size == 0:
        return 0.0, 1.0
    lo, hi = (float(v) for v in np.percentile(flat, [low, high]))
    if hi <= lo:
        lo, hi = float(flat.min()), float(flat.max())
    width = max(hi - lo, 1e-6)
    return (lo + hi) / 2.0, width


def nan_range(voxels: np.ndarray) -> tuple[float, float]:
    """(min, max) ignoring NaN (both NaN when every value is)."""
    flat = np.asarray(voxels).reshape(-1)
    return float(np.fmin.reduce(flat)), float(np.fmax.reduce(flat))


def window_presets(modality: str, voxels: np.ndarray | None = None,
                   auto: tuple[float, float] | None = None,
                   value_range: tuple[float, float] | None = None
                   ) -> dict[str, tuple[float, float]]:
    """Named (center, width) presets: CT tissue presets; for every modality the robust
    percentile window (``auto`` when already computed) and the full range of ``voxels``
    (``value_range``: its NaN-ignoring min and max when already known)."""
    presets: dict[str, tuple[float, float]] = {}
    if modality.upper() == "CT":
        presets.update(CT_PRESETS)
    if voxels is not None and np.asarray(voxels).size:
        presets["Auto (0.5-99.5 %)"] = auto or robust_window(voxels)
        lo, hi = value_range or nan_range(voxels)
        if np.isfinite(lo) and np.isfinite(hi):
            presets["Full range"] = ((lo + hi) / 2.0, max(hi - lo, 1e-6))
    return presets
