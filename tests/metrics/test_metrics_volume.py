"""score_volume: per-slice rows equal score(); the aggregate pools voxels, not ratios."""

from __future__ import annotations

import numpy as np
import pytest
from metrics_reference import blob, brute_force_p_value, naive_scores, smooth_map
from sklearn.metrics import roc_auc_score

from coloc_viewer.errors import InputError
from coloc_viewer.metrics.scores import score
from coloc_viewer.metrics.upsample import upsample
from coloc_viewer.metrics.volume import score_volume

GRID = (28, 24)


def make_case(seed: int, n_z: int = 6, roi_slices=(1, 2, 4), small=(7, 6)):
    rng = np.random.default_rng(seed)
    maps = np.stack([smooth_map(small, rng) for _ in range(n_z)])
    roi = np.zeros((n_z, *GRID), dtype=bool)
    for k in roi_slices:
        roi[k] = blob(GRID, rng, radius=rng.uniform(2, 5))
    return maps, roi


def test_rows_equal_per_slice_scores_and_cover_only_roi_slices():
    maps, roi = make_case(1)
    result = score_volume(maps, roi, threshold=0.3)
    assert [row["slice"] for row in result["slices"]] == [1, 2, 4]
    for row in result["slices"]:
        k = row.pop("slice")
        assert row == score(maps[k], roi[k], threshold=0.3)


def test_aggregate_is_pooled_over_the_stack_of_roi_slices():
    maps, roi = make_case(2)
    used = [1, 2, 4]
    stack = np.stack([upsample(maps[k], GRID) for k in used])
    mask = roi[used]
    agg = score_volume(maps, roi, p_value=False)["aggregate"]
    # A 3-D stack scored by the naive definitions (row-major over (slice, y, x)).
    for key, expected in naive_scores(stack, mask).items():
        assert agg[key] == pytest.approx(expected, rel=1e-12), key
    assert agg["auroc"] == pytest.approx(roc_auc_score(mask.ravel(), stack.ravel()), rel=1e-12)
    assert agg["n_roi"] == int(mask.sum()) and agg["n_slices"] == 3
    # Pooled mass is not the mean of the per-slice masses.
    rows = score_volume(maps, roi, p_value=False)["slices"]
    mean_of_ratios = np.mean([row["relevance_mass"] for row in rows])
    assert agg["relevance_mass"] != pytest.approx(mean_of_ratios, rel=1e-6)


@pytest.mark.parametrize("with_body", [False, True])
def test_volume_p_value_applies_one_translation_to_every_slice(with_body):
    maps, roi = make_case(3, n_z=4, roi_slices=(0, 3), small=(28, 24))
    body = None
    if with_body:
        yy, xx = np.mgrid[: GRID[0], : GRID[1]]
        body = np.stack(
            [(yy - 14 - k) ** 2 / 13**2 + (xx - 12 + k) ** 2 / 11**2 <= 1 for k in range(4)]
        )
        body |= roi
    agg = score_volume(maps, roi, body_mask=body)["aggregate"]
    expected_p, expected_n = brute_force_p_value(
        np.maximum(maps[[0, 3]], 0), roi[[0, 3]], None if body is None else body[[0, 3]]
    )
    assert agg["n_shifts"] == expected_n and expected_n > 0
    assert agg["p_value"] == pytest.approx(expected_p, rel=1e-12)


def test_dict_input_and_slices_without_a_map():
    maps, roi = make_case(4)
    result = score_volume({2: maps[2], 4: maps[4], 5: maps[5]}, roi)
    assert [row["slice"] for row in result["slices"]] == [2, 4]
    assert result["aggregate"]["slices_without_map"] == [1]
    assert result["aggregate"]["n_slices"] == 2
    full = score_volume(maps, roi)
    assert result["slices"] == [row for row in full["slices"] if row["slice"] in (2, 4)]


def test_two_dimensional_body_mask_applies_to_every_slice():
    maps, roi = make_case(5)
    body2d = np.zeros(GRID, dtype=bool)
    body2d[2:-2, 2:-2] = True
    body2d |= roi.any(axis=0)
    as_2d = score_volume(maps, roi, body_mask=body2d)
    as_3d = score_volume(maps, roi, body_mask=np.broadcast_to(body2d, roi.shape).copy())
    assert as_2d == as_3d


def test_single_roi_slice_aggregate_equals_the_slice_score():
    maps, roi = make_case(6, roi_slices=(3,))
    result = score_volume(maps, roi)
    row = dict(result["slices"][0])
    row.pop("slice")
    agg = dict(result["aggregate"])
    assert agg.pop("n_slices") == 1 and agg.pop("slices_without_map") == []
    assert agg == row


def test_no_roi_anywhere_gives_an_all_none_aggregate():
    maps, roi = make_case(7, roi_slices=())
    result = score_volume(maps, roi)
    assert result["slices"] == []
    assert result["aggregate"]["relevance_mass"] is None
    assert result["aggregate"]["n_roi"] == 0


@pytest.mark.parametrize(
    ("maps", "roi", "fragment"),
    [
        (np.zeros((5, 7, 6)), np.zeros((6, *GRID)), "5 slices but the ROI has 6"),
        (np.zeros((6, 7, 6)), np.zeros(GRID), "3-D"),
        ({7: np.zeros((7, 6))}, np.zeros((6, *GRID)), "outside"),
        ({"a": np.zeros((7, 6))}, np.zeros((6, *GRID)), "not an integer"),
        ({1: np.full((7, 6), np.nan)}, np.ones((6, *GRID)), "NaN"),
    ],
)
def test_volume_input_errors(maps, roi, fragment):
    with pytest.raises(InputError, match=fragment):
        score_volume(maps, roi)
