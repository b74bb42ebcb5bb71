"""Cohort statistics against independent references, and principal channels."""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import numpy as np
import pytest
from scipy import stats as sps

from coloc_viewer.cohort.principal import (
    ChannelSet,
    gradient_weights,
    principal_cam,
    principal_channels,
    rank_principal,
)
from coloc_viewer.cohort.stats import bootstrap_median_ci, paired_wilcoxon, rate, share_below
from coloc_viewer.errors import InputError


def test_bootstrap_median_ci_matches_scipy_percentile_bootstrap():
    rng = np.random.default_rng(3)
    x = rng.gamma(2.0, 0.1, size=60)
    ours = bootstrap_median_ci(list(x) + [None, float("nan")], n_boot=4000, seed=1)
    ref = sps.bootstrap((x,), np.median, n_resamples=4000, method="percentile",
                        random_state=np.random.default_rng(7)).confidence_interval
    assert ours["n"] == 60 and ours["median"] == pytest.approx(np.median(x))
    width = ref.high - ref.low
    assert ours["ci_low"] == pytest.approx(ref.low, abs=0.15 * width)
    assert ours["ci_high"] == pytest.approx(ref.high, abs=0.15 * width)
    assert ours == bootstrap_median_ci(x, n_boot=4000, seed=1)  # seeded: reproducible
    assert bootstrap_median_ci([])["median"] is None
    assert bootstrap_median_ci([0.3])["ci_low"] == 0.3


def _exact_signed_rank_p(d):
    """Two-sided exact p of the signed-rank statistic by enumerating all sign flips."""
    ranks = sps.rankdata(np.abs(d))
    observed = ranks[d > 0].sum()
    total = ranks.sum()
    t_obs = min(observed, total - observed)
    count = 0
    flips = list(itertools.product([0, 1], repeat=len(d)))
    for signs in flips:
        t = ranks[np.array(signs, bool)].sum()
        count += min(t, total - t) <= t_obs + 1e-12
    return count / len(flips)


def test_paired_wilcoxon_matches_exact_enumeration():
    rng = np.random.default_rng(0)
    a = {f"c{i}": float(v) for i, v in enumerate(rng.normal(0.5, 0.2, 9))}
    b = {k: v - 0.1 + float(rng.normal(0, 0.1)) for k, v in a.items()}
    b["only_b"] = 1.0
    a["null"] = None
    b["null"] = 0.2
    res = paired_wilcoxon(a, b)
    keys = [f"c{i}" for i in range(9)]
    d = np.array([a[k] - b[k] for k in keys])
    assert res["n"] == 9
    assert res["median_difference"] == pytest.approx(np.median(d))
    assert res["p_value"] == pytest.approx(_exact_signed_rank_p(d), rel=1e-9)
    same = paired_wilcoxon(a, dict(a))
    assert same["p_value"] is None and same["median_difference"] == 0.0


def test_rates():
    assert rate([True, False, None, True, 1]) == {"n": 4, "rate": 0.75}
    assert share_below([0.01, 0.2, None, 0.049, 0.05])["rate"] == 0.5
    assert rate([])["rate"] is None


def _reference_rank(im, cls, correct):
    """Loop reference for rank_principal."""
    rows = [i for i in range(len(cls)) if correct[i]]
    overall = [sum(im[i][k] for i in rows) / len(rows) for k in range(im.shape[1])]
    out = {}
    for c in sorted(set(cls[i] for i in rows)):
        members = [i for i in rows if cls[i] == c]
        diff = [abs(sum(im[i][k] for i in members) / len(members) - overall[k])
                for k in range(im.shape[1])]
        out[c] = sorted(range(im.shape[1]), key=lambda k: (-diff[k], k))
    return out


def test_principal_channels_find_the_planted_channels(tmp_path):
    rng = np.random.default_rng(5)
    n, c = 80, 40
    cls = rng.integers(0, 2, n)
    im = rng.normal(0, 0.1, (n, c))
    im[cls == 1, 7] += 2.0     # class-1 specific channel
    im[cls == 0, 23] += 1.5    # class-0 specific channel
    im[:, 11] += 5.0           # large but shared by every class: not principal
    correct = rng.random(n) > 0.2
    im[~correct, 3] += 50.0    # only in misclassified samples: must be ignored
    order = rank_principal(im, cls, correct)
    ref = _reference_rank(im, cls, correct)
    for k in (0, 1):
        assert list(order[k]) == ref[k]
    cs = principal_channels(im, cls, correct, 0.05, model="m", layer="layer4")
    assert cs.classes[1][0] == 7 and len(cs.classes[1]) == 2 and 11 not in cs.classes[1]
    assert 3 not in cs.classes[0] + cs.classes[1]
    assert cs.n_samples[1] == int(np.sum(correct & (cls == 1)))
    path = tmp_path / "set.json"
    cs.save(path)
    back = ChannelSet.load(path)
    assert back == cs and back.channels_for(1) == cs.classes[1]
    with pytest.raises(InputError):
        principal_channels(im, cls, correct, 0.5)
    (tmp_path / "bad.json").write_text("{\"model\": 1}")
    with pytest.raises(InputError, match="not a channel-set"):
        ChannelSet.load(tmp_path / "bad.json")


def test_single_class_falls_back_to_mean_magnitude():
    im = np.array([[0.1, -3.0, 1.0], [0.2, -2.0, 1.0]])
    cs = principal_channels(im, np.array([1, 1]), None, 0.25)
    assert cs.classes == {1: [1]} and "single class" in cs.criterion


def test_principal_cam_and_weights_from_contributions():
    rng = np.random.default_rng(1)
    acts = rng.random((6, 4, 5)).astype(np.float32)
    w = rng.normal(size=6)
    imp = w * acts.reshape(6, -1).sum(axis=1)
    exp = SimpleNamespace(activations=acts, importance=imp, rank="contribution")
    np.testing.assert_allclose(gradient_weights(exp), w, rtol=1e-6)
    full = principal_cam(acts, w, range(6))
    ref = np.maximum(sum(w[k] * acts[k] for k in range(6)), 0)
    np.testing.assert_allclose(full, ref, rtol=1e-5, atol=1e-6)
    part = principal_cam(acts, w, [2, 4])
    np.testing.assert_allclose(part, np.maximum(w[2] * acts[2] + w[4] * acts[4], 0),
                               rtol=1e-5, atol=1e-6)
    # the CAM's spatial sum before ReLU equals the summed contributions of its channels
    assert float((w[[2, 4], None, None] * acts[[2, 4]]).sum()) == pytest.approx(imp[[2, 4]].sum())
    with_w = SimpleNamespace(weights=w * 2)
    np.testing.assert_allclose(gradient_weights(with_w), w * 2)
