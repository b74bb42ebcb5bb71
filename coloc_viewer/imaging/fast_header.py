"""A minimal top-level DICOM header reader for the common case (speed for large series).

Handles files with the DICM preamble in explicit or implicit VR little endian whose text
is ASCII, Latin-1 or UTF-8, and which are not enhanced multi-frame. It walks the top-level
elements once, keeps only the attributes coloc_viewer uses, skips sequences, and records
where the pixel values start. Anything else returns ``None`` and the caller falls back to
pydicom (the results are checked against pydicom's in the tests).
"""

from __future__ import annotations

import struct
from typing import Any

__all__ = ["FastHeader", "parse_fast_header", "NEED_MORE"]

NEED_MORE = object()

_EXPLICIT_LE = "1.2.840.10008.1.2.1"
_IMPLICIT_LE = "1.2.840.10008.1.2"
_LONG_VRS = {b"OB", b"OW", b"OD", b"OF", b"OL", b"OV", b"SQ", b"UC", b"UN", b"UR", b"UT", b"SV",
             b"UV"}
_SHORT_VRS = {b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FL", b"FD", b"IS", b"LO",
              b"LT", b"PN", b"SH", b"SL", b"SS", b"ST", b"TM", b"UI", b"UL", b"US"}
_PIXEL_DATA = 0x7FE00010
_FALLBACK_TAGS = {0x52009229, 0x52009230}  # functional groups -> pydicom
_CHARSETS = {"": "latin-1", "ISO_IR 6": "latin-1", "ISO_IR 100": "latin-1",
             "ISO_IR 192": "utf-8"}

# keyword -> (tag, kind) with kind: "str", "multi" (backslash list), "us" (unsigned short)
_WANTED: dict[str, tuple[int, str]] = {
    "SpecificCharacterSet": (0x00080005, "str"),
    "SOPClassUID": (0x00080016, "str"),
    "SOPInstanceUID": (0x00080018, "str"),
    "AccessionNumber": (0x00080050, "str"),
    "Modality": (0x00080060, "str"),
    "SeriesDescription": (0x0008103E, "str"),
    "PatientName": (0x00100010, "str"),
    "PatientID": (0x00100020, "str"),
    "SliceThickness": (0x00180050, "str"),
    "EchoTime": (0x00180081, "str"),
    "SpacingBetweenSlices": (0x00180088, "str"),
    "ImagerPixelSpacing": (0x00181164, "multi"),
    "StudyInstanceUID": (0x0020000D, "str"),
    "SeriesInstanceUID": (0x0020000E, "str"),
    "InstanceNumber": (0x00200013, "str"),
    "ImagePositionPatient": (0x00200032, "multi"),
    "ImageOrientationPatient": (0x00200037, "multi"),
    "FrameOfReferenceUID": (0x00200052, "str"),
    "TemporalPositionIdentifier": (0x00200100, "str"),
    "SamplesPerPixel": (0x00280002, "us"),
    "PhotometricInterpretation": (0x00280004, "str"),
    "NumberOfFrames": (0x00280008, "str"),
    "Rows": (0x00280010, "us"),
    "Columns": (0x00280011, "us"),
    "PixelSpacing": (0x00280030, "multi"),
    "BitsAllocated": (0x00280100, "us"),
    "BitsStored": (0x00280101, "us"),
    "PixelRepresentation": (0x00280103, "us"),
    "WindowCenter": (0x00281050, "multi"),
    "WindowWidth": (0x00281051, "multi"),
    "RescaleIntercept": (0x00281052, "str"),
    "RescaleSlope": (0x00281053, "str"),
    "RescaleType": (0x00281054, "str"),
    "ModalityLUTSequence": (0x00283000, "present"),
    "GridFrameOffsetVector": (0x3004000C, "multi"),
}
_BY_TAG = {tag: (kw, kind) for kw, (tag, kind) in _WANTED.items()}

_u16 = struct.Struct("<H").unpack_from
_u32 = struct.Struct("<I").unpack_from
_tag = struct.Struct("<HH").unpack_from


class FastHeader:
    """Dataset-like read-only view (``get``, ``in``, attribute access) of the kept attributes."""

    def __init__(self, values: dict[str, Any], transfer_syntax: str,
                 pixel: tuple[int, int] | None):
        self._values = values
        self.transfer_syntax = transfer_syntax
        self.pixel = pixel  # (value offset, value length) of Pixel Data, or None

    def get(self, keyword: str, default: Any = None) -> Any:
        return self._values.get(keyword, default)

    def __contains__(self, keyword: str) -> bool:
        return keyword in self._values

    def __getattr__(self, keyword: str) -> Any:
        try:
            return self._values[keyword]
        except KeyError:
            raise AttributeError(keyword) from None


