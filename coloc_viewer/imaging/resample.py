"""Resample one :class:`Volume` onto another's voxel grid with SimpleITK (no torch, no Qt).

Physical geometry comes from each volume's spacing, origin and direction (LPS), so series
acquired with different matrices, slice thicknesses or oblique planes line up voxel by
voxel: voxel [k, j, i] of the result holds the moving volume's value at the patient
position of the reference's voxel [k, j, i] (SimpleITK ``Resample`` with the reference
image and an identity transform). Outside the moving volume the value is ``default``.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from coloc_viewer.imaging.sitk_io import to_sitk_image
from coloc_viewer.imaging.volume import Volume

INTERPOLATORS = {"linear": sitk.sitkLinear, "nearest": sitk.sitkNearestNeighbor,
                 "bspline": sitk.sitkBSpline}

__all__ = ["resample_to", "same_grid"]


def same_grid(a: Volume, b: Volume, tol: float = 1e-6) -> bool:
    """True when ``a`` and ``b`` have the same shape, spacing, origin and direction."""
    return (a.shape == b.shape
            and np.allclose(a.spacing, b.spacing, rtol=0, atol=tol)
            and np.allclose(a.origin, b.origin, rtol=0, atol=tol)
            and np.allclose(a.direction, b.direction, rtol=0, atol=tol))


def resample_to(moving: Volume, reference: Volume, interpolation: str = "linear",
                default: float = 0.0) -> Volume:
    """``moving`` resampled onto ``reference``'s grid (float32 voxels, the reference's
    geometry, the moving volume's metadata plus ``resampled_from``). A volume already on
    the grid is returned as a copy without interpolation."""
    if interpolation not in INTERPOLATORS:
        raise ValueError(f"interpolation must be one of {', '.join(INTERPOLATORS)}")
    meta = dict(moving.metadata)
    if same_grid(moving, reference):
        vox = np.array(moving.voxels, dtype=np.float32, copy=True)
    else:
        out = sitk.Resample(to_sitk_image(np.asarray(moving.voxels, dtype=np.float32), moving),
                            to_sitk_image(np.zeros(reference.shape, np.uint8), reference),
                            sitk.Transform(), INTERPOLATORS[interpolation], float(default),
                            sitk.sitkFloat32)
        vox = sitk.GetArrayFromImage(out)
        meta["resampled_from"] = {"shape": list(moving.shape),
                                  "spacing": list(moving.spacing)}
    return Volume(voxels=vox, spacing=reference.spacing, origin=reference.origin,
                  direction=np.array(reference.direction, copy=True), metadata=meta,
                  source=moving.source, files=moving.files)
