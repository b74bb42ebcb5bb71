"""Fixtures of the refine-dialog tests: the main window with the bundled demo open, and
helpers that drive it with real Qt events."""

from __future__ import annotations

import pytest

from coloc_viewer.viewer.study import demo_cases


@pytest.fixture(scope="session")
def demo():
    cases = [c for c in demo_cases() if c.rois is not None]
    if not cases:
        pytest.skip("the bundled demo is not installed")
    return cases[0]


@pytest.fixture
def window(qtbot, qapp, tmp_path, monkeypatch):
    """The main window (its data folder under ``tmp_path``), shown."""
    from coloc_viewer.gui.main_window import MainWindow

    monkeypatch.setenv("COLOC_VIEWER_DATA_DIR", str(tmp_path / "data"))
    win = MainWindow()
    qtbot.addWidget(win)
    win.resize(1400, 900)
    win.show()
    qtbot.waitExposed(win)
    yield win
    dialog = getattr(win, "refine_dialog", None)
    if dialog is not None:
        dialog.cancel()
    win.runner.shutdown(30000)
