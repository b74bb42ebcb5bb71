"""File dialogs start in the user's home folder, then where the user last chose a file or
folder (one place for studies, one for exports), never in the program's working folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtWidgets import QFileDialog

pytestmark = pytest.mark.gui


def test_dialogs_start_at_home_then_where_the_user_last_was(qtbot, window, study_dir,
                                                            tmp_path, monkeypatch):
    from coloc_viewer.gui import file_dialogs

    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(Path(__file__).parent)  # a working folder no user meant
    for place in file_dialogs.PLACES:
        file_dialogs.open_settings().remove(f"dialogs/{place}")
    asked: list[tuple[str, str]] = []

    def answer(result):
        def dialog(_parent, title, start="", *_a, **_k):
            asked.append((title, start))
            return result
        return dialog

    first = next(study_dir.iterdir())
    monkeypatch.setattr(QFileDialog, "getOpenFileName", answer((str(first), "")))
    with qtbot.waitSignal(window.study_loaded, timeout=30000):
        window.open_file_dialog()
    assert asked[-1] == ("Open image", str(home))  # not os.getcwd()
    assert asked[-1][1] != os.getcwd()
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", answer(str(study_dir)))
    with qtbot.waitSignal(window.study_loaded, timeout=30000):
        window.open_folder_dialog()
    assert asked[-1] == ("Open DICOM folder", str(study_dir))  # where the last file was
    shots = tmp_path / "shots"
    shots.mkdir()
    monkeypatch.setattr(QFileDialog, "getSaveFileName", answer((str(shots / "a.png"), "")))
    window.export_screenshot_dialog()
    assert asked[-1] == ("Export screenshot", str(home / "coloc_viewer.png"))
    assert (shots / "a.png").is_file()
    window.export_screenshot_dialog()  # exports remember their own place
    assert asked[-1] == ("Export screenshot", str(shots / "coloc_viewer.png"))
    monkeypatch.setattr(QFileDialog, "getOpenFileName", answer(("", "")))  # cancelled
    window.open_file_dialog()
    assert asked[-1] == ("Open image", str(study_dir))
    window.open_file_dialog()  # a cancel changes nothing
    assert asked[-1] == ("Open image", str(study_dir))
