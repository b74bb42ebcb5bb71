"""File dialogs that start where the user last was, not in the program's working folder.

Two places are remembered in the settings (``dialogs/<place>``), each the folder of the last
file or folder chosen there: :data:`STUDIES` (images, DICOM folders, ROIs, model cards) and
:data:`EXPORTS` (screenshots, reports, DICOM results). Before any choice a dialog starts in
the user's home folder: the working folder of an installed program is wherever it was
launched from (a review saw the source tree offered)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QWidget

from coloc_viewer.gui.settings import open_settings

STUDIES = "studies"
EXPORTS = "exports"
PLACES = (STUDIES, EXPORTS)


def start_in(place: str, name: str = "") -> str:
    """The folder a dialog of ``place`` opens in (with ``name`` as the proposed file)."""
    last = open_settings().value(f"dialogs/{place}", "")
    folder = Path(str(last)) if last and Path(str(last)).is_dir() else Path.home()
    return str(folder / name) if name else str(folder)


def remember(place: str, chosen: str) -> str:
    """Keep the folder of ``chosen`` (a file or a folder) for ``place``; returns ``chosen``."""
    if chosen:
        path = Path(chosen)
        folder = path if path.is_dir() else path.parent
        open_settings().setValue(f"dialogs/{place}", str(folder))
    return chosen


def open_file(parent: QWidget | None, title: str, name_filter: str, place: str = STUDIES
              ) -> str:
    """A file to open ("" when cancelled)."""
    path, _ = QFileDialog.getOpenFileName(parent, title, start_in(place), name_filter)
    return remember(place, path)


def save_file(parent: QWidget | None, title: str, name: str, name_filter: str,
              place: str = EXPORTS) -> str:
    """A file to write, ``name`` proposed ("" when cancelled)."""
    path, _ = QFileDialog.getSaveFileName(parent, title, start_in(place, name), name_filter)
    return remember(place, path)


def folder(parent: QWidget | None, title: str, place: str = EXPORTS) -> str:
    """A folder ("" when cancelled)."""
    return remember(place, QFileDialog.getExistingDirectory(parent, title, start_in(place)))
