"""Edge cases: defined values or None (never an exception) for odd ROIs and maps; clear errors
for unusable input."""

from __future__ import annotations

import numpy as np
import pytest

from coloc_viewer.errors import InputError
from coloc_viewer.metrics.scorer import SCORE_KEYS, Scorer
from coloc_viewer.metrics.scores import score

RNG = np.random.default_rng(0)
MAP = RNG.random((16, 16))
ROI = np.zeros((16, 16), dtype=bool)
ROI[4:8, 5:9] = True


def test_empty_roi_gives_none_for_every_score():
    result = score(MAP, np.zeros((16, 16), dtype=bool))
    assert all(result[key] is None for key in SCORE_KEYS)
    assert result["n_roi"] == 0 and result["n_shifts"] is None


def test_roi_covering_everything():
    result = score(MAP, np.ones((16, 16), dtype=bool))
    assert result["relevance_mass"] == 1.0
    assert result["relevance_rank"] == 1.0 and result["iou_top_n"] == 1.0
    assert result["pointing_game"] is True and result["seed_overlap"] == 1.0
    assert result["auroc"] is None  # no pixel outside the ROI: ROC undefined
    assert result["p_value"] is None and result["n_shifts"] == 0  # no translation exists
    peak = MAP.max()
    above = np.count_nonzero(np.greater_equal(MAP, peak / 2))
    assert result["dice"] == pytest.approx(2 * above / (above + 256))


def test_constant_positive_map():
    result = score(np.full((16, 16), 3.0), ROI)
    assert result["relevance_mass"] == pytest.approx(16 / 256)
    assert result["pointing_game"] is True  # every pixel is a maximum
    assert result["auroc"] == 0.5  # all pixels tied
    assert result["p_value"] == 1.0  # every placement ties
    assert result["dice"] == pytest.approx(2 * 16 / (256 + 16))
    # Top-N is decided by the row-major tie-break alone: the first 16 pixels (row 0).
    assert result["relevance_rank"] == 0.0


@pytest.mark.parametrize("m", [np.zeros((16, 16)), np.full((16, 16), -2.0), -RNG.random((16, 16))])
def test_map_without_positive_values_gives_none_for_mass_based_scores(m):
    result = score(m, ROI)
    for key in ("relevance_mass", "dice", "iou", "p_value"):
        assert result[key] is None, key
    # Order-based scores stay defined on S itself.
    assert isinstance(result["auroc"], float) and isinstance(result["pointing_game"], bool)
    assert isinstance(result["relevance_rank"], float)
    assert result["seed_overlap"] == 0.0


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_or_inf_in_the_map_is_an_input_error(bad):
    m = MAP.copy()
    m[3, 3] = bad
    with pytest.raises(InputError, match="NaN or infinite"):
        score(m, ROI)
    with pytest.raises(InputError, match="NaN or infinite"):
        Scorer(m)


def test_nan_in_a_float_mask_is_an_input_error():
    roi = ROI.astype(float)
    roi[0, 0] = np.nan
    with pytest.raises(InputError, match="ROI contains NaN"):
        score(MAP, roi)


@pytest.mark.parametrize(
    ("saliency", "roi", "fragment"),
    [
        (np.zeros((20, 16)), ROI, "larger than the ROI grid"),
        (MAP, np.zeros((16, 16, 2), bool), "2-D"),
        (np.zeros((4, 4, 4)), ROI, "2-D"),
        (np.zeros((0, 4)), ROI, "non-empty"),
        (np.array([["a"]]), ROI, "real numbers"),
        (MAP.astype(complex), ROI, "real numbers"),
    ],
)
def test_shape_and_type_errors(saliency, roi, fragment):
    with pytest.raises(InputError, match=fragment):
        score(saliency, roi)


def test_scorer_rejects_a_roi_of_another_shape_and_a_bad_body_mask():
    scorer = Scorer(MAP)
    with pytest.raises(InputError, match=r"ROI shape \(16, 15\) does not match"):
        scorer.update(np.zeros((16, 15), bool))
    with pytest.raises(InputError, match="body mask shape"):
        Scorer(MAP, body_mask=np.ones((8, 8), bool))
    with pytest.raises(InputError, match="seed map"):
        Scorer(MAP, seed_map=np.ones((32, 32)))


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"threshold": 1.5}, "threshold"),
        ({"threshold": -0.1}, "threshold"),
        ({"threshold": "half"}, "threshold"),
        ({"upsample": "bicubic"}, "unknown upsample mode"),
    ],
)
def test_bad_options(options, fragment):
    with pytest.raises(InputError, match=fragment):
        score(MAP, ROI, **options)


def test_non_boolean_masks_are_thresholded_at_one_half():
    as_float = np.where(ROI, 0.5, 0.49)  # 0.5 is inside, 0.49 outside
    as_uint8 = ROI.astype(np.uint8) * 255
    expected = score(MAP, ROI)
    assert score(MAP, as_float) == expected
    assert score(MAP, as_uint8) == expected
    body = np.ones((16, 16))
    body[:, 12:] = 0.2  # thresholded out: fewer placements
    assert score(MAP, ROI, body_mask=body)["n_shifts"] < expected["n_shifts"]


def test_input_error_is_one_line_without_a_path():
    with pytest.raises(InputError) as info:
        score(MAP, np.zeros((3, 3), bool))
    assert "\n" not in str(info.value) and info.value.path is None
