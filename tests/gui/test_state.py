"""The Qt-free view model: navigation, window dragging, brush size, verdicts, scores."""

from __future__ import annotations

import numpy as np
import pytest

from coloc_viewer.metrics.scores import score
from coloc_viewer.viewer.live_scores import LiveScores, describe, verdict
from coloc_viewer.viewer.state import ViewerState


def test_navigation_is_clamped_and_emits(volume):
    state = ViewerState()
    seen = []
    state.events.slice.connect(lambda _z: seen.append(state.slice_index))
    state.set_volume(volume)
    state.step_slice(100)
    state.step_slice(-3)
    state.set_slice(-5)
    assert seen == [volume.shape[0] - 1, volume.shape[0] - 4, 0]


def test_window_drag_and_brush_steps(volume):
    state = ViewerState()
    state.set_volume(volume)
    w0 = state.window
    state.drag_window(0, 0)
    assert state.window == w0
    state.drag_window(256, -256)  # a full 256 px to the right doubles the width
    assert state.window.width == pytest.approx(2 * w0.width)
    assert state.window.center == pytest.approx(w0.center - w0.width)
    state.set_brush_radius(5.0)
    state.grow_brush(1)
    assert state.tools.brush_radius_mm == pytest.approx(6.0)
    state.grow_brush(-100)
    assert state.tools.brush_radius_mm == state.tools.min_radius_mm


def test_dab_uses_millimetres_on_anisotropic_pixels(volume):
    state = ViewerState()
    state.set_volume(volume)  # rows 0.8 mm, columns 1.0 mm
    state.set_brush_radius(4.0)
    state.dab(40, 40)
    mask = state.rois.mask()[state.slice_index]
    rows, cols = np.nonzero(mask)
    assert rows.max() - rows.min() == 10  # 4 mm / 0.8 mm = 5 rows each way
    assert cols.max() - cols.min() == 8  # 4 mm / 1.0 mm = 4 columns each way
    state.undo()
    assert not state.rois.mask().any()


def test_live_scores_equal_score_for_many_rois():
    rng = np.random.default_rng(3)
    saliency = rng.random((40, 30)).astype(np.float32)
    live = LiveScores()
    live.set_map("k", saliency)
    masks = [("a", rng.random((40, 30)) > 0.8), ("b", rng.random((40, 30)) > 0.95)]
    got = live.update(masks)
    for name, mask in masks:
        want = score(saliency, mask)
        for key, value in want.items():
            assert got[name][key] == pytest.approx(value) if isinstance(value, float) \
                else got[name][key] == value


def test_verdict_names_the_rois():
    hit = {"relevance_mass": 0.6, "p_value": 0.002, "pointing_game": True,
           "relevance_rank": 0.7}
    miss = {"relevance_mass": 0.05, "p_value": 0.6, "pointing_game": False,
            "relevance_rank": 0.0}
    assert verdict({"lesion": hit}) == "The map looks at the lesion (p = 0.002)."
    assert verdict({"lesion": miss}).startswith("The map does not co-localize with the lesion")
    text = verdict({"lesion": miss, "prostate": miss, "marker": hit})
    assert text == "The map looks at the marker, not at the lesion or the prostate."
    assert verdict({"lesion": miss, "marker": miss}) == \
        "The map looks at none of the ROIs (lesion, marker)."
    assert verdict({}) == "Draw an ROI to score the map."
    assert describe({"relevance_mass": None}) == "no ROI drawn"


