"""Compare panes take multi-series models as the main window does (issue 13): on the demo
case the bundled 3-D T2 + ADC + DWI model `demo-mpmri`, chosen in a pane with key presses,
finds its series without asking, shows the maps of one run on T2, ADC and DWI, and scrolling
never runs it again; on a study with one series the pane says in one sentence why not."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PySide6.QtCore import Qt
from test_links import wheel

from coloc_viewer.resources import demo_dir
from coloc_viewer.viewer.compare import PaneSpec

pytestmark = pytest.mark.gui

CASE = demo_dir() / "case-01"


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """Remembered role choices of this test only."""
    monkeypatch.setenv("COLOC_VIEWER_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def show(qtbot, win):
    qtbot.addWidget(win)
    win.resize(1400, 800)
    win.show()
    qtbot.waitExposed(win)
    return win


def choose_model(qtbot, pane, name: str) -> None:
    """Pick ``name`` in the pane's model box with key presses, as a reader does."""
    box = pane.model_box
    target = box.findData(name)
    assert target >= 0, f"{name} is not offered"
    box.setFocus()
    while box.currentIndex() != target:
        before = box.currentIndex()
        qtbot.keyClick(box, Qt.Key.Key_Down if before < target else Qt.Key.Key_Up)
        assert box.currentIndex() != before
    assert pane.spec().model == name


def analyse(qtbot, win) -> None:
    with qtbot.waitSignal(win.results_ready, timeout=120000):
        qtbot.mouseClick(win.analyse_button, Qt.MouseButton.LeftButton)


def test_pane_runs_demo_mpmri_on_its_series_once(qtbot, data_dir, artifacts_dir):
    from coloc_viewer.explain.engine import explain
    from coloc_viewer.explain.scoring import score_explanation
    from coloc_viewer.gui.compare_open import open_compare
    from coloc_viewer.imaging.load import load_volume
    from coloc_viewer.viewer.analysis import VolumeSlice
    from coloc_viewer.viewer.orientation import orientation_of

    win = open_compare([str(CASE / "dicom")], [str(CASE / "rois.seg.dcm")], n_panes=2,
                       specs=[PaneSpec("demo-clean"),
                              PaneSpec("demo-mpmri", map_choice="gradcam")])
    model = win.registry.get("demo-mpmri")
    win.registry.layers("demo-mpmri")  # the layer listing's dry run happens before counting
    direct = explain(model, {"T2": load_volume(CASE / "dicom"), "ADC": load_volume(CASE / "adc"),
                             "DWI": load_volume(CASE / "dwi")}, None, methods=("gradcam",))
    runs = []
    model.module.register_forward_hook(lambda *_a: runs.append(1))
    show(qtbot, win)
    lead, other = win.panes
    choose_model(qtbot, lead, "demo-mpmri")  # pane A: the top channel of demo-mpmri
    analyse(qtbot, win)

    assert win.roles_dialog is None  # the card's patterns found ADC and DWI: nobody asked
    assert runs == [1]  # one run of the whole volume serves both panes
    orient = orientation_of(lead.study.volume)
    z = lead.slice_index
    for pane, expected in ((lead, direct.top_map), (other, direct.cam_map("gradcam"))):
        assert not pane.notice.isVisible()
        ex = pane.model.shown_result.explanation
        assert isinstance(ex, VolumeSlice) and ex.spatial_dims == 3
        assert ex.inputs == ["T2", "ADC", "DWI"]
        shown = pane.state.current_map()
        want = orient.to_display(expected[z])
        np.testing.assert_allclose(shown, want, rtol=1e-4, atol=1e-6 * np.abs(expected).max())
        assert pane.image_item.image is not None
    assert ex.prediction["index"] == direct.prediction["index"]
    assert win.table_values()[0]["prediction"] == direct.prediction["label"]

    # the volume scores (whole map, whole ROI, 3-D shifts): the API's numbers
    lesion = next(r for r in lead.state.rois if r.mask.any() and "lesion" in r.name.lower())
    scored = score_explanation(direct, orient.to_storage(lesion.mask),
                               threshold=lead.state.overlay.threshold)
    for pane, key in ((lead, "top_map"), (other, "cam")):
        got = pane.state.volume_scores[lesion.name]
        assert got["relevance_mass"] == pytest.approx(scored[key]["relevance_mass"], rel=1e-3)
        assert got["p_value"] == pytest.approx(scored[key]["p_value"], abs=1e-9)
    win.grab().save(str(artifacts_dir / "gui_compare_mpmri.png"))

    win.auto_box.setChecked(True)  # analyse again on every slice change
    wheel(lead, lead.slice_index)  # up to the first slice, then down through all of them
    seen = []
    for _ in range(lead.study.n_slices):
        for pane in win.panes:  # shown at once, from the one cached 3-D run
            res = pane.model.shown_result
            assert res is not None and res.explanation.z == pane.slice_index
        seen.append(lead.slice_index)
        wheel(lead, -1)
    assert seen == list(range(lead.study.n_slices))
    with qtbot.waitSignal(win.results_ready, timeout=60000):
        win.analyse()  # what Auto starts: answered from the cache
    assert runs == [1]
    win.close()


