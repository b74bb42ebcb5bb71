"""Live co-localization scores for the shown map, one row per ROI (the verdict is in
:mod:`~coloc_viewer.viewer.verdict`, the vocabulary in :mod:`~coloc_viewer.metrics.definitions`).

A :class:`coloc_viewer.metrics.scorer.Scorer` is built once per map and ``update`` is called
per brush dab, so a stroke costs only the incremental work.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import numpy as np

from coloc_viewer.metrics.definitions import SCORE_HELP, SCORE_KEYS
from coloc_viewer.metrics.scorer import Scorer
from coloc_viewer.metrics.volume import score_volume
from coloc_viewer.viewer.verdict import describe, verdict

__all__ = ["LiveScores", "SCORE_KEYS", "SCORE_HELP", "describe", "verdict"]

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
        out = {}
        for name, mask in rois:
            out[name] = self._scorer.update(mask, p_value=p_value)
            out[name]["n_pixels"] = int(np.asarray(mask).size)
        return out

    def outside_share(self, rois: list[tuple[str, np.ndarray]]) -> float | None:
        """Share of the map's positive mass outside every ROI (None without ROIs or map)."""
        if self._scorer is None or not rois:
            return None
        union = np.logical_or.reduce([np.asarray(m, bool) for _n, m in rois])
        if not union.any():
            return None
        mass = self._scorer.update(union, p_value=False).get("relevance_mass")
        return None if mass is None else 1.0 - float(mass)


def pooled_volume_scores(maps: dict[int, np.ndarray | None], rois: Any,
                         threshold: float) -> dict[str, dict[str, Any]]:
    """Volume scores of each ROI over the analysed slices it spans (two or more)."""
    out = {}
    for roi in rois:
        spans = [z for z, m in maps.items() if m is not None and roi.mask[z].any()]
        if len(spans) >= 2:
            result = score_volume({z: maps[z] for z in spans}, roi.mask, threshold=threshold)
            out[roi.name] = dict(result["aggregate"], n_slices=len(spans))
    return out
