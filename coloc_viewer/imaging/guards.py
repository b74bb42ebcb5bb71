"""Checks every loader runs before allocating or returning a volume (docs/imaging.md, "Limits").

* :func:`check_allocation`: a memory estimate against :mod:`coloc_viewer.limits`;
* :func:`check_geometry`: spacing finite and positive, origin finite, direction orthonormal;
* :func:`expected_pixel_bytes`: what uncompressed DICOM pixel data must hold.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import numpy as np

from coloc_viewer import limits
from coloc_viewer.errors import InputError

__all__ = ["check_allocation", "check_geometry", "check_shape", "expected_pixel_bytes",
           "ORTHONORMAL_TOLERANCE"]

#: Largest deviation of a direction cosine vector's length from 1, and largest |cosine|
#: between two of them, accepted as orthonormal (they are then re-normalised).
ORTHONORMAL_TOLERANCE = 1e-2

Path = str | os.PathLike[str] | None


def check_shape(shape: Sequence[int], bytes_per_voxel: int, path: Path,
                what: str = "image") -> None:
    """InputError when a volume of ``shape`` is empty, has too many voxels, or would not fit
    in memory (``bytes_per_voxel`` per voxel, e.g. 4 for float32)."""
    dims = [int(n) for n in shape]
    if any(n <= 0 for n in dims):
        raise InputError(f"invalid {what} size {' x '.join(map(str, dims))}", path)
    voxels = math.prod(dims)
    if voxels > limits.MAX_VOLUME_VOXELS:
        raise InputError(f"{what} too large ({' x '.join(map(str, dims))} voxels; the limit "
                         f"is {limits.MAX_VOLUME_VOXELS} voxels)", path)
    check_allocation(voxels * bytes_per_voxel, path, what)


def check_allocation(n_bytes: int, path: Path, what: str = "image") -> None:
    """InputError when ``n_bytes`` exceeds ``MAX_VOLUME_BYTES`` or the memory budget."""
    problem = limits.allocation_problem(int(n_bytes))
    if problem is not None:
        raise InputError(f"{what} too large to load: {problem}", path)


def check_geometry(spacing: Sequence[float], origin: Sequence[float],
                   direction: np.ndarray, path: Path) -> np.ndarray:
    """Validate a volume's geometry; returns the direction re-orthonormalised.

    Spacing must be finite and positive, the origin finite, and the direction columns
    unit vectors (within :data:`ORTHONORMAL_TOLERANCE`) that are mutually perpendicular.
    """
    sp = np.asarray(spacing, dtype=float)
    if sp.shape != (3,) or not np.all(np.isfinite(sp)) or np.any(sp <= 0):
        raise InputError(f"invalid voxel spacing {_fmt(sp)} (must be finite and positive)",
                         path)
    org = np.asarray(origin, dtype=float)
    if org.shape != (3,) or not np.all(np.isfinite(org)):
        raise InputError(f"invalid origin {_fmt(org)} (must be finite)", path)
    d = np.asarray(direction, dtype=float).reshape(3, 3)
    if not np.all(np.isfinite(d)):
        raise InputError("invalid direction cosines (not finite)", path)
    norms = np.linalg.norm(d, axis=0)
    gram = d.T @ d
    off = np.abs(gram - np.diag(np.diag(gram)))
    if np.any(np.abs(norms - 1.0) > ORTHONORMAL_TOLERANCE) or \
            float(off.max()) > ORTHONORMAL_TOLERANCE:
        raise InputError(f"invalid direction cosines {_fmt(d.T.reshape(-1))} (not orthonormal)",
                         path)
    if np.allclose(gram, np.eye(3), atol=1e-9):
        return d
    u, _, vt = np.linalg.svd(d)
    return u @ vt  # the nearest orthonormal matrix


def expected_pixel_bytes(rows: int, cols: int, samples: int, bits_allocated: int,
                         n_frames: int, photometric: str) -> int:
    """Bytes of uncompressed (native) DICOM pixel data, as pydicom computes them: 1-bit data
    is packed, and YBR_FULL_422 stores two samples per pixel (4:2:2 chroma subsampling)."""
    n_bits = rows * cols * samples * bits_allocated * n_frames
    n_bytes = (n_bits + 7) // 8
    if photometric.strip().upper() == "YBR_FULL_422" and samples == 3:
        n_bytes = n_bytes // 3 * 2
    return n_bytes


def _fmt(values: np.ndarray) -> str:
    return "[" + ", ".join(f"{float(v):.4g}" for v in np.ravel(values)) + "]"
