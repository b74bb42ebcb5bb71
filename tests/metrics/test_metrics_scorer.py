"""The live Scorer agrees with score(); invariances and expected values of the definitions."""

from __future__ import annotations

import numpy as np
import pytest
from metrics_reference import blob, random_mask, smooth_map

import coloc_viewer
from coloc_viewer.metrics.scorer import SCORE_KEYS, Scorer
from coloc_viewer.metrics.scores import score

BOOKKEEPING = ("n_roi", "threshold", "upsample", "n_shifts")


def assert_same_scores(a: dict, b: dict) -> None:
    assert set(a) == set(b)
    for key in a:
        if isinstance(a[key], float):
            assert a[key] == pytest.approx(b[key], rel=1e-12, abs=1e-15), key
        else:
            assert a[key] == b[key], key


def test_update_equals_score_for_many_rois_with_upsampling_and_body_mask():
    rng = np.random.default_rng(11)
    small = smooth_map((12, 10), rng)
    grid = (60, 50)
    body = blob(grid, rng, radius=22)
    scorer = Scorer(small, grid, threshold=0.4, upsample="bilinear", body_mask=body)
    for i in range(40):
        roi = blob(grid, rng, radius=rng.uniform(1, 9)) if i % 2 else random_mask(grid, rng, 0.05)
        expected = score(small, roi, threshold=0.4, upsample="bilinear", body_mask=body)
        assert_same_scores(scorer.update(roi), expected)
        without_p = scorer.update(roi, p_value=False)
        assert without_p["p_value"] is None and without_p["n_shifts"] is None
        assert without_p["auroc"] == expected["auroc"]


def test_result_is_json_ready_with_every_key():
    import json

    rng = np.random.default_rng(2)
    result = coloc_viewer.score(rng.random((8, 8)), blob((32, 32), rng, 5))
    assert tuple(result)[: len(SCORE_KEYS)] == SCORE_KEYS
    assert set(result) == set(SCORE_KEYS) | set(BOOKKEEPING)
    assert json.loads(json.dumps(result)) == result
    types = {key: type(value) for key, value in result.items()}
    assert types["pointing_game"] is bool and types["n_roi"] is int
    assert all(types[key] is float for key in SCORE_KEYS if key != "pointing_game")
    assert result["upsample"] == "bilinear"
    assert coloc_viewer.score(rng.random((32, 32)), blob((32, 32), rng, 5))["upsample"] is None


@pytest.mark.parametrize("factor", [1e-6, 0.37, 3.0, 1e6])
def test_scores_do_not_change_when_the_map_is_scaled_by_a_positive_constant(factor):
    rng = np.random.default_rng(5)
    m = smooth_map((30, 34), rng)
    body = blob((30, 34), rng, 14)
    for _ in range(5):
        roi = blob((30, 34), rng, 4) & body
        base = score(m, roi, body_mask=body)
        assert_same_scores(score(m * factor, roi, body_mask=body), base)


def test_map_wholly_inside_the_roi_scores_mass_and_pointing_one():
    rng = np.random.default_rng(9)
    roi = blob((40, 40), rng, 8)
    m = np.where(roi, rng.random((40, 40)), 0.0)
    m -= 5.0 * ~roi  # negative values outside do not count in P
    result = score(m, roi)
    assert result["relevance_mass"] == 1.0
    assert result["pointing_game"] is True
    assert result["auroc"] == 1.0  # every ROI pixel beats every outside pixel


def test_auroc_is_one_half_on_average_for_random_maps():
    rng = np.random.default_rng(123)
    grid = (32, 32)
    roi = blob(grid, rng, 6)
    values = [score(rng.random(grid), roi, p_value=False)["auroc"] for _ in range(300)]
    # Standard error of a single AUC here is about 0.03, of the mean about 0.002.
    assert abs(np.mean(values) - 0.5) < 0.01
    assert 0.01 < np.std(values) < 0.06


def test_p_value_is_roughly_uniform_for_random_maps():
    rng = np.random.default_rng(321)
    grid = (24, 24)
    roi = blob(grid, rng, 3)
    p = np.array([score(rng.random(grid), roi)["p_value"] for _ in range(200)])
    assert abs(p.mean() - 0.5) < 0.07
    assert 0.02 < np.mean(p <= 0.1) < 0.2


def test_top_n_ties_are_broken_in_row_major_order():
    m = np.zeros((4, 4))
    m[0, 3] = m[3, 0] = 1.0  # two equal maxima
    first = np.zeros((4, 4), dtype=bool)
    first[0, 3] = True
    last = np.zeros((4, 4), dtype=bool)
    last[3, 0] = True
    assert score(m, first)["relevance_rank"] == 1.0  # the earlier pixel ranks higher
    assert score(m, last)["relevance_rank"] == 0.0
    assert score(m, last)["pointing_game"] is True  # a pixel of maximal S lies in R


def test_threshold_option_controls_dice_and_iou():
    m = np.arange(16.0).reshape(4, 4)
    roi = m >= 12
    assert score(m, roi, threshold=0.75)["dice"] == pytest.approx(2 * 4 / (4 + 4))
    at_half = score(m, roi, threshold=0.5)  # {S >= 7.5}: 8 pixels
    assert at_half["dice"] == pytest.approx(2 * 4 / (8 + 4))
    assert at_half["iou"] == pytest.approx(4 / 8)
    assert at_half["threshold"] == 0.5


def test_nearest_upsampling_option():
    m = np.array([[0.0, 1.0], [0.0, 0.0]])
    roi = np.zeros((4, 4), dtype=bool)
    roi[0:2, 2:4] = True  # exactly the upsampled cell of value 1
    result = score(m, roi, upsample="nearest")
    assert result["relevance_mass"] == 1.0 and result["iou_top_n"] == 1.0
    assert result["upsample"] == "nearest"
    assert score(m, roi)["relevance_mass"] < 1.0  # bilinear spreads mass out of the cell
