"""Compare panes stay linked through scroll, zoom and window/level, and unlink on request."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent, QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

pytestmark = pytest.mark.gui


def _centre(pane) -> QPoint:
    vp = pane.graphics.viewport()
    return QPoint(vp.width() // 2 - 40, vp.height() // 2)


def wheel(pane, clicks: int, modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    vp = pane.graphics.viewport()
    pos = QPointF(_centre(pane))
    for _ in range(abs(clicks)):
        ev = QWheelEvent(pos, QPointF(vp.mapToGlobal(pos)), QPoint(0, 0),
                         QPoint(0, 120 if clicks > 0 else -120), Qt.MouseButton.NoButton,
                         modifiers, Qt.ScrollPhase.NoScrollPhase, False)
        QApplication.sendEvent(vp, ev)


def shift_drag(pane, dx: int, dy: int) -> None:
    vp = pane.graphics.viewport()
    start = _centre(pane)
    shift = Qt.KeyboardModifier.ShiftModifier
    QTest.mousePress(vp, Qt.MouseButton.LeftButton, shift, start)
    for i in range(1, 6):
        p = QPointF(start + QPoint(dx * i // 5, dy * i // 5))
        QApplication.sendEvent(vp, QMouseEvent(QEvent.Type.MouseMove, p, QPointF(vp.mapToGlobal(p)),
                                               Qt.MouseButton.NoButton,
                                               Qt.MouseButton.LeftButton, shift))
    QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, shift, start + QPoint(dx, dy))


def ranges(win):
    """Each pane's visible (x0, x1, y0, y1) in mm."""
    return [[v for axis in p.view.viewRange() for v in axis] for p in win.panes]


def test_scroll_links_and_unlinks(make_window, study) -> None:
    win = make_window(study)
    start = [p.slice_index for p in win.panes]
    assert len(set(start)) == 1
    wheel(win.panes[1], -2)  # wheel down = next slices, on the middle pane
    assert [p.slice_index for p in win.panes] == [start[0] + 2] * 3
    assert win.slider.value() == start[0] + 2
    win.link_slice.setChecked(False)
    wheel(win.panes[2], 1)
    assert [p.slice_index for p in win.panes] == [start[0] + 2, start[0] + 2, start[0] + 1]


def test_zoom_pan_links_and_unlinks(make_window, study, qtbot) -> None:
    win = make_window(study)
    before = ranges(win)[0]
    wheel(win.panes[2], 3, Qt.KeyboardModifier.ControlModifier)  # Ctrl+wheel zooms
    qtbot.wait(20)
    after = ranges(win)
    width = after[0][1] - after[0][0]
    assert width < 0.9 * (before[1] - before[0])
    for r in after[1:]:
        assert r == pytest.approx(after[0], abs=1e-6)
    win.panes[0].view.translateBy(x=3.0, y=-2.0)  # pan
    moved = ranges(win)
    for r in moved[1:]:
        assert r == pytest.approx(moved[0], abs=1e-6)
    win.link_zoom.setChecked(False)
    win.panes[0].view.scaleBy((0.5, 0.5))
    unlinked = ranges(win)
    assert unlinked[1] == pytest.approx(moved[1], abs=1e-6)
    assert unlinked[0][1] - unlinked[0][0] < 0.6 * (moved[0][1] - moved[0][0])


def test_window_level_links_and_unlinks(make_window, study) -> None:
    win = make_window(study)
    c0, w0 = win.panes[0].window
    shift_drag(win.panes[2], 60, 30)  # Shift+drag on pane C: wider window, higher level
    c1, w1 = win.panes[2].window
    assert w1 > w0 and c1 > c0
    for pane in win.panes:
        assert pane.window == pytest.approx((c1, w1))
        # the shared canvas windows in numpy: the grey image is the slice through (c1, w1)
        np.testing.assert_array_equal(pane.image_item.image, pane.canvas.displayed_grey())
        assert pane.state.window.center == pytest.approx(c1)
    win.link_window.setChecked(False)
    shift_drag(win.panes[0], -40, 0)
    assert win.panes[0].window[1] < w1
    assert win.panes[1].window == pytest.approx((c1, w1))


