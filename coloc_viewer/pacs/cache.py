"""The per-user study cache: retrieved series on disk, complete or not at all.

Layout (every folder mode 0700, every file 0600; names are hashes, so no UID or patient
identifier appears in a path)::

    ROOT/<server key>/<study key>/<series key>/<instance key>.dcm
    ROOT/<server key>/<study key>/<series key>/.complete.json   # written last, atomically
    ROOT/<server key>/<study key>/.complete.json                # every series of the study

A series folder without its marker is partial (a cancelled or failed transfer) and is
emptied before the next retrieval; nothing reads it as a study. The cache keeps at most
``limit_bytes``: completing a series evicts the least recently used other studies.

Whoever retrieves a series holds its lock (``ROOT/.locks/<key>.lock``, an OS file lock, so
two programs sharing the cache coordinate and a killed one leaves no stale lock): a second
retrieval of the series waits and then finds it cached, and eviction passes over a study
while one of its series is being retrieved.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock, Timeout

from coloc_viewer.workspace.atomic import atomic_write_json

__all__ = ["DEFAULT_LIMIT_BYTES", "MARKER", "SeriesWriter", "StudyCache", "cache_root",
           "open_cache", "read_marker", "tree_bytes"]

ENV_CACHE_DIR = "COLOC_VIEWER_CACHE_DIR"
MARKER = ".complete.json"
LOCKS = ".locks"  # the series locks
DEFAULT_LIMIT_BYTES = 20 * 10**9  # 20 GB, as the settings dialog shows it (GB = 1e9 bytes)
KEY_LENGTH = 24


def cache_root() -> Path:
    """``$COLOC_VIEWER_CACHE_DIR``, else the user's cache folder + ``pacs``."""
    override = os.environ.get(ENV_CACHE_DIR)
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_cache_dir("coloc-viewer", appauthor=False)) / "pacs"


def _key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:KEY_LENGTH]


