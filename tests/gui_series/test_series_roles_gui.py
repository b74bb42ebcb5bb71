"""Several series as a model's inputs in the main window (issue 13): on the demo case the
card's patterns find T2, ADC and DWI without asking; where a pattern matches two series a
dialog asks (combo boxes driven with real key and mouse events), the choice feeds the model
and is remembered for the study across reopening and a new window."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from coloc_viewer.resources import demo_dir

CASE = demo_dir() / "case-01"


def choose_model(qtbot, window, name: str) -> None:
    """Pick ``name`` in the model panel's combo box with key presses (as a reader does)."""
    box = window.model_panel.model_box
    target = box.findData(name)
    assert target >= 0, f"{name} is not offered"
    box.setFocus()
    if box.currentIndex() == target:  # the last session's model: Analyse loads it
        return
    with qtbot.waitSignal(window.model_ready, timeout=60000):
        while box.currentIndex() != target:
            key = Qt.Key.Key_Down if box.currentIndex() < target else Qt.Key.Key_Up
            qtbot.keyClick(box, key)
    assert window.model_panel.current_model() == name


def run_analysis(qtbot, window) -> None:
    with qtbot.waitSignal(window.analysis_finished, timeout=120000):
        qtbot.mouseClick(window.model_panel.analyse, Qt.MouseButton.LeftButton)


def open_case(qtbot, window, folder: Path, rois: Path | None = None) -> None:
    with qtbot.waitSignal(window.study_loaded, timeout=60000):
        window.open_path(folder, rois=rois)


def direct_explanation(model, t2: Path, adc: tuple[Path, str | None], dwi: Path):
    from coloc_viewer.explain.engine import explain
    from coloc_viewer.imaging.load import load_volume

    inputs = {"T2": load_volume(t2), "ADC": load_volume(adc[0], series=adc[1]),
              "DWI": load_volume(dwi)}
    return explain(model, inputs, None, methods=("gradcam",))


def test_demo_mpmri_finds_its_series_and_explains_the_volume(qtbot, make_window,
                                                             artifacts_dir):
    from coloc_viewer.explain.scoring import score_explanation
    from coloc_viewer.viewer.analysis import VolumeSlice
    from coloc_viewer.viewer.orientation import orientation_of

    window = make_window()
    window.roles_dialog = None
    open_case(qtbot, window, CASE / "dicom", CASE / "rois.seg.dcm")
    choose_model(qtbot, window, "demo-mpmri")
    run_analysis(qtbot, window)
    assert window.roles_dialog is None  # the patterns matched: nobody was asked
    state = window.state
    ex = state.explanation
    assert isinstance(ex, VolumeSlice) and ex.spatial_dims == 3
    assert ex.inputs == ["T2", "ADC", "DWI"]
    assert len(state.explanations) == state.n_slices

    model = window.current_model()
    direct = direct_explanation(model, CASE / "dicom", (CASE / "adc", None), CASE / "dwi")
    orient = orientation_of(state.volume)
    z = state.slice_index
    np.testing.assert_allclose(ex.cam_map("gradcam"),
                               orient.to_display(direct.cam_map("gradcam", z=z)),
                               rtol=1e-4, atol=1e-6 * np.abs(direct.cams["gradcam"]).max())
    assert ex.prediction["index"] == direct.prediction["index"]
    # volume scores of the lesion ROI: the CLI's numbers for this model and these series
    lesion = next(r for r in state.rois if r.mask.any() and "lesion" in r.name.lower())
    expected = score_explanation(direct, orient.to_storage(lesion.mask),
                                 threshold=state.overlay.threshold)["top_map"]
    got = state.volume_scores[lesion.name]
    assert got["relevance_mass"] == pytest.approx(expected["relevance_mass"], rel=1e-3)
    assert got["p_value"] == pytest.approx(expected["p_value"], abs=1e-9)
    window.grab().save(str(artifacts_dir / "gui_series_demo_mpmri.png"))


def _copy_series(src: Path, dst: Path, description: str, flip: bool) -> str:
    """A copy of series ``src`` in the same study: new series/instance UIDs, its own
    description, pixels mirrored left-right when ``flip`` (so it is a different input)."""
    import pydicom
    from pydicom.uid import generate_uid

    dst.mkdir(parents=True)
    uid = generate_uid()
    for f in sorted(src.iterdir()):
        ds = pydicom.dcmread(f)
        ds.SeriesInstanceUID = uid
        ds.SOPInstanceUID = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.SeriesDescription = description
        if flip:
            ds.PixelData = np.ascontiguousarray(ds.pixel_array[:, ::-1]).tobytes()
        ds.save_as(dst / f.name)
    return uid


@pytest.fixture
def ambiguous_study(tmp_path) -> tuple[Path, str]:
    """The demo case's T2, ADC and DWI plus a second ADC-like series (also matches /adc/)."""
    study = tmp_path / "study"
    for name in ("dicom", "adc", "dwi"):
        shutil.copytree(CASE / name, study / name)
    uid = _copy_series(CASE / "adc", study / "adc2", "ADC recomputed AX", flip=True)
    return study, uid


