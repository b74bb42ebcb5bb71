"""Fixtures of the viewer's multi-series and mask-overlay tests: a data folder of their own
(remembered role choices live there), the main window, and the GUI test helpers."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "gui"))  # gui_events


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "data"
    monkeypatch.setenv("COLOC_VIEWER_DATA_DIR", str(folder))
    return folder


@pytest.fixture
def make_window(qtbot, qapp, data_dir):
    from coloc_viewer.gui.main_window import MainWindow
    from coloc_viewer.gui.theme import apply_dark_theme

    apply_dark_theme(qapp)
    made = []

    def make():
        from coloc_viewer.gui.settings import open_settings

        settings = open_settings()  # the test run's throw-away file: each window starts
        settings.remove("model/last")  # on the first model, as a first start does
        settings.sync()
        win = MainWindow()
        qtbot.addWidget(win)
        win.resize(1400, 900)
        win.show()
        qtbot.waitExposed(win)
        win.activateWindow()
        made.append(win)
        return win

    yield make
    for win in made:
        win.runner.shutdown(10000)
