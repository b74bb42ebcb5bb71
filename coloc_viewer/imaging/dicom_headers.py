"""Header-only reading of DICOM files: one :class:`FrameHeader` per 2-D image (frame).

No pixel data is decoded here. For uncompressed little/big endian files the byte offset of
the pixel values is recorded so that :mod:`dicom_decode` can read them straight into the
output array.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)

from coloc_viewer.errors import InputError
from coloc_viewer.imaging.fast_header import NEED_MORE, FastHeader, parse_fast_header
from coloc_viewer.imaging.sources import FileRef

__all__ = ["FrameHeader", "NonImageObject", "read_headers", "NON_IMAGE_SOP_CLASSES"]

#: Storage classes that are listed by ``scan`` but never loaded as images (prefix match).
NON_IMAGE_SOP_CLASSES: dict[str, str] = {
    "1.2.840.10008.5.1.4.1.1.88.": "structured report",
    "1.2.840.10008.5.1.4.1.1.481.2": "RT dose",
    "1.2.840.10008.5.1.4.1.1.481.3": "RT structure set",
    "1.2.840.10008.5.1.4.1.1.481.5": "RT plan",
    "1.2.840.10008.5.1.4.1.1.481.": "RT object",
    "1.2.840.10008.5.1.4.1.1.9.": "waveform",
    "1.2.840.10008.5.1.4.1.1.11.": "presentation state",
    "1.2.840.10008.5.1.4.1.1.66.4": "segmentation (SEG)",
    "1.2.840.10008.5.1.4.1.1.66": "raw data / registration",
    "1.2.840.10008.5.1.4.1.1.104.": "encapsulated document",
    "1.2.840.10008.5.1.4.1.1.67": "real world value mapping",
    "1.2.840.10008.1.3.10": "media storage directory",
    "1.2.840.10008.5.1.4.1.1.481.9": "RT ion plan",
}
_NON_IMAGE_MODALITIES = {"SR": "structured report", "RTSTRUCT": "RT structure set",
                         "RTPLAN": "RT plan", "RTDOSE": "RT dose", "SEG": "segmentation (SEG)",
                         "PR": "presentation state", "ECG": "waveform", "KO": "key object",
                         "REG": "registration", "DOC": "encapsulated document"}
_FAST_SYNTAXES = {ExplicitVRLittleEndian: "<", ImplicitVRLittleEndian: "<",
                  ExplicitVRBigEndian: ">"}
_FIRST_READ = 65536
_PIXEL_TAG = {"<": b"\xe0\x7f\x10\x00", ">": b"\x7f\xe0\x00\x10"}
_LONG_VRS = {b"OB", b"OW", b"OD", b"OF", b"OL", b"OV", b"SQ", b"UC", b"UN", b"UR", b"UT", b"SV",
             b"UV"}


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


@dataclass
class NonImageObject:
    """A DICOM object that is not an image (SR, RT*, SEG, waveform, presentation state...)."""

    ref: FileRef
    kind: str
    modality: str
    series_uid: str
    sop_class: str
    description: str


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


def _floats(value: Any, n: int) -> np.ndarray | None:
    try:
        arr = np.asarray([float(v) for v in value], dtype=float)
    except (TypeError, ValueError):
        return None
    if arr.shape != (n,) or not np.all(np.isfinite(arr)):
        return None
    return arr


def _item(ds: Dataset | None, seq: str) -> Dataset | None:
    if ds is None:
        return None
    value = ds.get(seq)
    if value is None or len(value) == 0:
        return None
    return value[0]


def _non_image_kind(ds: Dataset, has_pixels: bool) -> str | None:
    sop = str(ds.get("SOPClassUID", ""))
    for prefix, kind in NON_IMAGE_SOP_CLASSES.items():
        if sop.startswith(prefix):
            return kind
    modality = str(ds.get("Modality", "")).upper()
    if modality in _NON_IMAGE_MODALITIES:
        return _NON_IMAGE_MODALITIES[modality]
    if not has_pixels:
        return "no pixel data"
    return None


def _pixel_value_offset(raw: bytes, stop: int, order: str, implicit: bool) -> tuple[int, int]:
    """(value offset, value length) of the top-level Pixel Data element near byte ``stop``."""
    tag = _PIXEL_TAG[order]
    idx = raw.rfind(tag, max(0, stop - 16), stop + 16)
    if idx < 0:
        raise ValueError("pixel data element not found")
    endian = "little" if order == "<" else "big"
    if implicit:
        return idx + 8, int.from_bytes(raw[idx + 4:idx + 8], endian)
    vr = raw[idx + 4:idx + 6]
    if vr in _LONG_VRS:
        return idx + 12, int.from_bytes(raw[idx + 8:idx + 12], endian)
    return idx + 8, int.from_bytes(raw[idx + 6:idx + 8], endian)


def _looks_like_dicom(raw: bytes, ds: Dataset) -> bool:
    if raw[128:132] == b"DICM":
        return True
    # No preamble: accept only when real identifying attributes were parsed.
    return bool(ds.get("SOPClassUID") or ("Rows" in ds and "Columns" in ds))


def _starts_like_dataset(head: bytes) -> bool:
    """A file without preamble must start with a group 0x0002/0x0008 element (either endian)."""
    if len(head) < 8:
        return False
    return head[:2] in (b"\x02\x00", b"\x08\x00", b"\x00\x02", b"\x00\x08")


def _read_dataset(ref: FileRef) -> tuple[Dataset, bytes, int]:
    """Parse the header (no pixels); returns the dataset, the raw prefix and its stop offset."""
    with ref.open() as fh:
        head = fh.read(132)
        if not head:
            raise ValueError("empty file (0 bytes)")
        if head[128:132] != b"DICM" and not _starts_like_dataset(head):
            raise ValueError("not a DICOM file")
        fh.seek(0)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ds = pydicom.dcmread(fh, stop_before_pixels=True, force=True)
        except (InvalidDicomError, Exception) as exc:  # noqa: BLE001
            raise ValueError(f"not a readable DICOM file ({type(exc).__name__})") from None
        stop = fh.tell()
        fh.seek(0)
        raw = fh.read(stop + 32)
    if not _looks_like_dicom(raw, ds):
        raise ValueError("not a DICOM file")
    return ds, raw, stop


def _transfer_syntax(ds: Dataset) -> str:
    meta = getattr(ds, "file_meta", None)
    ts = meta.get("TransferSyntaxUID") if meta is not None else None
    if ts:
        return str(ts)
    # No meta header: pydicom inferred the encoding while reading.
    if getattr(ds, "is_little_endian", True) is False:
        return str(ExplicitVRBigEndian)
    return str(ImplicitVRLittleEndian if getattr(ds, "is_implicit_VR", False)
               else ExplicitVRLittleEndian)


def read_headers(ref: FileRef) -> list[FrameHeader] | NonImageObject:
    """The frames of one DICOM file (header only) or, for non-image objects, a listing.

    Raises ``ValueError`` with a short reason for files that are not usable DICOM images.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pydicom warns about every odd value
            return _read_headers(ref)
    except ValueError:
        raise
    except OSError as exc:
        raise ValueError(f"cannot read file ({exc.strerror or exc})") from None
    except Exception as exc:  # noqa: BLE001 - malformed files break parsers in many ways
        raise ValueError(f"malformed DICOM header ({type(exc).__name__})") from None


