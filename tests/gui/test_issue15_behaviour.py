"""Issue 15 behaviours, driven by real key and mouse events: Esc from anywhere, cancel
clears progress, the tool toolbar, the W/L readout, zoom 2x per 100 px, Quit asks about
unsaved edits, the live position readout follows the slice, modality units."""

from __future__ import annotations

import numpy as np
import pytest
from gui_events import drag, open_study
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from coloc_viewer.viewer.display import value_units


def test_escape_cancels_from_any_widget_and_clears_progress(qtbot, window, monkeypatch):
    cancelled = []
    monkeypatch.setattr(window.runner, "is_busy", lambda channel=None: True)
    monkeypatch.setattr(window.runner, "cancel", lambda channel: cancelled.append(channel))
    window.model_panel.progress.setRange(0, 10)
    window.model_panel.progress.setValue(4)
    window.roi_panel.setFocus()  # not the slice view
    qtbot.keyClick(window.roi_panel, Qt.Key.Key_Escape)
    assert cancelled == ["analysis"]
    assert window.model_panel.progress.value() in (-1, 0)


def test_tool_keys_and_toolbar_show_the_active_tool(qtbot, window, study_dir):
    open_study(qtbot, window, study_dir)
    qtbot.keyClick(window.view.graphics, Qt.Key.Key_E)
    assert window.state.tools.tool == "eraser"
    assert window.tool_actions["eraser"].isChecked()
    button = window.tool_bar.widgetForAction(window.tool_actions["wl"])
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert window.state.tools.tool == "wl"
    assert window.tool_actions["wl"].isChecked() and not window.tool_actions["eraser"].isChecked()


def test_window_level_readout_follows_a_drag(qtbot, window, study_dir):
    open_study(qtbot, window, study_dir)
    before = window.status_labels["wl"].text()
    assert before.startswith("W ")
    window.state.set_tool("wl")
    drag(window.view, [(40, 20), (40, 60), (60, 60)])
    after = window.status_labels["wl"].text()
    assert after != before
    w = window.state.window
    assert after == f"W {w.width:.4g}  L {w.center:.4g}"


def test_right_drag_zooms_about_2x_per_100_px(qtbot, window, study_dir):
    from gui_events import send_mouse

    open_study(qtbot, window, study_dir)
    vb = window.view.vb
    width_before = vb.viewRange()[0][1] - vb.viewRange()[0][0]
    port = window.view.graphics.viewport()
    start = window.view.index_to_viewport(48, 40)
    right, none = Qt.MouseButton.RightButton, Qt.MouseButton.NoButton
    send_mouse(port, "press", start, right, right)
    for dy in range(10, 101, 10):
        send_mouse(port, "move", start + type(start)(0, dy), none, right)
    send_mouse(port, "release", start + type(start)(0, 100), right, none)
    width_after = vb.viewRange()[0][1] - vb.viewRange()[0][0]
    assert width_before / width_after == pytest.approx(2.0, rel=0.15)


def test_quit_with_unsaved_edits_asks_and_can_be_cancelled(qtbot, window, study_dir,
                                                           monkeypatch):
    open_study(qtbot, window, study_dir)
    window.ask_before_quit = True
    window.state.set_tool("brush")
    drag(window.view, [(40, 30), (44, 34)])
    assert window.unsaved_edits
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    asked = []

    def press(text: str) -> None:  # the button a reader clicks in the question
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(20, lambda: press(text))
            return
        asked.append([b.text() for b in box.buttons()])
        qtbot.mouseClick(next(b for b in box.buttons() if b.text() == text),
                         Qt.MouseButton.LeftButton)

    QTimer.singleShot(0, lambda: press("Keep working"))
    assert not window.close()
    assert sorted(asked[-1]) == ["Keep working", "Quit", "Save to a file…"]
    assert window.isVisible()
    compare = window.open_compare()
    QTimer.singleShot(0, lambda: press("Quit"))
    assert window.close()
    assert not compare.isVisible()  # Quit closes the compare window too


def test_position_readout_follows_the_slice(qtbot, window, study_dir):
    from gui_events import send_mouse

    open_study(qtbot, window, study_dir)
    port = window.view.graphics.viewport()
    p = window.view.index_to_viewport(40, 40)
    send_mouse(port, "move", p, Qt.MouseButton.NoButton, Qt.MouseButton.NoButton)
    first = window.status_labels["position"].text()
    assert "LPS" in first
    qtbot.keyClick(window.view.graphics, Qt.Key.Key_PageDown)
    second = window.status_labels["position"].text()
    assert second != first  # z in mm changed with the slice


def test_value_units_follow_the_modality():
    assert value_units({"modality": "CT", "units": "US"}) == "HU"
    assert value_units({"modality": "MR", "units": "US"}) == ""
    assert value_units({"modality": "PT", "units": "BQML"}) == "BQML"


def test_a_study_outside_the_cards_expects_gets_a_banner(qtbot, window, pydicom_data,
                                                         tmp_path):
    """pydicom's MR_small (64 x 64 brain) with the prostate demo model: a visible banner,
    and the negative predicted class is stated in the panel."""
    from gui_events import analyse, load_model

    from coloc_viewer.resources import models_dir
    from coloc_viewer.viewer.domain import domain_warnings

    open_study(qtbot, window, pydicom_data / "MR_small.dcm")
    load_model(qtbot, window, models_dir() / "demo-clean.json")
    reasons = domain_warnings(window.state.volume, window.state.card.expects)
    assert any("matrix 64 x 64" in r for r in reasons)
    assert window.banner.isVisible() and "matrix 64 x 64" in window.banner.text()
    analyse(qtbot, window)
    ex = window.state.explanation
    if ex.prediction["index"] != window.state.card.positive_class:
        assert window.score_panel.note.isVisible()
        assert window.score_panel.note.text() == (
            f"Explaining class '{ex.target_label}', the model's prediction.")
    window.state.set_tool("brush")
    drag(window.view, [(30, 30), (34, 34)])
    with qtbot.waitSignal(window.case_exported, timeout=60000) as blocker:
        window.export_case_report(tmp_path)
    html = next(p for p in blocker.args[0] if str(p).endswith(".html")).read_text()
    assert "outside what the model was made for" in html and "matrix 64 x 64" in html


def test_autosaved_rois_win_over_the_roi_file_opened_with_the_study(qtbot, window, study_dir,
                                                                    tmp_path, monkeypatch):
    """The demo opens with its bundled ROI file; a reader's edits, autosaved, come back
    on reopening instead of the bundled ROIs."""
    from coloc_viewer import load_volume, save_roi

    monkeypatch.setenv("COLOC_VIEWER_DATA_DIR", str(tmp_path / "data"))
    stored = load_volume(str(study_dir))
    bundled = np.zeros(stored.shape, bool)
    bundled[:, 10:20, 10:20] = True
    save_roi(bundled, tmp_path / "bundled.nii.gz", like=stored)
    with qtbot.waitSignal(window.study_loaded, timeout=30000):
        window.open_path(study_dir, rois=tmp_path / "bundled.nii.gz")
    z = window.state.slice_index
    assert window.state.rois.mask()[z, 15, 15]
    window.state.set_tool("brush")
    drag(window.view, [(60, 50), (62, 54)])
    assert window.state.rois.mask()[z, 61, 52]
    with qtbot.waitSignal(window.study_loaded, timeout=30000):
        window.open_path(study_dir, rois=tmp_path / "bundled.nii.gz")
    mask = window.state.rois.mask()
    assert mask[z, 61, 52]  # the reader's stroke survived the reopen
