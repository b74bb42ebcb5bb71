"""The FFT translation test equals a brute-force loop over every translation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from metrics_reference import blob, brute_force_p_value, smooth_map

from coloc_viewer.metrics.scores import score
from coloc_viewer.metrics.shift_test import next_fast_len


def check_against_brute_force(m, roi, body=None):
    result = score(m, roi, body_mask=body)
    expected_p, expected_n = brute_force_p_value(
        np.maximum(m, 0)[None], roi[None], None if body is None else body[None]
    )
    assert result["n_shifts"] == expected_n
    if expected_p is None:
        assert result["p_value"] is None
    else:
        assert result["p_value"] == pytest.approx(expected_p, rel=1e-12)
    return result


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    h=st.integers(3, 22),
    w=st.integers(3, 22),
    integer_map=st.booleans(),
    with_body=st.booleans(),
)
def test_fft_p_value_equals_brute_force(seed, h, w, integer_map, with_body):
    rng = np.random.default_rng(seed)
    # Integer maps have many exactly tied shifts: the tie rule must agree with the loop's.
    m = rng.integers(-1, 3, (h, w)).astype(float) if integer_map else smooth_map((h, w), rng)
    roi = rng.random((h, w)) < 0.15
    roi.flat[rng.integers(h * w)] = True
    body = None
    if with_body:
        body = blob((h, w), rng, radius=max(h, w) / 2) | roi
    check_against_brute_force(m, roi, body)


def test_structured_case_with_a_body_mask_restricts_the_shifts():
    rng = np.random.default_rng(7)
    m = np.maximum(smooth_map((40, 36), rng), 0)
    roi = blob((40, 36), rng, radius=4)
    yy, xx = np.mgrid[:40, :36]
    body = (yy - 20) ** 2 / 18**2 + (xx - 18) ** 2 / 16**2 <= 1
    body |= roi
    free = check_against_brute_force(m, roi)
    restricted = check_against_brute_force(m, roi, body)
    assert 0 < restricted["n_shifts"] < free["n_shifts"]


def test_roi_on_the_peak_of_a_peaked_map_is_significant_and_elsewhere_is_not():
    yy, xx = np.mgrid[:64, :64]
    m = np.exp(-((yy - 20) ** 2 + (xx - 40) ** 2) / (2 * 3.0**2))
    on_peak = (yy - 20) ** 2 + (xx - 40) ** 2 <= 16
    far = (yy - 50) ** 2 + (xx - 10) ** 2 <= 16
    hit = score(m, on_peak)
    miss = score(m, far)
    assert hit["p_value"] == pytest.approx(1 / (1 + hit["n_shifts"]))  # nothing beats it
    assert miss["p_value"] > 0.5


def test_constant_map_gives_p_value_one():
    # Every placement holds exactly the same mass: all shifts tie with the observed one.
    roi = np.zeros((30, 30), dtype=bool)
    roi[5:9, 10:15] = True
    result = score(np.full((30, 30), 2.5), roi)
    assert result["p_value"] == 1.0
    assert result["n_shifts"] == 27 * 26 - 1


def test_no_possible_shift_gives_none():
    m = np.random.default_rng(0).random((10, 10))
    full_width = np.zeros((10, 10), dtype=bool)
    full_width[:, :] = True
    assert score(m, full_width)["p_value"] is None
    assert score(m, full_width)["n_shifts"] == 0
    roi = np.zeros((10, 10), dtype=bool)
    roi[2:5, 2:5] = True
    only_itself = score(m, roi, body_mask=roi)  # the body leaves no room to move
    assert only_itself["p_value"] is None and only_itself["n_shifts"] == 0


def test_p_value_is_skipped_on_request():
    m = np.random.default_rng(1).random((12, 12))
    roi = np.zeros((12, 12), dtype=bool)
    roi[3:6, 3:6] = True
    result = score(m, roi, p_value=False)
    assert result["p_value"] is None and result["n_shifts"] is None


@pytest.mark.parametrize(
    ("n", "expected"), [(1, 1), (7, 8), (11, 12), (17, 18), (97, 100), (509, 512), (513, 540)]
)
def test_next_fast_len(n, expected):
    assert next_fast_len(n) == expected


def test_next_fast_len_is_five_smooth_and_minimal():
    def smooth(k):
        for p in (2, 3, 5):
            while k % p == 0:
                k //= p
        return k == 1

    for n in range(1, 400):
        m = next_fast_len(n)
        assert m >= n and smooth(m)
        assert not any(smooth(k) for k in range(n, m))
