"""Live co-localization scores at 512 x 512: Scorer build and update times vs Quantus.

Input: a 16 x 16 CAM-like map (ResNet50 at 512 px) upsampled bilinearly to 512 x 512 and an
irregular lesion-sized ROI (~1000 px). Updates are timed over a sequence of slightly different
ROIs (as while a brush moves), median of many. Quantus 0.6.0 computes the same four metrics
(RelevanceMassAccuracy, RelevanceRankAccuracy, PointingGame, AUC) on the same input in the same
run; the ratios are the speed-ups. Prints one JSON object.

Run: ``.venv/bin/python benchmarks/bench_metrics.py [--repeats N]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
import warnings

import numpy as np

from coloc_viewer.metrics.scorer import Scorer
from coloc_viewer.metrics.scores import score

GRID = (512, 512)


def cam_like_map(rng: np.random.Generator) -> np.ndarray:
    """16 x 16 Grad-CAM-like map: ReLU of two bumps (strong, weak), a negative lobe and noise.

    Non-negative, as Grad-CAM is, because Quantus' RelevanceMassAccuracy does not clip
    negative values (research note xai_anchors.md) and would disagree on a signed map.
    """
    yy, xx = np.mgrid[:16, :16]
    m = np.zeros((16, 16))
    for amp, cy, cx, sigma in ((1.0, 5.5, 9.0, 1.8), (0.4, 11.0, 4.0, 2.5), (-0.3, 2.0, 2.0, 2)):
        m += amp * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * sigma**2))
    return np.maximum(m + 0.02 * rng.standard_normal((16, 16)), 0.0)


def lesion(rng: np.random.Generator, centre=(190.0, 300.0), radius=17.0) -> np.ndarray:
    """Irregular blob: union of discs around ``centre`` (about 1000 px)."""
    yy, xx = np.mgrid[: GRID[0], : GRID[1]]
    mask = np.zeros(GRID, dtype=bool)
    for _ in range(5):
        oy, ox = rng.normal(0, radius / 2.5, 2)
        r = radius * rng.uniform(0.55, 0.9)
        mask |= (yy - centre[0] - oy) ** 2 + (xx - centre[1] - ox) ** 2 <= r**2
    return mask


def brush_strokes(base: np.ndarray, rng: np.random.Generator, n: int) -> list[np.ndarray]:
    """ROIs as a brush edits ``base``: a small disc painted or erased near its boundary."""
    ys, xs = np.nonzero(base)
    yy, xx = np.mgrid[-4:5, -4:5]
    disc = yy**2 + xx**2 <= 16
    rois, current = [], base.copy()
    for i in range(n):
        j = rng.integers(len(ys))
        y, x = ys[j] + rng.integers(-4, 5), xs[j] + rng.integers(-4, 5)
        window = current[y - 4 : y + 5, x - 4 : x + 5]
        window[disc] = i % 4 != 3  # mostly paint, sometimes erase
        rois.append(current.copy())
    return rois


def timed(fn, items) -> tuple[float, float]:
    """Median wall-clock and median process CPU time of ``fn(item)``, in ms."""
    wall, cpu = [], []
    for item in items:
        t0, c0 = time.perf_counter(), time.process_time()
        fn(item)
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return 1e3 * float(np.median(wall)), 1e3 * float(np.median(cpu))


def body_of(roi: np.ndarray) -> np.ndarray:
    """A body-like ellipse covering most of the image (and the ROI)."""
    yy, xx = np.mgrid[: GRID[0], : GRID[1]]
    return ((yy - 256) ** 2 / 230**2 + (xx - 256) ** 2 / 200**2 <= 1) | roi


def quantus_four(cam: np.ndarray, roi: np.ndarray) -> dict[str, float]:
    import quantus

    a = cam[None, None].astype(np.float64)
    s = roi[None, None].astype(np.float64)
    y = np.zeros(1, dtype=int)
    kw = dict(disable_warnings=True, display_progressbar=False)
    out = {}
    for key, metric in (
        ("relevance_mass", quantus.RelevanceMassAccuracy),
        ("relevance_rank", quantus.RelevanceRankAccuracy),
        ("pointing_game", quantus.PointingGame),
        ("auroc", quantus.AUC),
    ):
        value = metric(**kw)(
            model=None, x_batch=a, y_batch=y, a_batch=a, s_batch=s, channel_first=True
        )
        out[key] = float(value[0])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200, help="ROI updates timed")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    try:
        import torch  # only to keep Quantus' torch import from using every core

        torch.set_num_threads(1)
    except ImportError:
        pass

    rng = np.random.default_rng(0)
    small = cam_like_map(rng)
    roi = lesion(rng)
    rois = brush_strokes(roi, rng, args.repeats)

    build_ms, _ = timed(lambda _: Scorer(small, GRID), range(7))
    # The FFT of P is made on the first p-value request: build + first update, together.
    first_ms, _ = timed(lambda _: Scorer(small, GRID).update(roi), range(7))
    scorer = Scorer(small, GRID)
    scorer.update(roi)
    no_p_ms, no_p_cpu = timed(lambda r: scorer.update(r, p_value=False), rois)
    with_p_ms, with_p_cpu = timed(lambda r: scorer.update(r, p_value=True), rois)
    body_scorer = Scorer(small, GRID, body_mask=body_of(roi))
    body_scorer.update(roi)
    body_ms, _ = timed(lambda r: body_scorer.update(r, p_value=True), rois[:50])
    by_size = {}
    for radius in (9.0, 17.0, 24.0):  # about 300, 1000-1300, 2000+ px
        blob = lesion(np.random.default_rng(2), radius=radius)
        strokes = brush_strokes(blob, np.random.default_rng(3), 20)
        by_size[str(int(blob.sum()))] = {
            "without_p": round(timed(lambda r: scorer.update(r, p_value=False), strokes)[0], 3),
            "with_p": round(timed(lambda r: scorer.update(r), strokes)[0], 3),
        }
    one_shot_ms, _ = timed(lambda r: score(small, r, p_value=False), rois[:15])
    # Same-run reference for the p-value: one float64 FFT round trip of the image (its floor).
    image = np.random.default_rng(1).random(GRID)
    fft_ms, _ = timed(lambda _: np.fft.irfft2(np.fft.rfft2(image), s=GRID), range(50))

    # Quantus needs the map already on the grid; the same upsampled map is given to both.
    cam = scorer.grid_map
    quantus_four(cam, roi)  # warm-up (imports)
    quantus_ms, _ = timed(lambda r: quantus_four(cam, r), rois[:7])
    ours = scorer.update(roi, p_value=False)
    theirs = quantus_four(cam, roi)
    max_diff = max(abs(float(ours[k]) - v) for k, v in theirs.items())

    result = {
        "benchmark": "metrics_live_scores",
        "grid": list(GRID),
        "map_shape": list(small.shape),
        "roi_pixels": int(roi.sum()),
        "roi_pixels_range": [int(min(r.sum() for r in rois)), int(max(r.sum() for r in rois))],
        "updates_timed": len(rois),
        "scorer_build_ms": round(build_ms, 3),
        "build_and_first_update_with_p_ms": round(first_ms, 3),
        "update_without_p_ms": round(no_p_ms, 3),
        "update_with_p_ms": round(with_p_ms, 3),
        "update_without_p_cpu_ms": round(no_p_cpu, 3),
        "update_with_p_cpu_ms": round(with_p_cpu, 3),
        "update_with_p_body_mask_ms": round(body_ms, 3),
        "update_ms_by_roi_pixels": by_size,
        "fft_roundtrip_512_ms": round(fft_ms, 3),
        "update_with_p_over_fft_roundtrip": round(with_p_ms / fft_ms, 2),
        "score_one_shot_without_p_ms": round(one_shot_ms, 3),
        "quantus_four_metrics_ms": round(quantus_ms, 3),
        "speedup_update_vs_quantus": round(quantus_ms / no_p_ms, 1),
        "speedup_one_shot_vs_quantus": round(quantus_ms / one_shot_ms, 2),
        "max_abs_diff_vs_quantus": max_diff,
        "targets_ms": {"update_without_p": 2.0, "update_with_p": 20.0},
        "meets_targets_wall": bool(no_p_ms < 2.0 and with_p_ms < 20.0),
        "meets_targets_cpu": bool(no_p_cpu < 2.0 and with_p_cpu < 20.0),
        "n_shifts": scorer.update(roi)["n_shifts"],
        "load_average_1min": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "numpy": np.__version__,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
