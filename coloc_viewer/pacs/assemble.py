"""Decode a series while it is being retrieved: each instance written to the cache is
decoded on a second thread as the transfer goes on (from the bytes just received, which are
what the file holds; the file is read when they are not given), so the volume is ready shortly after
the last instance arrives (instead of scanning and decoding the cached folder afterwards).

The result is the same :class:`~coloc_viewer.imaging.volume.Volume` that ``load_volume`` of
the cached folder gives (same header reader, decoder, grouping and sorting); anything out of
the ordinary (several stacks, non-image objects, unreadable or multi-frame files, sizes that
differ) falls back to ``load_volume`` of the folder once the series is complete.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from coloc_viewer.imaging.dicom_decode import FileDecoder
from coloc_viewer.imaging.dicom_headers import FrameHeader, read_headers
from coloc_viewer.imaging.dicom_scan import ScanResult, group_frames
from coloc_viewer.imaging.display import nan_range
from coloc_viewer.imaging.guards import check_shape
from coloc_viewer.imaging.load import group_metadata, load_volume, volume_from_group
from coloc_viewer.imaging.sources import FileRef
from coloc_viewer.imaging.volume import Volume

log = logging.getLogger(__name__)

__all__ = ["SeriesAssembler"]

READ_WHOLE_BYTES = 64 << 20  # files up to this size are read at once to be decoded


def _permute_in_place(buffer: np.ndarray, order: list[int]) -> np.ndarray:
    """``buffer[order]`` without a second volume: planes moved along the permutation's
    cycles with one spare plane (a fresh 200 MB array costs its page faults too)."""
    spare = np.empty_like(buffer[0])
    done = [False] * len(order)
    for start in range(len(order)):
        if done[start] or order[start] == start:
            done[start] = True
            continue
        spare[...] = buffer[start]
        row = start
        while True:
            done[row] = True
            source = order[row]
            if source == start:
                buffer[row] = spare
                break
            buffer[row] = buffer[source]
            row = source
    return buffer


class SeriesAssembler:
    """Feed it the cached path of each instance (:meth:`add`, any thread); :meth:`finish`
    after the series is complete returns its Volume; :meth:`cancel` drops everything."""

    def __init__(self, folder: Path, expected: int | None = None):
        self.folder = Path(folder)
        self.expected = expected if expected and expected > 0 else None
        self._queue: queue.SimpleQueue[tuple[Path, bytes | None] | None] = queue.SimpleQueue()
        self._frames: list[FrameHeader] = []  # in arrival order; row i of the buffer
        self._buffer: np.ndarray | None = None
        self._planes: list[np.ndarray] = []  # when the count is not known in advance
        self.fallback: str | None = None  # why load_volume of the folder will be used
        self._range: tuple[float, float] | None = None  # of the planes decoded so far
        self._cancelled = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pacs-decode", daemon=True)
        self._thread.start()

    @property
    def decoded(self) -> int:
        return len(self._frames)

    def add(self, path: Path, data: bytes | None = None) -> None:
        """Queue the instance written at ``path``; ``data``, its bytes when the caller holds
        them, spares reading the file back."""
        self._queue.put((Path(path), data))

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None or self._cancelled.is_set():
                return
            if self.fallback is not None:
                continue
            try:
                self._decode(*item)
            except Exception as err:  # noqa: BLE001 - the folder is read the usual way then
                self.fallback = f"{type(err).__name__} while decoding"

    def _decode(self, path: Path, data: bytes | None) -> None:
        if data is None and path.stat().st_size <= READ_WHOLE_BYTES:
            data = path.read_bytes()  # a file a receiver wrote (getscu): one read, not two
        found = read_headers(FileRef(str(path)), data)
        if not isinstance(found, list) or len(found) != 1:
            self.fallback = "not a single-frame image"
            return
        frame = found[0]
        first = self._frames[0] if self._frames else frame
        if (frame.rows, frame.cols) != (first.rows, first.cols):
            self.fallback = "slices of different sizes"
            return
        row = len(self._frames)
        if self.expected is not None:
            if self._buffer is None:
                check_shape((self.expected, frame.rows, frame.cols), 4, path)
                self._buffer = np.empty((self.expected, frame.rows, frame.cols), np.float32)
            if row >= self.expected:
                self.fallback = "more instances than announced"
                return
            FileDecoder([frame]).decode_into(self._buffer, [row], data)
            self._extend_range(self._buffer[row])
        else:
            plane = np.empty((1, frame.rows, frame.cols), np.float32)
            FileDecoder([frame]).decode_into(plane, [0], data)
            self._extend_range(plane[0])
            self._planes.append(plane[0])
        self._frames.append(frame)

    def _extend_range(self, plane: np.ndarray) -> None:
        """The running NaN-ignoring min and max (the presets' full range, computed here
        while the transfer goes on instead of over the whole volume afterwards)."""
        lo, hi = nan_range(plane)
        self._range = (lo, hi) if self._range is None else (
            float(np.fmin(self._range[0], lo)), float(np.fmax(self._range[1], hi)))

    def _stop(self) -> None:
        self._queue.put(None)
        self._thread.join()

    def cancel(self) -> None:
        self._cancelled.set()
        self._stop()
        self._buffer, self._planes = None, []

    def finish(self, files_ready: Callable[[], Any] | None = None) -> Volume:
        """The series' Volume, equal to ``load_volume(folder)`` (call once every instance
        arrived). ``files_ready()`` runs first when the folder has to be read after all (its
        files may still be being written)."""
        self._stop()
        volume = None if self.fallback else self._assemble()
        if volume is None:
            log.info("decode while retrieving not used (%s): reading the cached folder",
                     self.fallback or "nothing decoded")
            if files_ready is not None:
                files_ready()
            volume = load_volume(self.folder)
        self._buffer, self._planes = None, []
        return volume

    def _assemble(self) -> Volume | None:
        n = len(self._frames)
        if n == 0:
            return None
        # the order iter_dicom_refs gives (sorted file names): ties sort as in load_volume
        by_name = sorted(self._frames, key=lambda f: f.ref.path)
        skipped: list[tuple[str, str]] = []
        groups = group_frames(by_name, skipped)
        if len(groups) != 1 or skipped or len(groups[0].frames) != n:
            self.fallback = "not one plain stack"
            return None
        group = groups[0]
        index = {f.ref.path: i for i, f in enumerate(self._frames)}
        order = [index[f.ref.path] for f in group.frames]
        if self._buffer is not None and n == len(self._buffer):
            voxels = _permute_in_place(self._buffer, order)
        elif self._buffer is not None:
            voxels = self._buffer[order]
        else:
            voxels = np.stack([self._planes[i] for i in order])
        warnings = ScanResult(series=groups, non_images=[], skipped=[]).warnings()
        return volume_from_group(group, voxels, group_metadata(group, warnings),
                                 str(self.folder), value_range=self._range)
