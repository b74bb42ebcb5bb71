"""Live co-localization scores for the shown map, one row per ROI, plus the verdict text.

A :class:`coloc_viewer.metrics.scorer.Scorer` is built once per map and ``update`` is called
per brush dab, so a stroke costs only the incremental work.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import numpy as np

from coloc_viewer.metrics.scorer import Scorer

SCORE_KEYS = ("relevance_mass", "relevance_rank", "iou_top_n", "dice", "iou",
              "pointing_game", "auroc", "p_value", "seed_overlap")

SCORE_HELP = {
    "relevance_mass": "Share of the map's positive relevance that falls inside the ROI "
                      "(1 = all of it, chance = ROI area / image area).",
    "relevance_rank": "Share of the N most relevant pixels (N = ROI size) that lie in the ROI.",
    "iou_top_n": "Intersection over union of the N most relevant pixels with the ROI.",
    "dice": "Dice overlap of the map thresholded at t x max with the ROI.",
    "iou": "Intersection over union of the map thresholded at t x max with the ROI.",
    "pointing_game": "Yes when a pixel of maximal relevance lies inside the ROI.",
    "auroc": "How well the map separates ROI pixels from the rest "
             "(0.5 = chance, 1 = every ROI pixel outranks every other pixel).",
    "p_value": "Share of shifted copies of the ROI that capture at least as much relevance "
               "as the drawn ROI; small values mean the overlap beats chance.",
    "seed_overlap": "Share of the ROI covered by the positive part of the top channel "
                    "(the original method's test).",
}

ALPHA = 0.05


class LiveScores:
    """Caches one Scorer per map and scores 2-D ROI masks against it."""

    def __init__(self) -> None:
        self._key: Hashable | None = None
        self._scorer: Any = None

    def clear(self) -> None:
        self._key, self._scorer = None, None

    @property
    def scorer(self) -> Any:
        return self._scorer

    @property
    def key(self) -> Hashable | None:
        return self._key

    def set_map(self, key: Hashable, saliency: np.ndarray, *, threshold: float = 0.5,
                seed_map: np.ndarray | None = None) -> None:
        if key == self._key and self._scorer is not None:
            return
        self._scorer = Scorer(saliency, threshold=threshold, seed_map=seed_map)
        self._key = key

    def install(self, key: Hashable, scorer: Any) -> None:
        """Use a Scorer built elsewhere (a worker) for the map identified by ``key``."""
        self._key, self._scorer = key, scorer

    def update(self, rois: list[tuple[str, np.ndarray]], *,
               p_value: bool = True) -> dict[str, dict[str, Any]]:
        if self._scorer is None:
            return {}
        return {name: self._scorer.update(mask, p_value=p_value) for name, mask in rois}


def describe(scores: dict[str, Any]) -> str:
    """One ROI's verdict phrase: 'co-localizes (p = 0.003)' or 'does not co-localize'.

    Without a relevance mass, ``n_roi`` (ROI pixels on this slice) tells an empty ROI from
    a map with nothing positive to share out."""
    if not scores or scores.get("relevance_mass") is None:
        if scores and (scores.get("n_roi") or 0) > 0:
            return "the map has no positive values on this slice"
        return "no ROI drawn"
    p = scores.get("p_value")
    if p is None:
        return f"relevance mass {scores['relevance_mass']:.2f} (no p-value)"
    if p < ALPHA:
        return f"co-localizes (p = {p:.3g})"
    return f"does not co-localize (p = {p:.2g})"


def verdict(scores_by_roi: dict[str, dict[str, Any]]) -> str:
    """Plain-language verdict naming the ROIs, e.g. 'looks at the marker, not at the lesion'."""
    drawn = {n: s for n, s in scores_by_roi.items() if s and s.get("relevance_mass") is not None}
    if not drawn:
        if any(s and (s.get("n_roi") or 0) > 0 for s in scores_by_roi.values()):
            return "The map has no positive values on this slice."
        return "Draw an ROI to score the map."
    if len(drawn) == 1:
        name, s = next(iter(drawn.items()))
        p = s.get("p_value")
        if p is None:
            return f"The map's relevance mass in the {name} is {s['relevance_mass']:.2f}."
        if p < ALPHA:
            return f"The map co-localizes with the {name} (p = {p:.3g})."
        return f"The map does not co-localize with the {name} (p = {p:.2g})."
    hits = [n for n, s in drawn.items() if s.get("p_value") is not None and s["p_value"] < ALPHA]
    misses = [n for n in drawn if n not in hits]
    if not hits:
        return "The map co-localizes with none of the ROIs (" + ", ".join(misses) + ")."
    if not misses:
        return "The map co-localizes with " + _join(hits) + "."
    return "The map looks at the " + _join(hits) + ", not at the " + _join(misses, "or") + "."


def _join(names: list[str], word: str = "and") -> str:
    names = list(names)
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + f" {word} the " + names[-1]


def format_score(key: str, value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if key == "p_value":
        return f"{value:.3g}"
    return f"{float(value):.3f}"
