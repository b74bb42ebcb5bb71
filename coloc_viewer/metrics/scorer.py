"""Live scorer: everything that depends only on the map is computed once, per ROI only O(N).

The formulas are the entries of the score registry (:mod:`coloc_viewer.metrics.definitions`).
Built once per saliency map (pixel order, average ranks, positive part and its sum, the
threshold set, the maxima, the seed support; the FFT of P on the first p-value request);
:meth:`Scorer.update` then scores one ROI with gathers over the ROI's pixels plus, for the
p-value, one FFT correlation.
Definitions: DESIGN.md section 4 and docs/scores.md.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

import numpy as np

from coloc_viewer.metrics.definitions import SCORE_KEYS, SCORES
from coloc_viewer.metrics.inputs import (
    as_map,
    as_mask,
    check_grid,
    check_mode,
    check_threshold,
    on_grid,
)
from coloc_viewer.metrics.ranks import order_and_ranks
from coloc_viewer.metrics.shift_test import ShiftTest
from coloc_viewer.metrics.upsample import upsample as resize


def blank_scores(n_roi: int, threshold: float, upsample_mode: str | None) -> dict[str, Any]:
    """A result with every score None (the answer for an empty ROI) and the bookkeeping keys."""
    out: dict[str, Any] = dict.fromkeys(SCORE_KEYS)
    out.update(n_roi=n_roi, threshold=threshold, upsample=upsample_mode, n_shifts=None)
    return out


class Scorer:
    """Co-localization scores of one saliency map against any number of ROIs.

    ``saliency``: 2-D map; if smaller than ``roi_shape`` it is upsampled with ``upsample``
    ("bilinear", align_corners=False, or "nearest", both as torch). ``roi_shape`` defaults to
    the map's shape. ``body_mask`` (grid shape) limits where chance placements of the ROI may
    fall (p-value). ``seed_map`` (grid shape or smaller, then nearest-upsampled) defines the
    support for ``seed_overlap``; by default the nearest-upsampled saliency. Masks that are not
    boolean are thresholded at 0.5.

    Attributes: ``grid_map`` (the float64 map on the ROI grid, e.g. for display), ``shape``
    (the grid), ``threshold``, ``upsample_mode`` (the mode used, None if not upsampled).
    """

    def __init__(
        self,
        saliency: np.ndarray,
        roi_shape: tuple[int, int] | None = None,
        *,
        threshold: float = 0.5,
        upsample: str = "bilinear",
        body_mask: np.ndarray | None = None,
        seed_map: np.ndarray | None = None,
    ):
        check_mode(upsample)
        raw = as_map(saliency)
        grid = raw.shape if roi_shape is None else check_grid(roi_shape)
        grid_map, upsampled = on_grid(raw, grid, upsample)
        if seed_map is None:
            seed = raw if raw.shape == grid else resize(raw, grid, "nearest")
        else:
            seed, _ = on_grid(as_map(seed_map, "seed map"), grid, "nearest", "seed map")
        body = None if body_mask is None else as_mask(body_mask, grid, "body mask")[None]
        self._setup(
            grid_map[None],
            seed[None] > 0,
            body,
            threshold=threshold,
            upsample_mode=upsample if upsampled else None,
        )

    @classmethod
    def from_stack(
        cls,
        stack: np.ndarray,
        seed_support: np.ndarray,
        body: np.ndarray | None,
        *,
        threshold: float,
        upsample_mode: str | None,
    ) -> Scorer:
        """Scorer over a (k, H, W) stack already on the grid (volume-level pooled scores)."""
        self = cls.__new__(cls)
        self._setup(stack, seed_support, body, threshold=threshold, upsample_mode=upsample_mode)
        return self

    def _setup(
        self,
        stack: np.ndarray,
        seed_support: np.ndarray,
        body: np.ndarray | None,
        *,
        threshold: float,
        upsample_mode: str | None,
    ) -> None:
        self.threshold = check_threshold(threshold)
        self.upsample_mode = upsample_mode
        self.stack_shape = stack.shape
        self.shape = stack.shape[1:] if stack.shape[0] == 1 else stack.shape
        self.grid_map = stack[0] if stack.shape[0] == 1 else stack
        flat = stack.ravel()
        self._relevance = np.maximum(flat, 0.0)
        self._total = float(self._relevance.sum())
        self._position, self._ranks = order_and_ranks(flat)
        peak = float(flat.max())
        self._is_max = flat == peak
        self._above = flat >= self.threshold * peak if peak > 0 else None
        self._n_above = 0 if self._above is None else int(np.count_nonzero(self._above))
        self._seed = seed_support.ravel()
        self._body = body

    @cached_property
    def _shifts(self) -> ShiftTest:
        """FFTs of P and of the body mask, made on the first p-value request and then reused."""
        body = None if self._body is None else self._body.astype(np.float64)
        return ShiftTest(self._relevance.reshape(self.stack_shape), body)

    def update(self, roi: np.ndarray, p_value: bool = True) -> dict[str, Any]:
        """All scores of DESIGN.md section 4 for ``roi`` (boolean, grid shape) as plain values."""
        mask = as_mask(roi, self.shape).reshape(self.stack_shape)
        return self._scores(mask, p_value)

    def _scores(self, mask: np.ndarray, p_value: bool) -> dict[str, Any]:
        idx = np.flatnonzero(mask)
        out = blank_scores(int(idx.size), self.threshold, self.upsample_mode)
        if idx.size == 0:
            return out
        view = RoiView(self, mask, idx)
        for definition in SCORES:  # the registry: one formula per score
            if definition.compute is not None and (p_value or not definition.needs_shifts):
                out[definition.key] = definition.compute(view)
        if view.n_shifts is not None:
            out["n_shifts"] = view.n_shifts
        return out


class RoiView:
    """What a score formula (:attr:`ScoreDefinition.compute`) sees for one ROI: flat arrays
    over the map's pixels, built once per map by the Scorer, and the ROI's pixels ``idx``.

    ``n`` ROI pixels of ``n_pixels``; ``relevance`` = P, ``total`` = sum P, ``inside`` = sum P
    over R; ``position`` (0 = highest S, ties row-major), ``ranks`` (average ranks,
    ascending), ``is_max``, ``above`` ({S >= t max S} or None), ``n_above``, ``seed``
    (bool support of the seed map); ``top_hits`` and ``above_hits`` (counts in R);
    ``shift_test()`` the p-value of the translation test (its shift count is kept)."""

    def __init__(self, scorer: Scorer, mask: np.ndarray, idx: np.ndarray) -> None:
        self.mask, self.idx, self.n = mask, idx, int(idx.size)
        self.relevance = scorer._relevance
        self.n_pixels = int(self.relevance.size)
        self.total = scorer._total
        self.inside = float(self.relevance[idx].sum())
        self.position, self.ranks = scorer._position, scorer._ranks
        self.is_max, self.above, self.n_above = scorer._is_max, scorer._above, scorer._n_above
        self.seed = scorer._seed
        self.n_shifts: int | None = None
        self._scorer = scorer

    @cached_property
    def top_hits(self) -> int:
        return int(np.count_nonzero(self.position[self.idx] < self.n))

    @cached_property
    def above_hits(self) -> int:
        return 0 if self.above is None else int(np.count_nonzero(self.above[self.idx]))

    def shift_test(self) -> float:
        p, self.n_shifts = self._scorer._shifts(self.mask, self.inside)
        return p
