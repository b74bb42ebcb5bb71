"""Cohort statistics: medians with seeded bootstrap CIs, rates, paired Wilcoxon tests."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np


def _finite(values: Sequence[Any]) -> np.ndarray:
    arr = np.asarray([v for v in values if v is not None], dtype=float)
    return arr[np.isfinite(arr)]


def bootstrap_median_ci(values: Sequence[Any], *, n_boot: int = 2000, seed: int = 0,
                        level: float = 0.95) -> dict[str, Any]:
    """Median of the non-null ``values`` with a percentile bootstrap CI (seeded, so a
    rerun gives the same interval). Empty input gives nulls; one value a zero-width CI."""
    x = _finite(values)
    n = int(x.size)
    if n == 0:
        return {"n": 0, "median": None, "ci_low": None, "ci_high": None, "level": level}
    med = float(np.median(x))
    if n == 1:
        return {"n": 1, "median": med, "ci_low": med, "ci_high": med, "level": level}
    rng = np.random.default_rng(seed)
    meds = np.empty(n_boot)
    chunk = max(1, 2_000_000 // n)
    for start in range(0, n_boot, chunk):
        stop = min(n_boot, start + chunk)
        idx = rng.integers(0, n, size=(stop - start, n))
        meds[start:stop] = np.median(x[idx], axis=1)
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(meds, [alpha, 1.0 - alpha])
    return {"n": n, "median": med, "ci_low": float(lo), "ci_high": float(hi), "level": level}


def rate(values: Sequence[Any]) -> dict[str, Any]:
    """Share of true values among the non-null ones (booleans or 0/1)."""
    x = _finite([None if v is None else float(bool(v)) for v in values])
    return {"n": int(x.size), "rate": float(x.mean()) if x.size else None}


def share_below(values: Sequence[Any], alpha: float = 0.05) -> dict[str, Any]:
    """Share of non-null ``values`` (p-values) strictly below ``alpha``."""
    x = _finite(values)
    return {"n": int(x.size), "alpha": alpha,
            "rate": float((x < alpha).mean()) if x.size else None}


def paired_wilcoxon(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Wilcoxon signed-rank test of ``a[case] - b[case]`` over cases with both values.

    Returns ``n`` pairs, the median difference, the statistic and the two-sided p-value
    (``None`` when fewer than 2 pairs or all differences are zero).
    """
    from scipy.stats import wilcoxon

    keys = [k for k in a if k in b and a[k] is not None and b[k] is not None
            and math.isfinite(float(a[k])) and math.isfinite(float(b[k]))]
    d = np.asarray([float(a[k]) - float(b[k]) for k in keys])
    out: dict[str, Any] = {"n": len(keys), "median_difference": None, "statistic": None,
                           "p_value": None}
    if d.size:
        out["median_difference"] = float(np.median(d))
    if d.size >= 2 and np.any(d != 0):
        res = wilcoxon(d, zero_method="wilcox", alternative="two-sided")
        out["statistic"] = float(res.statistic)
        out["p_value"] = float(res.pvalue)
    return out
