"""One client for both protocols, and retrieval into the study cache with progress, cancel
and the completeness rule (a series is cached only once every instance arrived)."""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from coloc_viewer.pacs.cache import StudyCache
from coloc_viewer.pacs.errors import PacsError, RetrievalCancelled
from coloc_viewer.pacs.query import SeriesRow
from coloc_viewer.pacs.servers import ServerConfig
from coloc_viewer.pacs.write_behind import WriteBehind

log = logging.getLogger(__name__)

__all__ = ["Progress", "connect", "retrieve_series", "retrieve_study", "retrieve_volume"]


@dataclass(frozen=True)
class Progress:
    """Where a retrieval stands: ``done`` of ``total`` instances (``total`` None: unknown);
    ``path`` is the instance just written (the first one can be shown at once)."""

    done: int
    total: int | None
    path: Path | None
    series_uid: str
    cached: bool = False  # the series came from the cache, nothing was downloaded
    waiting: bool = False  # another retrieval of the series (any program) goes first


ProgressCallback = Callable[[Progress], Any]
DECODE_SWITCH_INTERVAL = 0.001  # seconds, while a series is decoded as it streams in


def connect(server: ServerConfig) -> Any:
    """A :class:`~coloc_viewer.pacs.dicomweb.DicomWebClient` or
    :class:`~coloc_viewer.pacs.dimse.DimseClient` for ``server``."""
    if server.protocol == "dicomweb":
        from coloc_viewer.pacs.dicomweb import DicomWebClient

        return DicomWebClient(server)
    from coloc_viewer.pacs.dimse import DimseClient

    return DimseClient(server)


# background completions (writes + commit) by series folder: a new retrieval of the same
# series waits for them instead of clearing a folder that is still being written
_PENDING: dict[Path, threading.Thread] = {}
_PENDING_LOCK = threading.Lock()
LOCK_POLL_S = 0.1  # how often a retrieval waiting for a series' lock looks at its cancel
HOLD_BYTES = 2 << 30  # at most this much is held in memory until the volume is shown


def _wait_pending(folder: Path) -> None:
    with _PENDING_LOCK:
        pending = _PENDING.get(folder)
    if pending is not None:
        pending.join()


def wait_cached(timeout: float | None = None) -> bool:
    """Wait until every series returned by ``retrieve_volume(on_cached=...)`` is written to
    the cache (or dropped); False if some still are after ``timeout`` seconds. Call it
    before reading a retrieved volume's files (``Volume.files``). The program's exit waits
    for them as well."""
    deadline = None if timeout is None else time.monotonic() + timeout
    with _PENDING_LOCK:
        threads = list(_PENDING.values())
    for thread in threads:
        thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
    return not any(t.is_alive() for t in threads)


def _acquire(lock: Any, cancel: threading.Event | None, label: str,
             waiting: Callable[[], Any]) -> None:
    """Take a series' lock, waiting while another retrieval holds it (cancellable);
    ``waiting()`` once if it has to wait."""
    from filelock import Timeout

    try:
        lock.acquire(timeout=0)
        return
    except Timeout:
        log.info("waiting for another retrieval of the same series")
        waiting()
    while True:
        if cancel is not None and cancel.is_set():
            raise RetrievalCancelled("retrieval cancelled", label)
        try:
            lock.acquire(timeout=LOCK_POLL_S)
            return
        except Timeout:
            continue


def retrieve_series(client: Any, cache: StudyCache, study_uid: str, series_uid: str,
                    progress: ProgressCallback | None = None,
                    cancel: threading.Event | None = None, total: int | None = None,
                    enforce_limit: bool = True,
                    on_instance: Callable[[Path, bytes | None], Any] | None = None) -> Path:
    """The cached folder of the series, downloaded unless already complete.
    ``on_instance(path, data)`` runs once per instance: with its bytes as soon as they
    arrived (``path`` is where they are being written), or, when a receiver such as getscu
    wrote the file itself, with None once the file is there (read it from ``path``)."""
    folder, caching = _fetch(client, cache, study_uid, series_uid, progress, cancel, total,
                             on_instance, hold=False)
    if caching is not None:
        caching.complete(enforce_limit)
    return folder


class _Caching(NamedTuple):
    """What is left of a retrieval once every instance arrived: ``complete(enforce_limit)``
    waits for the writes and commits (once; later calls repeat the outcome); after
    ``detach()`` a cancel no longer stops the writes."""

    complete: Callable[..., None]
    detach: Callable[[], None]


