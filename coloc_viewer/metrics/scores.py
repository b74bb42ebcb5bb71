"""One-shot co-localization scores of a 2-D saliency map against a 2-D ROI (public API)."""

from __future__ import annotations

from typing import Any

import numpy as np

from coloc_viewer.errors import InputError
from coloc_viewer.metrics.inputs import as_mask, check_grid
from coloc_viewer.metrics.scorer import SCORE_KEYS, Scorer

__all__ = ["SCORE_KEYS", "score"]


def score(
    saliency: np.ndarray,
    roi: np.ndarray,
    *,
    threshold: float = 0.5,
    upsample: str = "bilinear",
    body_mask: np.ndarray | None = None,
    seed_map: np.ndarray | None = None,
    p_value: bool = True,
) -> dict[str, Any]:
    """Scores of DESIGN.md section 4 for ``saliency`` (2-D, at most the ROI's size) and ``roi``.

    Returns the keys ``relevance_mass, relevance_rank, iou_top_n, dice, iou, pointing_game,
    auroc, p_value, seed_overlap`` plus ``n_roi, threshold, upsample`` (the mode used, or None
    when the map was already on the grid) and ``n_shifts`` (translations in the p-value test).
    Values are plain floats/bools/ints or None (JSON null) where a score is undefined.
    Raises :class:`~coloc_viewer.errors.InputError` for NaN/inf, bad shapes or bad options.
    """
    roi_arr = np.asarray(roi)
    if roi_arr.ndim != 2:
        raise InputError(
            f"ROI must be a 2-D array, got shape {roi_arr.shape} (use score_volume for volumes)"
        )
    grid = check_grid(roi_arr.shape)
    scorer = Scorer(
        saliency,
        grid,
        threshold=threshold,
        upsample=upsample,
        body_mask=body_mask,
        seed_map=seed_map,
    )
    return scorer._scores(as_mask(roi_arr, grid)[None], p_value)
