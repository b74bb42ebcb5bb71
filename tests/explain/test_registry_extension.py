"""Adding a CAM method or a score is one registry entry (issue 15): a toy method and a toy
score registered here, and nowhere else, appear in the engine, the scorer, the viewer's
choosers and tables, and the report's CSV columns; removed again after the test."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from coloc_viewer.explain.cams import CamMethod, register_cam, unregister_cam
from coloc_viewer.explain.choices import label, map_choices, map_of, methods_needed
from coloc_viewer.explain.engine import explain
from coloc_viewer.imaging.volume import Volume
from coloc_viewer.metrics.definitions import (
    SCORE_KEYS,
    ScoreDefinition,
    register_score,
    unregister_score,
)
from coloc_viewer.metrics.scores import score

TOY_CAM = "absmean"
TOY_SCORE = "peak_share"


def _peak_share(view):
    """Highest P inside the ROI over the highest P of the map."""
    peak = float(view.relevance.max())
    return float(view.relevance[view.idx].max()) / peak if peak > 0 else None


@pytest.fixture()
def toys():
    register_cam(CamMethod(TOY_CAM, "Abs-mean CAM", lambda i: i.acts.abs().mean(dim=0)))
    register_score(ScoreDefinition(
        TOY_SCORE, "Peak share", "Highest positive map value inside the ROI over the "
        "map's highest value.", "ROI peak / map peak.", "a test", _peak_share, "peak"))
    yield
    unregister_cam(TOY_CAM)
    unregister_score(TOY_SCORE)


class _Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(3)
        self.features = nn.Sequential(nn.Conv2d(1, 6, 3, padding=1), nn.ReLU(),
                                      nn.Conv2d(6, 8, 3, stride=2, padding=1), nn.ReLU())
        self.fc = nn.Linear(8, 2)

    def forward(self, x):
        return self.fc(self.features(x).mean(dim=(2, 3)))


def _model():
    from coloc_viewer.model.loading import wrap_module

    return wrap_module(_Net().eval(), in_channels=1, input_size=(32, 32),
                       classes=["no", "yes"], name="toy-net", device="cpu")


def _volume():
    rng = np.random.default_rng(0)
    return Volume(rng.normal(100, 20, (3, 32, 32)).astype(np.float32),
                  spacing=(3.0, 1.0, 1.0), metadata={"modality": "MR"})


def test_toy_cam_runs_in_the_engine_and_is_offered(toys):
    ex = explain(_model(), _volume(), 1, layer="features.3", methods=("gradcam", TOY_CAM))
    np.testing.assert_allclose(ex.cam_map(TOY_CAM, grid="layer"),
                               np.abs(ex.activations).mean(axis=0), rtol=1e-5)
    assert map_of(ex, TOY_CAM).shape == (32, 32)
    assert (TOY_CAM, "Abs-mean CAM") in map_choices()
    assert label(TOY_CAM) == "Abs-mean CAM"
    assert methods_needed(TOY_CAM) == ("gradcam", TOY_CAM)
    from coloc_viewer.viewer.settings import AnalysisChoices  # both windows' settings model

    assert TOY_CAM in [o.key for o in AnalysisChoices().maps]


def test_toy_cam_is_gone_after_unregistering():
    assert TOY_CAM not in [c for c, _ in map_choices()]
    assert TOY_SCORE not in SCORE_KEYS


def test_toy_score_is_computed_and_written_to_reports(toys, tmp_path):
    from coloc_viewer.report.csv_export import scores_csv_text
    from coloc_viewer.report.rows import slice_score_rows

    sal = np.zeros((16, 16))
    sal[4, 4], sal[10, 10] = 2.0, 1.0
    roi = np.zeros((16, 16), bool)
    roi[9:12, 9:12] = True
    got = score(sal, roi)
    assert got[TOY_SCORE] == pytest.approx(0.5)
    assert got["relevance_mass"] == pytest.approx(1 / 3)  # the built-ins still there
    assert list(got)[: len(SCORE_KEYS)] == list(SCORE_KEYS) and SCORE_KEYS[-1] == TOY_SCORE
    rows = slice_score_rows({0: sal}, roi[None], model="m", method="top")
    text = scores_csv_text(rows)
    header = next(line for line in text.splitlines() if not line.startswith("#"))
    assert TOY_SCORE in header.split(",")
    assert f"# {TOY_SCORE}: Peak share. Highest positive map value" in text


def test_toy_entries_appear_in_the_viewer_widgets(toys, qtbot):
    pytest.importorskip("PySide6")
    from coloc_viewer.gui.compare_table import CompareTable
    from coloc_viewer.gui.model_panel import ModelPanel
    from coloc_viewer.gui.score_panel import ScorePanel
    from coloc_viewer.viewer.state import ViewerState

    state = ViewerState()
    panel, scores, table = ModelPanel(state), ScorePanel(state), CompareTable()
    for w in (panel, scores, table):
        qtbot.addWidget(w)
    offered = [panel.map_box.itemData(i) for i in range(panel.map_box.count())]
    assert TOY_CAM in offered
    headers = [scores.table.horizontalHeaderItem(j).text()
               for j in range(scores.table.columnCount())]
    assert headers[-1] == "peak"
    rows = [table.verticalHeaderItem(i).text() for i in range(table.rowCount())]
    assert "Peak share" in rows
