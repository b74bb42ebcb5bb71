"""The synthetic study of the viewer tests (a module, not conftest, so suites run together)."""

from __future__ import annotations

import numpy as np


def phantom(shape: tuple[int, int, int] = (8, 96, 80), seed: int = 0) -> np.ndarray:
    """A body-like ellipse with a bright blob, smooth and noisy, in MR-like units."""
    rng = np.random.default_rng(seed)
    z, h, w = shape
    yy, xx = np.mgrid[:h, :w]
    body = (((yy - h / 2) / (0.42 * h)) ** 2 + ((xx - w / 2) / (0.42 * w)) ** 2) < 1
    out = np.empty(shape, np.float32)
    for k in range(z):
        blob = np.exp(-(((yy - 0.4 * h) ** 2 + (xx - 0.6 * w - k) ** 2) / (2 * 6.0**2)))
        out[k] = 300 * body + 500 * blob + rng.normal(0, 10, (h, w))
    return np.clip(out, 0, None)
