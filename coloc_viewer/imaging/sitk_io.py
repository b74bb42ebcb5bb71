"""NIfTI / MHA / MHD / NRRD volumes through SimpleITK, and Volume <-> SimpleITK conversion.

Axis mapping: SimpleITK's array view is (z, y, x) = reversed ITK index (i, j, k), so
``Volume.voxels[k, j, i]`` is ITK voxel (i, j, k); for NIfTI this is nibabel's
``get_fdata()[i, j, k]``. Geometry is in LPS (SimpleITK converts NIfTI's RAS affine:
x and y flip sign). 4-D images load their first volume (t = 0) with a warning.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from coloc_viewer.errors import InputError
from coloc_viewer.imaging.display import robust_window, window_presets
from coloc_viewer.imaging.guards import check_geometry
from coloc_viewer.imaging.volume import Volume
from coloc_viewer.imaging.volume_file_checks import check_volume_file

__all__ = ["read_sitk_volume", "to_sitk_image", "sitk_geometry"]


def sitk_geometry(img: sitk.Image) -> tuple[tuple[float, float, float], tuple[float, float, float],
                                            np.ndarray]:
    """(spacing z,y,x; origin x,y,z; direction 3x3) of a 3-D SimpleITK image."""
    spacing = tuple(float(s) for s in img.GetSpacing()[::-1])
    origin = tuple(float(o) for o in img.GetOrigin())
    direction = np.asarray(img.GetDirection(), dtype=float).reshape(3, 3)
    return spacing, origin, direction  # type: ignore[return-value]


def _read(path: Path) -> sitk.Image:
    if path.stat().st_size == 0:
        raise InputError("empty file (0 bytes)", path)
    try:
        return sitk.ReadImage(str(path))
    except RuntimeError as exc:
        lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
        detail = next((ln for ln in reversed(lines) if "Description" in ln or "ERROR" in ln), "")
        detail = detail.split(":", 1)[-1].strip() if detail else "unreadable"
        raise InputError(f"cannot read image ({detail[:160]})", path) from None


def read_sitk_volume(path: str | os.PathLike[str]) -> Volume:
    """Read a NIfTI/MHA/MHD/NRRD file as a Volume (float32 voxels, LPS geometry)."""
    p = Path(path)
    if p.stat().st_size == 0:
        raise InputError("empty file (0 bytes)", p)
    n_bad = check_volume_file(p)
    img = _read(p)
    warnings: list[str] = []
    if img.GetNumberOfComponentsPerPixel() > 1:
        raise InputError(f"vector/colour images are not supported "
                         f"({img.GetNumberOfComponentsPerPixel()} components per voxel)", p)
    dim = img.GetDimension()
    if dim == 4:
        size = list(img.GetSize())
        warnings.append(f"4-D image with {size[3]} volumes: loaded the first (t = 0)")
        img = sitk.Extract(img, size[:3] + [0], [0, 0, 0, 0])
    elif dim == 2:
        img = sitk.JoinSeries(img)
    elif dim != 3:
        raise InputError(f"{dim}-D images are not supported", p)
    voxels = sitk.GetArrayFromImage(img).astype(np.float32, copy=False)
    n_bad = n_bad or int(np.size(voxels) - np.count_nonzero(np.isfinite(voxels)))
    if n_bad:
        raise InputError(f"image contains {n_bad} NaN or infinite voxel values", p)
    spacing, origin, direction = sitk_geometry(img)
    direction = check_geometry(spacing, origin, direction, p)
    center, width = robust_window(voxels)
    name = p.name.lower()
    suffix = "".join(p.suffixes[-2:]).lower() if name.endswith(".gz") else p.suffix.lower()
    meta = {
        "modality": "MR",  # these formats carry no modality; coloc_viewer assumes MRI
        "modality_assumed": True,
        "series_uid": "",
        "study_uid": "",
        "frame_of_reference_uid": "",
        "description": p.name,
        "window": [center, width],
        "window_source": "percentile",
        "presets": {k: list(v) for k, v in window_presets("MR", voxels, (center, width)).items()},
        "monochrome1": False,
        "units": "",
        "format": suffix.lstrip("."),
        "warnings": warnings,
    }
    return Volume(voxels=voxels, spacing=spacing, origin=origin, direction=direction,
                  metadata=meta, source=str(p))


def to_sitk_image(array_zyx: np.ndarray, like: Volume) -> sitk.Image:
    """A SimpleITK image of ``array_zyx`` with ``like``'s geometry."""
    arr = np.asarray(array_zyx)
    if arr.dtype == bool:
        arr = arr.astype(np.uint8)
    img = sitk.GetImageFromArray(arr)
    img.SetSpacing([float(s) for s in like.spacing[::-1]])
    img.SetOrigin([float(o) for o in like.origin])
    img.SetDirection([float(v) for v in np.asarray(like.direction).reshape(-1)])
    return img
