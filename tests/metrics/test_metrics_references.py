"""Differential tests: score() against Quantus 0.6.0, scikit-learn and naive definitions.

Quantus is used only where it is right (research note xai_anchors.md section 2): non-empty
masks, non-negative maps, ``weighted=False``. Its rank metric sorts with an unstable argsort,
so cases compared with it have no ties (continuous random values).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from metrics_reference import blob, naive_scores, smooth_map
from sklearn.metrics import roc_auc_score

from coloc_viewer.metrics.scores import score

quantus = pytest.importorskip("quantus")

QUANTUS_KW = dict(disable_warnings=True, display_progressbar=False)
QUANTUS_METRICS = {
    "relevance_mass": quantus.RelevanceMassAccuracy,
    "relevance_rank": quantus.RelevanceRankAccuracy,
    "pointing_game": quantus.PointingGame,
    "auroc": quantus.AUC,
}


def quantus_scores(maps: np.ndarray, masks: np.ndarray) -> dict[str, np.ndarray]:
    """Quantus' four localisation metrics for a batch (B, H, W), model-free."""
    a = maps[:, None].astype(np.float64)
    s = masks[:, None].astype(np.float64)
    y = np.zeros(len(maps), dtype=int)
    return {
        key: np.asarray(
            metric(**QUANTUS_KW)(
                model=None, x_batch=a.copy(), y_batch=y, a_batch=a, s_batch=s, channel_first=True
            ),
            dtype=float,
        )
        for key, metric in QUANTUS_METRICS.items()
    }


def structured_cases(rng: np.random.Generator, n: int, shape=(48, 40)):
    """Smooth CAM-like maps (clipped at 0) with blob ROIs, some near, some far from the peak."""
    maps, masks = [], []
    for i in range(n):
        m = np.maximum(smooth_map(shape, rng), 0) + 1e-3 * rng.random(shape)
        mask = blob(shape, rng, radius=rng.uniform(3, 10))
        if i % 3 == 0:  # a hit: put the peak inside the ROI
            ys, xs = np.nonzero(mask)
            j = rng.integers(len(ys))
            m[ys[j], xs[j]] = m.max() * 1.5
        maps.append(m)
        masks.append(mask)
    return np.stack(maps), np.stack(masks)


def random_cases(rng: np.random.Generator, n: int, shape=(24, 20)):
    maps = rng.random((n, *shape)) ** rng.uniform(0.3, 3)
    masks = rng.random((n, *shape)) < rng.uniform(0.02, 0.6, size=(n, 1, 1))
    masks[:, 0, 0] = True  # never empty
    return maps, masks


@pytest.mark.parametrize("kind", ["structured", "random"])
def test_matches_quantus_on_many_cases(kind):
    rng = np.random.default_rng(3 if kind == "structured" else 4)
    maps, masks = structured_cases(rng, 40) if kind == "structured" else random_cases(rng, 60)
    ref = quantus_scores(maps, masks)
    ours = [score(m, r, p_value=False) for m, r in zip(maps, masks)]
    for key, expected in ref.items():
        got = np.array([float(o[key]) for o in ours])
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12, err_msg=key)
    # The batch must not be degenerate: both hits and misses, a spread of masses.
    assert 0 < ref["pointing_game"].sum() < len(maps)
    assert np.ptp(ref["relevance_mass"]) > 0.05


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    h=st.integers(4, 30),
    w=st.integers(4, 30),
    fill=st.floats(0.01, 0.9),
)
def test_matches_quantus_hypothesis(seed, h, w, fill):
    rng = np.random.default_rng(seed)
    m = rng.random((h, w))
    mask = rng.random((h, w)) < fill
    mask.flat[rng.integers(h * w)] = True
    ref = quantus_scores(m[None], mask[None])
    ours = score(m, mask, p_value=False)
    for key, expected in ref.items():
        assert float(ours[key]) == pytest.approx(float(expected[0]), rel=1e-9, abs=1e-12), key


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    h=st.integers(2, 25),
    w=st.integers(2, 25),
    levels=st.sampled_from([2, 3, 5, 1000]),
    signed=st.booleans(),
)
def test_auroc_equals_sklearn_including_ties_and_signed_maps(seed, h, w, levels, signed):
    rng = np.random.default_rng(seed)
    m = rng.integers(0, levels, (h, w)).astype(float)  # few levels = many ties
    if signed:
        m -= levels / 2
    mask = rng.random((h, w)) < rng.uniform(0.05, 0.95)
    mask.flat[0], mask.flat[-1] = True, False  # both classes present
    got = score(m, mask, p_value=False)["auroc"]
    assert got == pytest.approx(roc_auc_score(mask.ravel(), m.ravel()), rel=1e-12, abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    h=st.integers(2, 18),
    w=st.integers(2, 18),
    levels=st.sampled_from([2, 4, 50]),
    threshold=st.sampled_from([0.0, 0.25, 0.5, 0.9, 1.0]),
)
def test_matches_naive_definitions_with_ties(seed, h, w, levels, threshold):
    # Integer levels make ties common, which exercises the row-major tie-break of top-N.
    rng = np.random.default_rng(seed)
    m = rng.integers(0, levels, (h, w)).astype(float) - rng.integers(0, 2)
    m.flat[rng.integers(h * w)] = levels  # a positive maximum
    mask = rng.random((h, w)) < rng.uniform(0.05, 0.95)
    mask.flat[rng.integers(h * w)] = True
    ours = score(m, mask, threshold=threshold, p_value=False)
    for key, expected in naive_scores(m, mask, threshold).items():
        assert ours[key] == pytest.approx(expected, rel=1e-12, abs=1e-12), key


def test_seed_overlap_is_the_share_of_the_roi_on_positive_upsampled_cells():
    # The original method: cells of the nearest-upsampled channel that are > 0.
    channel = np.array([[0.0, 2.0], [-1.0, 0.5]])
    roi = np.zeros((8, 8), dtype=bool)
    roi[2:6, 2:6] = True  # 4 pixels in each of the four 4 x 4 blocks
    result = score(channel, roi, upsample="bilinear", p_value=False)
    assert result["seed_overlap"] == pytest.approx(0.5)  # blocks 2.0 and 0.5 are > 0
    explicit = score(channel, roi, seed_map=np.array([[1.0, 0], [0, 0]]), p_value=False)
    assert explicit["seed_overlap"] == pytest.approx(0.25)


def test_empty_mask_where_quantus_pointing_game_reports_a_hit():
    # Quantus 0.6.0 writes NaN into a boolean array, so an empty mask becomes True.
    rng = np.random.default_rng(8)
    m = rng.random((1, 12, 12))
    empty = np.zeros((1, 12, 12), dtype=bool)
    pg = quantus.PointingGame(**QUANTUS_KW)(
        model=None,
        x_batch=m[:, None],
        y_batch=np.zeros(1, int),
        a_batch=m[:, None],
        s_batch=empty[:, None].astype(float),
        channel_first=True,
    )
    assert bool(pg[0]) is True
    assert score(m[0], empty[0])["pointing_game"] is None
