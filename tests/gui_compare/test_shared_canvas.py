"""Compare panes on the main view's canvas: ROI editing in a pane (real mouse events)
reaches every pane of the study, each pane shows per-ROI score rows and the verdict, the
window fits the image on resize, and it follows the main window."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt

from coloc_viewer.gui.slice_view import SliceView

pytestmark = pytest.mark.gui


def _drag(pane, points_rc) -> None:
    """Left-drag through image points (row, col) of a pane's canvas."""
    from PySide6.QtCore import QEvent
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QApplication

    port = pane.graphics.viewport()
    pts = [pane.canvas.index_to_viewport(r, c) for r, c in points_rc]
    left, none = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton

    def send(kind, p, button, buttons):
        QApplication.sendEvent(port, QMouseEvent(kind, QPointF(p), QPointF(port.mapToGlobal(p)),
                                                 button, buttons,
                                                 Qt.KeyboardModifier.NoModifier))

    send(QEvent.Type.MouseButtonPress, pts[0], left, left)
    for p in pts[1:]:
        send(QEvent.Type.MouseMove, p, none, left)
    send(QEvent.Type.MouseButtonRelease, pts[-1], left, none)


def test_panes_use_the_main_canvas_and_edit_the_shared_rois(make_window, study, qtbot):
    win = make_window(study, n_panes=3)
    assert all(isinstance(p.canvas, SliceView) for p in win.panes)
    k = win.panes[0].slice_index
    before = study.rois.mask()[k].sum()
    win.set_tool("brush")
    _drag(win.panes[1], [(10, 10), (12, 14), (14, 18)])
    after = study.rois.mask()[k]
    assert after.sum() > before and after[10:15, 10:19].any()
    for pane in win.panes:  # every pane of the study redraws the edited ROI
        drawn = pane.outline_item.image[..., 3] > 0
        assert drawn[12, 14]


def test_each_pane_shows_per_roi_scores_and_a_verdict(make_window, study, qtbot):
    from coloc_viewer.viewer.compare import PaneSpec

    study.rois.add("prostate", np.zeros(study.volume.shape, bool), record=False)
    study.rois.mask("prostate")[:, 20:40, 20:40] = True
    win = make_window(study, n_panes=2, specs=[PaneSpec("tiny-a"), PaneSpec("tiny-b")])
    with qtbot.waitSignal(win.results_ready, timeout=60000):
        win.analyse()
    for pane in win.panes:
        rows = [pane.scores.table.verticalHeaderItem(i).text()
                for i in range(pane.scores.table.rowCount())]
        assert rows == ["lesion", "prostate"]
        assert pane.scores.verdict.text().startswith("The map")
    table = win.table_values()
    assert len(table) == 2 and all(col["relevance_mass"] for col in table)


def test_the_compare_window_fits_the_image_to_each_pane_on_resize(make_window, study, qtbot):
    win = make_window(study, n_panes=2)
    win.panes[0].view.scaleBy((0.3, 0.3))  # zoomed in: the image is cropped
    win.resize(1600, 1000)
    qtbot.wait(100)
    vol = study.volume
    width_mm, height_mm = vol.shape[2] * vol.spacing[2], vol.shape[1] * vol.spacing[1]
    for pane in win.panes:
        (x0, x1), (y0, y1) = pane.view.viewRange()
        assert x0 <= 0.5 and x1 >= width_mm - 0.5 and y0 <= 0.5 and y1 >= height_mm - 0.5
