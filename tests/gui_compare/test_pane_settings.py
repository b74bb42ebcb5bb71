"""Compare panes: their settings are the main window's settings model (the boxes render the
pane's state and write into it), titles name models by card name or file stem, and panes
share a colour scale only with panes showing the same kind of map."""

from __future__ import annotations

import numpy as np
import pytest
from compare_fixtures import tiny_models
from PySide6.QtTest import QTest

from coloc_viewer.explain.scale import CommonScale
from coloc_viewer.viewer.compare import ModelRegistry, PaneSpec
from coloc_viewer.viewer.settings import AnalysisChoices

pytestmark = pytest.mark.gui

CARD = "/models/site/prostate-v2.json"


def _type(box, text: str) -> None:
    """Pick an item of a combo box by typing its label, as a user would."""
    box.setFocus()
    QTest.keyClicks(box, text)


def test_pane_boxes_render_and_write_the_panes_choices(make_window, study) -> None:
    win = make_window(study, n_panes=2)
    pane = win.panes[1]
    assert isinstance(pane.state.choices, AnalysisChoices)
    pane.state.choices.set(rank="max", target=1)  # a script -> the boxes follow
    assert pane.rank_box.currentData() == "max" and pane.target_box.currentData() == 1
    _type(pane.map_box, "Grad-CAM")  # the user -> the state follows
    assert pane.state.choices.map_choice == "gradcam" == pane.spec().map_choice
    assert pane.state.overlay.choice == "gradcam"
    _type(pane.rank_box, "mean")
    assert pane.spec().rank == "mean" and pane.state.analysis.rank == "mean"


def test_titles_show_the_model_name_with_the_path_in_a_tooltip(qtbot, study) -> None:
    from coloc_viewer.gui.compare_window import CompareWindow

    model = tiny_models()["tiny-a"]
    registry = ModelRegistry({CARD: model, "tiny-b": tiny_models()["tiny-b"]})
    win = CompareWindow(study, registry, n_panes=2, specs=[PaneSpec(CARD), PaneSpec("tiny-b")])
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    pane = win.panes[0]
    assert pane.title.text().startswith("A: prostate-v2 /") and "/models" not in \
        pane.title.text()
    assert CARD in pane.title.toolTip()
    assert pane.model_box.currentText() == "prostate-v2" and pane.model_box.currentData() == CARD
    with qtbot.waitSignal(win.results_ready, timeout=60000):
        win.analyse()
    assert pane.title.text().startswith("A: tiny-a /")  # the card's own name, once loaded
    assert pane.model_box.currentText() == "tiny-a"
    assert win.pane_legend(pane)[1].startswith(CARD)  # the legend keeps the exact model


def test_common_scale_is_shared_per_kind_of_map(make_window, study, qtbot,
                                                artifacts_dir) -> None:
    specs = [PaneSpec("tiny-a"), PaneSpec("tiny-b", map_choice="gradcam"), PaneSpec("tiny-b")]
    win = make_window(study, n_panes=3, specs=specs)
    with qtbot.waitSignal(win.results_ready, timeout=60000):
        win.analyse()
    a, b, c = win.panes
    maps = [p.result.saliency for p in win.panes]
    both = CommonScale.calibrate([maps[0], maps[2]])
    assert a.display_range == c.display_range == (float(both.low), float(both.high))
    assert b.display_range == (float(maps[1].min()), float(maps[1].max()))  # its own kind
    assert a.scale_text.text().startswith("scale: common to A, C (feature channels) [")
    assert b.scale_text.text().startswith("scale: common to B (Grad-CAM) [")
    for pane in (a, b):  # the colour bars carry each pane's range and say who shares it
        assert (pane.canvas.colorbar.low, pane.canvas.colorbar.high) == pane.display_range
    assert "common to B (Grad-CAM)" in b.canvas.colorbar.toolTip()

    _type(c.map_box, "Grad-CAM")  # C now shows a Grad-CAM: it joins B's scale
    with qtbot.waitSignal(win.results_ready, timeout=60000):
        win.analyse()
    grads = CommonScale.calibrate([b.result.saliency, c.result.saliency])
    assert b.display_range == c.display_range == (float(grads.low), float(grads.high))
    assert a.display_range == (float(a.result.saliency.min()), float(a.result.saliency.max()))
    assert c.scale_text.text().startswith("scale: common to B, C (Grad-CAM)")
    assert "common to B, C (Grad-CAM)" in win.pane_legend(b)[3]
    win.grab().save(str(artifacts_dir / "compare_scale_per_kind.png"))

    _type(win.scale_box, "per-image")
    assert all(p.display_range == (float(np.min(p.result.saliency)),
                                   float(np.max(p.result.saliency))) for p in win.panes)
    assert a.scale_text.text().startswith("scale: per-image [")
