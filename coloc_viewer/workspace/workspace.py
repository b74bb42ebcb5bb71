"""A per-series workspace folder: the autosaved ROIs, the view/model state, the session mark.

Layout of ``<data dir>/workspaces/<key>/`` (the key is a hash, never a name):

* ``rois.npz``     -- the latest autosaved ROIs (:mod:`.roi_snapshot`), written atomically;
* ``state.json``   -- model, layer, target, rank, method, slice, window/level, zoom ...;
* ``session.json`` -- whether a session is open, the generation last saved explicitly,
  the source path and series UID (to reopen the study; kept only in this local folder);
* ``session.lock`` -- held while a session is open; the OS releases it when a process dies.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from coloc_viewer.workspace.atomic import atomic_open, atomic_write_json, remove_stale_temps
from coloc_viewer.workspace.paths import key_for_volume, workspace_key, workspaces_root
from coloc_viewer.workspace.roi_snapshot import RoiSnapshot, read_snapshot
from coloc_viewer.workspace.session_lock import SessionLock, is_locked

ROIS_FILE = "rois.npz"
STATE_FILE = "state.json"
SESSION_FILE = "session.json"
LOCK_FILE = "session.lock"

STATE_KEYS = ("model", "layer", "target", "rank", "method", "map", "slice", "window", "level",
              "zoom", "center", "scale_mode", "opacity")


@dataclass
class Restored:
    """What :meth:`Workspace.restore` found: ROIs (or None), state, and whether it is unsaved."""

    rois: RoiSnapshot | None
    state: dict[str, Any]
    unsaved: bool


def _read_json(path: Path) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as handle:
            value = json.load(handle)
    except (OSError, json.JSONDecodeError):
        return {}
    return value if isinstance(value, dict) else {}


class Workspace:
    """The workspace of one series. Thread-safe for one writer (the autosaver) at a time."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)
        self._lock = SessionLock(self.folder / LOCK_FILE)

    # -- construction ----------------------------------------------------------------------
    @classmethod
    def for_key(cls, key: str, root: str | os.PathLike[str] | None = None) -> Workspace:
        return cls((Path(root) if root is not None else workspaces_root()) / key)

    @classmethod
    def for_volume(cls, volume: Any, root: str | os.PathLike[str] | None = None) -> Workspace:
        """The workspace of ``volume`` (keyed by its series UID, else its source path)."""
        ws = cls.for_key(key_for_volume(volume), root)
        meta = getattr(volume, "metadata", None) or {}
        ws.remember(series_uid=meta.get("series_uid"), source=getattr(volume, "source", ""),
                     shape=list(getattr(volume, "shape", ()) or ()))
        return ws

    @classmethod
    def for_source(cls, source: str | os.PathLike[str], series_uid: str | None = None,
                   root: str | os.PathLike[str] | None = None) -> Workspace:
        ws = cls.for_key(workspace_key(series_uid=series_uid, source=source), root)
        ws.remember(series_uid=series_uid, source=os.fspath(source))
        return ws

    @property
    def key(self) -> str:
        return self.folder.name

    # -- session bookkeeping ---------------------------------------------------------------
    def session_info(self) -> dict[str, Any]:
        return _read_json(self.folder / SESSION_FILE)

    def _update_session(self, **changes: Any) -> None:
        info = self.session_info()
        info.update(changes)
        atomic_write_json(self.folder / SESSION_FILE, info)

    def remember(self, **identity: Any) -> None:
        """Store identifying facts (source, series UID, description) for the recovery prompt."""
        info = self.session_info()
        wanted = {k: v for k, v in identity.items() if v not in (None, "", [])}
        if any(info.get(k) != v for k, v in wanted.items()):
            self._update_session(**wanted)

    def begin_session(self) -> bool:
        """Mark the workspace open and hold its lock; False if another session holds it."""
        if not self._lock.acquire():
            return False
        remove_stale_temps(self.folder)
        self._update_session(open=True, pid=os.getpid(), opened_at=time.time())
        return True

    def end_session(self) -> None:
        """Mark a clean close (nothing to recover) and release the lock."""
        if self._lock.held:
            self._update_session(open=False, closed_at=time.time())
        self._lock.release()

    @property
    def in_use(self) -> bool:
        """True if a live session (this one or another process's) holds the lock."""
        return self._lock.held or is_locked(self.folder / LOCK_FILE)

    # -- ROIs ------------------------------------------------------------------------------
    @property
    def rois_path(self) -> Path:
        return self.folder / ROIS_FILE

    def save_rois(self, snapshot: RoiSnapshot) -> None:
        """Atomically replace the autosaved ROIs."""
        with atomic_open(self.rois_path, "wb") as handle:
            snapshot.write(handle)

    def load_rois(self) -> RoiSnapshot | None:
        """The autosaved ROIs, or None if there are none (or the file is unreadable)."""
        if not self.rois_path.exists():
            return None
        try:
            return read_snapshot(self.rois_path)
        except ValueError:
            return None

    def saved_generation(self) -> int:
        """Edit generation of the autosaved ROIs (0 if none)."""
        snap = self.load_rois()
        return snap.generation if snap is not None else 0

    def mark_explicit_save(self, generation: int, path: str | os.PathLike[str] | None = None
                           ) -> None:
        """Record that the user saved the ROIs of ``generation`` themselves ("Save ROI as")."""
        self._update_session(explicit_generation=int(generation), explicit_saved_at=time.time(),
                             explicit_path=os.fspath(path) if path else None)

    def has_unsaved_edits(self) -> bool:
        """Autosaved edits newer than the last explicit save."""
        snap = self.load_rois()
        return snap is not None and snap.generation > int(
            self.session_info().get("explicit_generation", 0))

    def discard_rois(self) -> None:
        """Forget the autosaved ROIs (the user declined recovery)."""
        if self.rois_path.exists():
            self.rois_path.unlink()
        self._update_session(explicit_generation=0)

    # -- view and model state --------------------------------------------------------------
    def save_state(self, state: dict[str, Any]) -> None:
        """Atomically store the view/model state (merged into what is already stored)."""
        merged = self.load_state()
        merged.update(state)
        atomic_write_json(self.folder / STATE_FILE, merged)

    def load_state(self) -> dict[str, Any]:
        return _read_json(self.folder / STATE_FILE)

    # -- reopening -------------------------------------------------------------------------
    def restore(self) -> Restored:
        """Everything stored for this series: ROIs, state, and whether edits are unsaved."""
        rois = self.load_rois()
        explicit = int(self.session_info().get("explicit_generation", 0))
        unsaved = rois is not None and rois.generation > explicit
        return Restored(rois, self.load_state(), unsaved)

    def __repr__(self) -> str:
        return f"Workspace({self.key})"
