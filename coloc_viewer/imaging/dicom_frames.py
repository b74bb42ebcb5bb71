"""One :class:`FrameHeader` per 2-D frame of a DICOM image, with its integrity checks.

Before any pixel is read, the header is checked against the file (docs/imaging.md, "Limits"
and "Errors"): the declared frame count against ``MAX_FRAMES`` and, for encapsulated
(compressed) data, against the number of fragments; uncompressed pixel data against
Rows x Columns x frames (4:2:2 subsampling and 1-bit packing included); spacing, positions
and orientation must be finite, spacings positive, orientations orthonormal. A failed check
is a ``ValueError`` whose message the scanner reports as the file's skip reason.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.uid import (
    UID,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    RLELossless,
)

from coloc_viewer.imaging.guards import ORTHONORMAL_TOLERANCE, expected_pixel_bytes
from coloc_viewer.imaging.sources import FileRef, open_source
from coloc_viewer.limits import MAX_FRAMES

__all__ = ["FrameHeader", "frames_from_dataset", "count_fragments", "FAST_SYNTAXES"]

FAST_SYNTAXES = {ExplicitVRLittleEndian: "<", ImplicitVRLittleEndian: "<",
                 ExplicitVRBigEndian: ">"}
_UNDEFINED = 0xFFFFFFFF


@dataclass
class FrameHeader:
    """Everything needed to group, sort and decode one 2-D image."""

    ref: FileRef
    frame: int  # frame index inside the file (0 for single-frame files)
    n_frames: int
    series_uid: str
    study_uid: str
    frame_of_reference_uid: str
    sop_class: str
    sop_instance_uid: str
    modality: str
    description: str
    rows: int
    cols: int
    position: np.ndarray | None  # ImagePositionPatient (x, y, z) mm
    orientation: np.ndarray | None  # ImageOrientationPatient, 6 values
    pixel_spacing: tuple[float, float] | None  # (row spacing, column spacing) mm
    slice_thickness: float | None
    spacing_between_slices: float | None
    slope: float
    intercept: float
    modality_lut_sequence: bool
    window: tuple[float, float] | None
    photometric: str
    samples_per_pixel: int
    bits_allocated: int
    bits_stored: int
    pixel_representation: int
    transfer_syntax: str
    echo_time: float | None
    temporal_position: float | None
    instance_number: int | None
    units: str
    pixel_offset: int | None = None  # byte offset of this frame's values (fast path) or None
    byte_order: str = "<"
    private: dict[str, Any] = field(default_factory=dict, repr=False)
    derived_position: bool = False  # position computed (legacy multi-frame), not read

    @property
    def frame_bytes(self) -> int:
        return self.rows * self.cols * self.samples_per_pixel * (self.bits_allocated // 8)



def _float(value: Any) -> float | None:
    try:
        if value is None or value == "":
            return None
        if isinstance(value, list | tuple | pydicom.multival.MultiValue):
            value = value[0]
        out = float(value)
        return out if math.isfinite(out) else None
    except (TypeError, ValueError, IndexError):
        return None


def _floats(value: Any, n: int, name: str = "") -> np.ndarray | None:
    """``n`` numbers, or None when absent or not ``n`` numbers; ValueError (naming ``name``)
    when they are present but not finite."""
    try:
        arr = np.asarray([float(v) for v in value], dtype=float)
    except (TypeError, ValueError):
        return None
    if arr.shape != (n,):
        return None
    if not np.all(np.isfinite(arr)):
        if name:
            raise ValueError(f"invalid {name} {_fmt(arr)} (not finite)")
        return None
    return arr


def _fmt(arr: np.ndarray) -> str:
    return "[" + ", ".join(f"{float(v):.4g}" for v in arr) + "]"


def _spacing(value: Any, name: str) -> np.ndarray | None:
    """Pixel spacing; 0\\0 means "unknown" (as missing: 1 mm assumed with a warning)."""
    arr = _floats(value, 2, name)
    if arr is not None and np.all(arr == 0):
        return None
    if arr is not None and np.any(arr <= 0):
        raise ValueError(f"invalid {name} {_fmt(arr)} (must be positive)")
    return arr


def _orientation(value: Any) -> np.ndarray | None:
    arr = _floats(value, 6, "ImageOrientationPatient")
    if arr is None:
        return None
    row, col = arr[:3], arr[3:]
    if abs(np.linalg.norm(row) - 1) > ORTHONORMAL_TOLERANCE or \
            abs(np.linalg.norm(col) - 1) > ORTHONORMAL_TOLERANCE or \
            abs(float(row @ col)) > ORTHONORMAL_TOLERANCE:
        raise ValueError(f"invalid ImageOrientationPatient {_fmt(arr)} (not two orthogonal "
                         "unit vectors)")
    return arr


def count_fragments(fh: BinaryIO, offset: int, limit: int = 1_000_000) -> tuple[int, int]:
    """(fragments, Basic Offset Table entries) of encapsulated pixel data whose first item
    starts at ``offset``, walking at most ``limit`` items (headers only); ValueError when the
    data ends before its sequence delimiter."""
    fh.seek(offset)
    count, first, bot = 0, True, 0
    while count < limit:
        head = fh.read(8)
        if len(head) < 8:
            raise ValueError("truncated file: encapsulated pixel data ends early")
        group, elem = int.from_bytes(head[:2], "little"), int.from_bytes(head[2:4], "little")
        length = int.from_bytes(head[4:], "little")
        if (group, elem) == (0xFFFE, 0xE0DD):  # sequence delimiter
            break
        if (group, elem) != (0xFFFE, 0xE000) or length == _UNDEFINED:
            raise ValueError("malformed encapsulated pixel data (bad item tag)")
        pos = fh.tell() + length
        fh.seek(0, 2)
        if pos > fh.tell():
            raise ValueError("truncated file: encapsulated pixel data ends early")
        fh.seek(pos)
        if first:
            first, bot = False, length // 4  # the Basic Offset Table is not a fragment
        else:
            count += 1
    return count, bot


def _int(value: Any, default: int) -> int:
    """An integer attribute; ``default`` only when absent or empty (0 stays 0)."""
    return default if value is None or str(value).strip() == "" else int(value)


def _check_pixel_attributes(allocated: int, stored: int, representation: int,
                            samples: int) -> None:
    """The Image Pixel module's values pydicom (and the standard) accept."""
    if allocated != 1 and (allocated % 8 or not 8 <= allocated <= 64):
        raise ValueError(f"invalid BitsAllocated {allocated}")
    if not 1 <= stored <= allocated:
        raise ValueError(f"invalid BitsStored {stored} (BitsAllocated {allocated})")
    if representation not in (0, 1):
        raise ValueError(f"invalid PixelRepresentation {representation}")
    if samples not in (1, 3):
        raise ValueError(f"invalid SamplesPerPixel {samples}")