def test_pane_on_a_one_series_study_says_why_in_one_sentence(qtbot, data_dir, tmp_path):
    from coloc_viewer.gui.compare_open import open_compare

    study = tmp_path / "t2-only" / "dicom"
    shutil.copytree(CASE / "dicom", study)  # the T2 series alone: no ADC, no DWI
    win = show(qtbot, open_compare([str(study)], n_panes=2,
                                   specs=[PaneSpec("demo-shortcut"), PaneSpec("demo-clean")]))
    lead, other = win.panes
    choose_model(qtbot, lead, "demo-mpmri")
    analyse(qtbot, win)

    assert win.roles_dialog is None  # nothing to choose from: no dialog
    text = lead.notice.text()
    assert lead.notice.isVisible() and lead.model.shown_result is None
    assert "demo-mpmri" in text and "T2, ADC, DWI" in text and "1 series" in text
    assert text.count(".") == 1 and text.endswith(".") and "\n" not in text
    assert "Traceback" not in text and "pass {" not in text  # not the engine's API wording
    assert win.table_values()[0]["prediction"] == "error"
    assert other.model.shown_result is not None and not other.notice.isVisible()
    win.close()


def copy_series(src, dst, description: str) -> str:
    """A copy of DICOM series ``src`` in the same study with new UIDs, its own description
    and its pixels mirrored left-right (so it is a different input); its SeriesInstanceUID."""
    import pydicom
    from pydicom.uid import generate_uid

    dst.mkdir(parents=True)
    uid = generate_uid()
    for f in sorted(src.iterdir()):
        ds = pydicom.dcmread(f)
        ds.SeriesInstanceUID, ds.SOPInstanceUID = uid, generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.SeriesDescription = description
        ds.PixelData = np.ascontiguousarray(ds.pixel_array[:, ::-1]).tobytes()
        ds.save_as(dst / f.name)
    return uid


@pytest.fixture
def ambiguous_study(tmp_path):
    """The demo case's T2, ADC and DWI plus a recomputed ADC (also matches /adc/)."""
    study = tmp_path / "study"
    for name in ("dicom", "adc", "dwi"):
        shutil.copytree(CASE / name, study / name)
    return study, copy_series(CASE / "adc", study / "adc2", "ADC recomputed AX")


