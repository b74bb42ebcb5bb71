"""Does the map depend on the image? The similarity of one map across a cohort's cases.

A model that reads each image gives different maps for different images. A map that is
nearly the same for every image (a fixed patch, a border) says little about any of them:
its relevance mass on an ROI then measures where the ROI happens to lie, not what the
model read. Per (model, map) of a cohort run:

* each scored map is reduced to a **fingerprint**, its block means on a ``GRID``-cell grid
  per axis (:func:`fingerprint`; the cohort worker keeps one per slice);
* ``similarity`` is the **median Pearson correlation between the fingerprints of two
  maps from different cases** (pairs within a case are left out: neighbouring slices look
  alike for good reasons); maps that are constant (empty) cannot be correlated and are
  counted apart as ``empty_maps``;
* at most ``MAX_MAPS`` maps enter (a seeded draw), so a large cohort costs no more.

``WARN_AT`` (0.9) is where the report and ``refine`` warn. For scale, on the refine demo's
held-out slices: demo-shortcut 0.03-0.43, demo-clean 0.45-0.52, demo-refined 0.99
(docs/models/demo-refined.md).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

GRID = 12
MAX_MAPS = 400
WARN_AT = 0.9
WARNING = ("nearly the same map on every image: its ROI scores reflect where the ROIs "
           "happen to lie, not what the model responded to")


def fingerprint(saliency: np.ndarray, size: int = GRID) -> np.ndarray:
    """The block means of ``saliency`` (any number of axes) on a grid of ``size`` cells per
    axis (an axis shorter than ``size`` keeps its length), flattened; NaN counts as 0."""
    a = np.nan_to_num(np.asarray(saliency, dtype=np.float64))
    for axis, n in enumerate(a.shape):
        k = min(size, n)
        starts = np.linspace(0, n, k + 1).round().astype(int)
        sums = np.add.reduceat(a, starts[:-1], axis=axis)
        shape = [1] * a.ndim
        shape[axis] = k
        a = sums / np.diff(starts).reshape(shape)
    return a.ravel()


def similarity(fingerprints: Sequence[np.ndarray], cases: Sequence[str], seed: int = 0,
               max_maps: int = MAX_MAPS) -> dict[str, Any] | None:
    """``{"similarity", "pairs", "maps", "empty_maps", "cases"}`` of maps from ``cases`` (one
    case id per fingerprint); None when no two non-empty maps come from different cases."""
    live = [i for i, f in enumerate(fingerprints) if np.ptp(f) > 0]
    empty = len(fingerprints) - len(live)
    if len(live) > max_maps:
        live = sorted(np.random.default_rng(seed).choice(live, max_maps, replace=False))
    if len(live) < 2:
        return None
    r = np.corrcoef(np.stack([fingerprints[i] for i in live]))
    ids = np.asarray([cases[i] for i in live], dtype=object)
    upper = np.triu_indices(len(live), 1)
    across = ids[upper[0]] != ids[upper[1]]
    values = r[upper][across]
    if values.size == 0:
        return None
    return {"similarity": round(float(np.median(values)), 3), "pairs": int(values.size),
            "maps": len(live), "empty_maps": empty, "cases": len(set(ids.tolist()))}


def cohort_similarity(records: Iterable[dict[str, Any]], name_of: Any
                      ) -> dict[str, dict[str, Any]]:
    """Per map name (``name_of(record)``): :func:`similarity` of the fingerprints that the
    cohort's unit records carry (``record["fingerprints"]``: [slice, encoded vector]), with
    the map's ``label`` as the report names it (``model / method (rank)``)."""
    from coloc_viewer.cohort.analysis import map_label
    from coloc_viewer.cohort.worker import decode_vector

    groups: dict[str, tuple[list[np.ndarray], list[str]]] = defaultdict(lambda: ([], []))
    labels: dict[str, str] = {}
    for rec in records:
        if rec.get("status") != "ok":
            continue
        name = name_of(rec)
        labels[name] = map_label(rec)
        fps, cases = groups[name]
        for _z, encoded in rec.get("fingerprints", ()):
            fps.append(decode_vector(encoded))
            cases.append(str(rec["case_id"]))
    out = {}
    for name, (fps, cases) in sorted(groups.items()):
        result = similarity(fps, cases)
        if result is not None:
            out[name] = {"label": labels[name], **result}
    return out


def similarity_warnings(sims: dict[str, dict[str, Any]]) -> list[str]:
    """One line per ``MODEL__MAP`` of :func:`cohort_similarity` at or above ``WARN_AT``."""
    return [f"{v.get('label') or name}: {WARNING} (map similarity {v['similarity']:.2f})"
            for name, v in sims.items() if v["similarity"] >= WARN_AT]
