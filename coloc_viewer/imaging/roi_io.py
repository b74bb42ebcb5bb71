"""Reading and writing ROIs: label maps (NIfTI, NRRD, Slicer ``.seg.nrrd``) and DICOM SEG.

Formats by suffix:

* ``.nii``, ``.nii.gz``, ``.nrrd``, ``.mha``: a label map on the volume grid. Each ROI has a
  label value; overlapping ROIs go to separate *layers* (a multi-component image, one
  component per layer). A JSON sidecar ``<file>.labels.json`` names the labels (name,
  label, layer, colour, code, category, visible, locked). Without a sidecar every distinct
  non-zero value becomes an ROI named ``ROI <value>`` (so a 0/1 mask is "ROI 1").
* ``.seg.nrrd``: the same label map with 3D Slicer's segment keys in the NRRD header
  (``Segment<i>_Name``, ``_LabelValue``, ``_Layer``, ``_Color``, ``_Terminology``) and no
  sidecar.
* ``.dcm``: DICOM SEG (highdicom), one segment per ROI with its name and SNOMED codes,
  referencing the volume's source DICOM images in slice order.

Geometry is checked on reading: a file whose grid does not match the volume is an
:class:`InputError`. Writes are atomic (temporary file in the same folder, then
``os.replace``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from coloc_viewer.errors import InputError
from coloc_viewer.imaging.roi import RoiSet
from coloc_viewer.imaging.roi_dicom_seg import load_dicom_seg, save_dicom_seg
from coloc_viewer.imaging.roi_files import SIDECAR_SUFFIX, check_geometry, sidecar_path
from coloc_viewer.imaging.roi_labelmap_io import load_labelmap, save_labelmap
from coloc_viewer.imaging.volume import Volume

__all__ = ["SIDECAR_SUFFIX", "check_geometry", "load_roi", "load_rois", "save_roi", "save_rois",
           "sidecar_path"]

_LABEL_SUFFIXES = (".nii", ".nii.gz", ".nrrd", ".mha", ".mhd")


def _kind(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".seg.nrrd"):
        return "seg.nrrd"
    if name.endswith(".dcm"):
        return "dicom-seg"
    if name.endswith(_LABEL_SUFFIXES):
        return "labelmap"
    raise InputError("unknown ROI format (use .nii.gz, .nii, .nrrd, .seg.nrrd, .mha or .dcm)",
                     path)


# -- public API ----------------------------------------------------------------------------
def load_rois(path: str | os.PathLike[str], like: Volume, default_name: str = "ROI 1") -> RoiSet:
    """All ROIs of a file (label map + sidecar, .seg.nrrd, or DICOM SEG) on ``like``'s grid."""
    p = Path(path)
    if not p.exists():
        raise InputError("no such file", p)
    kind = _kind(p)
    if kind == "dicom-seg":
        return load_dicom_seg(p, like)
    return load_labelmap(p, like, default_name, slicer=kind == "seg.nrrd")


def save_rois(roiset: RoiSet, path: str | os.PathLike[str], like: Volume) -> Path:
    """Write every ROI of ``roiset`` (format from the suffix); returns the path written."""
    p = Path(path)
    if roiset.shape != like.shape:
        raise InputError(f"ROI grid {roiset.shape} does not match the volume {like.shape}", p)
    kind = _kind(p)
    if kind == "dicom-seg":
        save_dicom_seg(roiset, p, like)
    else:
        save_labelmap(roiset, p, like, slicer=kind == "seg.nrrd")
    return p


def load_roi(path: str | os.PathLike[str], like: Volume, name: str | None = None) -> np.ndarray:
    """One boolean mask (z, y, x) on ``like``'s grid.

    For a file with several ROIs, ``name`` selects one; without it the first ROI (label 1
    of a plain label map, segment 1 of a SEG) is returned.
    """
    rois = load_rois(path, like)
    if name is None:
        return rois[0].mask
    if name not in rois:
        raise InputError(f"no ROI named {name!r} (available: {', '.join(rois.names)})", path)
    return rois[name].mask


def save_roi(mask: np.ndarray, path: str | os.PathLike[str], like: Volume,
             name: str = "ROI 1") -> Path:
    """Write one boolean mask on ``like``'s grid (format from the suffix)."""
    m = np.asarray(mask, dtype=bool)
    if m.ndim == 2 and like.shape[0] == 1:
        m = m[np.newaxis]
    if m.shape != like.shape:
        raise InputError(f"mask shape {m.shape} does not match the volume {like.shape}", path)
    return save_rois(RoiSet.from_mask(m, like.spacing, name=name), path, like)