def test_ambiguous_series_are_asked_once_for_both_panes_and_remembered(qtbot, data_dir,
                                                                        ambiguous_study):
    from PySide6.QtWidgets import QDialogButtonBox

    from coloc_viewer.explain.engine import explain
    from coloc_viewer.gui.compare_open import open_compare
    from coloc_viewer.gui.series_roles_dialog import SeriesRolesDialog
    from coloc_viewer.imaging.load import load_volume
    from coloc_viewer.viewer.orientation import orientation_of
    from coloc_viewer.workspace.role_choices import RoleChoices, choice_hash

    study, uid = ambiguous_study
    specs = [PaneSpec("demo-mpmri"), PaneSpec("demo-mpmri", map_choice="gradcam")]
    win = show(qtbot, open_compare([str(study / "dicom")], n_panes=2, specs=specs))
    qtbot.mouseClick(win.analyse_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: win.roles_dialog is not None and win.roles_dialog.isVisible(),
                    timeout=60000)
    dialog = win.roles_dialog
    assert "2 series match ADC" in dialog.intro.text()
    box = dialog.boxes["ADC"]
    box.setFocus()
    while box.currentData() != uid:  # the reader picks the recomputed ADC with the keys
        before = box.currentIndex()
        qtbot.keyClick(box, Qt.Key.Key_Down)
        assert box.currentIndex() != before
    adc_key = next(box.itemData(i) for i in range(box.count())
                   if box.itemText(i).startswith("ADC (10^-6"))  # the acquired ADC
    with qtbot.waitSignal(win.results_ready, timeout=120000):
        qtbot.mouseClick(dialog.buttons.button(QDialogButtonBox.StandardButton.Ok),
                         Qt.MouseButton.LeftButton)
    assert len(win.findChildren(SeriesRolesDialog)) == 1  # one question served both panes

    model = win.registry.get("demo-mpmri")
    t2, dwi = load_volume(study / "dicom"), load_volume(study / "dwi")
    chosen = explain(model, {"T2": t2, "ADC": load_volume(study, series=uid), "DWI": dwi},
                     None, methods=("gradcam",))
    default = explain(model, {"T2": t2, "ADC": load_volume(study / "adc"), "DWI": dwi},
                      None, methods=("gradcam",))
    pane = win.panes[1]
    z, orient = pane.slice_index, orientation_of(pane.study.volume)
    shown = pane.state.current_map()
    np.testing.assert_allclose(shown, orient.to_display(chosen.cam_map("gradcam", z=z)),
                               rtol=1e-4, atol=1e-6 * np.abs(chosen.cams["gradcam"]).max())
    assert not np.allclose(shown, orient.to_display(default.cam_map("gradcam", z=z)),
                           rtol=1e-3)  # the choice mattered
    assert win.panes[0].model.shown_result is not None
    assert len(list((data_dir / "study-inputs").glob("*.json"))) == 1
    win.close()

    again = show(qtbot, open_compare([str(study / "dicom")], n_panes=2, specs=specs))
    analyse(qtbot, again)  # the remembered choice: nobody is asked
    assert again.roles_dialog is None and not again.findChildren(SeriesRolesDialog)
    np.testing.assert_allclose(again.panes[1].state.current_map(), shown, rtol=1e-5)

    # the reader chooses the acquired ADC elsewhere (the main window's dialog writes the
    # study's store): the panes follow at the next analysis
    stored = next((data_dir / "study-inputs").glob("*.json"))
    choice = json.loads(stored.read_text())["models"]["demo-mpmri"]
    RoleChoices(data_dir).put(stored.stem, "demo-mpmri", {**choice, "ADC": choice_hash(adc_key)})
    analyse(qtbot, again)
    np.testing.assert_allclose(again.panes[1].state.current_map(),
                               orient.to_display(default.cam_map("gradcam", z=z)),
                               rtol=1e-4, atol=1e-6 * np.abs(default.cams["gradcam"]).max())
    again.close()


def test_declining_the_question_leaves_one_sentence_in_the_panes(qtbot, data_dir,
                                                                 ambiguous_study):
    from coloc_viewer.gui.compare_open import open_compare

    study, _uid = ambiguous_study
    specs = [PaneSpec("demo-mpmri"), PaneSpec("demo-clean")]
    win = show(qtbot, open_compare([str(study / "dicom")], n_panes=2, specs=specs))
    qtbot.mouseClick(win.analyse_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: win.roles_dialog is not None and win.roles_dialog.isVisible(),
                    timeout=60000)
    with qtbot.waitSignal(win.results_ready, timeout=60000):
        qtbot.keyClick(win.roles_dialog, Qt.Key.Key_Escape)  # the reader declines
    lead, other = win.panes
    assert lead.notice.isVisible() and lead.notice.text() == \
        "No series chosen for the model's inputs."
    assert lead.model.shown_result is None and win.table_values()[0]["prediction"] == "error"
    assert other.model.shown_result is not None  # the other pane is unaffected
    assert not list((data_dir / "study-inputs").glob("*.json"))  # nothing remembered
    win.close()
