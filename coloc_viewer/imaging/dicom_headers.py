"""Header-only reading of DICOM files: one :class:`FrameHeader` per 2-D image (frame).

No pixel data is decoded here. For uncompressed little/big endian files the byte offset of
the pixel values is recorded so that :mod:`dicom_decode` can read them straight into the
output array.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, BinaryIO

from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.filereader import read_partial
from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)

from coloc_viewer.errors import InputError
from coloc_viewer.imaging.dicom_frames import FAST_SYNTAXES, FrameHeader, frames_from_dataset
from coloc_viewer.imaging.fast_header import NEED_MORE, FastHeader, parse_fast_header
from coloc_viewer.imaging.sources import FileRef, open_source

__all__ = ["FrameHeader", "NonImageObject", "read_headers", "read_bounded",
           "NON_IMAGE_MODALITIES", "NON_IMAGE_SOP_CLASSES"]

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
#: Modalities that are never images (what the object is, for messages).
NON_IMAGE_MODALITIES = {"SR": "structured report", "RTSTRUCT": "RT structure set",
                        "RTPLAN": "RT plan", "RTDOSE": "RT dose", "SEG": "segmentation (SEG)",
                        "PR": "presentation state", "ECG": "waveform", "KO": "key object",
                        "REG": "registration", "DOC": "encapsulated document"}
_FIRST_READ = 65536
_PIXEL_TAG = {"<": b"\xe0\x7f\x10\x00", ">": b"\x7f\xe0\x00\x10"}
_LONG_VRS = {b"OB", b"OW", b"OD", b"OF", b"OL", b"OV", b"SQ", b"UC", b"UN", b"UR", b"UT", b"SV",
             b"UV"}


@dataclass
class NonImageObject:
    """A DICOM object that is not an image (SR, RT*, SEG, waveform, presentation state...)."""

    ref: FileRef
    kind: str
    modality: str
    series_uid: str
    sop_class: str
    description: str


def _non_image_kind(ds: Dataset, has_pixels: bool) -> str | None:
    sop = str(ds.get("SOPClassUID", ""))
    for prefix, kind in NON_IMAGE_SOP_CLASSES.items():
        if sop.startswith(prefix):
            return kind
    modality = str(ds.get("Modality", "")).upper()
    if modality in NON_IMAGE_MODALITIES:
        return NON_IMAGE_MODALITIES[modality]
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
    vr = raw[idx + 4:idx + 6]
    if implicit or not vr.isalpha():  # some writers switch to implicit VR mid-file
        return idx + 8, int.from_bytes(raw[idx + 4:idx + 8], endian)
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


_PIXEL_TAGS = {0x7FE00008, 0x7FE00009, 0x7FE00010}


def read_bounded(fh: BinaryIO, size: int, stop_before_pixels: bool = False) -> Dataset:
    """``pydicom.dcmread(fh, force=True)`` that never reads a value longer than the file
    (a damaged length ends the parse instead of allocating it) nor anything after the
    top-level pixel data (trailing bytes are not part of the image)."""
    def stop(tag: int, _vr: str | None, length: int) -> bool:
        if tag in _PIXEL_TAGS:
            return stop_before_pixels
        return tag > 0x7FE00010 or (length != 0xFFFFFFFF and length > size)

    return read_partial(fh, stop_when=stop, force=True)


def _read_dataset(ref: FileRef, data: bytes | None = None) -> tuple[Dataset, bytes, int]:
    """Parse the header (no pixels); returns the dataset, the raw prefix and its stop offset."""
    source, size = open_source(ref, data)
    with source as fh:
        head = fh.read(132)
        if not head:
            raise ValueError("empty file (0 bytes)")
        if head[128:132] != b"DICM" and not _starts_like_dataset(head):
            raise ValueError("not a DICOM file")
        fh.seek(0)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ds = read_bounded(fh, size, stop_before_pixels=True)
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


def read_headers(ref: FileRef, data: bytes | None = None) -> list[FrameHeader] | NonImageObject:
    """The frames of one DICOM file (header only) or, for non-image objects, a listing.
    ``data``: the file's whole content when it is in memory already (a retrieval that
    just wrote it); the result is the same as reading ``ref``.

    Raises ``ValueError`` with a short reason for files that are not usable DICOM images.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pydicom warns about every odd value
            return _read_headers(ref, data)
    except ValueError:
        raise
    except OSError as exc:
        raise ValueError(f"cannot read file ({exc.strerror or exc})") from None
    except Exception as exc:  # noqa: BLE001 - malformed files break parsers in many ways
        raise ValueError(f"malformed DICOM header ({type(exc).__name__})") from None


def _read_headers(ref: FileRef, data: bytes | None = None) -> list[FrameHeader] | NonImageObject:
    if data is not None:
        raw = data[:_FIRST_READ]
        if not raw:
            raise ValueError("empty file (0 bytes)")
        fast = parse_fast_header(raw)
        if fast is NEED_MORE:
            raw = data
            fast = parse_fast_header(raw)
    else:
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
        ds, raw, stop = _read_dataset(ref, data)
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
        return frames_from_dataset(ref, ds, ts, pixel, data)
    except (AttributeError, TypeError, KeyError, IndexError) as exc:
        raise ValueError(f"incomplete image header ({type(exc).__name__}: {exc})") from None


def _pydicom_pixel_element(raw: bytes, stop: int, ts: str) -> tuple[int, int] | None:
    """(value offset, length) of Pixel Data after a pydicom header parse, or None."""
    order = FAST_SYNTAXES.get(UID(ts))
    for o in ([order] if order else ["<", ">"]):
        try:
            return _pixel_value_offset(raw, stop, o, UID(ts) == ImplicitVRLittleEndian)
        except ValueError:
            continue
    return None



def header_reason(ref: FileRef) -> str | None:
    """Why ``ref`` cannot be read as a DICOM image (None when it can)."""
    try:
        out = read_headers(ref)
    except (ValueError, OSError, InputError) as exc:
        return str(exc)
    if isinstance(out, NonImageObject):
        return f"not an image ({out.kind})"
    return None
