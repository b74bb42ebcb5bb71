"""The API path: explain() -> panel_from_explanation() -> case report and CSV."""

from __future__ import annotations

import csv
import io

import pytest
import torch
from torch import nn

from coloc_viewer import score
from coloc_viewer.explain.engine import explain
from coloc_viewer.explain.scale import CommonScale
from coloc_viewer.model.loading import wrap_module
from coloc_viewer.report import case_report, export_case, panel_from_explanation


def _tiny_model():
    torch.manual_seed(3)
    torch.set_num_threads(1)
    net = nn.Sequential(nn.Conv2d(1, 6, 3, padding=1), nn.ReLU(),
                        nn.Conv2d(6, 8, 3, stride=2, padding=1), nn.ReLU(),
                        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 2))
    return wrap_module(net, in_channels=1, input_size=(48, 56), classes=["benign", "lesion"],
                       name="tiny-seq", target_layer="3", device="cpu")


def test_panels_from_explanations_match_the_public_scores(phi_case, tmp_path) -> None:
    model = _tiny_model()
    k = phi_case.slice_index
    expl = explain(model, phi_case.volume, k, rank="contribution", methods=("gradcam",))
    roi2d = phi_case.roi[k]
    scale = CommonScale.calibrate([expl.top_map, expl.cam_map("gradcam")])
    top = panel_from_explanation(expl, roi2d, scale=scale)
    cam = panel_from_explanation(expl, roi2d, map_choice="gradcam", scale=scale)
    assert top.scores == score(expl.top_map, roi2d, seed_map=expl.seed_map)
    assert cam.scores == score(expl.cam_map("gradcam"), roi2d)
    assert top.channel == expl.top_channel and top.scale == (scale.low, scale.high)
    second = panel_from_explanation(expl, roi2d, map_choice="rank:1")
    assert second.channel == int(expl.order[1]) and second.method == f"channel {expl.order[1]}"
    assert second.scores == score(expl.channel_map(second.channel), roi2d,
                                  seed_map=expl.channel_map(second.channel, mode="nearest"))
    report = case_report(phi_case.volume, k, phi_case.roi, [top, cam],
                         model_cards=[model.card])
    assert report.model_cards[0]["name"] == "tiny-seq"
    written = export_case(report, tmp_path, pdf=False)
    rows = list(csv.DictReader(io.StringIO("\n".join(
        line for line in written["csv"].read_text().splitlines() if not line.startswith("#")))))
    assert [r["method"] for r in rows] == ["top channel", "gradcam"]
    assert float(rows[0]["relevance_mass"]) == pytest.approx(top.scores["relevance_mass"])
    assert rows[0]["layer"] == expl.layer == "3"
    html = written["html"].read_text()
    assert "--model tiny-seq --layer 3 --target" in html and "--method gradcam" in html
