"""Independent, deliberately naive references and data generators for the metrics tests.

Nothing here shares code with coloc_viewer.metrics: scores are computed straight from the
definitions (explicit sorts and loops), so a disagreement points at a real bug.
"""

from __future__ import annotations

import numpy as np


def smooth_map(shape: tuple[int, ...], rng: np.random.Generator, n_bumps: int = 4) -> np.ndarray:
    """A CAM-like map: a few Gaussian bumps of random width and sign plus a little noise."""
    h, w = shape[-2:]
    yy, xx = np.mgrid[:h, :w]
    out = np.zeros((h, w))
    for _ in range(n_bumps):
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        sigma = rng.uniform(0.05, 0.3) * max(h, w)
        out += rng.uniform(-0.3, 1.0) * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * sigma**2))
    return out + 0.01 * rng.standard_normal((h, w))


def blob(shape: tuple[int, int], rng: np.random.Generator, radius: float) -> np.ndarray:
    """An irregular lesion-like mask: a union of a few discs around a random centre."""
    h, w = shape
    yy, xx = np.mgrid[:h, :w]
    cy = rng.uniform(min(radius, h / 2), max(h - radius, h / 2))
    cx = rng.uniform(min(radius, w / 2), max(w - radius, w / 2))
    mask = np.zeros(shape, dtype=bool)
    for _ in range(4):
        oy, ox = rng.normal(0, radius / 2, 2)
        r = radius * rng.uniform(0.5, 1.0)
        mask |= (yy - cy - oy) ** 2 + (xx - cx - ox) ** 2 <= r**2
    return mask


def random_mask(shape: tuple[int, ...], rng: np.random.Generator, fill: float) -> np.ndarray:
    return rng.random(shape) < fill


def top_n_set(values: np.ndarray, n: int) -> set[int]:
    """The n highest pixels (flat indices), ties broken by row-major order, by an explicit sort."""
    flat = values.ravel().tolist()
    return set(sorted(range(len(flat)), key=lambda i: (-flat[i], i))[:n])


def naive_scores(saliency: np.ndarray, roi: np.ndarray, threshold: float = 0.5) -> dict:
    """Every score but p_value, auroc and seed_overlap, straight from DESIGN.md section 4."""
    s = saliency.ravel().tolist()
    r = roi.ravel().tolist()
    n = sum(r)
    positive = [max(v, 0.0) for v in s]
    total = sum(positive)
    top = top_n_set(saliency, n)
    hits = sum(1 for i in top if r[i])
    peak = max(s)
    thresholded = [v >= threshold * peak for v in s]
    inter = sum(1 for t, m in zip(thresholded, r) if t and m)
    union = sum(1 for t, m in zip(thresholded, r) if t or m)
    return {
        "relevance_mass": sum(p for p, m in zip(positive, r) if m) / total,
        "relevance_rank": hits / n,
        "iou_top_n": hits / len(top | {i for i, m in enumerate(r) if m}),
        "dice": 2 * inter / (sum(thresholded) + n),
        "iou": inter / union,
        "pointing_game": any(v == peak and m for v, m in zip(s, r)),
    }


def brute_force_p_value(
    relevance: np.ndarray, roi: np.ndarray, body: np.ndarray | None = None, tie_tol: float = 1e-9
) -> tuple[float | None, int]:
    """(p, #shifts) by looping over every translation of a (k, H, W) ROI stack."""
    k, h, w = roi.shape
    zz, ys, xs = np.nonzero(roi)
    total = relevance.sum()
    observed = relevance[zz, ys, xs].sum()
    masses = []
    for dy in range(-h, h + 1):
        for dx in range(-w, w + 1):
            if dy == 0 and dx == 0:
                continue
            ny, nx = ys + dy, xs + dx
            if ny.min() < 0 or nx.min() < 0 or ny.max() >= h or nx.max() >= w:
                continue
            if body is not None and not body[zz, ny, nx].all():
                continue
            masses.append(relevance[zz, ny, nx].sum())
    if not masses or total <= 0:
        return None, len(masses)
    at_least = sum(1 for m in masses if m >= observed - tie_tol * total)
    return (1 + at_least) / (1 + len(masses)), len(masses)