def _check_pixel_data(ref: FileRef, ts: str, pixel: tuple[int, int] | None, rows: int,
                      cols: int, samples: int, bits: int, n_frames: int,
                      photometric: str, data: bytes | None) -> None:
    """Pixel data against the header: byte counts (native) or fragments (encapsulated).
    ``data``: the file's content when it is in memory (read instead of ``ref``)."""
    if pixel is None or pixel[0] < 0:
        return
    value_offset, length = pixel
    uid = UID(ts)
    size = len(data) if data is not None else ref.size()
    if length == _UNDEFINED:
        if not uid.is_compressed:
            return  # malformed; pydicom decides
        with open_source(ref, data)[0] as fh:
            n, bot = count_fragments(fh, value_offset)
        if n < n_frames or (uid == RLELossless and n != n_frames):
            raise ValueError(f"header declares {n_frames} frames but the encapsulated pixel "
                             f"data holds {n} fragment(s)")
        if bot and bot != n_frames:
            raise ValueError(f"header declares {n_frames} frames but the Basic Offset Table "
                             f"lists {bot}")
        return
    if value_offset + length > size:
        raise ValueError("truncated file: pixel data ends early")
    if uid.is_compressed or uid.is_deflated:
        return
    expected = expected_pixel_bytes(rows, cols, samples, bits, n_frames, photometric)
    frame = max(1, expected // n_frames)
    if length < expected:
        raise ValueError(f"pixel data holds {length} bytes, Rows x Columns x frames "
                         f"needs {expected}")
    if length - expected >= frame:
        raise ValueError(f"pixel data holds {length} bytes, more than the {expected} that "
                         f"Rows x Columns x frames needs (wrong NumberOfFrames?)")



def _item(ds: Dataset | None, seq: str) -> Dataset | None:
    if ds is None:
        return None
    value = ds.get(seq)
    if value is None or len(value) == 0:
        return None
    return value[0]


def frames_from_dataset(ref: FileRef, ds: Any, ts: str,
                         pixel: tuple[int, int] | None, data: bytes | None = None
                         ) -> list[FrameHeader]:
    """The frames of a parsed header; ``data``, the file's content when it is in memory."""
    if "Rows" not in ds or "Columns" not in ds:
        raise ValueError("image without Rows/Columns")
    rows, cols = int(ds.Rows), int(ds.Columns)
    n_frames = _int(ds.get("NumberOfFrames"), 1)
    if rows <= 0 or cols <= 0 or n_frames <= 0:
        raise ValueError(f"invalid image size {n_frames} x {rows} x {cols}")
    if n_frames > MAX_FRAMES:
        raise ValueError(f"header declares {n_frames} frames (the limit is {MAX_FRAMES})")
    bits_alloc = int(ds.get("BitsAllocated", 16))
    samples = _int(ds.get("SamplesPerPixel"), 1)
    _check_pixel_attributes(bits_alloc, _int(ds.get("BitsStored"), bits_alloc),
                            _int(ds.get("PixelRepresentation"), 0), samples)
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).strip().upper()
    _check_pixel_data(ref, ts, pixel, rows, cols, samples, bits_alloc, n_frames, photometric,
                      data)
    modality = str(ds.get("Modality", "") or "OT")
    shared = _item(ds, "SharedFunctionalGroupsSequence")
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")

    # Pixel offset for the uncompressed fast path (8-bit big endian data may be OW, whose
    # byte pairs are swapped on disk: pydicom reads those).
    offset: int | None = None
    order = FAST_SYNTAXES.get(UID(ts), "")
    frame_bytes = rows * cols * samples * bits_alloc // 8
    if order and pixel is not None and pixel[0] >= 0 and ref.member is None \
            and pixel[1] != _UNDEFINED and bits_alloc in (8, 16, 32) and samples == 1 \
            and not (order == ">" and bits_alloc == 8):
        offset = pixel[0]
    top_pos = _floats(ds.get("ImagePositionPatient", []), 3, "ImagePositionPatient")
    top_ori = _orientation(ds.get("ImageOrientationPatient", []))
    top_ps = _spacing(ds.get("PixelSpacing", []) or ds.get("ImagerPixelSpacing", []),
                      "PixelSpacing")
    top_thick = _float(ds.get("SliceThickness"))
    top_sbs = _float(ds.get("SpacingBetweenSlices"))
    slope = _float(ds.get("RescaleSlope"))
    intercept = _float(ds.get("RescaleIntercept"))
    wc, ww = _float(ds.get("WindowCenter")), _float(ds.get("WindowWidth"))
    echo = _float(ds.get("EchoTime"))
    temporal = _float(ds.get("TemporalPositionIdentifier"))
    units = str(ds.get("RescaleType", "") or ("HU" if modality == "CT" else ""))
    sh_pvt = _item(shared, "PixelValueTransformationSequence")
    if sh_pvt is not None:
        slope = _float(sh_pvt.get("RescaleSlope")) if slope is None else slope
        intercept = _float(sh_pvt.get("RescaleIntercept")) if intercept is None else intercept
        units = units or str(sh_pvt.get("RescaleType", "") or "")

    common = dict(
        ref=ref, n_frames=n_frames,
        series_uid=str(ds.get("SeriesInstanceUID", "") or ""),
        study_uid=str(ds.get("StudyInstanceUID", "") or ""),
        frame_of_reference_uid=str(ds.get("FrameOfReferenceUID", "") or ""),
        sop_class=str(ds.get("SOPClassUID", "") or ""),
        sop_instance_uid=str(ds.get("SOPInstanceUID", "") or ""),
        modality=modality, description=str(ds.get("SeriesDescription", "") or ""),
        rows=rows, cols=cols, modality_lut_sequence="ModalityLUTSequence" in ds,
        photometric=photometric,
        samples_per_pixel=samples, bits_allocated=bits_alloc,
        bits_stored=int(ds.get("BitsStored", bits_alloc) or bits_alloc),
        pixel_representation=int(ds.get("PixelRepresentation", 0) or 0), transfer_syntax=ts,
        instance_number=None if (num := _float(ds.get("InstanceNumber"))) is None else int(num),
        units=units, byte_order=order or "<",
        private={"patient_name": str(ds.get("PatientName", "") or ""),
                 "patient_id": str(ds.get("PatientID", "") or ""),
                 "accession_number": str(ds.get("AccessionNumber", "") or "")},
    )

    frames: list[FrameHeader] = []
    legacy_step = top_sbs or top_thick
    normal = None
    if n_frames > 1 and top_ori is not None:
        normal = np.cross(top_ori[:3], top_ori[3:])
    for i in range(n_frames):
        pos, ori, ps, thick, sbs = top_pos, top_ori, top_ps, top_thick, top_sbs
        f_slope, f_int, f_win, f_echo, f_temp = slope, intercept, (wc, ww), echo, temporal
        derived = False
        pf = per_frame[i] if per_frame is not None and i < len(per_frame) else None
        if pf is not None or shared is not None:
            def grp(name: str, pf: Dataset | None = pf) -> Dataset | None:
                return _item(pf, name) or _item(shared, name)

            if (g := grp("PlanePositionSequence")) is not None:
                pos = _floats(g.get("ImagePositionPatient", []), 3, "ImagePositionPatient")
            if (g := grp("PlaneOrientationSequence")) is not None:
                ori = _orientation(g.get("ImageOrientationPatient", []))
            if (g := grp("PixelMeasuresSequence")) is not None:
                ps = _spacing(g.get("PixelSpacing", []), "PixelSpacing") \
                    if "PixelSpacing" in g else ps
                thick = _float(g.get("SliceThickness")) or thick
                sbs = _float(g.get("SpacingBetweenSlices")) or sbs
            if (g := grp("PixelValueTransformationSequence")) is not None:
                f_slope = _float(g.get("RescaleSlope"))
                f_int = _float(g.get("RescaleIntercept"))
            if (g := grp("FrameVOILUTSequence")) is not None:
                f_win = (_float(g.get("WindowCenter")), _float(g.get("WindowWidth")))
            if (g := grp("MREchoSequence")) is not None:
                f_echo = _float(g.get("EffectiveEchoTime"))
            if (g := grp("FrameContentSequence")) is not None:
                f_temp = _float(g.get("TemporalPositionIndex")) or f_temp
        elif n_frames > 1 and pos is not None and normal is not None:
            offsets = ds.get("GridFrameOffsetVector")
            if offsets is not None and len(offsets) == n_frames:
                step_mm = float(offsets[i])
            else:
                step_mm = i * float(legacy_step or 1.0)
            pos = pos + step_mm * normal
            derived = True
        window = (f_win[0], f_win[1]) if f_win[0] is not None and f_win[1] else None
        frames.append(FrameHeader(
            frame=i, position=pos, orientation=ori,
            pixel_spacing=(float(ps[0]), float(ps[1])) if ps is not None else None,
            slice_thickness=thick, spacing_between_slices=sbs,
            slope=1.0 if f_slope is None else f_slope,
            intercept=0.0 if f_int is None else f_int,
            window=window, echo_time=f_echo, temporal_position=f_temp,
            pixel_offset=None if offset is None else offset + i * frame_bytes,
            derived_position=derived, **common))
    return frames

