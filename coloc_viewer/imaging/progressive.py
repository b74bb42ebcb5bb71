"""Progressive series loading for the GUI: geometry and the middle slice first, then the rest.

::

    loader = open_series(path)          # scan + one decoded slice
    show(loader.middle_slice)
    for index, plane in loader.iter_slices():   # in a worker thread; loader.cancel() stops
        update(index, plane, loader.progress)
    volume = loader.volume              # equal to load_volume(path, series)
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from coloc_viewer.errors import InputError
from coloc_viewer.imaging.dicom_decode import allocate_volume, decode_frame, decode_series
from coloc_viewer.imaging.dicom_scan import ScanResult, SeriesGroup, scan_dicom
from coloc_viewer.imaging.display import robust_window
from coloc_viewer.imaging.load import group_metadata, select_series, volume_from_group
from coloc_viewer.imaging.sources import is_volume_file
from coloc_viewer.imaging.volume import Volume

__all__ = ["SeriesLoader", "open_series"]


class SeriesLoader:
    """A series being loaded: geometry and ``middle_slice`` now, the other slices on demand."""

    def __init__(self, source: str, group: SeriesGroup | None, meta: dict[str, Any],
                 volume: Volume | None = None, scan_result: ScanResult | None = None):
        self.source = source
        #: the folder scan the series was picked from (None for NIfTI/MHA/NRRD): lists the
        #: other series without scanning again (200 headers cost ~100 ms of GIL-held Python)
        self.scan_result = scan_result
        self._group = group
        self._cancel = threading.Event()
        self._done = 0
        self._lock = threading.Lock()
        self.volume: Volume | None = volume
        if volume is not None:  # non-DICOM formats: read whole, nothing left to decode
            self.shape = volume.shape
            self.spacing, self.origin = volume.spacing, volume.origin
            self.direction = volume.direction
            self.metadata = dict(volume.metadata)
            self._voxels = volume.voxels
        else:
            assert group is not None
            self.shape = group.shape
            self.spacing, self.origin, self.direction = group.spacing, group.origin, \
                group.direction
            self.metadata = meta
            self._voxels = allocate_volume(group)
        self.middle_index = self.shape[0] // 2
        if volume is None:
            assert group is not None
            self._voxels[self.middle_index] = decode_frame(group.frames[self.middle_index])
            if self.metadata.get("window") is None:  # preliminary, from the middle slice
                self.metadata = {**self.metadata,
                                 "window": list(robust_window(self._voxels[self.middle_index]))}
        self._meta_final = meta
        self._done = 1 if volume is None else self.shape[0]

    @property
    def middle_slice(self) -> np.ndarray:
        return self._voxels[self.middle_index]

    @property
    def progress(self) -> tuple[int, int]:
        """(slices decoded, total slices)."""
        return self._done, self.shape[0]

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def cancel(self) -> None:
        """Stop decoding (thread-safe); ``iter_slices`` ends soon after, ``volume`` stays None."""
        self._cancel.set()

    def _order(self) -> list[int]:
        """Slice indices from the middle outwards (the neighbours of what is shown first)."""
        n, m = self.shape[0], self.middle_index
        out: list[int] = []
        for d in range(1, n):
            for i in (m + d, m - d):
                if 0 <= i < n:
                    out.append(i)
        return out

    def iter_slices(self) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(index, slice)`` for every slice (the middle one first) until done or
        cancelled; afterwards ``volume`` holds the complete Volume."""
        yield self.middle_index, self._voxels[self.middle_index]
        if self.volume is not None:
            for i in range(self.shape[0]):
                if self._cancel.is_set():
                    return
                if i != self.middle_index:
                    yield i, self._voxels[i]
            return
        assert self._group is not None
        done: queue.Queue[list[int] | BaseException | None] = queue.Queue()

        def on_done(rows: list[int]) -> None:
            done.put(rows)

        def work() -> None:
            try:
                decode_series(self._group, out=self._voxels, rows=self._order(), on_done=on_done,
                              cancelled=self._cancel)
            except BaseException as exc:  # noqa: BLE001 - handed to the consumer
                done.put(exc)
                return
            done.put(None)

        worker = threading.Thread(target=work, name="coloc-series-loader", daemon=True)
        worker.start()
        try:
            while True:
                item = done.get()
                if item is None:
                    break
                if isinstance(item, BaseException):
                    raise item
                with self._lock:
                    self._done += len(item)
                for i in item:
                    yield i, self._voxels[i]
                if self._cancel.is_set():
                    return
        finally:
            if self._cancel.is_set() or worker.is_alive():
                self._cancel.set()
                worker.join()
        if not self._cancel.is_set():
            self.volume = volume_from_group(self._group, self._voxels, dict(self._meta_final),
                                            self.source)

    def result(self) -> Volume:
        """Decode whatever is left and return the complete Volume."""
        if self.volume is None:
            for _ in self.iter_slices():
                pass
        if self.volume is None:
            raise InputError("loading was cancelled", self.source)
        return self.volume


def open_series(path: str | os.PathLike[str], series: str | None = None) -> SeriesLoader:
    """Scan ``path``, pick the series as :func:`load_volume` does, decode the middle slice."""
    p = Path(path)
    if not p.exists():
        raise InputError("no such file or folder", p)
    if p.is_file() and is_volume_file(p):
        from coloc_viewer.imaging.sitk_io import read_sitk_volume

        volume = read_sitk_volume(p)
        return SeriesLoader(str(p), None, dict(volume.metadata), volume=volume)
    result = scan_dicom(p)
    group, warnings = select_series(result, p, series)
    return SeriesLoader(str(p), group, group_metadata(group, warnings), scan_result=result)
