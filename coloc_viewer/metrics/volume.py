"""Volume-level scores: per-slice rows plus scores pooled over every slice that carries ROI.

Pooling treats the ROI slices as one 3-D stack (slices in ascending index order), so the
aggregate is not an average of per-slice ratios:

* ``relevance_mass`` = sum of P inside R over those slices / sum of P over those slices;
* ``relevance_rank``, ``iou_top_n``, ``auroc`` rank the voxels of the whole stack (ties by
  (slice, row, column) order); ``dice``/``iou`` threshold at t x the stack's maximum;
* ``pointing_game`` is true when a voxel holding the stack's maximum lies in R;
* ``p_value``: one 2-D translation is applied to the ROI of every slice at once (the lesion
  moves as a whole); a translation is allowed when every slice's ROI stays inside the image
  (and inside the body mask); the pooled masses are compared as in the 2-D test.

With ``shifts="3d"`` (maps of a 3-D model, one per slice) the pooled scores cover every
slice of the volume, and the p-value uses every non-zero whole-voxel 3-D translation
(dz, dy, dx) that keeps the ROI inside the volume (and the body mask).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from coloc_viewer.errors import InputError
from coloc_viewer.metrics.inputs import as_map, as_mask, check_mode, check_threshold, on_grid
from coloc_viewer.metrics.scorer import Scorer, blank_scores
from coloc_viewer.metrics.shift_test import TIE_TOL, next_fast_len

MapsLike = np.ndarray | Mapping[int, np.ndarray]


def score_volume(
    maps: MapsLike,
    roi: np.ndarray,
    *,
    threshold: float = 0.5,
    upsample: str = "bilinear",
    body_mask: np.ndarray | None = None,
    seed_map: MapsLike | None = None,
    p_value: bool = True,
    shifts: str = "2d",
) -> dict[str, Any]:
    """Score saliency ``maps`` against a 3-D ``roi`` (z, H, W).

    ``maps`` is a (z, h, w) array or a dict {slice index: 2-D map}; maps smaller than the grid
    are upsampled. ``body_mask`` is (z, H, W) or one (H, W) mask for every slice; ``seed_map``
    takes the same forms as ``maps``. Returns ``{"aggregate": {...}, "slices": [...]}``: the
    pooled scores (with ``n_slices`` and ``slices_without_map``, ROI slices that had no map)
    and one row ``{"slice": k, ...scores}`` per ROI slice that has a map, in slice order.
    ``shifts="3d"``: every slice needs a map; the aggregate pools the whole volume and its
    p-value uses 3-D translations (see the module docstring).
    """
    if shifts not in ("2d", "3d"):
        raise InputError(f"shifts must be '2d' or '3d', not {shifts!r}")
    check_mode(upsample)
    check_threshold(threshold)
    roi_arr = np.asarray(roi)
    if roi_arr.ndim != 3:
        raise InputError(f"volume ROI must be a 3-D array (z, y, x), got shape {roi_arr.shape}")
    mask = as_mask(roi_arr, roi_arr.shape)
    n_z, grid = mask.shape[0], mask.shape[1:]
    slice_maps = _per_slice(maps, n_z, "saliency maps")
    seeds = None if seed_map is None else _per_slice(seed_map, n_z, "seed maps")
    body = _body_stack(body_mask, mask.shape)

    roi_slices = [k for k in range(n_z) if mask[k].any()]
    used = [k for k in roi_slices if k in slice_maps]
    missing = [k for k in roi_slices if k not in slice_maps]

    rows, stack, support, upsampled = [], [], [], False
    for k in used:
        on, was_upsampled = on_grid(slice_maps[k], grid, upsample, f"saliency map of slice {k}")
        upsampled |= was_upsampled
        seed = slice_maps[k] if seeds is None else seeds.get(k)
        if seed is None:
            raise InputError(f"seed map of slice {k} is missing")
        seed_on = seed if seed.shape == grid else on_grid(seed, grid, "nearest", "seed map")[0]
        stack.append(on)
        support.append(seed_on > 0)
        row_scorer = Scorer.from_stack(
            on[None],
            support[-1][None],
            None if body is None else body[k][None],
            threshold=threshold,
            upsample_mode=upsample if was_upsampled else None,
        )
        rows.append({"slice": k, **row_scorer._scores(mask[k][None], p_value)})

    if shifts == "3d":
        aggregate = _pooled_3d(slice_maps, seeds, body, mask, threshold, upsample, p_value)
    elif used:
        pooled = Scorer.from_stack(
            np.stack(stack),
            np.stack(support),
            None if body is None else body[used],
            threshold=threshold,
            upsample_mode=upsample if upsampled else None,
        )
        aggregate = pooled._scores(mask[used], p_value)
    else:
        aggregate = blank_scores(0, float(threshold), None)
    if shifts == "2d":
        aggregate.update(n_slices=len(used), slices_without_map=missing)
    return {"aggregate": aggregate, "slices": rows}


def _pooled_3d(maps: dict[int, np.ndarray], seeds: dict[int, np.ndarray] | None,
               body: np.ndarray | None, mask: np.ndarray, threshold: float, upsample: str,
               p_value: bool) -> dict[str, Any]:
    """Scores of the whole volume, the p-value over 3-D translations."""
    n_z, grid = mask.shape[0], mask.shape[1:]
    if sorted(maps) != list(range(n_z)):
        raise InputError("3-D shifts need a saliency map for every slice")
    stack, support, upsampled = [], [], False
    for k in range(n_z):
        on, was_upsampled = on_grid(maps[k], grid, upsample, f"saliency map of slice {k}")
        upsampled |= was_upsampled
        seed = maps[k] if seeds is None else seeds.get(k)
        if seed is None:
            raise InputError(f"seed map of slice {k} is missing")
        seed_on = seed if seed.shape == grid else on_grid(seed, grid, "nearest", "seed map")[0]
        stack.append(on)
        support.append(seed_on > 0)
    vol = np.stack(stack)
    scorer = Scorer.from_stack(vol, np.stack(support), body, threshold=threshold,
                                upsample_mode=upsample if upsampled else None)
    out = scorer._scores(mask, False)
    if p_value and out["relevance_mass"] is not None:
        relevance = np.maximum(vol, 0.0)
        out["p_value"], out["n_shifts"] = shift_test_3d(
            relevance, mask, float(relevance[mask].sum()), body)
    out.update(n_slices=n_z, slices_without_map=[])
    return out


def shift_test_3d(relevance: np.ndarray, roi: np.ndarray, observed: float,
                  body: np.ndarray | None = None) -> tuple[float | None, int]:
    """(p-value, number of shifts) over every non-zero 3-D translation of ``roi`` that keeps
    it inside the volume (and wholly inside ``body``): the 2-D test's rule and tie
    tolerance, with the masses from one n-D FFT cross-correlation."""
    nz = [np.flatnonzero(roi.any(axis=tuple(b for b in range(3) if b != a))) for a in range(3)]
    if nz[0].size == 0:
        return None, 0
    lo = tuple(int(i[0]) for i in nz)
    box = roi[tuple(slice(i[0], i[-1] + 1) for i in nz)].astype(np.float64)
    n = tuple(s - b + 1 for s, b in zip(roi.shape, box.shape))
    if n == (1, 1, 1):
        return None, 0
    fft_shape = tuple(next_fast_len(s) for s in roi.shape)
    box_hat = np.conj(np.fft.rfftn(box, s=fft_shape, axes=(0, 1, 2)))

    def correlate(other: np.ndarray) -> np.ndarray:
        full = np.fft.irfftn(box_hat * np.fft.rfftn(other, s=fft_shape, axes=(0, 1, 2)),
                             s=fft_shape, axes=(0, 1, 2))
        return full[: n[0], : n[1], : n[2]]

    valid = np.ones(n, dtype=bool)
    if body is not None:
        valid &= correlate(np.asarray(body, dtype=np.float64)) > box.sum() - 0.5
    valid[lo] = False
    n_shifts = int(np.count_nonzero(valid))
    total = float(relevance.sum())
    if n_shifts == 0 or total <= 0.0:
        return None, n_shifts
    mass = correlate(relevance)[valid]
    at_least = int(np.count_nonzero(mass >= observed - TIE_TOL * total))
    return (1 + at_least) / (1 + n_shifts), n_shifts


def _per_slice(maps: MapsLike, n_z: int, name: str) -> dict[int, np.ndarray]:
    """{slice index: finite 2-D float map} from a (z, h, w) array or a dict."""
    if isinstance(maps, Mapping):
        out = {}
        for key, value in maps.items():
            k = _slice_index(key, n_z, name)
            out[k] = as_map(value, f"{name} [slice {k}]")
        return out
    arr = as_map(maps, name, ndim=3)
    if arr.shape[0] != n_z:
        raise InputError(f"{name} have {arr.shape[0]} slices but the ROI has {n_z}")
    return {k: arr[k] for k in range(n_z)}


def _slice_index(key: object, n_z: int, name: str) -> int:
    try:
        k = int(key)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise InputError(f"{name}: slice key {key!r} is not an integer") from None
    if k != key or not 0 <= k < n_z:
        raise InputError(f"{name}: slice {key!r} is outside the ROI's 0..{n_z - 1}")
    return k


def _body_stack(body_mask: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray | None:
    if body_mask is None:
        return None
    arr = np.asarray(body_mask)
    if arr.ndim == 2:
        mask2d = as_mask(arr, shape[1:], "body mask")
        return np.broadcast_to(mask2d, shape)
    return as_mask(arr, shape, "body mask")