def _fetch(client: Any, cache: StudyCache, study_uid: str, series_uid: str,
           progress: ProgressCallback | None, cancel: threading.Event | None,
           total: int | None, on_instance: Callable[[Path, bytes | None], Any] | None,
           hold: bool) -> tuple[Path, _Caching | None]:
    """Receive the series; returns its folder and what finishes caching it (None: it was
    cached already). ``hold``: the instances stay in memory, unwritten (the first one aside,
    for the preview), until ``complete`` runs; progress then follows the instances
    received, not written."""
    key = client.server.address
    folder = cache.series_dir(key, study_uid, series_uid)
    _wait_pending(folder)
    lock = cache.series_lock(folder)
    _acquire(lock, cancel, client.server.label,  # another program may be retrieving it
             lambda: progress(Progress(0, total, None, series_uid, waiting=True))
             if progress is not None else None)
    try:
        if cache.series_complete(key, study_uid, series_uid):
            cache.touch(folder)
            if progress is not None:
                progress(Progress(total or 0, total, None, series_uid, cached=True))
            lock.release()
            return folder, None
        writer = cache.begin_series(key, study_uid, series_uid)
    except BaseException:
        lock.release()
        raise
    receiving = threading.Event()
    receiving.set()  # cleared by detach(): the volume is shown, the writes always finish
    received = [0]

    def cancelled() -> bool:
        return cancel is not None and cancel.is_set() and receiving.is_set()

    def written(path: Path, _data: bytes | None = None) -> None:
        if progress is not None:
            progress(Progress(writer.count, total, path, series_uid))

    behind: WriteBehind | None = None

    def write(key: str, data: bytes) -> Path:  # on the writing thread
        if cancelled():
            raise RetrievalCancelled("retrieval cancelled", client.server.label)
        return writer.write(key, data)

    def on_bytes(key: str, data: bytes) -> None:
        if cancelled():
            raise RetrievalCancelled("retrieval cancelled", client.server.label)
        assert behind is not None
        if on_instance is not None:  # decoded while it is being written, not after
            on_instance(writer.path_for(key), data)
        received[0] += 1
        if not hold:
            behind.put(key, data)  # written (and reported) on the writing thread
            return
        path: Path | None = None
        if received[0] == 1:
            path = writer.write(key, data)  # the first one at once: the preview reads it
        else:
            behind.put(key, data)
        if progress is not None:
            progress(Progress(received[0], total, path, series_uid))

    def on_file(path: Path) -> None:  # already in the folder (getscu)
        if cancelled():
            raise RetrievalCancelled("retrieval cancelled", client.server.label)
        path = writer.adopt(path)
        received[0] += 1
        if on_instance is not None:
            on_instance(path, None)
        written(path)

    def discard() -> None:
        if behind is not None:
            with contextlib.suppress(Exception):
                behind.close(write_rest=False)  # nothing is written after the folder goes
        writer.discard()  # never a partial series that looks like one
        lock.release()

    try:
        into_folder = getattr(client, "retrieves_into_folder", None)
        if into_folder is not None and into_folder():
            client.fetch_series_files(study_uid, series_uid, writer.folder, on_file, cancel)
        else:
            behind = WriteBehind(write, written if not hold else (lambda _p, _d: None),
                                 hold_bytes=HOLD_BYTES if hold else 0)
            client.fetch_series(study_uid, series_uid, on_bytes, cancel)
        if cancel is not None and cancel.is_set():
            raise RetrievalCancelled("retrieval cancelled", client.server.label)
        if received[0] == 0:
            raise PacsError("the server sent no instance of the series", client.server.label)
        if total is not None and received[0] < total:
            raise PacsError(f"the transfer ended after {received[0]} of {total} instances",
                            client.server.label)
    except BaseException:
        discard()
        raise
    done: list[BaseException | None] = []

    def complete(enforce_limit: bool = True) -> None:
        if done:
            if done[0] is not None:
                raise done[0]
            return
        try:
            if behind is not None:
                behind.close()
            if cancelled():
                raise RetrievalCancelled("retrieval cancelled", client.server.label)
            if total is not None and writer.count < total:
                raise PacsError(f"only {writer.count} of {total} instances were written",
                                client.server.label)
            writer.commit(expected=total)
        except BaseException as err:
            discard()
            done.append(err)
            raise
        lock.release()
        done.append(None)
        log.info("series retrieved from %s: %d instances, %.1f MB", client.server.label,
                 writer.count, writer.nbytes / 1e6)
        if enforce_limit:
            cache.enforce_limit(keep=folder.parent)

    return folder, _Caching(complete, receiving.clear)


