"""Persistent settings (QSettings): the user's, ``viewer.ini`` in ``$COLOC_VIEWER_CONFIG_DIR``
when that is set (beside the PACS servers), a throw-away file when
COLOC_VIEWER_NO_SETTINGS=1."""

from __future__ import annotations

import json
import os
import tempfile

from PySide6.QtCore import QSettings

from coloc_viewer.pacs.servers import ENV_CONFIG_DIR, settings_dir

_TEMP_DIR: tempfile.TemporaryDirectory | None = None
_WORKSPACES: tempfile.TemporaryDirectory | None = None  # test mode: removed at exit
MAX_RECENT = 10
VIEWER_SETTINGS = "viewer.ini"


def open_settings() -> QSettings:
    """The user's settings; ``viewer.ini`` in ``$COLOC_VIEWER_CONFIG_DIR`` when set (a
    separate configuration, as the PACS settings honour it); or (tests, CI) an INI file in a
    temporary folder."""
    global _TEMP_DIR
    if os.environ.get("COLOC_VIEWER_NO_SETTINGS") == "1":
        if _TEMP_DIR is None:
            _TEMP_DIR = tempfile.TemporaryDirectory(prefix="coloc-viewer-settings-")
        return QSettings(os.path.join(_TEMP_DIR.name, "settings.ini"), QSettings.Format.IniFormat)
    if os.environ.get(ENV_CONFIG_DIR):
        folder = settings_dir()
        folder.mkdir(parents=True, exist_ok=True)
        return QSettings(str(folder / VIEWER_SETTINGS), QSettings.Format.IniFormat)
    return QSettings("coloc_viewer", "coloc-viewer")


def _strings(settings: QSettings, key: str) -> list[str]:
    """A list setting (QSettings gives a lone string for a one-item list)."""
    value = settings.value(key, [])
    if isinstance(value, str):
        value = [value]
    return [str(v) for v in (value or [])]


def recent_studies(settings: QSettings) -> list[str]:
    return _strings(settings, "recent/studies")


def recent_labels(settings: QSettings) -> dict[str, str]:
    """What the Recent menu shows for entries that are not paths (a PACS series)."""
    try:
        value = json.loads(str(settings.value("recent/labels", "{}") or "{}"))
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def add_recent(settings: QSettings, path: str, label: str | None = None) -> list[str]:
    """Put ``path`` (a file, folder or ``pacs://`` address) first; ``label``: its menu text."""
    items = [p for p in recent_studies(settings) if p != path]
    items.insert(0, path)
    items = items[:MAX_RECENT]
    settings.setValue("recent/studies", items)
    labels = {k: v for k, v in recent_labels(settings).items() if k in items and k != path}
    if label:
        labels[path] = label
    settings.setValue("recent/labels", json.dumps(labels))
    return items


MAX_CARDS = 30


def model_cards(settings: QSettings) -> list[str]:
    """Model cards the user loaded or refined (paths), still on disk: offered at start."""
    return [c for c in _strings(settings, "model/cards") if os.path.isfile(c)]


def remember_card(settings: QSettings, path: str) -> None:
    """Offer the card at ``path`` in every later session too (newest first)."""
    cards = [c for c in model_cards(settings) if c != path]
    settings.setValue("model/cards", [path, *cards][:MAX_CARDS])


def workspace_root() -> str | None:
    """Where autosaved ROIs go: None (the workspace default, ``$COLOC_VIEWER_DATA_DIR`` or
    the user's data folder), or in test mode (``COLOC_VIEWER_NO_SETTINGS=1`` without a
    data dir) a fresh temporary folder, so tests never restore each other's ROIs nor write
    into the user's folder. The process's temporary folders are removed when it exits."""
    global _WORKSPACES
    if os.environ.get("COLOC_VIEWER_NO_SETTINGS") == "1" and \
            not os.environ.get("COLOC_VIEWER_DATA_DIR"):
        if _WORKSPACES is None:
            _WORKSPACES = tempfile.TemporaryDirectory(prefix="coloc-viewer-workspaces-")
        return tempfile.mkdtemp(prefix="workspace-", dir=_WORKSPACES.name)
    return None
