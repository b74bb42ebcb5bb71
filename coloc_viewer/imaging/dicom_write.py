"""Write a volume as a real, PHI-free DICOM image series (test data, demo cases, benchmarks).

The geometry follows :class:`~coloc_viewer.imaging.volume.Volume`: ``voxels_zyx[k]`` is slice
``k``; ``direction`` columns are the LPS unit vectors of the column (x), row (y) and slice (z)
axes; slice ``k`` sits at ``origin + k * spacing[0] * direction[:, 2]``. Voxels are *physical*
values; the stored integers are ``round((value - intercept) / slope)``.
"""

from __future__ import annotations

import copy
import datetime as _dt
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    UID,
    CTImageStorage,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    MRImageStorage,
    SecondaryCaptureImageStorage,
    generate_uid,
)

__all__ = ["write_dicom_series", "SOP_CLASS_BY_MODALITY"]

SOP_CLASS_BY_MODALITY: dict[str, UID] = {"MR": MRImageStorage, "CT": CTImageStorage}

_UNCOMPRESSED = {ExplicitVRLittleEndian, ImplicitVRLittleEndian, DeflatedExplicitVRLittleEndian,
                 ExplicitVRBigEndian}

Extra = Mapping[str, Any] | Callable[[Dataset, int], None] | None


def _ds(value: float) -> str:
    """A decimal string (DS, at most 16 characters) for ``value``."""
    text = f"{float(value):.10g}"
    if len(text) > 16:
        text = f"{float(value):.6g}"
    return text


def _stored(voxels: np.ndarray, slope: float, intercept: float, dtype: np.dtype) -> np.ndarray:
    if slope == 0:
        raise ValueError("rescale_slope must not be 0")
    raw = np.rint((np.asarray(voxels, dtype=np.float64) - intercept) / slope)
    info = np.iinfo(dtype)
    if raw.size and (raw.min() < info.min or raw.max() > info.max):
        raise ValueError(f"stored values {raw.min()}..{raw.max()} do not fit {dtype.name}; "
                         "change rescale_slope/intercept or dtype")
    return raw.astype(dtype)


def _base_dataset(
    *, modality: str, sop_class: UID, study_uid: str, series_uid: str, for_uid: str,
    series_description: str, patient_name: str, patient_id: str, spacing: Sequence[float],
    direction: np.ndarray, rows: int, cols: int, dtype: np.dtype, slope: float,
    intercept: float, window: tuple[float, float],
) -> Dataset:
    today = _dt.date(2000, 1, 1).strftime("%Y%m%d")  # fixed, non-identifying date
    ds = Dataset()
    ds.SOPClassUID = sop_class
    ds.Modality = modality
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.FrameOfReferenceUID = for_uid
    ds.PatientName = patient_name
    ds.PatientID = patient_id
    ds.PatientBirthDate = ""
    ds.PatientSex = "O"
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = today
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = "120000"
    ds.StudyID = "1"
    ds.AccessionNumber = ""
    ds.ReferringPhysicianName = ""
    ds.SeriesNumber = 1
    ds.SeriesDescription = series_description
    ds.Laterality = ""  # Type 2C (paired body parts): present and empty, as dciodvfy asks
    if modality in ("MR", "CT"):
        ds.PatientPosition = "HFS"  # Type 2C, required for MR and CT images
    ds.Manufacturer = "coloc_viewer"
    ds.PositionReferenceIndicator = ""
    ds.ImageType = ["ORIGINAL", "PRIMARY", "OTHER"]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = rows
    ds.Columns = cols
    ds.BitsAllocated = dtype.itemsize * 8
    ds.BitsStored = dtype.itemsize * 8
    ds.HighBit = dtype.itemsize * 8 - 1
    ds.PixelRepresentation = 1 if dtype.kind == "i" else 0
    ds.PixelSpacing = [_ds(spacing[1]), _ds(spacing[2])]  # row spacing, column spacing
    ds.SliceThickness = _ds(spacing[0])
    ds.SpacingBetweenSlices = _ds(spacing[0])
    ds.ImageOrientationPatient = [_ds(v) for v in (*direction[:, 0], *direction[:, 1])]
    ds.RescaleSlope = _ds(slope)
    ds.RescaleIntercept = _ds(intercept)
    ds.RescaleType = "HU" if modality == "CT" else "US"
    ds.WindowCenter = _ds(window[0])
    ds.WindowWidth = _ds(max(window[1], 1.0))
    if modality == "MR":
        ds.ScanningSequence = "SE"
        ds.SequenceVariant = "NONE"
        ds.ScanOptions = ""
        ds.MRAcquisitionType = "2D"
        ds.EchoTime = "80"
        ds.RepetitionTime = "3000"
        ds.EchoTrainLength = 1
        ds.MagneticFieldStrength = "3"
    elif modality == "CT":
        ds.KVP = "120"
    else:  # Secondary Capture
        ds.ConversionType = "WSD"
        ds.PatientOrientation = ""
    return ds


