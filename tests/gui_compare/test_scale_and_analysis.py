"""Common scale colours, the worker-thread analysis, the score table, screenshots, export."""

from __future__ import annotations

import csv
import io
import time

import numpy as np
import pytest
from PySide6.QtCore import QPointF
from PySide6.QtGui import QImage

from coloc_viewer import score
from coloc_viewer.explain.engine import explain
from coloc_viewer.explain.scale import CommonScale
from coloc_viewer.metrics.definitions import format_score
from coloc_viewer.viewer.compare import SCALE_COMMON, SCALE_IMAGE, PaneResult, PaneSpec

pytestmark = pytest.mark.gui


def _inject(win, maps):
    """Give each pane a computed map for its current slice (no model involved)."""
    for pane, m in zip(win.panes, maps):
        k = pane.slice_index
        pane.show_result(PaneResult(pane.spec(), k, m.astype(np.float32),
                                    score(m, pane.study.roi[k], p_value=False)))
    win.update_scales()


def _pixel(pane, x_mm: float, y_mm: float) -> tuple[int, int, int]:
    """Rendered colour of the view at a position in mm."""
    pane.graphics.viewport().repaint()
    image: QImage = pane.graphics.viewport().grab().toImage()
    p = pane.view.mapViewToDevice(QPointF(x_mm, y_mm))
    c = image.pixelColor(int(p.x()), int(p.y()))
    return c.red(), c.green(), c.blue()


