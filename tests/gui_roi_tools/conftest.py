"""Fixtures of the ROI-tool GUI tests: the main window on the bundled demo case (DICOM, its
ROIs) with the bundled demo model loaded, a data folder of its own for the autosave."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "gui"))  # gui_events

DEMO = Path(__file__).resolve().parents[2] / "resources" / "demo" / "case-01"


@pytest.fixture
def demo_window(qtbot, qapp, tmp_path, monkeypatch):
    from coloc_viewer.gui.main_window import MainWindow
    from coloc_viewer.gui.theme import apply_dark_theme
    from coloc_viewer.model.loading import default_model_name

    monkeypatch.setenv("COLOC_VIEWER_DATA_DIR", str(tmp_path / "data"))
    apply_dark_theme(qapp)
    win = MainWindow()
    qtbot.addWidget(win)
    win.resize(1400, 900)
    win.show()
    qtbot.waitExposed(win)
    win.activateWindow()
    with qtbot.waitSignal(win.study_loaded, timeout=60000):
        win.open_path(DEMO / "dicom", rois=DEMO / "rois.nii.gz")
    with qtbot.waitSignal(win.model_ready, timeout=60000):
        win.select_model(default_model_name())
    win.view.graphics.setFocus()
    yield win
    win.runner.shutdown(10000)