def write_dicom_series(
    voxels_zyx: np.ndarray,
    folder: str | os.PathLike[str],
    *,
    spacing: Sequence[float] = (1.0, 1.0, 1.0),
    origin: Sequence[float] = (0.0, 0.0, 0.0),
    direction: np.ndarray | Sequence[Sequence[float]] | None = None,
    modality: str = "MR",
    series_description: str = "coloc_viewer synthetic series",
    rescale_slope: float = 1.0,
    rescale_intercept: float = 0.0,
    dtype: str = "uint16",
    study_uid: str | None = None,
    series_uid: str | None = None,
    frame_of_reference_uid: str | None = None,
    patient_name: str = "ANON^DEMO",
    patient_id: str = "DEMO0001",
    file_names: Sequence[str] | None = None,
    instance_numbers: Sequence[int] | None = None,
    transfer_syntax: str = ExplicitVRLittleEndian,
    window: tuple[float, float] | None = None,
    extra: Extra = None,
) -> list[Path]:
    """Write ``voxels_zyx`` (z, y, x; physical values) as one DICOM file per slice.

    * ``spacing`` (z, y, x) mm; ``origin`` LPS (x, y, z) mm of voxel [0, 0, 0]; ``direction``
      3 x 3 with columns = LPS directions of the x, y and slice axes (identity: axial).
    * ``modality`` "MR" (MR Image Storage), "CT" (CT Image Storage) or another code
      (Secondary Capture). ``dtype`` "uint16" or "int16" for the stored values.
    * ``file_names`` (default ``slice_0000.dcm`` ...) and ``instance_numbers`` (default
      1..n) let tests shuffle names and give misleading numbers; ``study_uid``,
      ``series_uid``, ``frame_of_reference_uid`` default to fresh UIDs, so pass the same
      study/frame UIDs to write several series of one study.
    * ``transfer_syntax``: any syntax pydicom can write or encode (explicit/implicit little
      endian, deflated, big endian, RLE, JPEG-LS lossless, JPEG 2000 lossless -- the
      openjpeg encoder needs rows and columns >= 32).
    * ``window``: (center, width) in physical units; default from the data range.
    * ``extra``: keyword -> value set on every slice, or ``f(dataset, k)`` called per slice.

    Returns the written paths in slice order. The folder is created if needed.
    """
    vox = np.asarray(voxels_zyx)
    if vox.ndim == 2:
        vox = vox[np.newaxis]
    if vox.ndim != 3:
        raise ValueError(f"voxels_zyx must be 2-D or 3-D, got shape {vox.shape}")
    n, rows, cols = vox.shape
    np_dtype = np.dtype(dtype)
    if np_dtype not in (np.dtype("uint16"), np.dtype("int16")):
        raise ValueError(f"dtype must be 'uint16' or 'int16', not {dtype!r}")
    direction_m = np.eye(3) if direction is None else np.asarray(direction, float).reshape(3, 3)
    origin_v = np.asarray(origin, float).reshape(3)
    spacing_t = tuple(float(s) for s in spacing)
    transfer_syntax = UID(str(transfer_syntax))
    names = list(file_names) if file_names is not None else [f"slice_{k:04d}.dcm" for k in range(n)]
    numbers = list(instance_numbers) if instance_numbers is not None else list(range(1, n + 1))
    if len(names) != n or len(numbers) != n:
        raise ValueError("file_names and instance_numbers need one entry per slice")

    stored = _stored(vox, float(rescale_slope), float(rescale_intercept), np_dtype)
    if window is None:
        lo, hi = (float(vox.min()), float(vox.max())) if vox.size else (0.0, 1.0)
        window = ((lo + hi) / 2.0, max(hi - lo, 1.0))
    study_uid = study_uid or generate_uid()
    series_uid = series_uid or generate_uid()
    for_uid = frame_of_reference_uid or generate_uid()
    sop_class = SOP_CLASS_BY_MODALITY.get(modality, SecondaryCaptureImageStorage)

    base = _base_dataset(
        modality=modality, sop_class=sop_class, study_uid=study_uid, series_uid=series_uid,
        for_uid=for_uid, series_description=series_description, patient_name=patient_name,
        patient_id=patient_id, spacing=spacing_t, direction=direction_m, rows=rows, cols=cols,
        dtype=np_dtype, slope=float(rescale_slope), intercept=float(rescale_intercept),
        window=(float(window[0]), float(window[1])),
    )
    out_dir = Path(folder)
    out_dir.mkdir(parents=True, exist_ok=True)
    little = transfer_syntax != ExplicitVRBigEndian
    paths: list[Path] = []
    for k in range(n):
        ds = copy.deepcopy(base)  # Dataset.copy() shares the element dict
        sop_uid = generate_uid()
        ds.SOPInstanceUID = sop_uid
        ds.InstanceNumber = int(numbers[k])
        ds.AcquisitionNumber = 1
        position = origin_v + k * spacing_t[0] * direction_m[:, 2]
        ds.ImagePositionPatient = [_ds(v) for v in position]
        ds.SliceLocation = _ds(float(position @ direction_m[:, 2]))
        plane = stored[k]
        if not little:
            plane = plane.astype(plane.dtype.newbyteorder(">"))
        ds.PixelData = np.ascontiguousarray(plane).tobytes()
        ds["PixelData"].VR = "OW"
        if callable(extra):
            extra(ds, k)
        elif extra:
            for key, value in extra.items():
                setattr(ds, key, value)

        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = ds.SOPClassUID
        meta.MediaStorageSOPInstanceUID = sop_uid
        meta.TransferSyntaxUID = transfer_syntax if transfer_syntax in _UNCOMPRESSED \
            else ExplicitVRLittleEndian
        meta.ImplementationClassUID = pydicom.uid.PYDICOM_IMPLEMENTATION_UID
        ds.file_meta = meta
        if transfer_syntax not in _UNCOMPRESSED:
            ds.compress(transfer_syntax)
        path = out_dir / names[k]
        path.parent.mkdir(parents=True, exist_ok=True)
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths
