"""Main-window review hooks: case-report export (PHI off/on), screenshot legend, compare
ROI sync, model settings restored on reopen, and the score verdict without positive map."""

from __future__ import annotations

import numpy as np
import pytest
from gui_events import analyse, drag, load_model, open_study
from gui_phantom import phantom
from pdf_text import pdf_text
from PySide6.QtCore import QRect
from PySide6.QtGui import QImage

from coloc_viewer.metrics.scorer import Scorer
from coloc_viewer.viewer.live_scores import describe, verdict

pytestmark = pytest.mark.gui

NAME, PID, BIRTH = "TESTPATIENT^ZELDA", "PID-99173", "19700101"


@pytest.fixture(scope="module")
def phi_study(tmp_path_factory):
    """A DICOM series whose patient name, ID and birth date are set."""
    from coloc_viewer.imaging.dicom_write import write_dicom_series

    folder = tmp_path_factory.mktemp("phi_study")
    write_dicom_series(phantom((4, 96, 80)), folder, spacing=(3.0, 0.8, 1.0),
                       modality="MR", series_description="T2 phantom", dtype="uint16",
                       patient_name=NAME, patient_id=PID, extra={"PatientBirthDate": BIRTH})
    return folder


def paint(window) -> None:
    window.state.set_tool("brush")
    window.state.set_brush_radius(4.0)
    drag(window.view, [(30, 40), (34, 44), (38, 48)])
    assert window.state.rois.mask()[window.state.slice_index].any()


def texts(paths) -> dict[str, str]:
    """File contents as text (a PDF: its shown strings plus its raw bytes) keyed by name."""
    out = {}
    for path in paths:
        raw = path.read_bytes()
        if path.suffix == ".pdf":
            out[path.name] = pdf_text(raw) + "\n" + raw.decode("latin-1")
        else:
            out[path.name] = raw.decode("utf-8", "replace")
    return out


def test_case_export_omits_identifiers_unless_ticked(qtbot, window, phi_study, model_card,
                                                     tmp_path, monkeypatch):
    open_study(qtbot, window, phi_study)
    load_model(qtbot, window, model_card)
    paint(window)
    analyse(qtbot, window)
    assert not window.include_phi.isChecked()  # off by default

    folder = tmp_path / "plain"
    monkeypatch.setattr("PySide6.QtWidgets.QFileDialog.getExistingDirectory",
                        lambda *a, **k: str(folder))
    with qtbot.waitSignal(window.case_exported, timeout=60000) as blocker:
        window.actions_by_name["Export case report…"].trigger()
    paths = blocker.args[0]
    assert sorted(p.suffix for p in paths) == [".csv", ".html", ".pdf"]
    assert all(p.parent == folder and p.stat().st_size > 0 for p in paths)
    # where it went stays readable (it said "Exported 3 files" for five seconds)
    assert window.statusBar().currentMessage() == f"Case report written to {folder}: 3 files"
    tip = window.statusBar().toolTip()  # the whole message on hover, should it be cut
    assert tip.startswith(f"Case report written to {folder}: 3 files\n")
    assert tip.endswith("0 background task(s) running")
    plain = texts(paths)
    assert "relevance" in plain[next(n for n in plain if n.endswith(".csv"))].lower()
    for name, text in plain.items():
        for secret in (NAME, "TESTPATIENT", "ZELDA", PID, BIRTH, "1970-01-01"):
            assert secret not in text, (name, secret)
            assert secret not in name

    window.include_phi.setChecked(True)
    folder = tmp_path / "with_phi"
    with qtbot.waitSignal(window.case_exported, timeout=60000) as blocker:
        window.actions_by_name["Export case report…"].trigger()
    shown = texts(blocker.args[0])
    html = next(t for n, t in shown.items() if n.endswith(".html"))
    csv = next(t for n, t in shown.items() if n.endswith(".csv"))
    pdf = next(t for n, t in shown.items() if n.endswith(".pdf"))
    assert "relevance mass" in pdf.lower()  # the text extraction sees the page text
    for text in (html, csv, pdf):
        assert "TESTPATIENT" in text and PID in text
    # what the panel told the reader, in words (not a JSON key and a quoted string)
    assert "explained class" in pdf and "explained_class" not in pdf
    assert '"Explaining class' not in pdf and "Explaining class" in pdf
    assert all("TESTPATIENT" not in n and PID not in n for n in shown)


def test_export_without_a_map_is_an_error_dialog(qtbot, window, volume, tmp_path,
                                                  monkeypatch):
    monkeypatch.setattr("PySide6.QtWidgets.QMessageBox.critical",
                        lambda *a, **k: None)
    window.set_volume(volume)
    with qtbot.waitSignal(window.error_shown, timeout=5000):
        assert window.export_case_report(tmp_path) is False
    assert not list(tmp_path.iterdir())


