"""Score rows for many slices and ROIs at once (e.g. after "analyse all slices")."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from coloc_viewer.metrics.scores import score
from coloc_viewer.workspace.roi_snapshot import snapshot_of


def slice_score_rows(maps: Mapping[int, np.ndarray], rois: Any, *, pane: str = "",
                     model: str = "", layer: str = "", method: str = "", target: Any = None,
                     rank: str | None = None, input_hash: str = "", series_uid: str = "",
                     seed_maps: Mapping[int, np.ndarray] | None = None,
                     p_value: bool = True) -> list[dict[str, Any]]:
    """One row per (slice, ROI) for ``maps`` = {slice: 2-D map on the image grid}.

    ``rois``: a RoiSet, a {name: (z, y, x) mask} mapping or one 3-D mask. Rows carry the
    setting columns of :mod:`.csv_export` and the scores of :func:`coloc_viewer.score`
    (null where the ROI is empty on that slice); write them with ``write_scores_csv``.
    """
    masks = snapshot_of(rois, copy=False).masks
    rows = []
    for k in sorted(maps):
        for name, mask in masks.items():
            seed = None if seed_maps is None else seed_maps.get(k)
            scores = score(maps[k], mask[k], seed_map=seed, p_value=p_value)
            rows.append({"input": input_hash, "series_uid": series_uid, "slice": int(k),
                         "slice_number": int(k) + 1, "roi": name, "pane": pane,
                         "model": model, "layer": layer, "target": target, "rank": rank,
                         "method": method, **scores})
    return rows
