"""Integrity of NIfTI, NRRD and MetaImage files before SimpleITK reads them.

SimpleITK does not check that a file holds the bytes its header declares (a truncated
``.nii`` loads with made-up voxels), so every file is checked here first: the declared size
against the limits, then the data byte count against the header, with compressed streams
(gzip, zlib, bzip2) read to their end. A short or overlong file is an
:class:`~coloc_viewer.errors.InputError` naming the file. See docs/imaging.md, "Errors".
"""

from __future__ import annotations

import bz2
import gzip
import math
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np

from coloc_viewer.errors import InputError
from coloc_viewer.imaging.guards import check_shape
from coloc_viewer.limits import MAX_HEADER_BYTES

__all__ = ["check_volume_file"]

_CHUNK = 1 << 22
_NIFTI_FLOATS = {16: "f4", 64: "f8"}
#: NIfTI datatype code -> bits per voxel (the standard's table).
_NIFTI_BITS = {1: 1, 2: 8, 4: 16, 8: 32, 16: 32, 32: 64, 64: 64, 128: 24, 256: 8, 512: 16,
               768: 32, 1024: 64, 1280: 64, 1536: 128, 1792: 128, 2048: 256, 2304: 32}
#: Smallest |scl_slope| applied: ITK silently ignores slopes near zero (below ~1e-16).
MIN_NIFTI_SLOPE = 1e-12
_NRRD_TYPES = {1: ("signed char", "int8", "int8_t", "uchar", "unsigned char", "uint8",
                   "uint8_t"),
               2: ("short", "short int", "signed short", "signed short int", "int16",
                   "int16_t", "ushort", "unsigned short", "unsigned short int", "uint16",
                   "uint16_t"),
               4: ("int", "signed int", "int32", "int32_t", "uint", "unsigned int", "uint32",
                   "uint32_t", "float"),
               8: ("longlong", "long long", "long long int", "signed long long",
                   "signed long long int", "int64", "int64_t", "ulonglong",
                   "unsigned long long", "unsigned long long int", "uint64", "uint64_t",
                   "double")}
_NRRD_SIZE = {name: size for size, names in _NRRD_TYPES.items() for name in names}
_MET_SIZE = {"MET_CHAR": 1, "MET_UCHAR": 1, "MET_SHORT": 2, "MET_USHORT": 2, "MET_INT": 4,
             "MET_UINT": 4, "MET_LONG": 4, "MET_ULONG": 4, "MET_LONG_LONG": 8,
             "MET_ULONG_LONG": 8, "MET_FLOAT": 4, "MET_DOUBLE": 8}


def check_volume_file(path: Path) -> int:
    """Check ``path`` (by suffix); returns the number of NaN/inf voxels stored in a float
    NIfTI file (ITK silently turns NaN into 0), else 0. Raises InputError."""
    name = path.name.lower()
    try:
        if name.endswith((".nii", ".nii.gz")):
            return _check_nifti(path)
        if name.endswith((".nrrd", ".nhdr")):
            _check_nrrd(path)
        elif name.endswith((".mha", ".mhd")):
            _check_meta(path)
    except InputError:
        raise
    except EOFError:
        raise InputError("truncated file: the compressed stream ends early", path) from None
    except (OSError, ValueError, zlib.error) as exc:
        reason = " ".join(str(exc).split())[:160] or type(exc).__name__
        raise InputError(f"cannot read image data ({type(exc).__name__}: {reason})",
                         path) from None
    return 0


def _chunks(fh: BinaryIO, limit: int) -> Iterator[bytes]:
    """Up to ``limit + 1`` bytes of ``fh`` (one more than expected reveals an overlong file)."""
    left = limit + 1
    while left > 0:
        block = fh.read(min(_CHUNK, left))
        if not block:
            return
        left -= len(block)
        yield block