class _Short(Exception):
    """The buffer ends before the parse does."""


class _Unsupported(Exception):
    """A construct this reader leaves to pydicom."""


def _element(raw: bytes, pos: int, implicit: bool) -> tuple[int, bytes | None, int, int]:
    """(tag, vr, length, value offset) of the element at ``pos``."""
    if pos + 8 > len(raw):
        raise _Short
    group, elem = _tag(raw, pos)
    tag = (group << 16) | elem
    if implicit or group == 0xFFFE:
        return tag, None, _u32(raw, pos + 4)[0], pos + 8
    vr = raw[pos + 4:pos + 6]
    if vr in _LONG_VRS:
        if pos + 12 > len(raw):
            raise _Short
        return tag, vr, _u32(raw, pos + 8)[0], pos + 12
    if vr not in _SHORT_VRS:  # a damaged or unknown VR: left to pydicom
        raise _Unsupported
    return tag, vr, _u16(raw, pos + 6)[0], pos + 8


def _skip_undefined(raw: bytes, pos: int, implicit: bool) -> int:
    """Position after an undefined-length sequence whose items start at ``pos``."""
    while True:
        tag, _vr, length, vpos = _element(raw, pos, True)
        if tag == 0xFFFEE0DD:  # sequence delimiter
            return vpos
        if tag != 0xFFFEE000:
            raise _Unsupported
        if length != 0xFFFFFFFF:
            pos = vpos + length
            continue
        pos = vpos
        while True:  # elements of an undefined-length item
            tag, vr, length, vpos = _element(raw, pos, implicit)
            if tag == 0xFFFEE00D:  # item delimiter
                pos = vpos
                break
            if length == 0xFFFFFFFF:
                pos = _skip_undefined(raw, vpos, implicit or vr == b"UN")
            else:
                pos = vpos + length


def _convert(kind: str, value: bytes, encoding: str) -> Any:
    if kind == "us":
        if len(value) < 2:
            return None
        return _u16(value, 0)[0]
    if kind == "present":
        return True
    text = value.decode(encoding, errors="replace").strip("\x00 ")
    if kind == "multi":
        return [v.strip() for v in text.split("\\")]
    return text


def parse_fast_header(raw: bytes) -> FastHeader | object | None:
    """Parse ``raw`` (the file's first bytes); ``NEED_MORE`` when the header is longer than
    ``raw``; ``None`` when the file needs pydicom."""
    try:
        return _parse(raw)
    except _Short:
        return NEED_MORE
    except (_Unsupported, struct.error, UnicodeDecodeError):
        return None


def _parse(raw: bytes) -> FastHeader | None:
    if len(raw) < 144 or raw[128:132] != b"DICM":
        return None
    pos = 132
    ts = ""
    while True:  # file meta group: always explicit VR little endian
        tag, _vr, length, vpos = _element(raw, pos, False)
        if tag >> 16 != 0x0002:
            break
        if length == 0xFFFFFFFF:
            return None
        if tag == 0x00020010:
            ts = raw[vpos:vpos + length].decode("ascii", "replace").strip("\x00 ")
        pos = vpos + length
    if ts == _EXPLICIT_LE:
        implicit = False
    elif ts == _IMPLICIT_LE:
        implicit = True
    else:
        return None
    found: dict[int, bytes] = {}
    pixel: tuple[int, int] | None = None
    while pos < len(raw):
        tag, vr, length, vpos = _element(raw, pos, implicit)
        if tag == _PIXEL_DATA:
            pixel = (vpos, length)
            break
        if tag > _PIXEL_DATA:
            break
        if tag in _FALLBACK_TAGS:
            return None
        if length == 0xFFFFFFFF:
            if tag in _BY_TAG:
                found[tag] = b""
            pos = _skip_undefined(raw, vpos, implicit or vr == b"UN")
            continue
        if tag in _BY_TAG:
            if vpos + length > len(raw):
                raise _Short
            found[tag] = raw[vpos:vpos + length]
        pos = vpos + length
    charset = found.get(0x00080005, b"").decode("ascii", "replace").strip("\x00 ")
    encoding = _CHARSETS.get(charset)
    if encoding is None:
        return None
    values = {}
    for tag, value in found.items():
        kw, kind = _BY_TAG[tag]
        values[kw] = _convert(kind, value, encoding)
    return FastHeader(values, ts, pixel)
