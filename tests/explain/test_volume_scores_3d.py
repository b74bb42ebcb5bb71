"""Volume scores of 3-D maps: the p-value over 3-D translations equals a brute-force count,
and ``score_explanation`` gives volume scores for a 3-D model."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from coloc_viewer.errors import InputError
from coloc_viewer.explain.engine import explain
from coloc_viewer.explain.scoring import score_explanation
from coloc_viewer.imaging.volume import Volume
from coloc_viewer.metrics.shift_test import TIE_TOL
from coloc_viewer.metrics.volume import score_volume, shift_test_3d


def _brute(P: np.ndarray, roi: np.ndarray, body: np.ndarray | None) -> tuple[float, int]:
    idx = np.argwhere(roi)
    observed, total = P[roi].sum(), P.sum()
    hits = n = 0
    Z, Y, X = roi.shape
    for dz in range(-Z, Z):
        for dy in range(-Y, Y):
            for dx in range(-X, X):
                if (dz, dy, dx) == (0, 0, 0):
                    continue
                moved = idx + (dz, dy, dx)
                if (moved < 0).any() or (moved >= roi.shape).any():
                    continue
                if body is not None and not body[tuple(moved.T)].all():
                    continue
                n += 1
                hits += P[tuple(moved.T)].sum() >= observed - TIE_TOL * total
    return (1 + hits) / (1 + n), n


@pytest.mark.parametrize("with_body", [False, True])
def test_3d_shift_test_equals_brute_force(with_body: bool) -> None:
    rng = np.random.default_rng(0)
    P = np.maximum(rng.normal(size=(5, 9, 8)), 0)
    roi = np.zeros(P.shape, bool)
    roi[1:3, 2:5, 3:5] = True
    roi[2, 5, 4] = True
    P[1:3, 2:5, 3:5] += 0.8
    body = None
    if with_body:
        body = np.ones(P.shape, bool)
        body[:, :, :2] = False
        body[4, 0] = False
    p, n = shift_test_3d(P, roi, float(P[roi].sum()), body)
    assert (p, n) == pytest.approx(_brute(P, roi, body))
    assert n > 50


def test_score_volume_3d_pools_the_whole_volume() -> None:
    rng = np.random.default_rng(1)
    maps = rng.normal(size=(6, 12, 10))
    roi = np.zeros(maps.shape, bool)
    roi[2:4, 3:6, 4:7] = True
    res = score_volume(maps, roi, shifts="3d")
    agg = res["aggregate"]
    P = np.maximum(maps, 0)
    assert agg["relevance_mass"] == pytest.approx(P[roi].sum() / P.sum())
    assert agg["n_slices"] == 6 and [r["slice"] for r in res["slices"]] == [2, 3]
    assert (agg["p_value"], agg["n_shifts"]) == pytest.approx(_brute(P, roi, None))
    with pytest.raises(InputError, match="every slice"):
        score_volume({2: maps[2], 3: maps[3]}, roi, shifts="3d")


def test_score_explanation_of_a_3d_model(loaded_model) -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv3d(1, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool3d(1),
                        nn.Flatten(), nn.Linear(4, 2))
    lm = loaded_model(net, (8, 16, 16))
    vol = Volume(np.random.default_rng(2).normal(size=(6, 20, 20)).astype(np.float32),
                 spacing=(2.0, 0.8, 0.8))
    e = explain(lm, vol, layer="1")
    roi = np.zeros(vol.shape, bool)
    roi[2:4, 5:9, 6:10] = True
    scores = score_explanation(e, roi)
    direct = score_volume(e.cam_map("gradcam"), roi, shifts="3d")["aggregate"]
    for key in ("relevance_mass", "auroc", "p_value", "n_shifts"):
        assert scores["cam"][key] == direct[key]
    assert scores["top_map"]["seed_overlap"] is not None
    with pytest.raises(InputError, match="volume grid"):
        score_explanation(e, roi[0])
