"""Where workspaces live, and the PHI-free key that names each one."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

ENV_DATA_DIR = "COLOC_VIEWER_DATA_DIR"
KEY_LENGTH = 24  # hex digits of SHA-256: 96 bits, no collisions in practice


def data_dir() -> Path:
    """The user's data directory (``$COLOC_VIEWER_DATA_DIR`` overrides it, e.g. in tests)."""
    override = os.environ.get(ENV_DATA_DIR)
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_data_dir("coloc-viewer", appauthor=False))


def workspaces_root() -> Path:
    return data_dir() / "workspaces"


def workspace_key(series_uid: str | None = None, source: str | os.PathLike[str] | None = None
                  ) -> str:
    """A hash of the series UID (preferred) or of the absolute source path.

    Neither the UID nor the path (which may contain a patient's name) appears in the key.
    """
    if series_uid:
        text = "series:" + str(series_uid).strip()
    elif source:
        text = "path:" + os.path.normcase(os.path.abspath(os.fspath(source)))
    else:
        raise ValueError("a workspace needs a series UID or a source path")
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:KEY_LENGTH]


def key_for_volume(volume: Any) -> str:
    """The workspace key of a :class:`~coloc_viewer.imaging.volume.Volume`."""
    uid = (getattr(volume, "metadata", None) or {}).get("series_uid")
    return workspace_key(series_uid=uid, source=getattr(volume, "source", "") or None)


def source_hash(source: str | os.PathLike[str]) -> str:
    """A short hash of an input path, for reports that must not show the path itself."""
    return workspace_key(source=source)