def retrieve_volume(client: Any, cache: StudyCache, study_uid: str, series_uid: str,
                    progress: ProgressCallback | None = None,
                    cancel: threading.Event | None = None,
                    total: int | None = None,
                    on_cached: Callable[[BaseException | None], Any] | None = None
                    ) -> tuple[Path, Any]:
    """:func:`retrieve_series` and the series' Volume, decoded while it streams in (equal to
    ``load_volume`` of the cached folder, which is read instead when it was cached already).
    Nothing changes in the cache rules: a cancelled or failed transfer keeps nothing.

    ``on_cached``: the volume is returned as soon as it is decoded; the received instances
    are held in memory meanwhile and written to the cache after it (on a thread; a cancel
    no longer applies then), and ``on_cached(error)`` is called once the series is cached
    (error None) or was dropped. Without it, the series is cached when this returns."""
    from coloc_viewer.pacs.assemble import SeriesAssembler

    switch = sys.getswitchinterval()
    if switch > DECODE_SWITCH_INTERVAL:
        # the receiving and the decoding thread share the GIL: at Python's default 5 ms the
        # receiver waits for it after each read (200 x 0.5 MB: 0.667 -> 0.618 s at 1 ms,
        # medians of 8 under load); the viewer's GUI runs at 1 ms anyway
        sys.setswitchinterval(DECODE_SWITCH_INTERVAL)
    assembler = SeriesAssembler(cache.series_dir(client.server.address, study_uid,
                                                 series_uid), expected=total)
    try:
        folder, caching = _fetch(client, cache, study_uid, series_uid, progress, cancel,
                                 total, assembler.add, hold=on_cached is not None)
    except BaseException:
        assembler.cancel()
        raise
    finally:
        if sys.getswitchinterval() == DECODE_SWITCH_INTERVAL < switch:
            sys.setswitchinterval(switch)
    if caching is None:  # cached already: read from the folder
        volume = assembler.finish()
        if on_cached is not None:
            on_cached(None)
        return folder, volume
    complete = caching.complete
    try:
        volume = assembler.finish(files_ready=complete)  # files needed: cache them first
    except BaseException:
        with contextlib.suppress(Exception):
            complete()
        raise
    if on_cached is None:
        complete()
        return folder, volume
    caching.detach()  # the volume is the caller's now: a cancel cannot drop the cache any more

    def finish_caching() -> None:
        error: BaseException | None = None
        try:
            complete()
        except BaseException as err:  # noqa: BLE001 - reported to the caller
            log.warning("series not cached: %s", err)
            error = err
        try:
            on_cached(error)
        except Exception as err:  # noqa: BLE001 - e.g. its window closed: the cache stays
            log.info("on_cached failed: %s", err.__class__.__name__)
        finally:
            with _PENDING_LOCK:
                if _PENDING.get(folder) is threading.current_thread():
                    del _PENDING[folder]

    # not a daemon: a program that quits right after the volume is shown still caches it
    thread = threading.Thread(target=finish_caching, name="pacs-cache")
    with _PENDING_LOCK:
        _PENDING[folder] = thread
    thread.start()
    return folder, volume


def retrieve_study(client: Any, cache: StudyCache, study_uid: str,
                   progress: ProgressCallback | None = None,
                   cancel: threading.Event | None = None,
                   series: list[SeriesRow] | None = None) -> Path:
    """The cached folder of the whole study (each series complete); a study retrieved
    before is not queried or downloaded again."""
    key = client.server.address
    study = cache.study_dir(key, study_uid)
    if cache.study_complete(key, study_uid):
        cache.touch(study)
        if progress is not None:
            progress(Progress(0, 0, None, "", cached=True))
        return study
    rows = series if series is not None else client.find_series(study_uid)
    if not rows:
        raise PacsError("the study has no series on the server (or no such study)",
                        client.server.label)
    grand = sum(r.n_instances or 0 for r in rows) or None
    offset = 0

    def shifted(p: Progress) -> None:
        if progress is not None:
            progress(Progress(offset + p.done, grand, p.path, p.series_uid, p.cached))

    for row in rows:
        retrieve_series(client, cache, study_uid, row.series_uid, shifted, cancel,
                        total=row.n_instances, enforce_limit=False)
        offset += row.n_instances or 0
    cache.mark_study(key, study_uid, [r.series_uid for r in rows])
    cache.enforce_limit(keep=study)
    return study
