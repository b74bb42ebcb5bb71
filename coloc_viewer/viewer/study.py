"""Qt-free study loading for the viewer: scan, then the volume (progressively when the
imaging layer offers it), and the bundled demo case."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from coloc_viewer.imaging.volume import Volume
from coloc_viewer.resources import demo_dir
from coloc_viewer.viewer.display import presets_for
from coloc_viewer.viewer.orientation import orientation_of, oriented, storage_of

ROI_FILE_NAMES = ("rois.seg.dcm", "rois.nii.gz", "lesion.nii.gz")


@dataclass
class DemoCase:
    image: Path
    rois: Path | None


def demo_cases() -> list[DemoCase]:
    """Bundled demo cases (``<demo>/<case>/dicom`` + the first ROI file found)."""
    root = demo_dir()
    cases = []
    if root.is_dir():
        for folder in sorted(p for p in root.iterdir() if p.is_dir()):
            image = folder / "dicom" if (folder / "dicom").is_dir() else None
            if image is None:
                continue
            rois = next((folder / n for n in ROI_FILE_NAMES if (folder / n).exists()), None)
            cases.append(DemoCase(image, rois))
    return cases


def bundled_rois_for(path: str | os.PathLike[str]) -> Path | None:
    """The ROI file a bundled demo case ships with, when ``path`` is that case's images
    (opened again from Recent studies or File > Open), else None."""
    try:
        target = Path(path).resolve()
    except (OSError, ValueError):
        return None
    return next((c.rois for c in demo_cases() if c.image.resolve() == target), None)


@dataclass
class LoadStep:
    """One message from a loading worker to the GUI."""

    kind: str  # "retrieving" (a pacs:// address) | "series" | "first" | "progress"
    payload: Any = None
    done: int = 0
    total: int = 0


RETRIEVE_POLL_S = 0.2  # a stalled retrieval still yields this often: a cancel is seen


def retrieving(address: str) -> Iterator[LoadStep]:
    """Generator: the cached folder of a ``pacs://`` address (its return value), retrieved
    in a helper thread if it is not cached; yields ``LoadStep("retrieving", Progress,
    done, total)`` as instances arrive (and every ``RETRIEVE_POLL_S`` while none do).
    Closing it (a cancelled or superseded worker) cancels the retrieval: nothing is kept."""
    import queue
    import threading

    from coloc_viewer.pacs.resolve import local_path

    cancel = threading.Event()
    steps: queue.Queue[Any] = queue.Queue()
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["path"] = local_path(address, progress=steps.put, cancel=cancel)
        except BaseException as err:  # noqa: BLE001 - raised again in the generator
            outcome["error"] = err
        finally:
            steps.put(None)

    worker = threading.Thread(target=run, name="pacs-retrieve", daemon=True)
    worker.start()
    last = LoadStep("retrieving")
    try:
        while True:
            try:
                item = steps.get(timeout=RETRIEVE_POLL_S)
            except queue.Empty:
                yield last  # nothing new: still a chance for the worker to stop us
                continue
            if item is None:
                break
            last = LoadStep("retrieving", item, item.done, item.total or 0)
            yield last
    finally:
        if worker.is_alive():  # closed early: stop the retrieval, then let it end
            cancel.set()
    worker.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["path"]


def load_study(path: str | os.PathLike[str], series: str | None = None,
               with_series_list: bool = True, autosave_root: Any = False,
               previous_session: Any = None, volume: Volume | None = None
               ) -> Iterator[LoadStep]:
    """Generator for a worker: a first Volume early (only its middle slice decoded; the
    other slices fill in place), the series list, progress, and finally the complete
    :class:`Volume` (``StopIteration.value``, equal to ``load_volume``'s). Closing the
    generator (a cancelled worker) stops decoding.

    The "first" step carries (volume, RoiSet, session, window presets): unless
    ``autosave_root`` is False, the study's autosave session is opened here (it writes
    small files with fsync) and its restored ROIs, if any, replace the empty set;
    ``previous_session`` (the study shown so far) is closed first, here, once the new path
    proved readable. ``volume``: the series at ``path`` decoded already (e.g. while it was
    retrieved from a PACS; what ``load_volume(path, series)`` gives). The return value is
    (volume, window presets), the presets computed here too."""
    from coloc_viewer.imaging.inspect import scan, series_info_of, series_infos
    from coloc_viewer.imaging.progressive import open_series

    path = os.fspath(path)
    if path.lower().startswith("pacs://"):  # e.g. from Recent studies: the cached folder,
        path = yield from retrieving(path)  # retrieved again if evicted
    if volume is not None:
        from coloc_viewer.imaging.progressive import SeriesLoader

        loader = SeriesLoader(path, None, dict(volume.metadata), volume=volume)
    else:
        loader = open_series(path, series=series)
    if previous_session is not None:
        previous_session.close()  # flushes and fsyncs: not on the GUI thread
    try:
        first = oriented(loader.volume if loader.volume is not None
                         else preliminary_volume(loader))  # standard display orientation
        # the empty ROI set (a mask as large as the volume) is made here, not in the GUI
        from coloc_viewer.viewer.roi_editing import new_roiset

        session = None if autosave_root is False else open_session(first, autosave_root)
        restored = session.restored_roiset() if session is not None else None
        rois = restored if restored is not None else new_roiset(first)
        loading = first is not loader.volume  # only the middle slice is decoded
        presets = presets_for(first.metadata.get("modality"),
                              first.voxels[first.shape[0] // 2] if loading else first.voxels)
        try:
            yield LoadStep("first", (first, rois, session, presets))
        except GeneratorExit:  # superseded: nobody else will close this session
            if session is not None:
                session.close()
            raise
        if with_series_list:
            # the loader's own folder scan: no second pass over every header; a volume
            # given (a PACS retrieval, its files maybe still being written): the volume's
            found = loader.scan_result
            if found is not None:
                yield LoadStep("series", series_infos(found, path))
            elif volume is not None and volume.metadata.get("series_uid"):
                yield LoadStep("series", [series_info_of(volume)])
            else:
                yield LoadStep("series", list(scan(path)))
        fresh: list[int] = []
        # a volume decoded already (given) has nothing left to fill in: no progress steps
        for index, _plane in (() if volume is not None else loader.iter_slices()):
            fresh.append(int(index))
            done, total = loader.progress
            if len(fresh) >= 8 or done == total:
                yield LoadStep("progress", fresh, done, total)
                fresh = []
        if fresh:
            yield LoadStep("progress", fresh, *loader.progress)
        volume = oriented(loader.result())
        return volume, presets_for(volume.metadata.get("modality"), volume.voxels)
    finally:
        if loader.volume is None:
            loader.cancel()


def open_session(volume: Volume, root: Any = None) -> Any:
    """The study's autosave session (coloc_viewer.workspace), or None when it cannot be
    opened (autosave must never stop a study from opening)."""
    import logging

    try:
        from coloc_viewer.workspace.session import StudySession

        return StudySession.open(volume, root)
    except Exception as err:
        logging.getLogger(__name__).info("autosave unavailable: %s", err)
        return None


def preliminary_volume(loader: Any) -> Volume:
    """A Volume sharing the loader's voxel buffer: the middle slice is decoded, the others
    appear as the loader fills them in."""
    middle = loader.middle_slice
    buffer = middle.base if middle.base is not None and \
        tuple(middle.base.shape) == tuple(loader.shape) else None
    if buffer is None:  # unexpected layout: show the middle slice alone until done
        buffer = np.zeros(loader.shape, np.float32)
        buffer[loader.middle_index] = middle
    meta = dict(loader.metadata)
    meta["loading"] = True
    return Volume(buffer, spacing=loader.spacing, origin=loader.origin,
                  direction=loader.direction, metadata=meta, source=loader.source)


def load_rois_for(path: str | os.PathLike[str], volume: Volume) -> Any:
    """A RoiSet from a multi-ROI file (or an old single-mask file, as one ROI)."""
    from coloc_viewer.imaging.roi_io import load_rois

    source_files_ready(volume)  # a DICOM SEG is matched against the source images
    stored = storage_of(volume)
    rois = load_rois(os.fspath(path), like=stored)  # files hold the stored grid
    return regrid(rois, volume, orientation_of(volume).to_display)


CACHE_WAIT_S = 60.0  # at most this long for a retrieved series' cache writes


def source_files_ready(volume: Volume) -> None:
    """Before reading ``volume``'s source files (a DICOM SEG references them): a series just
    retrieved from a PACS is shown before its files are written; wait for those writes. A
    series whose writes failed keeps its missing files (the SEG writer names them)."""
    if volume.files and not all(Path(f).is_file() for f in dict.fromkeys(volume.files)):
        from coloc_viewer.pacs.retrieve import wait_cached

        wait_cached(CACHE_WAIT_S)


def save_rois_to(rois: Any, path: str | os.PathLike[str], volume: Volume) -> None:
    """Write ``rois`` (on ``volume``'s display grid) on the stored grid of the series."""
    from coloc_viewer.imaging.roi_io import save_rois

    source_files_ready(volume)
    stored = storage_of(volume)
    save_rois(regrid(rois, stored, orientation_of(volume).to_storage), os.fspath(path),
              like=stored)


def regrid(rois: Any, like: Volume, mapping: Any) -> Any:
    """A copy of ``rois`` on ``like``'s grid, each mask through ``mapping`` (flips/swap)."""
    from coloc_viewer.imaging.roi import RoiSet

    if orientation_is_identity(mapping):
        return rois
    out = RoiSet.for_volume(like)
    for roi in rois:
        copy = out.add(roi.name, np.ascontiguousarray(mapping(roi.mask)), color=roi.color,
                       code=roi.code, category=roi.category, visible=roi.visible,
                       locked=roi.locked, record=False)
        copy.extra = dict(roi.extra)
    out.active = rois.active
    return out


def orientation_is_identity(mapping: Any) -> bool:
    probe = np.arange(6).reshape(1, 2, 3)
    return bool(np.array_equal(mapping(probe), probe))