def test_open_compare_loads_studies_and_roi_files(qtbot, tmp_path) -> None:
    from compare_fixtures import lesion_roi, phantom_study_volume

    from coloc_viewer.gui.compare_window import open_compare
    from coloc_viewer.imaging.dicom_write import write_dicom_series
    from coloc_viewer.imaging.load import load_volume
    from coloc_viewer.imaging.roi_io import save_roi

    src = phantom_study_volume(4)
    write_dicom_series(src.voxels, tmp_path / "dicom", spacing=src.spacing, dtype="int16")
    vol = load_volume(tmp_path / "dicom")
    save_roi(lesion_roi(vol), tmp_path / "lesion.nii.gz", like=vol)
    win = open_compare([str(tmp_path / "dicom")], [str(tmp_path / "lesion.nii.gz")], n_panes=2)
    qtbot.addWidget(win)
    assert len(win.panes) == 2 and win.studies[0].roi.sum() == lesion_roi(vol).sum()
    k = win.panes[0].slice_index
    assert k in (2, 3)  # opens where the ROI is largest
    outline = win.panes[1].outline_item.image[..., 3] > 0
    assert outline.any() and not (outline & ~lesion_roi(vol)[k]).any()
    from coloc_viewer.viewer.display import apply_window

    np.testing.assert_array_equal(win.panes[0].image_item.image,
                                  apply_window(vol.voxels[k], win.panes[0].state.window))


def test_unknown_model_is_reported_in_the_table_not_raised(make_window, study, qtbot) -> None:
    from coloc_viewer.viewer.compare import PaneSpec

    win = make_window(study, n_panes=2, specs=[PaneSpec("no-such-model"), PaneSpec("tiny-a")])
    with qtbot.waitSignal(win.results_ready, timeout=60000):
        win.analyse()
    table = win.table_values()
    assert table[0]["prediction"] == "error" and table[1]["prediction"] in ("lesion", "no lesion")
    assert "no-such-model" in win.table.item(0, 0).toolTip()
    assert win.panes[1].result is not None and win.panes[0].result is None


def test_legend_and_window_title_carry_no_patient_name(make_window, qtbot) -> None:
    from compare_fixtures import lesion_roi, phantom_study_volume

    from coloc_viewer.viewer.compare import Study

    vol = phantom_study_volume(5)
    vol.private["patient_name"] = "Quuxley^Marion"
    vol.metadata["description"] = "T2 ax Quuxley follow-up"
    win = make_window(Study(vol, lesion_roi(vol)), n_panes=2)
    win.opacity.setValue(80)
    assert [p.opacity for p in win.panes] == [0.8, 0.8]
    lines = [line for p in win.panes for line in win.pane_legend(p)]
    assert lines[0].startswith("A: T2 ax [removed] follow-up, slice ")
    assert not any("Quuxley" in line or "Marion" in line for line in lines)
    assert "Quuxley" not in win.windowTitle()
    assert not any("Quuxley" in p.title.text() for p in win.panes)


def test_added_pane_joins_the_linked_slice_and_window(make_window, study, qtbot) -> None:
    win = make_window(study, n_panes=2)
    wheel(win.panes[0], -1)
    shift_drag(win.panes[0], 30, 10)
    win.pane_count.setValue(4)
    assert len(win.panes) == 4 and win.table.columnCount() == 4
    assert len({p.slice_index for p in win.panes}) == 1
    assert len({p.window for p in win.panes}) == 1
    qtbot.wait(50)  # the new views get their size, then follow the linked range
    ranges_now = ranges(win)
    assert ranges_now[3] == pytest.approx(ranges_now[0], abs=1e-6)
    win.pane_count.setValue(2)
    assert len(win.panes) == 2 and win.table.columnCount() == 2
