"""The ROI tools in the main window, driven with real key and mouse events: the threshold
brush, copy to the next slice, fill between slices; each edit updates the score panel,
is autosaved and undoes as one step."""

from __future__ import annotations

import numpy as np
import pytest
from gui_events import click, drag
from PySide6.QtCore import Qt

from coloc_viewer.metrics.definitions import format_score
from coloc_viewer.metrics.scores import score

pytestmark = pytest.mark.gui
NA = format_score("relevance_mass", None)  # what the panel shows without a score


def _key(qtbot, window, key, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    qtbot.keyClick(window.view.graphics, key, modifier)


def _analyse(qtbot, window) -> None:
    with qtbot.waitSignal(window.analysis_done, timeout=120000):
        window.analyse_current()


def _new_roi(window, name: str) -> None:
    window.roi_panel.add(name)
    assert window.state.rois.active == name


def _shown_matches_scores(window, name: str) -> None:
    """The panel shows ``name``'s scores on this slice as coloc_viewer.score computes them."""
    state = window.state
    expected = score(state.current_map(), state.rois[name].mask[state.slice_index],
                     seed_map=state.explanation.seed_map)
    for key in ("relevance_mass", "auroc"):
        assert window.score_panel.value(name, key) == format_score(key, expected[key])


def _autosaved(qtbot, window) -> dict[str, np.ndarray]:
    session = window.session
    assert session is not None and session.autosaver is not None
    assert session.autosaver.flush()
    return dict(session.workspace.load_rois().masks)


def test_threshold_brush_paints_only_the_typed_range(qtbot, demo_window, artifacts_dir):
    window, state = demo_window, demo_window.state
    state.set_slice(7)
    _analyse(qtbot, window)
    _new_roi(window, "bright")
    _key(qtbot, window, Qt.Key.Key_T)
    assert state.tools.tool == "threshold"
    image = state.volume.voxels[7]
    low, high = (float(v) for v in np.percentile(image[100:160, 100:160], [40, 90]))
    panel = window.roi_panel
    qtbot.mouseClick(panel.threshold_from_window, Qt.MouseButton.LeftButton)
    for box, value in ((panel.threshold_low, low), (panel.threshold_high, high)):
        box.selectAll()
        qtbot.keyClicks(box, f"{value:.1f}")
        qtbot.keyClick(box, Qt.Key.Key_Return)
    assert state.tools.threshold_range == (round(low, 1), round(high, 1))
    low, high = state.tools.threshold_range
    window.view.graphics.setFocus()
    state.set_brush_radius(6.0)
    before = window.score_panel.value("bright", "relevance_mass")
    click(window.view, 130.0, 130.0)
    mask = state.rois["bright"].mask[7]
    # against masks computed here: in range, inside the disk (+-1 pixel for the click's
    # mapping through the view), and every in-range pixel well inside the disk is painted
    yy, xx = np.mgrid[:image.shape[0], :image.shape[1]]
    sy, sx = state.volume.spacing[1:]
    dist = np.hypot((yy - 130.0) * sy, (xx - 130.0) * sx)
    in_range = (image >= low) & (image <= high)
    assert mask.any() and not mask[~in_range].any()
    assert not mask[dist > 6.0 + max(sy, sx)].any()
    assert mask[in_range & (dist < 6.0 - max(sy, sx))].all()
    assert (~mask & (dist < 6.0 - max(sy, sx))).any()  # out-of-range pixels were skipped
    assert before == NA
    _shown_matches_scores(window, "bright")
    np.testing.assert_array_equal(_autosaved(qtbot, window)["bright"], state.rois["bright"].mask)
    assert state.rois.history.labels[-1] == "threshold paint"
    window.grab().save(str(artifacts_dir / "gui_roi_tools_threshold.png"))
    qtbot.keyClick(window.view.graphics, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert not state.rois["bright"].mask.any()


def test_copy_to_next_slice_and_fill_between_with_keys(qtbot, demo_window, monkeypatch,
                                                       artifacts_dir):
    from coloc_viewer.imaging import roi_interpolate

    # ITK's interpolator is checked against the filter in tests/imaging; here the quick
    # shape-based fill keeps the GUI test fast (same worker, same undo step)
    monkeypatch.setattr(roi_interpolate, "has_morphological", lambda: False)
    window, state = demo_window, demo_window.state
    _new_roi(window, "drawn")
    _key(qtbot, window, Qt.Key.Key_B)
    state.set_brush_radius(5.0)
    state.set_slice(4)
    drag(window.view, [(120, 110), (126, 120), (130, 128)])
    first = state.rois["drawn"].mask[4].copy()
    assert first.any()
    state.set_slice(5)  # analyse the target slice, then come back and copy onto it
    _analyse(qtbot, window)
    state.set_slice(4)
    _key(qtbot, window, Qt.Key.Key_Down, Qt.KeyboardModifier.ControlModifier)
    assert state.slice_index == 5
    np.testing.assert_array_equal(state.rois["drawn"].mask[5], first)
    assert state.rois.history.labels[-1] == "copy slice"
    _shown_matches_scores(window, "drawn")
    np.testing.assert_array_equal(_autosaved(qtbot, window)["drawn"][5], first)
    state.set_slice(4)
    _key(qtbot, window, Qt.Key.Key_Up, Qt.KeyboardModifier.ControlModifier)
    assert state.slice_index == 3
    np.testing.assert_array_equal(state.rois["drawn"].mask[3], first)

    state.set_slice(10)
    drag(window.view, [(140, 130), (146, 144), (150, 150)])
    drawn = state.rois["drawn"].mask.copy()
    state.set_slice(7)
    _analyse(qtbot, window)
    assert window.score_panel.value("drawn", "relevance_mass") == NA
    steps = len(state.rois.history)
    _key(qtbot, window, Qt.Key.Key_I)
    qtbot.waitUntil(lambda: len(state.rois.history) == steps + 1, timeout=60000)
    expected = roi_interpolate.interpolate_mask(drawn, state.rois.spacing, "shape")
    np.testing.assert_array_equal(state.rois["drawn"].mask, expected)
    assert all(state.rois["drawn"].mask[z].any() for z in range(3, 11))
    assert state.rois.history.labels[-1] == "fill between slices"
    _shown_matches_scores(window, "drawn")
    assert window.score_panel.value("drawn", "relevance_mass") != NA
    np.testing.assert_array_equal(_autosaved(qtbot, window)["drawn"], expected)
    window.grab().save(str(artifacts_dir / "gui_roi_tools_fill.png"))

    qtbot.keyClick(window.view.graphics, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    np.testing.assert_array_equal(state.rois["drawn"].mask, drawn)  # one step
    assert state.slice_index == 6  # the view shows where the undone step began
    state.set_slice(7)
    assert window.score_panel.value("drawn", "relevance_mass") == NA
    np.testing.assert_array_equal(_autosaved(qtbot, window)["drawn"], drawn)


def test_export_results_as_dicom_seg_and_sr(qtbot, demo_window, tmp_path):
    import highdicom as hd

    window, state = demo_window, demo_window.state
    state.set_slice(7)
    _analyse(qtbot, window)
    qtbot.waitUntil(lambda: bool(state.scores), timeout=30000)
    assert window.export_dicom_results(tmp_path / "out")
    qtbot.waitUntil(lambda: getattr(window, "dicom_exported", None) is not None,
                    timeout=60000)
    seg_path, sr_path = window.dicom_exported
    assert seg_path.name.endswith("-slice008-rois.seg.dcm")
    said = window.statusBar().currentMessage()  # where, and that these name the patient
    assert str(tmp_path / "out") in said and "carry the patient's name and ID" in said
    sr = hd.sr.srread(sr_path)
    groups = sr.content.get_planar_roi_measurement_groups()
    assert {str(g.tracking_identifier).split(" / ")[0] for g in groups} == set(state.scores)
    for g in groups:
        name = str(g.tracking_identifier).split(" / ")[0]
        got = {m.name.meaning: m.value for m in g.get_measurements()}
        if state.scores[name]["relevance_mass"] is not None:
            assert got["Relevance mass in ROI"] == pytest.approx(
                state.scores[name]["relevance_mass"])
    assert hd.seg.segread(seg_path).SOPInstanceUID == groups[0].referenced_segmentation_frame[0] \
        .ReferencedSOPSequence[0].ReferencedSOPInstanceUID


def test_delete_on_the_only_roi_offers_to_erase_it_and_undo_brings_it_back(
        qtbot, demo_window, monkeypatch):
    """Delete removes ROIs until one is left; on that one it asks, then erases its outline
    on every slice as one undo step (it had done nothing, silently)."""
    from PySide6.QtWidgets import QMessageBox, QPushButton

    window, state = demo_window, demo_window.state
    panel = window.roi_panel
    delete = next(b for b in panel.findChildren(QPushButton) if b.text() == "Delete")
    while len(state.rois) > 1:
        count = len(state.rois)
        qtbot.mouseClick(delete, Qt.MouseButton.LeftButton)
        assert len(state.rois) == count - 1
    last = state.rois[0]
    drawn = last.mask.copy()
    assert drawn.any()
    asked = []
    answers = iter([QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Yes])
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *a, **k: asked.append(a[2]) or next(answers))
    qtbot.mouseClick(delete, Qt.MouseButton.LeftButton)  # Cancel: nothing changes
    assert np.array_equal(last.mask, drawn) and "only ROI" in asked[0]
    qtbot.mouseClick(delete, Qt.MouseButton.LeftButton)  # Yes: erased, the ROI stays
    assert len(state.rois) == 1 and not last.mask.any()
    bar = window.statusBar()
    assert "Erased" in bar.currentMessage()
    # the message has room beside the labels that stay (the pixel readout gives way to it)
    kept = sum(w.width() for w in window.status_labels.values() if w.isVisible())
    assert bar.width() - kept >= bar.fontMetrics().horizontalAdvance(bar.currentMessage())
    assert not _autosaved(qtbot, window)[last.name].any()
    _key(qtbot, window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert np.array_equal(last.mask, drawn)
    assert np.array_equal(_autosaved(qtbot, window)[last.name], drawn)


def test_editing_a_locked_roi_says_it_is_locked(qtbot, demo_window):
    """A brush drag or a copy to the next slice on a locked ROI changes nothing and says
    why in the status bar (it had failed silently)."""
    from PySide6.QtWidgets import QPushButton

    window, state = demo_window, demo_window.state
    state.rois.active = "lesion"
    state.set_slice(7)
    lock = next(b for b in window.roi_panel.findChildren(QPushButton) if b.text() == "Lock")
    qtbot.mouseClick(lock, Qt.MouseButton.LeftButton)
    assert state.rois["lesion"].locked
    before = state.rois["lesion"].mask.copy()
    _key(qtbot, window, Qt.Key.Key_B)
    drag(window.view, [(20, 20), (24, 26), (28, 30)])
    assert np.array_equal(state.rois["lesion"].mask, before)
    assert "lesion is locked" in window.statusBar().currentMessage()
    window.statusBar().clearMessage()
    _key(qtbot, window, Qt.Key.Key_Down, Qt.KeyboardModifier.ControlModifier)
    assert np.array_equal(state.rois["lesion"].mask, before)
