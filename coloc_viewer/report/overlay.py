"""The overlay rule shared by the viewer and the reports: quiet areas of a map stay
transparent. On the map's display scale t in [0, 1], alpha is 0 up to :data:`QUIET` (15 %)
and rises linearly to full opacity at :data:`FULL` (65 %)."""

from __future__ import annotations

import numpy as np

QUIET = 0.15
FULL = 0.65


def overlay_alpha(scaled: np.ndarray, opacity: float) -> np.ndarray:
    """Alpha in [0, ``opacity``] of map values already scaled to [0, 1]."""
    t = np.clip(np.asarray(scaled, dtype=np.float64), 0.0, 1.0)
    return np.clip((t - QUIET) / (FULL - QUIET), 0.0, 1.0) * float(opacity)
