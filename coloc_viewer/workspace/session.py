"""One object per open study for the viewer: restore, autosave, explicit save, close.

The main window needs only these calls::

    session = StudySession.open(volume)          # on open (restores what was there)
    rois = session.restored_roiset()             # a RoiSet, or None
    state = session.state                        # {"slice": 12, "model": ..., ...}
    session.rois_changed(roiset)                 # on every ROI edit (returns at once)
    session.state_changed(slice=13)              # on view/model changes
    session.saved_as(path)                       # after "Save ROIs as"
    session.close()                              # on close / before opening another study
"""

from __future__ import annotations

import os
import time
from typing import Any

from coloc_viewer.imaging.redact import redact_description
from coloc_viewer.workspace.autosave import Autosaver
from coloc_viewer.workspace.recovery import Recoverable
from coloc_viewer.workspace.roi_snapshot import RoiSnapshot, to_roiset
from coloc_viewer.workspace.workspace import Restored, Workspace


class StudySession:
    """The workspace of the open study and its autosaver (None if opened elsewhere)."""

    def __init__(self, workspace: Workspace, restored: Restored, autosaver: Autosaver | None,
                 spacing: tuple[float, float, float]) -> None:
        self.workspace = workspace
        self.restored = restored
        self.autosaver = autosaver
        self.spacing = spacing

    @classmethod
    def open(cls, volume: Any, root: str | os.PathLike[str] | None = None,
             delay: float | None = None) -> StudySession:
        """Restore the study's workspace and start autosaving it.

        If the same study is open in another window or process, the session is read-only
        (``autosaver`` is None) so two writers never fight over one folder.
        """
        ws = Workspace.for_volume(volume, root)
        meta = getattr(volume, "metadata", None) or {}
        identity = dict(getattr(volume, "private", None) or {})
        ws.remember(description=redact_description(meta.get("description") or "", identity),
                     modality=str(meta.get("modality") or ""))
        restored = ws.restore()
        if restored.rois is not None and restored.rois.shape != tuple(volume.shape):
            restored = Restored(None, restored.state, False)  # another grid: do not apply
        saver = None
        if ws.begin_session():
            saver = Autosaver(ws) if delay is None else Autosaver(ws, delay)
        return cls(ws, restored, saver, tuple(float(s) for s in volume.spacing))

    @property
    def read_only(self) -> bool:
        return self.autosaver is None

    @property
    def state(self) -> dict[str, Any]:
        return dict(self.restored.state)

    def restored_snapshot(self) -> RoiSnapshot | None:
        return self.restored.rois

    def restored_roiset(self) -> Any:
        """The autosaved ROIs as a :class:`~coloc_viewer.imaging.roi.RoiSet`, or None."""
        snap = self.restored.rois
        return None if snap is None or not snap.masks else to_roiset(snap, self.spacing)

    def rois_changed(self, rois: Any) -> None:
        if self.autosaver is not None:
            self.autosaver.changed(rois)

    def state_changed(self, **state: Any) -> None:
        if self.autosaver is not None:
            self.autosaver.state_changed(**state)

    def saved_as(self, path: str | os.PathLike[str]) -> None:
        """The user saved the ROIs explicitly: nothing is left to recover."""
        if self.autosaver is not None:
            self.autosaver.mark_saved_explicitly(path)

    def close(self) -> None:
        if self.autosaver is not None:
            self.autosaver.close()
            self.autosaver = None


def describe_recoverable(item: Recoverable) -> str:
    """One line for the "recover unsaved ROIs?" prompt (no patient identifiers)."""
    info = item.workspace.session_info()
    what = " ".join(p for p in (info.get("modality"), info.get("description")) if p) or "study"
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(item.saved_at))
    name = os.path.basename(str(item.source or "").rstrip("/\\")) or "unknown file"
    return f"{what} ({name}), ROIs edited {when}, not saved"