def test_verdict_of_the_score_cam_slice_8_demo_case_is_honest():
    """Issue 15: demo, Score-CAM (top-16), slice 8. Lesion: mass 0.010, rank 0, peak
    elsewhere, p = 0.034; the prostate holds 0.108; the hot spot is elsewhere."""
    n_pixels = 128 * 128
    lesion = {"relevance_mass": 0.010, "relevance_rank": 0.0, "pointing_game": False,
              "p_value": 0.034, "n_roi": 200, "n_pixels": n_pixels}
    prostate = {"relevance_mass": 0.108, "relevance_rank": 0.05, "pointing_game": False,
                "p_value": 0.21, "n_roi": 900, "n_pixels": n_pixels}
    one = verdict({"lesion": lesion}, outside=0.99)
    assert "looks at the lesion" not in one.replace("does not look at the lesion", "")
    assert one.startswith("The map does not look at the lesion")
    assert "above chance on the lesion, but most of the map is elsewhere" in one.lower()
    both = verdict({"lesion": lesion, "prostate": prostate}, outside=0.88)
    assert both.startswith("The map looks at none of the ROIs (lesion, prostate).")
    # a ranking among misses, said as one: "Of them, ... though not above chance"
    assert "Of them, it concentrates most on the prostate" in both
    assert "though not above chance (p = 0.210)" in both
    assert "88% outside every ROI" in both
    assert describe(lesion) == "above chance (p = 0.034) but the peak is elsewhere"


def test_verdict_reads_as_english_with_the_readers_own_roi_names():
    """A review found "Above chance on the lesion and the my lesion" and "concentrates most
    on the lesion (0.0x a uniform map)" for a map with nothing in any ROI."""
    n = 128 * 128

    def roi(mass, p, peak=False, rank=0.0, area=200):
        return {"relevance_mass": mass, "p_value": p, "pointing_game": peak,
                "relevance_rank": rank, "n_roi": area, "n_pixels": n}

    chance = roi(0.05, 0.01)
    text = verdict({"lesion": chance, "my lesion": chance}, outside=0.9)
    assert "the lesion and my lesion" in text and "the my" not in text, text
    hit = roi(0.4, 0.002, peak=True, rank=0.8)
    assert verdict({"My lesion": hit}) == "The map looks at My lesion (p = 0.002)."
    assert verdict({"lesion": hit, "ROI 2": roi(0.0, 1.0)}) == \
        ("The map looks at the lesion, not at the ROI 2. It concentrates most on the lesion "
         "(32.8x a uniform map), above chance (p = 0.002).")
    nothing = verdict({"lesion": roi(0.0, 1.0), "marker": roi(0.0, 1.0)})
    assert nothing == ("The map looks at none of the ROIs (lesion, marker). None of its "
                       "positive mass falls in any ROI."), nothing
    thin = verdict({"lesion": roi(0.005, 0.7), "marker": roi(0.001, 0.9)})
    assert thin.endswith("No ROI gets more of it than a uniform map would (at most 0.4x)."), thin
    assert "concentrates" not in thin


def test_enrichment_is_mass_over_area_share():
    from coloc_viewer.viewer.verdict import enrichment

    assert enrichment({"relevance_mass": 0.5, "n_roi": 25, "n_pixels": 100}) == 2.0
    assert enrichment({"relevance_mass": None, "n_roi": 25, "n_pixels": 100}) is None


def test_view_model_events_carry_their_values():
    from coloc_viewer.viewer.analysis import AnalysisSettings
    from coloc_viewer.viewer.display import WindowLevel

    state = ViewerState()
    state.set_volume(__import__("coloc_viewer").Volume(np.zeros((4, 8, 8), np.float32)))
    seen: dict[str, list] = {"slice": [], "window": [], "tool": [], "analysis": []}
    state.events.slice.connect(seen["slice"].append)
    state.events.window.connect(seen["window"].append)
    state.events.tool.connect(lambda tools: seen["tool"].append(tools.tool))
    state.events.analysis.connect(seen["analysis"].append)
    state.set_slice(3)
    state.set_window(WindowLevel(10.0, 20.0))
    state.set_tool("eraser")
    settings = AnalysisSettings("demo-clean", rank="max")
    state.set_analysis(settings)
    state.set_analysis(settings)  # unchanged: no second event
    assert seen == {"slice": [3], "window": [WindowLevel(10.0, 20.0)], "tool": ["eraser"],
                    "analysis": [settings]}
    assert state.slice.number == 4 and state.window_model.readout() == "W 20  L 10"