def _read_headers(ref: FileRef) -> list[FrameHeader] | NonImageObject:
    with ref.open() as fh:
        raw = fh.read(_FIRST_READ)
        if not raw:
            raise ValueError("empty file (0 bytes)")
        fast = parse_fast_header(raw)
        if fast is NEED_MORE:
            raw += fh.read()
            fast = parse_fast_header(raw)
    if isinstance(fast, FastHeader):
        ds: Any = fast
        ts = fast.transfer_syntax
        pixel = fast.pixel
    else:
        ds, raw, stop = _read_dataset(ref)
        ts = _transfer_syntax(ds)
        pixel = _pydicom_pixel_element(raw, stop, ts)
        if pixel is None and UID(ts) == DeflatedExplicitVRLittleEndian and "Rows" in ds:
            pixel = (-1, 0)  # inflated stream: offsets unknown, pixels decoded by pydicom
    kind = _non_image_kind(ds, pixel is not None)
    if kind is not None:
        return NonImageObject(ref, kind, str(ds.get("Modality", "")),
                              str(ds.get("SeriesInstanceUID", "")), str(ds.get("SOPClassUID", "")),
                              str(ds.get("SeriesDescription", "")))
    try:
        return _frames_from_dataset(ref, ds, ts, pixel)
    except (AttributeError, TypeError, KeyError, IndexError) as exc:
        raise ValueError(f"incomplete image header ({type(exc).__name__}: {exc})") from None


