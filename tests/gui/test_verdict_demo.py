"""The verdict on the bundled demo, Score-CAM (top-16), slice 8 (issue 15): no model is said
to look at the lesion when neither the map's peak nor its top pixels are there."""

from __future__ import annotations

import pytest

from coloc_viewer.imaging.load import load_volume
from coloc_viewer.model.loading import load_model
from coloc_viewer.viewer.analysis import AnalysisKey, AnalysisSettings, explain_slice
from coloc_viewer.viewer.live_scores import LiveScores
from coloc_viewer.viewer.maps import select_map
from coloc_viewer.viewer.orientation import oriented
from coloc_viewer.viewer.study import demo_cases, load_rois_for
from coloc_viewer.viewer.verdict import looks_at, verdict

SLICE = 7  # "slice 8" as the viewer counts


@pytest.mark.parametrize("model_name", ["demo-clean", "demo-shortcut"])
def test_score_cam_slice_8_verdict_is_honest(model_name):
    case = demo_cases()[0]
    volume = oriented(load_volume(str(case.image)))
    rois = load_rois_for(case.rois, volume)
    settings = AnalysisSettings(model_name, methods=("gradcam", "scorecam:16"))
    result = explain_slice(load_model(model_name), volume, AnalysisKey("demo", SLICE, settings))
    live = LiveScores()
    live.set_map("scorecam", select_map(result.explanation, "scorecam:16"))
    masks = [(roi.name, roi.mask[SLICE]) for roi in rois]
    scores = live.update(masks)
    text = verdict(scores, live.outside_share(masks))
    lesion = scores["lesion"]
    assert not lesion["pointing_game"] and lesion["relevance_rank"] < 0.5
    assert not looks_at(lesion)
    assert "looks at the lesion" not in text and "Of them, it concentrates most on the" in text
    if model_name == "demo-shortcut":  # the shortcut model's map sits on the marker
        assert "it concentrates most on the marker" in text