def test_screenshot_has_a_legend_under_the_view(qtbot, window, phi_study, model_card,
                                                tmp_path, artifacts_dir, monkeypatch):
    open_study(qtbot, window, phi_study)
    load_model(qtbot, window, model_card)
    paint(window)
    analyse(qtbot, window)
    state = window.state
    legend = window.screenshot_legend()
    ex = state.explanation
    assert legend[0] == f"tiny-resnet18 / {ex.layer}"
    assert legend[1].startswith("top channel") and f"rank {ex.rank}" in legend[1]
    assert legend[1].endswith(f"target {ex.target_label}")  # the class's name, not its index
    assert legend[2].startswith("scale: per-image")
    mass = state.scores[state.rois.active]["relevance_mass"]
    assert legend[3].startswith(state.rois.active) and f"mass {mass:.3f}" in legend[3]
    assert not any("TESTPATIENT" in line for line in legend)

    png = tmp_path / "shot.png"
    monkeypatch.setattr("PySide6.QtWidgets.QFileDialog.getSaveFileName",
                        lambda *a, **k: (str(png), "PNG (*.png)"))
    window.actions_by_name["Save screenshot…"].trigger()
    image = QImage(str(png))
    (artifacts_dir / "gui_review_view_with_legend.png").write_bytes(png.read_bytes())
    view = window.view
    top = view.colorbar.geometry().bottom() + 1  # the image and colour bar, not the slider
    assert top < view.slider.geometry().top()
    assert image.width() == view.width() and image.height() > top + 3 * 10
    # the legend band holds light text pixels on the dark background
    band = [image.pixelColor(x, y).lightness()
            for y in range(top + 2, image.height(), 2)
            for x in range(0, image.width(), 3)]
    assert max(band) > 150
    # the brush's outline (it looked like an ROI) is left out, and shown again after
    view.cursor_item.setRect(10, 10, 20, 20)
    view.cursor_item.setVisible(True)
    shot = window.screenshot(legend=False)
    assert view.cursor_item.isVisible()
    with_ring = view.grab(QRect(0, 0, view.width(), top)).toImage()
    view.cursor_item.setVisible(False)
    assert shot == view.grab(QRect(0, 0, view.width(), top)).toImage() != with_ring


def test_roi_edits_reach_the_open_compare_window(qtbot, window, volume):
    window.set_volume(volume)
    compare = window.open_compare()
    qtbot.addWidget(compare)
    study = compare.studies[0]
    assert study.rois is window.state.rois  # one ROI set: an edit in either is in both
    assert not study.roi.any()
    pane = compare.panes[0]
    pane.set_slice(window.state.slice_index)
    paint(window)
    np.testing.assert_array_equal(study.roi, window.state.rois.mask())
    assert (pane.outline_item.image[..., 3] > 0).any()  # the pane redrew the edit
    window.state.clear_slice()
    assert not study.roi.any()
    assert not (pane.outline_item.image[..., 3] > 0).any()
    compare.close()
    assert not compare.links._members  # a closed compare window is left alone


def test_model_layer_rank_and_map_come_back_when_the_study_reopens(
        qtbot, window, study_dir, model_card, tmp_path, monkeypatch):
    from coloc_viewer.gui.main_window import MainWindow

    monkeypatch.setenv("COLOC_VIEWER_DATA_DIR", str(tmp_path / "data"))
    open_study(qtbot, window, study_dir)
    load_model(qtbot, window, model_card)
    mp = window.model_panel
    layer = next(mp.layer_box.itemData(i) for i in range(mp.layer_box.count())
                 if mp.layer_box.itemData(i) not in (None, "layer3"))
    mp.layer_box.setCurrentIndex(mp.layer_box.findData(layer))
    mp.rank_box.setCurrentIndex(mp.rank_box.findData("max"))
    mp.select_map("channel:2")
    window.close()  # flushes the autosave

    again = MainWindow()
    qtbot.addWidget(again)
    again.model_panel.set_models([], None)  # no model preselected from the settings
    with qtbot.waitSignal(again.model_ready, timeout=60000):
        open_study(qtbot, again, study_dir)
    again.wait_idle(30000)
    p = again.model_panel
    assert p.current_model() == str(model_card)
    assert p.layer_box.currentData() == layer
    assert p.rank_box.currentData() == "max"
    assert p.map_box.currentData() == "channel:2"
    assert again.state.overlay.choice == "channel:2"
    again.close()


def test_describe_tells_an_empty_roi_from_a_map_without_positive_values():
    roi = np.zeros((32, 32), bool)
    roi[8:16, 8:16] = True
    negative = Scorer(-np.ones((32, 32)))
    scores = negative.update(roi)
    assert scores["relevance_mass"] is None and scores["n_roi"] == 64
    assert describe(scores) == "the map has no positive values on this slice"
    assert verdict({"lesion": scores}) == "The map has no positive values on this slice."
    empty = Scorer(np.random.default_rng(0).random((32, 32))).update(np.zeros((32, 32), bool))
    assert describe(empty) == "no ROI drawn"
    assert verdict({"lesion": empty}).startswith("Draw an ROI")
    positive = Scorer(np.random.default_rng(0).random((32, 32))).update(roi)
    assert describe(positive) not in ("no ROI drawn",
                                      "the map has no positive values on this slice")
