"""Decode the pixels of a sorted series into float32 physical values (modality LUT applied).

Uncompressed little/big endian frames are read straight from the file into the output
buffer (no pydicom element parsing of the pixel data); everything else goes through
pydicom's pixel handlers (pylibjpeg, openjpeg, RLE, JPEG-LS, deflate...). Frames of one file
are decoded together; files are decoded on a thread pool.
"""

from __future__ import annotations

import io
import os
import threading
import warnings
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pydicom
from pydicom.uid import UID

from coloc_viewer.errors import InputError
from coloc_viewer.imaging.dicom_headers import FrameHeader, read_bounded
from coloc_viewer.imaging.dicom_scan import SeriesGroup
from coloc_viewer.imaging.guards import check_allocation, check_shape
from coloc_viewer.imaging.sources import open_source
from coloc_viewer.limits import MAX_VOLUME_BYTES

__all__ = ["allocate_volume", "check_decodable", "decode_frame", "decode_series", "FileDecoder",
           "MAX_VOLUME_BYTES"]

_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def _workers() -> int:
    return max(2, min(8, (os.cpu_count() or 2) * 2))


def check_decodable(frame: FrameHeader) -> None:
    """Raise InputError when no installed plugin can decode the frame's transfer syntax."""
    if frame.pixel_offset is not None:
        return
    uid = UID(frame.transfer_syntax)
    if not uid.is_transfer_syntax:
        raise InputError(f"unknown transfer syntax {frame.transfer_syntax}", str(frame.ref))
    if not uid.is_compressed:
        return
    try:
        decoder = pydicom.pixels.get_decoder(uid)
    except NotImplementedError:
        raise InputError(f"unsupported transfer syntax {uid.name} ({uid})",
                         str(frame.ref)) from None
    if not decoder.is_available:
        raise InputError(f"no installed decoder for transfer syntax {uid.name} ({uid})",
                         str(frame.ref))


def _stored_dtype(f: FrameHeader) -> np.dtype:
    kind = "i" if f.pixel_representation == 1 else "u"
    return np.dtype(f"{f.byte_order}{kind}{f.bits_allocated // 8}")


def _fix_bits(arr: np.ndarray, f: FrameHeader) -> np.ndarray:
    """Mask unused high bits / sign-extend when BitsStored < BitsAllocated (as pydicom does)."""
    shift = f.bits_allocated - f.bits_stored
    if shift <= 0:
        return arr
    if f.pixel_representation == 1:
        return (arr << shift) >> shift
    return arr & np.array((1 << f.bits_stored) - 1, dtype=arr.dtype)


def _rescale(stored: np.ndarray, f: FrameHeader, out: np.ndarray) -> None:
    if f.slope == 1.0 and f.intercept == 0.0:
        out[...] = stored
    else:
        np.multiply(stored, np.float32(f.slope) if abs(f.slope) < 3e38 else f.slope,
                    out=out, casting="unsafe")
        out += np.float32(f.intercept)


def _to_gray(arr: np.ndarray, f: FrameHeader) -> np.ndarray:
    if f.samples_per_pixel > 1 and arr.ndim >= 3 and arr.shape[-1] == f.samples_per_pixel:
        return arr[..., :3].astype(np.float32) @ _LUMA
    return arr


