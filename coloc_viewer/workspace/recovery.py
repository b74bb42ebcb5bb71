"""After a crash or a kill: find the workspaces whose edits were never saved by the user."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from coloc_viewer.workspace.paths import workspaces_root
from coloc_viewer.workspace.session_lock import is_locked
from coloc_viewer.workspace.workspace import LOCK_FILE, Workspace


@dataclass(frozen=True)
class Recoverable:
    """A workspace left open by a session that ended without closing it."""

    workspace: Workspace
    source: str | None
    series_uid: str | None
    generation: int
    saved_at: float  # modification time of the autosaved ROIs (seconds since the epoch)

    @property
    def key(self) -> str:
        return self.workspace.key


def find_recoverable(root: str | os.PathLike[str] | None = None) -> list[Recoverable]:
    """Workspaces not closed cleanly, not open elsewhere, with edits newer than a user save.

    Newest first. The GUI offers each one: reopen ``source`` and call
    :meth:`Workspace.restore`, or :meth:`Workspace.discard_rois`.
    """
    base = Path(root) if root is not None else workspaces_root()
    found: list[Recoverable] = []
    if not base.is_dir():
        return found
    for folder in base.iterdir():
        if not folder.is_dir():
            continue
        ws = Workspace(folder)
        info = ws.session_info()
        if not info.get("open") or is_locked(folder / LOCK_FILE):
            continue
        snap = ws.load_rois()
        if snap is None or snap.generation <= int(info.get("explicit_generation", 0)):
            continue
        found.append(Recoverable(ws, info.get("source"), info.get("series_uid"),
                                 snap.generation, ws.rois_path.stat().st_mtime))
    found.sort(key=lambda r: r.saved_at, reverse=True)
    return found