def _maps(shape):
    """A: left 1.0 / right 0.5; B: left 1.0 / right 2.0 -- equal raw values on the left."""
    a, b = np.full(shape, 0.5), np.full(shape, 2.0)
    a[:, : shape[1] // 2] = 1.0
    b[:, : shape[1] // 2] = 1.0
    return a, b


def test_common_scale_gives_equal_colours_for_equal_values(make_window, study, qtbot,
                                                           tmp_path) -> None:
    win = make_window(study, n_panes=2)
    for pane in win.panes:
        pane.set_opacity(1.0)
    _inject(win, _maps(study.volume.shape[1:]))
    left = (0.25 * 64 * 0.8, 0.5 * 64 * 0.8)  # (x, y) in mm, inside both maps' left halves
    right = (0.75 * 64 * 0.8, 0.5 * 64 * 0.8)
    assert win.scale_mode() == SCALE_COMMON
    assert win.panes[0].display_range == win.panes[1].display_range
    a_left, b_left = (_pixel(p, *left) for p in win.panes)
    assert np.abs(np.subtract(a_left, b_left)).max() <= 2
    assert np.abs(np.subtract(_pixel(win.panes[0], *right),
                              _pixel(win.panes[1], *right))).max() > 60  # 0.5 vs 2.0

    win.set_scale_mode(SCALE_IMAGE)  # per-image: A's 1.0 is its top, B's 1.0 its bottom
    a_left, b_left = (_pixel(p, *left) for p in win.panes)
    assert np.abs(np.subtract(a_left, b_left)).max() > 60

    path = tmp_path / "cohort_scale.json"
    CommonScale(0.0, 4.0, n_maps=40).save(path)
    win.load_calibration(path)  # a cohort calibration: equal values, equal colours again
    assert [p.display_range for p in win.panes] == [(0.0, 4.0), (0.0, 4.0)]
    a_left, b_left = (_pixel(p, *left) for p in win.panes)
    assert np.abs(np.subtract(a_left, b_left)).max() <= 2
    assert "cohort calibration [0, 4]" in win.pane_legend(win.panes[0])[3]


def test_analysis_runs_off_the_gui_thread_and_fills_the_table(make_window, study, qtbot,
                                                              registry, tmp_path,
                                                              artifacts_dir) -> None:
    specs = [PaneSpec("tiny-a"), PaneSpec("tiny-b", map_choice="gradcam"),
             PaneSpec("tiny-a", layer="features.1", map_choice="layercam", rank="max")]
    win = make_window(study, n_panes=3, specs=specs)
    with qtbot.waitSignal(win.results_ready, timeout=60000):
        t0 = time.perf_counter()
        win.analyse()
        assert time.perf_counter() - t0 < 0.5  # the GUI thread only queues the work
    k = win.panes[0].slice_index
    table = win.table_values()
    for pane, spec, column in zip(win.panes, specs, table):
        assert pane.result is not None and pane.result.spec == spec
        # independent recomputation through the public API
        expl = explain(registry.get(spec.model), study.volume, k, layer=spec.layer,
                       rank=spec.rank, methods=("gradcam",) if spec.map_choice == "top"
                       else (spec.map_choice,))
        sal = expl.top_map if spec.map_choice == "top" else expl.cam_map(spec.map_choice)
        np.testing.assert_allclose(pane.result.saliency, sal, rtol=1e-5, atol=1e-6)
        expected = score(sal, study.roi[k],
                         seed_map=expl.seed_map if spec.map_choice == "top" else None)
        for key in ("relevance_mass", "auroc", "pointing_game", "p_value", "seed_overlap"):
            assert column[key] == format_score(key, expected[key]), (spec, key)
        assert column["prediction"] == expl.prediction["label"]
    assert win.panes[2].layer_box.count() > 2  # the layer list arrived with the result

    shot = win.screenshot()
    assert shot.width() >= 3 * win.panes[0].graphics.width()
    saved = win.save_screenshot(artifacts_dir)
    assert saved.name.startswith("coloc-compare-") and "phantom" not in saved.name
    assert QImage(str(saved)).height() > win.panes[0].graphics.height()
    legend = win.pane_legend(win.panes[1])
    assert legend[1] == "tiny-b / default layer" and legend[2].startswith("Grad-CAM")
    assert legend[4].startswith("mass ")

    written = win.export_reports(tmp_path)
    assert len(written) == 1 and set(written[0]) == {"html", "pdf", "csv"}
    text = written[0]["csv"].read_text()
    rows = list(csv.DictReader(io.StringIO("\n".join(
        line for line in text.splitlines() if not line.startswith("#")))))
    assert [r["model"] for r in rows] == ["tiny-a", "tiny-b", "tiny-a"]
    assert {r["roi"] for r in rows} == {"lesion"}  # the ROI's own name, not "ROI"
    assert float(rows[1]["relevance_mass"]) == pytest.approx(
        win.panes[1].result.scores["relevance_mass"])
    html = written[0]["html"].read_text()
    assert "tiny-b" in html and html.count("data:image/png;base64,") == 4


def test_two_studies_side_by_side_keep_their_own_rois(make_window, qtbot) -> None:
    from compare_fixtures import lesion_roi, phantom_study_volume

    from coloc_viewer.viewer.compare import Study

    v1, v2 = phantom_study_volume(1), phantom_study_volume(2, lesion_at=(40, 20))
    s1, s2 = Study(v1, lesion_roi(v1)), Study(v2, lesion_roi(v2, (40, 20)))
    win = make_window([s1, s2], n_panes=4)
    assert [p.study for p in win.panes] == [s1, s2, s1, s2]
    outlines = [p.outline_item.image[..., 3] > 0 for p in win.panes]
    assert (outlines[0] == outlines[2]).all() and (outlines[1] == outlines[3]).all()
    assert not (outlines[0] & outlines[1]).any()  # different lesions, different outlines
    new_roi = np.zeros(v2.shape, bool)
    new_roi[:, 5:15, 5:15] = True
    win.set_roi(s2, new_roi)
    assert (win.panes[3].outline_item.image[..., 3] > 0)[5, 5:15].all()
    assert not (win.panes[2].outline_item.image[..., 3] > 0)[5, 5:15].any()
    wheel_to = win.panes[1].slice_index + 1
    win.panes[1].set_slice(wheel_to)  # slice stays linked across the studies
    assert {p.slice_index for p in win.panes} == {wheel_to}


def test_narrow_panes_keep_score_headers_and_values_whole(make_window, study, qtbot,
                                                          artifacts_dir) -> None:
    """Four panes in 1200 x 600: each pane's score table scrolls sideways rather than cutting
    "IoU top-N" or a value to an ellipsis, is as tall as its rows (the image gets the room),
    and the verdict above it shows every line."""
    win = make_window(study, n_panes=4)
    shape = study.volume.shape[1:]
    _inject(win, [np.random.default_rng(i).random(shape) for i in range(4)])
    qtbot.waitUntil(lambda: all(p.scores.table.rowCount() > 0 for p in win.panes))
    for pane in win.panes:
        table = pane.scores.table
        header, metrics = table.horizontalHeader(), table.fontMetrics()
        assert table.horizontalScrollBar().maximum() > 0  # narrower than its columns
        for col in range(table.columnCount()):
            label = table.horizontalHeaderItem(col).text()
            width = header.sectionSize(col)
            assert header.fontMetrics().horizontalAdvance(label) < width, label
            for row in range(table.rowCount()):
                text = table.item(row, col).text()
                assert text and metrics.horizontalAdvance(text) < width, (label, text)
        rows = sum(table.rowHeight(r) for r in range(table.rowCount()))
        assert abs(table.viewport().height() - rows) <= 2  # no blank table area
        assert pane.canvas.height() > table.height()
        verdict = pane.scores.verdict  # laid out after its text changed
        qtbot.waitUntil(lambda v=verdict: v.height() >= v.heightForWidth(v.width()),
                        timeout=3000)
    assert win.grab().save(str(artifacts_dir / "compare_four_narrow_panes.png"))


def test_every_control_shows_at_the_default_width_and_f5_analyses(make_window, study,
                                                                   qtbot) -> None:
    """A review found Auto, Screenshot…, Export report… and the identifiers box behind the
    toolbar's » at the default width, and each pane's hint "press Analyse (F5)" while F5
    did nothing in this window."""
    from PySide6.QtCore import Qt

    win = make_window([study], n_panes=2)
    win.resize(1500, 800)
    qtbot.waitUntil(lambda: win.phi_box.isVisible(), timeout=5000)
    for widget in (win.analyse_button, win.auto_box, win.phi_box, win.opacity,
                   win.pane_count, win.scale_box):
        assert widget.isVisible(), widget
    win.activateWindow()
    win.setFocus()
    qtbot.waitUntil(lambda: win.isActiveWindow(), timeout=5000)
    with qtbot.waitSignal(win.results_ready, timeout=60000):
        qtbot.keyClick(win, Qt.Key.Key_F5)
    assert all(p.result is not None for p in win.panes[:2])


def test_pane_images_line_up_whatever_their_titles(make_window, study, qtbot) -> None:
    """A long pane title wrapped to two lines and pushed its image below its neighbour's."""
    win = make_window([study], n_panes=2)
    win.resize(900, 600)
    a, b = win.panes[:2]
    b.title.setText("B: " + "a-very-long-refined-model-name " * 3)
    qtbot.wait(50)
    top = [p.canvas.mapTo(win, p.canvas.rect().topLeft()).y() for p in (a, b)]
    assert top[0] == top[1]
    assert win.windowTitle() == "Compare — coloc_viewer"
