"""The bundled demo in the window: three ROIs, each scored like coloc_viewer.score."""

from __future__ import annotations

import numpy as np
import pytest

from coloc_viewer.metrics.scores import score
from coloc_viewer.viewer.live_scores import SCORE_KEYS
from coloc_viewer.viewer.study import demo_cases

pytestmark = pytest.mark.gui


@pytest.fixture(scope="module")
def demo():
    cases = [c for c in demo_cases() if c.rois is not None]
    if not cases:
        pytest.skip("the bundled demo is not installed")
    return cases[0]


def test_demo_opens_with_its_rois_and_each_is_scored(qtbot, window, demo, model_card,
                                                      artifacts_dir):
    from coloc_viewer.model.loading import list_bundled_models

    with qtbot.waitSignal(window.study_loaded, timeout=60000):
        window.open_path(demo.image, rois=demo.rois)
    state = window.state
    names = [r.name for r in state.rois]
    assert {"lesion", "prostate", "marker"} <= set(names)
    lesion = state.rois["lesion"].mask
    state.set_slice(int(np.argmax(lesion.sum(axis=(1, 2)))))
    model = (list_bundled_models() or [str(model_card)])[0]
    with qtbot.waitSignal(window.model_ready, timeout=60000):
        window.select_model(model)
    with qtbot.waitSignal(window.analysis_done, timeout=120000):
        window.analyse_current()
    z = state.slice_index
    assert window.score_panel.table.rowCount() == len(names)
    for roi in state.rois:
        expected = score(state.current_map(), roi.mask[z], seed_map=state.explanation.seed_map)
        for key in SCORE_KEYS:
            assert state.scores[roi.name][key] == pytest.approx(expected[key]), (roi.name, key)
    window.grab().save(str(artifacts_dir / "gui_04_demo.png"))