def _dialog(qtbot, window):
    qtbot.waitUntil(lambda: getattr(window, "roles_dialog", None) is not None
                    and window.roles_dialog.isVisible(), timeout=30000)
    return window.roles_dialog


def _pick(qtbot, box, key: str) -> None:
    box.setFocus()
    target = box.findData(key)
    assert target >= 0
    while box.currentIndex() != target:
        before = box.currentIndex()
        qtbot.keyClick(box, Qt.Key.Key_Down if before < target else Qt.Key.Key_Up)
        assert box.currentIndex() != before


def test_ambiguous_pattern_asks_and_the_choice_is_remembered(qtbot, make_window,
                                                             ambiguous_study, data_dir,
                                                             artifacts_dir):
    from PySide6.QtWidgets import QDialogButtonBox

    study, extra_uid = ambiguous_study
    window = make_window()
    window.roles_dialog = None
    open_case(qtbot, window, study / "dicom")
    choose_model(qtbot, window, "demo-mpmri")  # the reader is asked at once
    dialog = _dialog(qtbot, window)
    assert "2 series match ADC" in dialog.intro.text()
    adc, dwi = dialog.boxes["ADC"], dialog.boxes["DWI"]
    assert not dialog.boxes["T2"].isEnabled()  # the open series is the first role
    assert adc.count() == 3  # every other series of the study is offered
    labels = [adc.itemText(i) for i in range(adc.count())]
    assert "ADC recomputed AX — 15 x 128 x 128, 4.00 x 1.25 x 1.25 mm" in labels
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    _pick(qtbot, dwi, extra_uid)  # one series for two roles is refused
    _pick(qtbot, adc, extra_uid)
    assert not ok.isEnabled() and "only one role" in dialog.problem.text()
    dwi_key = next(dwi.itemData(i) for i in range(dwi.count()) if "DWI" in dwi.itemText(i))
    _pick(qtbot, dwi, dwi_key)
    assert ok.isEnabled()
    window.grab().save(str(artifacts_dir / "gui_series_roles_dialog.png"))
    qtbot.mouseClick(ok, Qt.MouseButton.LeftButton)
    assert f"ADC={extra_uid}" in window.analysis_series()
    run_analysis(qtbot, window)
    ex = window.state.explanation
    assert ex is not None and ex.inputs == ["T2", "ADC", "DWI"]
    model = window.current_model()
    chosen = direct_explanation(model, study / "dicom", (study, extra_uid), study / "dwi")
    other = direct_explanation(model, study / "dicom", (study / "adc", None), study / "dwi")
    got = ex.volume_explanation.stored.cams["gradcam"] if hasattr(
        ex.volume_explanation, "stored") else ex.volume_explanation.cams["gradcam"]
    np.testing.assert_allclose(got, chosen.cams["gradcam"], rtol=1e-4, atol=1e-7)
    assert not np.allclose(got, other.cams["gradcam"], rtol=1e-3)  # the choice mattered

    # remembered: PHI-free, per study, for reopening and for a new window
    stored = list((data_dir / "study-inputs").glob("*.json"))
    assert len(stored) == 1
    text = stored[0].read_text()
    assert extra_uid not in text and "ADC recomputed" not in text and "study" not in text
    assert set(json.loads(text)["models"]["demo-mpmri"]) == {"T2", "ADC", "DWI"}
    window.roles_dialog = None
    open_case(qtbot, window, study / "dicom")
    run_analysis(qtbot, window)
    assert window.roles_dialog is None
    assert f"ADC={extra_uid}" in window.analysis_series()

    second = make_window()
    second.roles_dialog = None
    open_case(qtbot, second, study / "dicom")
    choose_model(qtbot, second, "demo-mpmri")
    run_analysis(qtbot, second)
    assert second.roles_dialog is None and f"ADC={extra_uid}" in second.analysis_series()

    # Model > Series for inputs… changes it back
    second.actions_by_name["Series for inputs…"].trigger()
    dialog = _dialog(qtbot, second)
    assert dialog.boxes["ADC"].currentData() == extra_uid  # the remembered choice is shown
    adc_key = next(k for k in (dialog.boxes["ADC"].itemData(i)
                               for i in range(dialog.boxes["ADC"].count()))
                   if k not in (extra_uid, dwi_key))
    _pick(qtbot, dialog.boxes["ADC"], adc_key)
    qtbot.mouseClick(dialog.buttons.button(QDialogButtonBox.StandardButton.Ok),
                     Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: f"ADC={adc_key}" in second.analysis_series(), timeout=5000)
    assert json.loads(stored[0].read_text())["models"]["demo-mpmri"] != \
        json.loads(text)["models"]["demo-mpmri"]