def _pydicom_pixel_element(raw: bytes, stop: int, ts: str) -> tuple[int, int] | None:
    """(value offset, length) of Pixel Data after a pydicom header parse, or None."""
    order = _FAST_SYNTAXES.get(UID(ts))
    for o in ([order] if order else ["<", ">"]):
        try:
            return _pixel_value_offset(raw, stop, o, UID(ts) == ImplicitVRLittleEndian)
        except ValueError:
            continue
    return None


def _frames_from_dataset(ref: FileRef, ds: Any, ts: str,
                         pixel: tuple[int, int] | None) -> list[FrameHeader]:
    if "Rows" not in ds or "Columns" not in ds:
        raise ValueError("image without Rows/Columns")
    rows, cols = int(ds.Rows), int(ds.Columns)
    n_frames = int(ds.get("NumberOfFrames", 1) or 1)
    if rows <= 0 or cols <= 0 or n_frames <= 0:
        raise ValueError(f"invalid image size {n_frames} x {rows} x {cols}")
    bits_alloc = int(ds.get("BitsAllocated", 16))
    samples = int(ds.get("SamplesPerPixel", 1) or 1)
    modality = str(ds.get("Modality", "") or "OT")
    shared = _item(ds, "SharedFunctionalGroupsSequence")
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")

    # Pixel offset for the uncompressed fast path.
    offset: int | None = None
    order = _FAST_SYNTAXES.get(UID(ts), "")
    frame_bytes = rows * cols * samples * bits_alloc // 8
    if order and pixel is not None and pixel[0] >= 0 and ref.member is None:
        value_offset, length = pixel
        expected = frame_bytes * n_frames
        if length != 0xFFFFFFFF and ref.size() < value_offset + min(length, expected):
            raise ValueError("truncated file: pixel data ends early")
        if length != 0xFFFFFFFF and not UID(ts).is_compressed and length < expected:
            raise ValueError(f"pixel data holds {length} bytes, Rows x Columns x frames "
                             f"needs {expected}")
        if bits_alloc in (8, 16, 32) and samples == 1 and length in (expected, expected + 1):
            offset = value_offset
    top_pos = _floats(ds.get("ImagePositionPatient", []), 3)
    top_ori = _floats(ds.get("ImageOrientationPatient", []), 6)
    top_ps = _floats(ds.get("PixelSpacing", []) or ds.get("ImagerPixelSpacing", []), 2)
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
        photometric=str(ds.get("PhotometricInterpretation", "MONOCHROME2")).strip().upper(),
        samples_per_pixel=samples, bits_allocated=bits_alloc,
        bits_stored=int(ds.get("BitsStored", bits_alloc) or bits_alloc),
        pixel_representation=int(ds.get("PixelRepresentation", 0) or 0), transfer_syntax=ts,
        instance_number=None if (num := _float(ds.get("InstanceNumber"))) is None else int(num),
        units=units, byte_order=order or "<",
        private={"patient_name": str(ds.get("PatientName", "") or "")},
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
                pos = _floats(g.get("ImagePositionPatient", []), 3)
            if (g := grp("PlaneOrientationSequence")) is not None:
                ori = _floats(g.get("ImageOrientationPatient", []), 6)
            if (g := grp("PixelMeasuresSequence")) is not None:
                ps = _floats(g.get("PixelSpacing", []), 2) if "PixelSpacing" in g else ps
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


def header_reason(ref: FileRef) -> str | None:
    """Why ``ref`` cannot be read as a DICOM image (None when it can)."""
    try:
        out = read_headers(ref)
    except (ValueError, OSError, InputError) as exc:
        return str(exc)
    if isinstance(out, NonImageObject):
        return f"not an image ({out.kind})"
    return None
