"""The main window driven as a user would: open, scroll, window, paint, analyse, undo."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from gui_events import analyse, click, drag, load_model, open_study, wheel
from PySide6.QtCore import QElapsedTimer, Qt, QTimer

from coloc_viewer.imaging.load import load_volume
from coloc_viewer.imaging.volume import Volume
from coloc_viewer.metrics.definitions import format_score
from coloc_viewer.metrics.scores import score
from coloc_viewer.report.phi import display_name
from coloc_viewer.viewer.display import apply_window, rois_rgba
from coloc_viewer.viewer.live_scores import SCORE_KEYS

pytestmark = pytest.mark.gui


def test_open_study_in_the_background(qtbot, window, study_dir, artifacts_dir):
    open_study(qtbot, window, study_dir)
    reference = load_volume(study_dir)
    shown = window.state.volume
    np.testing.assert_array_equal(shown.voxels, reference.voxels)
    assert shown.spacing == reference.spacing
    assert window.series_browser.tree.topLevelItemCount() == 1
    assert window.series_browser.tree.topLevelItem(0).text(0) == "T2 phantom"
    assert window.state.slice_index == reference.shape[0] // 2
    img = window.view.image_item.image
    np.testing.assert_array_equal(img, apply_window(reference.voxels[window.state.slice_index],
                                                    window.state.window))
    # the pixel aspect follows the spacing: 96 rows x 0.8 mm, 80 columns x 1.0 mm
    rect = window.view.image_item.mapRectToView(window.view.image_item.boundingRect())
    assert (rect.width(), rect.height()) == pytest.approx((80.0, 76.8))
    patient = shown.private.get("patient_name")
    if patient:
        assert display_name(str(patient)) in window.windowTitle() and "^" not in \
            window.windowTitle()
    window.grab().save(str(artifacts_dir / "gui_01_opened.png"))


def test_scroll_with_wheel_keys_and_slider(qtbot, window, volume):
    window.set_volume(volume)
    view, state = window.view, window.state
    z0 = state.slice_index
    wheel(view, 40, 40, -1)  # wheel towards the user: next slice
    assert state.slice_index == z0 + 1
    wheel(view, 40, 40, 2)
    assert state.slice_index == z0 - 1
    view.graphics.setFocus()
    qtbot.keyClick(view.graphics, Qt.Key.Key_PageDown)
    assert state.slice_index == z0
    qtbot.keyClick(view.graphics, Qt.Key.Key_Up)
    assert state.slice_index == z0 - 1
    qtbot.keyClick(view.graphics, Qt.Key.Key_End)
    assert state.slice_index == volume.shape[0] - 1
    np.testing.assert_array_equal(view.image_item.image,
                                  apply_window(volume.voxels[-1], state.window))
    view.slider.setValue(2)
    assert state.slice_index == 2
    assert window.status_labels["slice"].text().startswith("slice 3/8")
    # Ctrl+wheel zooms instead of scrolling
    before = view.vb.viewRange()
    wheel(view, 40, 40, 1, Qt.KeyboardModifier.ControlModifier)
    assert state.slice_index == 2
    after = view.vb.viewRange()
    assert after[0][1] - after[0][0] < before[0][1] - before[0][0]


def test_window_level_by_shift_drag_presets_and_reset(qtbot, window, volume):
    window.set_volume(volume)
    state = window.state
    start = state.window
    drag(window.view, [(40, 20), (40, 30), (40, 45), (50, 45)],
         modifiers=Qt.KeyboardModifier.ShiftModifier)
    assert state.window.width > start.width  # dragged right: wider
    assert state.window.center > start.center  # dragged down: higher level
    assert not any(r.mask.any() for r in state.rois)  # Shift-drag never paints
    np.testing.assert_array_equal(window.view.image_item.image,
                                  apply_window(volume.voxels[state.slice_index], state.window))
    qtbot.keyClick(window, Qt.Key.Key_2)
    assert state.window == state.presets[1][1]
    qtbot.keyClick(window, Qt.Key.Key_R)
    assert state.window == state.default_window()


def test_paint_analyse_score_and_undo(qtbot, window, study_dir, model_card, artifacts_dir):
    open_study(qtbot, window, study_dir)
    load_model(qtbot, window, model_card)
    state, view = window.state, window.view
    state.set_tool("brush")
    state.set_brush_radius(3.0)
    z = state.slice_index
    analyse(qtbot, window)
    assert window.score_panel.verdict.text().startswith("Draw an ROI")

    drag(view, [(30, 30), (32, 34), (34, 38), (36, 42)])
    first = state.rois.mask().copy()
    assert first[z].any() and not first[np.arange(first.shape[0]) != z].any()
    rows, cols = np.nonzero(first[z])
    # the stroke covers its path and stays within one radius (3 mm = 3.75 rows, 3 cols)
    assert first[z, 30, 30] and first[z, 36, 42]
    assert rows.min() >= 30 - 4 and rows.max() <= 36 + 4
    assert cols.min() >= 30 - 3 and cols.max() <= 42 + 3

    saliency = state.current_map()
    expected = score(saliency, first[z], seed_map=state.explanation.seed_map)
    shown = state.scores["lesion"]
    for key in SCORE_KEYS:
        assert shown[key] == pytest.approx(expected[key]), key
        assert window.score_panel.value("lesion", key) == format_score(key, expected[key])
    window.grab().save(str(artifacts_dir / "gui_02_painted_scored.png"))

    drag(view, [(60, 50), (62, 56), (64, 60)])
    second = state.rois.mask().copy()
    # the box-wise redraw during strokes equals compositing the whole slice again
    full = rois_rgba([(r.mask[z], r.color) for r in state.rois if r.visible])
    np.testing.assert_array_equal(view.roi_item.image, full)
    assert (second[z] & ~first[z]).any()
    assert state.scores["lesion"]["relevance_mass"] != pytest.approx(expected["relevance_mass"])
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    np.testing.assert_array_equal(state.rois.mask(), first)
    for key in SCORE_KEYS:
        assert state.scores["lesion"][key] == pytest.approx(expected[key]), key
    qtbot.keyClick(window, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    np.testing.assert_array_equal(state.rois.mask(), second)

    state.set_tool("eraser")
    click(view, 62, 56)
    assert not state.rois.mask()[z, 62, 56]

    # a fresh run scores the drawn ROI in the worker; what is shown is still score()
    from coloc_viewer.viewer.analysis import ResultCache

    window.cache = ResultCache()
    analyse(qtbot, window)
    mask = state.rois.mask()[z]
    expected = score(state.current_map(), mask, seed_map=state.explanation.seed_map)
    for key in SCORE_KEYS:
        assert state.scores["lesion"][key] == pytest.approx(expected[key]), key


def test_polygon_tool_fills_the_clicked_outline(qtbot, window, volume):
    from matplotlib.path import Path as MplPath

    window.set_volume(volume)
    state, view = window.state, window.view
    state.set_tool("polygon")
    corners = [(20, 20), (20, 60), (70, 50), (60, 15)]
    for r, c in corners:
        click(view, r, c)
    assert len(view.polygon_rc) == 4
    view.graphics.setFocus()
    qtbot.keyClick(view.graphics, Qt.Key.Key_Return)
    mask = state.rois.mask()[state.slice_index]
    yy, xx = np.mgrid[:mask.shape[0], :mask.shape[1]]
    inside = MplPath([(c, r) for r, c in corners]).contains_points(
        np.column_stack([xx.ravel(), yy.ravel()])).reshape(mask.shape)
    agree = np.mean(mask == inside)
    assert mask.sum() > 1000 and agree > 0.98
    # Esc cancels a polygon in progress
    click(view, 5, 5)
    qtbot.keyClick(view.graphics, Qt.Key.Key_Escape)
    assert view.polygon_rc == []


def _analysed_with_a_brush_stroke(qtbot, window, volume, model_card):
    """The phantom analysed with the tiny model, one brush stroke on the active ROI."""
    window.set_volume(volume)
    load_model(qtbot, window, model_card)
    analyse(qtbot, window)
    window.state.set_tool("brush")
    drag(window.view, [(30, 30), (34, 34)])
    return window.state, window.view


def test_rois_list_draws_on_the_active_roi_and_scores_one_row_each(qtbot, window, volume,
                                                                    model_card):
    state, view = _analysed_with_a_brush_stroke(qtbot, window, volume, model_card)
    window.roi_panel.add("prostate")
    assert state.rois.active == "prostate"
    lesion_before = state.rois["lesion"].mask.copy()
    drag(view, [(60, 20), (64, 30)])
    np.testing.assert_array_equal(state.rois["lesion"].mask, lesion_before)
    assert state.rois["prostate"].mask.any()
    assert set(state.scores) == {"lesion", "prostate"}
    assert window.score_panel.table.rowCount() == 2
    z = state.slice_index
    for name in ("lesion", "prostate"):
        expected = score(state.current_map(), state.rois[name].mask[z],
                         seed_map=state.explanation.seed_map)
        assert state.scores[name]["relevance_mass"] == pytest.approx(expected["relevance_mass"])
    window.roi_panel.toggle_lock()
    before = state.rois["prostate"].mask.copy()
    drag(view, [(10, 10), (14, 14)])
    np.testing.assert_array_equal(state.rois["prostate"].mask, before)


def test_corrupted_file_gives_an_error_dialog_and_the_window_keeps_working(
        qtbot, window, tmp_path, study_dir, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    shown = []
    monkeypatch.setattr(QMessageBox, "critical",
                        lambda parent, title, text, *a, **k: shown.append((title, text)))
    bad = tmp_path / "broken_scan.dcm"
    bad.write_bytes(b"\x00" * 128 + b"DICM" + b"\x02\x00\x10\x00UI\xff\xff" + b"garbage" * 20)
    with qtbot.waitSignal(window.error_shown, timeout=30000):
        window.open_path(bad)
    assert shown and "broken_scan.dcm" in shown[0][1]
    open_study(qtbot, window, study_dir)
    assert window.state.volume.shape == (8, 96, 80)


def test_event_loop_keeps_running_during_analysis_of_all_slices(qtbot, window, volume,
                                                                 model_card, artifacts_dir):
    from coloc_viewer.metrics.volume import score_volume

    window.set_volume(volume)
    load_model(qtbot, window, model_card)
    lesion = window.state.rois["lesion"]
    lesion.mask[3, 30:40, 40:52] = True
    lesion.mask[4, 28:42, 38:50] = True
    window.state.rois_changed()
    gaps, clock = [], QElapsedTimer()
    probe = QTimer()
    probe.setInterval(5)

    def tick():
        gaps.append(clock.restart())

    probe.timeout.connect(tick)
    clock.start()
    probe.start()
    with qtbot.waitSignal(window.analysis_finished, timeout=120000):
        window.analyse_all()
    probe.stop()
    assert len(window.state.explanations) == volume.shape[0]
    assert window.model_panel.progress.value() == volume.shape[0]
    assert window.status_labels["time"].text().endswith(" ms")
    assert len(gaps) > 5  # the GUI thread kept serving timers while the model ran
    # the ROI spans two slices: the pooled volume scores are shown, equal to score_volume
    maps = {z: ex.top_map for z, ex in window.state.explanations.items()}
    pooled = score_volume({z: maps[z] for z in (3, 4)}, lesion.mask)["aggregate"]
    shown = window.state.volume_scores["lesion"]
    after_run = (window.model_panel.progress.value(), window.status_labels["time"].text())
    for key in ("relevance_mass", "auroc", "pointing_game", "p_value"):
        assert shown[key] == pytest.approx(pooled[key]), key
    assert window.score_panel.volume_table.rowCount() == 1
    (artifacts_dir / "gui_stall_ms.txt").write_text(f"longest stall during analysis: "
                                                    f"{max(gaps)} ms over {len(gaps)} ticks\n")
    # another study: neither the finished run's bar nor its inference time stays shown
    assert after_run[0] == volume.shape[0] and after_run[1].endswith(" ms")
    window.set_volume(Volume(volume.voxels[:, ::-1].copy(), spacing=volume.spacing))
    assert window.model_panel.progress.value() == 0
    assert window.status_labels["time"].text() == ""


def test_choosing_a_cam_reruns_and_the_gallery_switches_channels(qtbot, window, volume,
                                                                  model_card):
    window.set_volume(volume)
    load_model(qtbot, window, model_card)
    analyse(qtbot, window)
    state, panel = window.state, window.model_panel
    ex = state.explanation
    assert window.gallery.list.count() == len(ex.top_channels)
    item = window.gallery.list.item(2)
    window.gallery.list.itemClicked.emit(item)
    assert state.overlay.choice == "channel:2"
    np.testing.assert_array_equal(state.current_map(),
                                  ex.channel_map(ex.top_channels[2][0]))
    with qtbot.waitSignal(window.analysis_done, timeout=60000):
        panel.select_map("gradcam++")
    assert "gradcam++" in state.explanation.cams
    np.testing.assert_array_equal(state.current_map(), state.explanation.cam_map("gradcam++"))


def test_hover_reports_the_pixel_value_and_position(qtbot, window, volume):
    from gui_events import send_mouse

    window.set_volume(volume)
    view = window.view
    port = view.graphics.viewport()
    send_mouse(port, "move", view.index_to_viewport(30, 20), Qt.MouseButton.NoButton,
               Qt.MouseButton.NoButton)
    z = window.state.slice_index
    assert window.status_labels["value"].text() == f"{volume.voxels[z, 30, 20]:.1f}"
    x, y, zz = volume.index_to_lps((z, 30, 20))
    assert window.status_labels["position"].text() == \
        f"(30, 20)  LPS {x:.1f}, {y:.1f}, {zz:.1f} mm"


def test_settings_persist_between_windows(qtbot, window, volume):
    from coloc_viewer.gui.main_window import MainWindow

    window.state.set_tool("eraser")
    window.state.set_brush_radius(7.5)
    window.model_panel.opacity.setValue(30)
    window.close()
    again = MainWindow()
    qtbot.addWidget(again)
    assert again.state.tools.tool == "eraser"
    assert again.state.tools.brush_radius_mm == pytest.approx(7.5)
    assert again.state.overlay.opacity == pytest.approx(0.3)
    assert again.settings.fileName() == window.settings.fileName()
    assert "coloc-viewer-settings-" in again.settings.fileName()  # never the user's file


def test_dropping_a_folder_opens_it(qtbot, window, study_dir):
    from PySide6.QtCore import QMimeData, QPointF, QUrl
    from PySide6.QtGui import QDropEvent

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(study_dir))])
    event = QDropEvent(QPointF(50, 50), Qt.DropAction.CopyAction, mime,
                       Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    with qtbot.waitSignal(window.study_loaded, timeout=30000):
        window.dropEvent(event)
    assert window.state.volume.shape == (8, 96, 80)
    assert window.recent_menu.actions()[0].text() == str(study_dir)


def test_model_and_analysis_errors_become_dialogs(qtbot, window, volume, model_card,
                                                  tmp_path, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    shown = []
    monkeypatch.setattr(QMessageBox, "critical",
                        lambda parent, title, text, *a, **k: shown.append((title, text)))
    window.set_volume(volume)
    bad_card = tmp_path / "broken_card.json"
    bad_card.write_text('{"name": "x", "architecture": "resnet18"}')
    with qtbot.waitSignal(window.error_shown, timeout=30000):
        window.select_model(str(bad_card))
    assert shown[-1][0] == "Cannot load model" and "broken_card.json" in shown[-1][1]

    load_model(qtbot, window, model_card)
    name = window.status_labels["model"].text()
    with qtbot.waitSignal(window.error_shown, timeout=30000):  # a bad card after a good one
        window.select_model(str(bad_card))
    # the status bar keeps naming the model still in use (it said "no model")
    assert window.status_labels["model"].text() == name != "no model"
    assert window.registry.get(window.model_panel.current_model()).name == name
    window.model_panel.layer_box.addItem("no_such_layer", "no_such_layer")
    window.model_panel.layer_box.setCurrentIndex(window.model_panel.layer_box.count() - 1)
    with qtbot.waitSignal(window.error_shown, timeout=60000):
        window.analyse_current()
    assert shown[-1][0] == "Analysis failed" and "no_such_layer" in shown[-1][1]
    window.model_panel.layer_box.setCurrentIndex(0)
    analyse(qtbot, window)  # still works afterwards
    assert window.state.explanation is not None


def test_rois_save_and_load_through_the_window(qtbot, window, study_dir, tmp_path):
    open_study(qtbot, window, study_dir)
    state = window.state
    state.set_tool("brush")
    drag(window.view, [(40, 30), (44, 36)])
    window.roi_panel.add("marker")
    drag(window.view, [(10, 60), (12, 64)])
    saved = {r.name: r.mask.copy() for r in state.rois}
    path = tmp_path / "rois.nii.gz"
    window.save_rois(path)
    state.clear_slice()
    window.load_rois(path)
    assert [r.name for r in state.rois] == ["lesion", "marker"]
    for roi in state.rois:
        np.testing.assert_array_equal(roi.mask, saved[roi.name])
    assert window.roi_panel.list.count() == 2


def test_first_slice_is_shown_before_the_series_is_decoded(qtbot, window, study_dir):
    seen = []
    window.state.events.volume.connect(
        lambda _v: seen.append(("volume", bool(window.state.volume.metadata.get("loading")),
                             len(window.state.loading))))
    window.study_loaded.connect(lambda: seen.append(("loaded", None, len(window.state.loading))))
    open_study(qtbot, window, study_dir)
    assert seen[0] == ("volume", True, 7)  # only the middle slice decoded at first
    assert seen[-1] == ("loaded", None, 0)


def test_rois_are_autosaved_and_come_back_when_the_study_reopens(qtbot, window, study_dir,
                                                                 tmp_path, monkeypatch):
    from coloc_viewer.gui.main_window import MainWindow

    monkeypatch.setenv("COLOC_VIEWER_DATA_DIR", str(tmp_path / "data"))
    open_study(qtbot, window, study_dir)
    window.state.set_tool("brush")
    drag(window.view, [(40, 30), (44, 36)])
    drawn = window.state.rois.mask().copy()
    z = window.state.slice_index
    window.state.step_slice(-2)
    window.close()  # flushes the autosave

    again = MainWindow()
    qtbot.addWidget(again)
    open_study(qtbot, again, study_dir)
    np.testing.assert_array_equal(again.state.rois.mask(), drawn)
    assert again.state.slice_index == z - 2  # the view comes back where it was
    again.close()


def test_compare_window_opens_on_the_study_and_its_roi(qtbot, window, volume):
    window.set_volume(volume)
    window.state.rois.mask()[3, 10:20, 10:20] = True
    compare = window.open_compare()
    qtbot.addWidget(compare)
    study = compare.studies[0]
    assert study.volume is volume
    np.testing.assert_array_equal(study.roi, window.state.rois.mask())
    compare.close()


def test_start_up_offers_to_recover_rois_of_a_crashed_session(qtbot, window, study_dir,
                                                              tmp_path, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    from coloc_viewer.gui.app import offer_recovery
    from coloc_viewer.gui.main_window import MainWindow

    monkeypatch.setenv("COLOC_VIEWER_DATA_DIR", str(tmp_path / "data"))
    open_study(qtbot, window, study_dir)
    window.state.set_tool("brush")
    drag(window.view, [(20, 20), (26, 30)])
    drawn = window.state.rois.mask().copy()
    session = window.session
    assert session.autosaver.flush()
    session.workspace._lock.release()  # the process "dies": no clean close
    session.autosaver = None
    window.session = None

    asked = []
    monkeypatch.setattr(QMessageBox, "question",
                        lambda parent, title, text, *a, **k: asked.append(text)
                        or QMessageBox.StandardButton.Yes)
    again = MainWindow()
    qtbot.addWidget(again)
    with qtbot.waitSignal(again.study_loaded, timeout=30000):
        assert offer_recovery(again)
    assert "T2 phantom" in asked[0] and "DEMO" not in asked[0]
    np.testing.assert_array_equal(again.state.rois.mask(), drawn)
    again.close()


def test_a_demo_case_opened_again_comes_with_its_rois(qtbot, window, study_dir):
    """File > Open of a bundled demo case, or Recent studies, loads the ROIs it ships with
    (as `make run` does), not an empty ROI list."""
    from coloc_viewer.viewer.study import demo_cases

    case = demo_cases()[0]
    with qtbot.waitSignal(window.study_loaded, timeout=60000):
        window.open_path(str(case.image))
    bundled = {roi.name: int(roi.mask.sum()) for roi in window.state.rois}
    assert bundled.get("lesion", 0) > 0
    with qtbot.waitSignal(window.study_loaded, timeout=60000):
        window.open_path(str(study_dir))
    again = next(a for a in window.recent_menu.actions() if a.text() == str(case.image))
    with qtbot.waitSignal(window.study_loaded, timeout=60000):
        again.trigger()
    assert {roi.name: int(roi.mask.sum()) for roi in window.state.rois} == bundled


def test_a_model_card_loaded_once_is_offered_and_chosen_after_a_restart(qtbot, window,
                                                                        model_card, tmp_path):
    """A card loaded from disk (or written by Refine) stays in the model list of later
    sessions, and the last model chosen comes back even when it is such a card; a card
    deleted since is not offered."""
    import shutil

    from gui_events import load_model

    from coloc_viewer.gui.main_window import MainWindow

    gone = Path(shutil.copytree(model_card.parent, tmp_path / "copy")) / model_card.name
    load_model(qtbot, window, gone)
    load_model(qtbot, window, model_card)
    window.close()
    shutil.rmtree(gone.parent)
    again = MainWindow()
    qtbot.addWidget(again)
    offered = [o.key for o in again.state.choices.models]
    assert str(model_card) in offered and str(gone) not in offered
    assert again.model_panel.current_model() == str(model_card)


def test_f1_lists_the_shortcuts_in_a_dialog_that_fits_the_screen(qtbot, window):
    from PySide6.QtWidgets import QApplication

    from coloc_viewer.gui.shortcuts_dialog import ShortcutsDialog

    window.show()
    qtbot.waitExposed(window)
    qtbot.keyClick(window, Qt.Key.Key_F1)
    dialog = window._help_box
    assert isinstance(dialog, ShortcutsDialog) and dialog.isVisible()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is dialog, timeout=5000)
    rows = {dialog.table.item(i, 1).text(): dialog.table.item(i, 0).text()
            for i in range(dialog.table.rowCount())}
    # the platform's bindings, without dedicated keys (F14, the Open/Save/Undo/Exit keys)
    for name, key in (("Undo", "Undo"), ("Open file…", "Open"), ("Save ROIs…", "Save")):
        keys = rows[name].split(", ")
        assert keys[0].startswith("Ctrl+") and key not in keys and "F14" not in keys, keys
    assert rows["Clear slice"] == "Del"
    assert rows["Fill between slices"] and rows["Analyse this slice"] == "F5"
    room = window.screen().availableGeometry()
    assert dialog.height() <= 0.8 * room.height() + 1
    # every "What it does" whole: a long one wraps onto more lines instead of ending in "…"
    from PySide6.QtCore import QRect

    column = dialog.table.columnWidth(2)
    metrics = dialog.table.fontMetrics()
    for i in range(dialog.table.rowCount()):
        text = dialog.table.item(i, 2).text()
        need = metrics.boundingRect(QRect(0, 0, column - 8, 10000),
                                    int(Qt.TextFlag.TextWordWrap), text).height()
        assert dialog.table.rowHeight(i) >= need, text
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    assert not dialog.isVisible()


def test_score_rows_stay_readable_beside_a_long_verdict_in_a_small_window(
        qtbot, window, volume, model_card, artifacts_dir):
    """A review saw the fourth ROI row cut off, three rows beside a four-line verdict, and
    one row at 1280 x 720. At the default size every row shows beside the verdict; in a
    small window the panel scrolls and the table still holds every row (up to four)."""
    state, view = _analysed_with_a_brush_stroke(qtbot, window, volume, model_card)
    for k, name in enumerate(("prostate", "marker", "my other lesion")):
        window.roi_panel.add(name)
        drag(view, [(50 + 8 * k, 20), (54 + 8 * k, 30)])
    panel, table = window.score_panel, window.score_panel.table
    qtbot.waitUntil(lambda: table.rowCount() == 4)
    area = window.docks["Scores"].widget()
    rows = sum(table.rowHeight(i) for i in range(4))
    for size, name in (((1500, 950), "score_rows_default_window.png"),
                       ((1280, 720), "score_rows_small_window.png")):
        window.resize(*size)
        qtbot.wait(150)
        assert panel.verdict.heightForWidth(panel.verdict.width()) > \
            2 * panel.verdict.fontMetrics().lineSpacing()  # a verdict of several lines
        window.grab().save(str(artifacts_dir / name))
        assert table.viewport().height() >= rows, (size, table.viewport().height(), rows)
        if size == (1500, 950):  # all of the table in view, no scrolling
            top = table.viewport().mapTo(area.widget(), table.viewport().rect().topLeft()).y()
            assert top + rows <= area.viewport().height(), (size, top, rows)


def test_title_shows_the_patient_name_as_people_read_it(qtbot, window, volume):
    """The title named the patient as the raw DICOM value "DOE^JANE"."""
    window.set_volume(volume)
    assert window.windowTitle().startswith("DOE JANE — ")