def _private_dir(path: Path) -> Path:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def tree_bytes(path: Path) -> int:
    """The bytes of every file under ``path``."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.stat(os.path.join(root, name)).st_size
    return total


@dataclass
class SeriesWriter:
    """Writes one series' instances; :meth:`commit` marks it complete, :meth:`discard` not."""

    folder: Path
    series_uid: str
    count: int = 0
    nbytes: int = 0

    def path_for(self, key: str) -> Path:
        """Where :meth:`write` stores the instance ``key``."""
        return self.folder / f"{_key(key)}.dcm"

    def write(self, key: str, data: bytes) -> Path:
        """Store one instance (a Part 10 file's bytes) under ``key`` (unique in the series:
        the SOP Instance UID, or the WADO-RS part number); returns its path. Written in
        place: only the completeness marker (:meth:`commit`) makes the folder a cached
        series, and an interrupted series folder is removed by the next attempt."""
        target = self.path_for(key)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with open(fd, "wb", buffering=0) as fh:
            view = memoryview(data)
            while view:
                view = view[fh.write(view):]
        self.count += 1
        self.nbytes += len(data)
        return target

    def adopt(self, path: Path, key: str | None = None) -> Path:
        """Record an instance a receiver (getscu) already wrote into the folder: renamed to
        the name :meth:`write` gives ``key`` (default: its file name, the SOP Instance UID),
        made private, counted; returns its new path."""
        path = Path(path)
        target = self.folder / f"{_key(key if key is not None else path.name)}.dcm"
        os.chmod(path, 0o600)
        os.replace(path, target)
        self.count += 1
        self.nbytes += target.stat().st_size
        return target

    def commit(self, expected: int | None = None) -> None:
        """Write the completeness marker (after the last instance; atomic)."""
        atomic_write_json(self.folder / MARKER, {
            "series_uid": self.series_uid, "instances": self.count, "bytes": self.nbytes,
            "expected": expected, "completed": time.time()})

    def discard(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


class StudyCache:
    """Complete series and studies of one or more servers under ``root``."""

    def __init__(self, root: str | os.PathLike[str] | None = None,
                 limit_bytes: int = DEFAULT_LIMIT_BYTES):
        self.root = _private_dir(Path(root) if root is not None else cache_root())
        self.limit_bytes = int(limit_bytes)

    def study_dir(self, server_key: str, study_uid: str) -> Path:
        return self.root / _key(server_key) / _key(study_uid)

    def series_dir(self, server_key: str, study_uid: str, series_uid: str) -> Path:
        return self.study_dir(server_key, study_uid) / _key(series_uid)

    def series_complete(self, server_key: str, study_uid: str, series_uid: str) -> bool:
        return (self.series_dir(server_key, study_uid, series_uid) / MARKER).is_file()

    def study_complete(self, server_key: str, study_uid: str) -> bool:
        return (self.study_dir(server_key, study_uid) / MARKER).is_file()

    def series_lock(self, folder: Path) -> FileLock:
        """The lock of a series folder (not yet acquired), shared by every process; it may
        be released on another thread than the one that acquired it."""
        name = _key(folder.relative_to(self.root).as_posix())
        return FileLock(_private_dir(self.root / LOCKS) / f"{name}.lock", mode=0o600,
                        thread_local=False)

    def being_retrieved(self, study: Path) -> bool:
        """Whether a series of ``study`` is being retrieved now (its lock is held)."""
        for series in (p for p in study.iterdir() if p.is_dir()):
            if (series / MARKER).exists():
                continue
            lock = self.series_lock(series)
            try:
                lock.acquire(timeout=0)
            except Timeout:
                return True
            lock.release()
        return False

    def begin_series(self, server_key: str, study_uid: str, series_uid: str) -> SeriesWriter:
        """An empty folder for the series (what a failed earlier attempt left is removed)."""
        folder = self.series_dir(server_key, study_uid, series_uid)
        shutil.rmtree(folder, ignore_errors=True)
        for part in (self.root / _key(server_key), folder.parent, folder):
            _private_dir(part)
        return SeriesWriter(folder, series_uid)

    def mark_study(self, server_key: str, study_uid: str, series_uids: list[str]) -> None:
        """Mark the study complete once each of ``series_uids`` is (atomic)."""
        missing = [s for s in series_uids if not self.series_complete(server_key, study_uid, s)]
        if missing:
            raise RuntimeError(f"{len(missing)} series of the study are not complete")
        atomic_write_json(self.study_dir(server_key, study_uid) / MARKER,
                          {"series": len(series_uids), "completed": time.time()})

    def touch(self, folder: Path) -> None:
        """Record a use (least-recently-used eviction reads the study marker's mtime)."""
        with contextlib.suppress(OSError):
            os.utime(folder / MARKER)

    def studies(self) -> Iterator[Path]:
        if not self.root.exists():
            return
        for server in sorted(p for p in self.root.iterdir() if p.is_dir() and p.name != LOCKS):
            yield from sorted(p for p in server.iterdir() if p.is_dir())

    def size_bytes(self) -> int:
        return tree_bytes(self.root)

    def enforce_limit(self, keep: Path | None = None) -> list[Path]:
        """Evict least recently used studies (never ``keep``) until the cache fits."""
        total = self.size_bytes()
        if total <= self.limit_bytes:
            return []

        def last_use(study: Path) -> float:
            stamps = [p.stat().st_mtime for p in (study / MARKER, *study.glob("*/" + MARKER))
                      if p.exists()]
            return max(stamps) if stamps else 0.0

        evicted: list[Path] = []
        for study in sorted(self.studies(), key=last_use):
            if total <= self.limit_bytes:
                break
            if (keep is not None and study == keep) or self.being_retrieved(study):
                continue
            size = tree_bytes(study)
            shutil.rmtree(study, ignore_errors=True)
            total -= size
            evicted.append(study)
        return evicted

    def purge_plan(self, keep: Iterable[str | os.PathLike[str]] = ()
                   ) -> tuple[list[Path], list[Path]]:
        """(studies a purge removes, studies it keeps): it keeps those being retrieved now
        and those holding a path of ``keep`` (series open in the viewer)."""
        kept_paths = [Path(p).resolve() for p in keep if p]
        remove, kept = [], []
        for study in self.studies():
            held = any(path.is_relative_to(study.resolve()) for path in kept_paths)
            (kept if held or self.being_retrieved(study) else remove).append(study)
        return remove, kept

    def purge(self, keep: Iterable[str | os.PathLike[str]] = ()) -> int:
        """Remove every cached study but those :meth:`purge_plan` keeps; returns the bytes
        freed."""
        before = self.size_bytes()
        for study in self.purge_plan(keep)[0]:
            shutil.rmtree(study, ignore_errors=True)
        for child in list(self.root.iterdir()) if self.root.exists() else ():
            if child.name == LOCKS:
                continue  # a retrieval in progress elsewhere may hold one
            if not child.is_dir():
                with contextlib.suppress(OSError):
                    child.unlink()
            elif not any(child.iterdir()):
                child.rmdir()
        return before - self.size_bytes()

    def describe(self) -> dict:
        """What the cache holds: whole studies, complete series (and the studies they
        belong to), bytes, the limit."""
        studies = list(self.studies())
        complete = sum(1 for s in studies if (s / MARKER).is_file())
        series = [sum(1 for p in s.iterdir() if (p / MARKER).is_file()) for s in studies]
        return {"root": str(self.root), "bytes": self.size_bytes(),
                "limit_bytes": self.limit_bytes, "complete_studies": complete,
                "series": sum(series), "studies_with_series": sum(1 for n in series if n)}

    def summary(self) -> str:
        """One line for people: ``3 series of 2 studies, 5.3 MB``."""
        info = self.describe()
        n, k = info["series"], info["studies_with_series"]
        return f"{n} series of {k} {'study' if k == 1 else 'studies'}, " \
               f"{info['bytes'] / 1e6:.1f} MB"


def open_cache() -> StudyCache:
    """The user's cache with the size limit from the PACS settings."""
    from coloc_viewer.pacs.servers import load_cache_limit

    return StudyCache(limit_bytes=load_cache_limit() or DEFAULT_LIMIT_BYTES)


def read_marker(folder: Path) -> dict:
    try:
        return json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
