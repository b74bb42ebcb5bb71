"""A Part 10 file from a received C-STORE data set without decoding it: the preamble, the
file meta group (encoded here, a few microseconds) and the data set's bytes as sent.

pynetdicom's ``Event.encoded_dataset(include_meta=True)`` builds the file meta as a pydicom
``Dataset`` (every UID validated with a regular expression): 13 % of the C-GET receive time
(measured with py-spy), for six elements we can write directly.
"""

from __future__ import annotations

import struct

__all__ = ["IMPLEMENTATION_UID", "part10_bytes", "part10_header"]

IMPLEMENTATION_UID = "1.2.826.0.1.3680043.8.498.1"  # pydicom's root: a valid, public UID
IMPLEMENTATION_NAME = b"COLOC_VIEWER"  # SH, even length
_LONG_VRS = (b"OB", b"OW", b"UN", b"SQ", b"UT")


def _element(elem: int, vr: bytes, value: bytes) -> bytes:
    if vr in _LONG_VRS:
        return struct.pack("<HH2sHI", 2, elem, vr, 0, len(value)) + value
    return struct.pack("<HH2sH", 2, elem, vr, len(value)) + value


def _uid(text: str) -> bytes:
    raw = str(text).strip().encode("ascii")
    if not raw or len(raw) > 64 or not all(c in b"0123456789." for c in raw):
        raise ValueError(f"not a DICOM UID: {text!r}")
    return raw + b"\x00" if len(raw) % 2 else raw


def part10_header(sop_class_uid: str, sop_instance_uid: str, transfer_syntax: str) -> bytes:
    """Preamble, ``DICM`` and the file meta group (explicit VR little endian)."""
    body = b"".join((
        _element(0x0001, b"OB", b"\x00\x01"),
        _element(0x0002, b"UI", _uid(sop_class_uid)),
        _element(0x0003, b"UI", _uid(sop_instance_uid)),
        _element(0x0010, b"UI", _uid(transfer_syntax)),
        _element(0x0012, b"UI", _uid(IMPLEMENTATION_UID)),
        _element(0x0013, b"SH", IMPLEMENTATION_NAME),
    ))
    return b"\x00" * 128 + b"DICM" + _element(0x0000, b"UL", struct.pack("<I", len(body))) + body


def part10_bytes(sop_class_uid: str, sop_instance_uid: str, transfer_syntax: str,
                 dataset: bytes) -> bytes:
    """A whole Part 10 file: :func:`part10_header` + the encoded data set as received."""
    return part10_header(sop_class_uid, sop_instance_uid, transfer_syntax) + dataset
