"""Map similarity across cases: the fingerprint, the statistic, and a cohort run on the
bundled demo where one model's map follows the image and the other's does not."""

from __future__ import annotations

import html
import io

import numpy as np
import pytest

from coloc_viewer.cohort.map_similarity import WARN_AT, WARNING, fingerprint, similarity


def test_fingerprint_is_the_block_mean():
    rng = np.random.default_rng(0)
    even = rng.random((24, 36))
    direct = even.reshape(12, 2, 12, 3).mean(axis=(1, 3)).ravel()
    assert np.allclose(fingerprint(even), direct)
    uneven = rng.random((13, 7, 5))  # 3-D, and axes shorter than the grid
    got = fingerprint(uneven, size=4).reshape(4, 4, 4)
    edges = [np.linspace(0, n, 5).round().astype(int) for n in (13, 7, 5)]
    for i in range(4):
        for j in range(4):
            for k in range(4):
                block = uneven[edges[0][i]:edges[0][i + 1], edges[1][j]:edges[1][j + 1],
                               edges[2][k]:edges[2][k + 1]]
                assert got[i, j, k] == pytest.approx(block.mean())
    assert fingerprint(np.full((3, 2), np.nan)).tolist() == [0.0] * 6


def _smooth(rng: np.random.Generator) -> np.ndarray:
    coarse = rng.random((4, 4))
    return np.kron(coarse, np.ones((8, 8)))


def test_similarity_tells_a_fixed_map_from_maps_that_follow_the_image():
    rng = np.random.default_rng(1)
    fixed = _smooth(rng)
    cases = [f"c{i // 3}" for i in range(12)]  # four cases of three slices
    same = [fingerprint(fixed + 0.05 * rng.random(fixed.shape)) for _ in cases]
    own = [fingerprint(_smooth(rng)) for _ in cases]
    high, low = similarity(same, cases), similarity(own, cases)
    assert high["similarity"] > 0.95 > WARN_AT
    assert abs(low["similarity"]) < 0.3
    # only pairs of different cases: 12 maps, 66 pairs, 4 x 3 within a case left out
    assert high["pairs"] == low["pairs"] == 66 - 12 and high["maps"] == 12


def test_empty_maps_and_a_single_case():
    rng = np.random.default_rng(2)
    maps = [fingerprint(_smooth(rng)) for _ in range(4)] + [np.zeros(144)]
    got = similarity(maps, ["a", "a", "b", "b", "b"])
    assert got["empty_maps"] == 1 and got["maps"] == 4 and got["pairs"] == 4
    assert similarity(maps[:3], ["a", "a", "a"]) is None  # no pair across cases
    assert similarity([np.zeros(144)] * 3, ["a", "b", "c"]) is None
    many = [fingerprint(_smooth(rng)) for _ in range(30)]
    capped = similarity(many, [str(i) for i in range(30)], max_maps=10)
    assert capped["maps"] == 10 and capped["pairs"] == 45
    assert capped == similarity(many, [str(i) for i in range(30)], max_maps=10)  # seeded


def test_cohort_reports_and_warns_about_a_fixed_map(tmp_path):
    """demo-refined's Grad-CAM is nearly one map for every slice (its model card);
    demo-shortcut's follows the image. The summary and the report say which is which."""
    from coloc_viewer.cohort.runner import CohortOptions, run_cohort
    from coloc_viewer.resources import demo_dir

    stream = io.StringIO()
    run = run_cohort(demo_dir() / "manifest.csv", tmp_path / "run",
                     CohortOptions(models=("demo-refined", "demo-shortcut"),
                                   methods=("gradcam",), workers=1, principal_ratio=None),
                     stream=stream)
    assert run.n_failed == 0
    sims = run.summary["map_similarity"]
    refined, shortcut = sims["demo-refined__gradcam"], sims["demo-shortcut__gradcam"]
    assert refined["similarity"] >= WARN_AT > shortcut["similarity"]
    n_slices = sum(r["method"] == "gradcam" and r["roi"] == "lesion"
                   and r["model"] == "demo-refined" for r in run.slices)
    assert refined["maps"] + refined["empty_maps"] == n_slices
    page = (tmp_path / "run" / "report.html").read_text()
    assert refined["label"] == "demo-refined / gradcam" and refined["cases"] == 2
    rows = [row.split("</tr>")[0] for row in page.split("<tr><td>")[1:]]
    warned = {row.split("</td>")[0] for row in rows if html.escape(WARNING) in row}
    assert "demo-refined / gradcam" in warned  # and its top-channel map, nearly as fixed
    assert "demo-refined / top_map (contribution)" in warned  # named as in the other tables
    assert not any(name.startswith("demo-shortcut") for name in warned)
    # the scores table marks the flagged maps' rows, and only those
    marked = {row.split("</td>")[0] for row in rows if row.split("</td>")[0].endswith("&#9888;")}
    assert "demo-refined / gradcam / lesion &#9888;" in marked
    assert not any(name.startswith("demo-shortcut") for name in marked)
    printed = [line for line in stream.getvalue().splitlines() if line.startswith("warning:")]
    assert printed and all(line.startswith("warning: demo-refined / ") for line in printed)
    assert f"warning: demo-refined / gradcam: {WARNING}" in stream.getvalue()
