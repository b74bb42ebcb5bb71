"""Per-series workspaces: ROI autosave with atomic writes, view state, crash recovery.

Qt-free. The viewer needs only :class:`StudySession` (open/restore, ``rois_changed``,
``state_changed``, ``saved_as``, ``close``) and :func:`find_recoverable` at start-up. The
parts underneath::

    ws = Workspace.for_volume(volume)          # keyed by a hash of the series UID / path
    restored = ws.restore()                    # ROIs + state of the last session
    ws.begin_session()
    saver = Autosaver(ws)
    saver.changed(rois)                        # on every edit; on disk within 2 s
    saver.state_changed(slice=12, model="demo-resnet18")
    saver.close()                              # flush + mark a clean close

    for item in find_recoverable():            # at start-up, after a crash
        ...
"""

from coloc_viewer.workspace.autosave import Autosaver
from coloc_viewer.workspace.paths import data_dir, key_for_volume, workspace_key
from coloc_viewer.workspace.recovery import Recoverable, find_recoverable
from coloc_viewer.workspace.roi_snapshot import RoiSnapshot, read_snapshot, snapshot_of, to_roiset
from coloc_viewer.workspace.session import StudySession, describe_recoverable
from coloc_viewer.workspace.workspace import Restored, Workspace

__all__ = ["Autosaver", "Recoverable", "Restored", "RoiSnapshot", "StudySession", "Workspace",
           "data_dir", "describe_recoverable",
           "find_recoverable", "key_for_volume", "read_snapshot", "snapshot_of", "to_roiset",
           "workspace_key"]