def test_compare_panes_and_links_work_without_qt():
    """Compare is N panes of (study, view state, settings); links forward the events."""
    from coloc_viewer import Volume
    from coloc_viewer.viewer.compare import Links, Pane, PaneResult, PaneSpec, Study
    from coloc_viewer.viewer.display import WindowLevel

    vol = Volume(np.random.default_rng(0).normal(100, 10, (5, 32, 32)).astype(np.float32))
    study = Study(vol)
    a, b = Pane("A", study, PaneSpec("m")), Pane("B", study, PaneSpec("m", map_choice="gradcam"))
    links = Links()
    links.add(a.state)
    links.add(b.state)
    a.state.set_slice(1)
    assert b.state.slice_index == 1
    b.state.set_window(WindowLevel(50.0, 30.0))
    assert a.state.window == WindowLevel(50.0, 30.0)
    saliency = np.zeros((32, 32), np.float32)
    saliency[5:10, 5:10] = 1.0
    for pane in (a, b):
        pane.set_result(PaneResult(pane.spec, 1, saliency, {}))
    a.state.set_tool("brush")
    a.state.set_brush_radius(2.0)
    a.state.dab(7.0, 7.0)  # drawn in pane A, on the study's shared ROI set
    assert study.rois.mask()[1, 7, 7]
    for pane in (a, b):
        assert pane.state.scores["lesion"]["relevance_mass"] > 0.5
    links.slice = False
    a.state.set_slice(3)
    assert b.state.slice_index == 1 and b.shown_result is not None
    links.clear()


# -- the analysis settings are state (issue 15); the panels are views of it ------------------
def test_choices_are_evented_and_make_the_analysis_settings():
    state = ViewerState()
    seen, announced = [], []
    state.choices.events.changed.connect(seen.append)
    state.events.analysis.connect(announced.append)
    assert state.analysis is None  # no model chosen
    state.choices.set(model="m", rank="max", map_choice="gradcam++")
    assert seen == [{"model": "m", "rank": "max", "map_choice": "gradcam++"}]
    assert state.analysis.methods == ("gradcam", "gradcam++") and state.analysis.rank == "max"
    assert announced == [state.analysis] and state.overlay.choice == "gradcam++"
    state.set_overlay(choice="channel:2")  # the overlay's map is the choices' map
    assert state.choices.map_choice == "channel:2" and state.analysis.methods == ("gradcam",)
    state.choices.set_layers([("a", (8, 4, 4)), ("b", (16, 2, 2))], default="a")
    assert state.choices.layer == "a" and seen[-1] == {"layer": "a"}
    with pytest.raises(AttributeError):
        state.choices.set(colour="red")


def _choose_next(box):
    """Pick the next item of a combo box with the keyboard, as a user would."""
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    box.setFocus()
    QTest.keyClick(box, Qt.Key.Key_Down)


def test_model_panel_renders_the_state_and_writes_the_users_choices(qtbot, window, volume,
                                                                    model_card):
    from gui_events import analyse, load_model

    window.set_volume(volume)
    load_model(qtbot, window, model_card)
    panel, choices = window.model_panel, window.state.choices
    layers = [o.key for o in choices.layers]
    other = next(n for n in layers if n != choices.layer)
    choices.set(layer=other, rank="max", map_choice="gradcam")  # script -> the boxes follow
    assert panel.layer_box.currentData() == other and panel.rank_box.currentData() == "max"
    assert panel.map_box.currentData() == "gradcam"
    assert panel.map_box.currentText() == "Grad-CAM"

    _choose_next(panel.map_box)  # user -> the state follows
    assert choices.map_choice == panel.map_box.currentData() == "gradcam++"
    _choose_next(panel.rank_box)
    assert choices.rank == panel.rank_box.currentData() != "max"
    _choose_next(panel.target_box)  # "predicted" -> class 0
    assert choices.target == 0

    analyse(qtbot, window)  # the run takes the state's settings
    ex = window.state.explanation
    assert (ex.layer, ex.rank, ex.target) == (other, choices.rank, 0)
    assert window.state.current_map() is not None  # the Grad-CAM++ the state asked for
    assert window.state.analysis.methods == ("gradcam", "gradcam++")