def _count(path: Path, blocks: Iterator[bytes], expected: int, what: str = "image data",
           on_block: Callable[[bytes], None] | None = None) -> None:
    got = 0
    for block in blocks:
        got += len(block)
        if on_block is not None:
            on_block(block)
    if got < expected:
        raise InputError(f"truncated file: {what} holds {got} bytes, the header declares "
                         f"{expected}", path)
    if got > expected:
        raise InputError(f"{what} is longer than the {expected} bytes the header declares",
                         path)


# --------------------------------------------------------------------------- NIfTI-1/2

def _check_nifti(path: Path) -> int:
    gz = path.name.lower().endswith(".gz")
    opener = gzip.open if gz else open
    with opener(path, "rb") as fh:
        head = fh.read(540)
        if len(head) < 348:
            raise InputError("truncated file: shorter than a NIfTI header", path)
        for order in ("<", ">"):
            size = int(np.frombuffer(head[:4], dtype=f"{order}i4")[0])
            if size in (348, 540):
                break
        else:
            raise InputError("not a NIfTI file (bad header size)", path)
        if size == 540 and len(head) < 540:
            raise InputError("truncated file: shorter than a NIfTI-2 header", path)
        fields = _nifti_fields(head, order, size)
        _nifti_geometry(fields, path)
        ndim = int(fields["dims"][0])
        if not 1 <= ndim <= 7:
            raise InputError(f"invalid NIfTI dimension count {ndim}", path)
        shape = [int(n) for n in fields["dims"][1:1 + ndim]]
        bitpix, datatype = int(fields["bitpix"]), int(fields["datatype"])
        if _NIFTI_BITS.get(datatype) != bitpix or bitpix % 8:
            raise InputError(f"invalid NIfTI datatype {datatype} / bitpix {bitpix}", path)
        check_shape(shape, max(4, bitpix // 8), path)
        expected = math.prod(shape) * bitpix // 8
        offset = int(fields["offset"])
        if offset < size + 4:
            raise InputError(f"invalid NIfTI vox_offset {offset} (inside the header)", path)
        skip = offset - len(head)
        if skip < 0:
            fh.seek(offset)
        elif skip > MAX_HEADER_BYTES:
            raise InputError(f"invalid NIfTI vox_offset {offset}", path)
        elif len(fh.read(skip)) < skip:
            raise InputError("truncated file: no image data after the header", path)
        dtype = _NIFTI_FLOATS.get(datatype)
        bad = [0]
        tail = bytearray()

        def nonfinite(block: bytes) -> None:
            if dtype is None:
                return
            tail.extend(block)
            usable = len(tail) - len(tail) % int(dtype[1])
            values = np.frombuffer(bytes(tail[:usable]), dtype=f"{order}{dtype}")
            bad[0] += int(values.size - np.count_nonzero(np.isfinite(values)))
            del tail[:usable]

        _count(path, _chunks(fh, expected), expected, on_block=nonfinite)
    return bad[0]


def _nifti_fields(head: bytes, order: str, size: int) -> dict[str, np.ndarray | float]:
    def arr(start: int, dtype: str, n: int) -> np.ndarray:
        return np.frombuffer(head, dtype=f"{order}{dtype}", count=n, offset=start)

    if size == 348:
        return {"dims": arr(40, "i2", 8).astype(np.int64), "datatype": arr(70, "i2", 1)[0],
                "bitpix": arr(72, "i2", 1)[0], "pixdim": arr(76, "f4", 8),
                "offset": float(arr(108, "f4", 1)[0]), "scl_slope": arr(112, "f4", 1)[0],
                "scl_inter": arr(116, "f4", 1)[0], "qform": arr(252, "i2", 1)[0],
                "sform": arr(254, "i2", 1)[0], "quatern": arr(256, "f4", 6),
                "srow": arr(280, "f4", 12)}
    return {"dims": arr(16, "i8", 8), "datatype": arr(12, "i2", 1)[0],
            "bitpix": arr(14, "i2", 1)[0], "pixdim": arr(104, "f8", 8),
            "offset": float(arr(168, "i8", 1)[0]), "scl_slope": arr(176, "f8", 1)[0],
            "scl_inter": arr(184, "f8", 1)[0], "qform": arr(344, "i4", 1)[0],
            "sform": arr(348, "i4", 1)[0], "quatern": arr(352, "f8", 6),
            "srow": arr(400, "f8", 12)}


def _nifti_geometry(fields: dict, path: Path) -> None:
    """The transforms ITK will use must be finite (ITK turns a NaN sform into NaN geometry)."""
    if not math.isfinite(float(fields["offset"])):
        raise InputError("invalid NIfTI vox_offset (not finite)", path)
    if int(fields["sform"]) > 0 and not np.all(np.isfinite(fields["srow"])):
        raise InputError("invalid NIfTI sform (not finite)", path)
    if int(fields["qform"]) > 0 and not np.all(np.isfinite(fields["quatern"])):
        raise InputError("invalid NIfTI qform (not finite)", path)
    slope, inter = float(fields["scl_slope"]), float(fields["scl_inter"])
    if slope != 0 and math.isfinite(slope) and not math.isfinite(inter):
        raise InputError("invalid NIfTI scl_inter (not finite)", path)
    if 0 < abs(slope) < MIN_NIFTI_SLOPE:
        raise InputError(f"NIfTI scl_slope {slope:g} is too close to 0 to be applied", path)
    if not np.all(np.isfinite(fields["pixdim"][:4])):
        raise InputError("invalid NIfTI voxel size (pixdim not finite)", path)


# --------------------------------------------------------------------------- text headers

def _text_header(fh: BinaryIO, path: Path, end: Callable[[str], bool]) -> tuple[list[str], int]:
    """Header lines up to and including the line where ``end(line)`` holds (or a blank line
    for NRRD), and the byte offset just after it."""
    lines: list[str] = []
    pos = 0
    while True:
        raw = fh.readline(MAX_HEADER_BYTES)
        if not raw:
            return lines, pos
        pos += len(raw)
        if pos > MAX_HEADER_BYTES:
            raise InputError("header too long", path)
        line = raw.decode("latin-1").rstrip("\r\n")
        lines.append(line)
        if end(line):
            return lines, pos


def _sizes(text: str, path: Path, what: str) -> list[int]:
    try:
        sizes = [int(v) for v in text.split()]
    except ValueError:
        raise InputError(f"invalid {what} {text!r}", path) from None
    if not sizes or any(n <= 0 for n in sizes):
        raise InputError(f"invalid {what} {text!r}", path)
    return sizes


def _stream(fh: BinaryIO, kind: str, expected: int) -> Iterator[bytes]:
    """The decoded data bytes of ``fh`` (``kind`` = raw, gzip, zlib or bzip2), to the end of
    the compressed stream; raises ValueError when the stream itself is damaged."""
    if kind == "raw":
        yield from _chunks(fh, expected)
        return
    if kind == "gzip":
        with gzip.GzipFile(fileobj=fh, mode="rb") as gz:
            yield from _chunks(gz, expected)
        return
    decomp = zlib.decompressobj() if kind == "zlib" else bz2.BZ2Decompressor()
    produced = 0
    while not decomp.eof:  # bounded output per step: a "zip bomb" cannot exhaust memory
        if isinstance(decomp, bz2.BZ2Decompressor):
            block = fh.read(_CHUNK) if decomp.needs_input else b""
            if decomp.needs_input and not block:
                raise EOFError("compressed data ends early")
            out = decomp.decompress(block, _CHUNK)
        else:
            block = decomp.unconsumed_tail or fh.read(_CHUNK)
            out = decomp.decompress(block, _CHUNK) if block else decomp.flush()
            if not block and not decomp.eof:
                raise EOFError("compressed data ends early")
        produced += len(out)
        yield out
        if produced > expected:
            return
    if decomp.unused_data.strip(b"\0") or fh.read(1):
        yield b"\0"  # bytes after the end of the compressed stream: an overlong file


def _check_nrrd(path: Path) -> None:
    with open(path, "rb") as fh:
        lines, end = _text_header(fh, path, lambda ln: ln.strip() == "")
        if not lines or not lines[0].startswith("NRRD"):
            raise InputError("not a NRRD file", path)
        fields: dict[str, str] = {}
        for line in lines[1:]:
            if line.startswith("#") or ":=" in line or ": " not in line:
                continue
            key, value = line.split(": ", 1)
            fields[key.strip().lower()] = value.strip()
        sizes = _sizes(fields.get("sizes", ""), path, "NRRD sizes")
        type_size = _NRRD_SIZE.get(fields.get("type", "").lower())
        if type_size is None:
            return  # "block" and unknown types: left to ITK
        check_shape(sizes, max(4, type_size), path)
        expected = math.prod(sizes) * type_size
        encoding = fields.get("encoding", "raw").lower()
        data_file = fields.get("data file", fields.get("datafile"))
        if data_file is not None:
            if data_file.upper().startswith("LIST") or "%" in data_file or \
                    len(data_file.split()) > 1:
                return  # multi-file data: left to ITK
            _nrrd_data(path, path.parent / data_file, 0, fields, encoding, expected)
        else:
            _nrrd_data(path, path, end, fields, encoding, expected)


def _nrrd_data(path: Path, data: Path, start: int, fields: dict[str, str], encoding: str,
               expected: int) -> None:
    kind = {"raw": "raw", "gzip": "gzip", "gz": "gzip", "bzip2": "bzip2",
            "bz2": "bzip2"}.get(encoding)
    if kind is None:
        return  # ascii / hex: ITK parses the numbers and fails on too few
    if not data.is_file():
        raise InputError(f"NRRD data file {data.name} not found", path)
    skip_bytes = int(fields.get("byte skip", "0"))
    line_skip = int(fields.get("line skip", "0"))
    with open(data, "rb") as fh:
        fh.seek(start)
        for _ in range(line_skip):
            fh.readline(MAX_HEADER_BYTES)
        if skip_bytes == -1 and kind == "raw":  # data are the file's last bytes
            fh.seek(0, 2)
            if fh.tell() - start < expected:
                raise InputError("truncated file: image data is shorter than the header "
                                 "declares", path)
            return
        fh.seek(max(0, skip_bytes), 1)
        _count(path, _stream(fh, kind, expected), expected)


def _check_meta(path: Path) -> None:
    with open(path, "rb") as fh:
        lines, end = _text_header(
            fh, path, lambda ln: ln.split("=")[0].strip().lower() == "elementdatafile")
        fields = {ln.split("=", 1)[0].strip().lower(): ln.split("=", 1)[1].strip()
                  for ln in lines if "=" in ln}
        if "elementdatafile" not in fields:
            raise InputError("not a MetaImage file (no ElementDataFile)", path)
        sizes = _sizes(fields.get("dimsize", ""), path, "DimSize")
        channels = int(fields.get("elementnumberofchannels", "1"))
        type_size = _MET_SIZE.get(fields.get("elementtype", "").upper())
        if type_size is None or channels <= 0:
            raise InputError(f"unsupported MetaImage ElementType "
                             f"{fields.get('elementtype', '')!r}", path)
        check_shape([*sizes, channels], max(4, type_size), path)
        if fields.get("binarydata", "true").lower() == "false":
            return  # ASCII data: ITK parses the numbers
        expected = math.prod(sizes) * channels * type_size
        kind = "zlib" if fields.get("compresseddata", "false").lower() == "true" else "raw"
        target = fields["elementdatafile"]
        if target.upper() == "LOCAL":
            fh.seek(end)
            _count(path, _stream(fh, kind, expected), expected)
            return
    if target.upper().startswith("LIST") or "%" in target or len(target.split()) > 1:
        return  # multi-file data: left to ITK
    data = path.parent / target
    if not data.is_file():
        raise InputError(f"MetaImage data file {data.name} not found", path)
    header_size = int(fields.get("headersize", "0"))
    with open(data, "rb") as fh:
        if header_size == -1:
            fh.seek(0, 2)
            if kind == "raw" and fh.tell() < expected:
                raise InputError("truncated file: image data is shorter than the header "
                                 "declares", path)
            return
        fh.seek(header_size)
        _count(path, _stream(fh, kind, expected), expected)