class FileDecoder:
    """Decodes all requested frames of one file into rows of an output array."""

    def __init__(self, frames: list[FrameHeader]):
        self.frames = frames

    def decode_into(self, out: np.ndarray, rows: list[int], data: bytes | None = None) -> None:
        """Decode the frames into ``out[rows]``. ``data``: the file's whole content when it
        is in memory already (the file is then not read: it may still be being written)."""
        fast = [f.pixel_offset is not None and not f.modality_lut_sequence for f in self.frames]
        if all(fast) and data is not None:
            self._from_bytes(out, rows, data)
        elif all(fast):
            self._fast(out, rows)
        else:
            self._pydicom(out, rows, data)

    def _from_bytes(self, out: np.ndarray, rows: list[int], data: bytes) -> None:
        f0 = self.frames[0]
        dtype = _stored_dtype(f0)
        count = f0.rows * f0.cols
        if any(count * dtype.itemsize != f.frame_bytes for f in self.frames):
            self._fast(out, rows, data)  # not one plain plane per frame: the reader's checks
            return
        for f, r in zip(self.frames, rows):
            offset = int(f.pixel_offset)  # type: ignore[arg-type]
            if offset + f.frame_bytes > len(data):
                raise InputError("truncated file: pixel data ends early", str(f.ref))
            stored = np.frombuffer(data, dtype, count, offset).reshape(f0.rows, f0.cols)
            native = stored if dtype.isnative else stored.astype(dtype.newbyteorder("="))
            _rescale(_fix_bits(native, f), f, out[r])

    def _fast(self, out: np.ndarray, rows: list[int], data: bytes | None = None) -> None:
        f0 = self.frames[0]
        dtype = _stored_dtype(f0)
        buf = np.empty((f0.rows, f0.cols), dtype=dtype)
        view = memoryview(buf).cast("B")
        try:
            with (open(f0.ref.path, "rb", buffering=0) if data is None  # noqa: SIM115
                  else io.BytesIO(data)) as fh:
                for f, r in zip(self.frames, rows):
                    fh.seek(f.pixel_offset)  # type: ignore[arg-type]
                    if fh.readinto(view) != f.frame_bytes:
                        raise InputError("truncated file: pixel data ends early", str(f.ref))
                    native = buf if dtype.isnative else buf.astype(dtype.newbyteorder("="))
                    stored = _fix_bits(native, f)
                    _rescale(stored, f, out[r])
        except OSError as exc:
            raise InputError(f"cannot read pixel data ({exc.strerror or exc})", str(f0.ref)) \
                from None

    def _pydicom(self, out: np.ndarray, rows: list[int], data: bytes | None = None) -> None:
        f0 = self.frames[0]
        check_decodable(f0)
        # pydicom decodes every frame of the file at once (plus a colour-converted copy)
        check_allocation(2 * f0.n_frames * f0.rows * f0.cols * f0.samples_per_pixel
                         * max(1, f0.bits_allocated // 8), str(f0.ref), "pixel data")
        try:
            source, size = open_source(f0.ref, data)
            with source as fh, warnings.catch_warnings():
                warnings.simplefilter("ignore")  # e.g. "excess padding removed"
                ds = read_bounded(fh, size)
                arr = ds.pixel_array
        except (InputError, KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # noqa: BLE001 - plugins raise anything (even Rust panics)
            reason = " ".join(str(exc).split())[:160] or type(exc).__name__
            raise InputError(f"cannot decode pixel data ({type(exc).__name__}: {reason})",
                             str(f0.ref)) from None
        if f0.n_frames == 1 and arr.ndim == (3 if f0.samples_per_pixel > 1 else 2):
            arr = arr[np.newaxis]
        if arr.shape[0] < f0.n_frames:
            raise InputError(f"pixel data holds {arr.shape[0]} frames, header says "
                             f"{f0.n_frames}", str(f0.ref))
        try:
            for f, r in zip(self.frames, rows):
                plane = _to_gray(arr[f.frame], f)
                if f.modality_lut_sequence:
                    from pydicom.pixels import apply_modality_lut

                    out[r] = apply_modality_lut(plane, ds)
                else:
                    _rescale(plane, f, out[r])
        except (ValueError, TypeError, IndexError, AttributeError, KeyError) as exc:
            raise InputError(f"cannot apply the modality LUT ({type(exc).__name__})",
                             str(f0.ref)) from None


def _by_file(frames: list[FrameHeader], rows: Iterable[int]) -> list[tuple[list[FrameHeader],
                                                                              list[int]]]:
    groups: dict[str, tuple[list[FrameHeader], list[int]]] = {}
    for r in rows:
        f = frames[r]
        fr, rr = groups.setdefault(str(f.ref), ([], []))
        fr.append(f)
        rr.append(r)
    return list(groups.values())


def decode_frame(frame: FrameHeader) -> np.ndarray:
    """One frame as float32 physical values (rows, cols)."""
    check_shape((1, frame.rows, frame.cols), 4, str(frame.ref))
    out = np.empty((1, frame.rows, frame.cols), dtype=np.float32)
    FileDecoder([frame]).decode_into(out, [0])
    return out[0]


def allocate_volume(group: SeriesGroup) -> np.ndarray:
    """An empty float32 (z, y, x) array for ``group``; InputError when it exceeds the limits
    or the memory budget (``coloc_viewer.limits``)."""
    check_shape(group.shape, 4, str(group.first.ref))
    return np.empty(group.shape, dtype=np.float32)


def decode_series(
    group: SeriesGroup,
    out: np.ndarray | None = None,
    rows: Iterable[int] | None = None,
    on_done: Callable[[list[int]], None] | None = None,
    cancelled: threading.Event | None = None,
    workers: int | None = None,
) -> np.ndarray:
    """Decode ``rows`` (default: all) of ``group`` into ``out`` (float32, z, y, x).

    ``on_done(rows)`` is called (from worker threads) after each file's frames are in place;
    setting ``cancelled`` stops scheduling further files.
    """
    if out is None:
        out = allocate_volume(group)
    wanted = list(range(len(group.frames))) if rows is None else list(rows)
    tasks = _by_file(group.frames, wanted)
    if tasks:
        check_decodable(tasks[0][0][0])

    def run(task: tuple[list[FrameHeader], list[int]]) -> None:
        if cancelled is not None and cancelled.is_set():
            return
        FileDecoder(task[0]).decode_into(out, task[1])
        if on_done is not None:
            on_done(task[1])

    n = workers or _workers()
    if n <= 1 or len(tasks) <= 1:
        for t in tasks:
            run(t)
        return out
    with ThreadPoolExecutor(max_workers=n) as pool:
        for fut in [pool.submit(run, t) for t in tasks]:
            fut.result()
    return out
