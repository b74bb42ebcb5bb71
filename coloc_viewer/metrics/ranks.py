"""Pixel order and average ranks of a map, computed once so ROI updates are O(ROI size)."""

from __future__ import annotations

import numpy as np


def order_and_ranks(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Descending positions and ascending average ranks of the flattened ``values``.

    ``position[i]`` is the place (0 = highest) of pixel ``i`` when pixels are sorted by
    decreasing value, ties broken by row-major order (of equal values the earlier pixel comes
    first), so the N highest pixels are exactly ``position < N``.

    ``ranks[i]`` is the 1-based ascending rank of pixel ``i`` with ties given their average
    rank (as ``scipy.stats.rankdata``): the input of the Mann-Whitney U statistic.
    One stable sort serves both.
    """
    flat = np.ravel(values)
    n = flat.size
    order = np.argsort(-flat, kind="stable")
    position = np.empty(n, dtype=np.int64)
    position[order] = np.arange(n)

    ordered = flat[order]
    starts_group = np.empty(n, dtype=bool)
    starts_group[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=starts_group[1:])
    first = np.flatnonzero(starts_group)
    last = np.append(first[1:], n) - 1
    # Descending place p has ascending rank n - p; a tie group gets the mean of its ranks.
    group_rank = n - (first + last) / 2.0
    ranks = np.empty(n, dtype=np.float64)
    ranks[order] = group_rank[np.cumsum(starts_group) - 1]
    return position, ranks
