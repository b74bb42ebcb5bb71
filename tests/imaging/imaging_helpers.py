"""Shared helpers of the imaging tests (imported by name; pytest puts this folder on sys.path)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
from pydicom.pixels import apply_modality_lut

#: An oblique orientation (columns: x, y, slice axes) used by several tests.
OBLIQUE = np.column_stack([
    [np.cos(0.3), np.sin(0.3), 0.0],
    [-np.sin(0.3) * np.cos(0.2), np.cos(0.3) * np.cos(0.2), np.sin(0.2)],
])
OBLIQUE = np.column_stack([OBLIQUE, np.cross(OBLIQUE[:, 0], OBLIQUE[:, 1])])


def reference_pixels(path: Path) -> np.ndarray:
    """pydicom's own decoding + modality LUT of a single-frame grayscale file (the reference)."""
    ds = pydicom.dcmread(path)
    return apply_modality_lut(ds.pixel_array, ds).astype(np.float32)
