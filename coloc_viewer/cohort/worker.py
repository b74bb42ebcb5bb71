"""What a worker does for one (case, model): load, explain every slice, score every map.

A :class:`CaseTask` is small and picklable (paths and options, no arrays), so it can be
sent to a local process or a Dask worker; :func:`run_case` returns one JSON-ready record
per unit of work ((case, model, rank, method)), with status ``ok`` or ``failed``.
"""

from __future__ import annotations

import base64
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from coloc_viewer.cohort.manifest import Case
from coloc_viewer.cohort.map_similarity import fingerprint
from coloc_viewer.errors import ColocError
from coloc_viewer.metrics.definitions import SCORE_KEYS

TOP_MAP = "top_map"
PRINCIPAL_PREFIX = "principal-"


@dataclass(frozen=True)
class UnitSpec:
    """One unit: the top feature map of ``rank`` (method ``top_map``), a CAM ``method``
    (``rank`` None), or the principal-channel CAM (method ``principal-gradcam``)."""

    key: str
    rank: str | None
    method: str


@dataclass(frozen=True)
class CaseTask:
    case: Case
    model: str
    model_label: str
    units: tuple[UnitSpec, ...]
    layer: str | None = None
    target: int | None = None
    roi_names: tuple[str, ...] | None = None
    threshold: float = 0.5
    p_value: bool = True
    top_k: int = 10
    batch_size: int = 16
    threads: int | None = None
    channel_set: dict[str, Any] | None = field(default=None, hash=False)


_MODELS: dict[str, Any] = {}


def _model(name: str) -> Any:
    """Load a model once per worker process."""
    if name not in _MODELS:
        from coloc_viewer.model.loading import load_model

        _MODELS[name] = load_model(name)
    return _MODELS[name]


def preload_model(name: str) -> None:
    """Load ``name`` into this process's model cache (a pool process warming up)."""
    _model(name)


_BUDGET = threading.local()


def thread_budget(fn: Callable[[], int] | None) -> None:
    """Make this thread's tasks re-read their torch thread count from ``fn`` before each
    batch (the pool's coordinating process takes the cores its idle helpers leave)."""
    _BUDGET.fn = fn


def _threads_now(task: CaseTask) -> int | None:
    fn = getattr(_BUDGET, "fn", None)
    return fn() if fn is not None else task.threads


def set_threads(threads: int | None) -> None:
    """Torch threads of this thread (OpenMP's count is per calling thread)."""
    if threads:
        import torch

        if torch.get_num_threads() != threads:
            torch.set_num_threads(int(threads))


def load_case(case: Case, roi_names: tuple[str, ...] | None, card: Any = None
              ) -> tuple[Any, Any, dict[str, np.ndarray]]:
    """(the image volume: the ROIs' grid, what ``explain`` takes for ``card``'s model: that
    volume or ``{role: volume}``, the named ROI masks restricted to ``roi_names``)."""
    from coloc_viewer.cohort.inputs import case_inputs
    from coloc_viewer.imaging.load import load_volume
    from coloc_viewer.imaging.roi_io import load_rois
    from coloc_viewer.pacs.resolve import local_path  # pacs:// images: the cached folder

    if card is None:
        volume = inputs = load_volume(local_path(case.image), series=case.series)
    else:
        volume, inputs = case_inputs(case, card)
    roiset = load_rois(case.roi, like=volume)
    masks = _roi_masks(roiset)
    if roi_names:
        missing = [n for n in roi_names if n not in masks]
        if missing:
            raise ValueError(f"no ROI named {', '.join(missing)} (the file has "
                             f"{', '.join(masks) or 'none'})")
        masks = {n: masks[n] for n in roi_names}
    for name, m in masks.items():
        if tuple(m.shape) != tuple(volume.shape):
            raise ValueError(f"ROI {name!r} has shape {m.shape}, the image {volume.shape}")
    return volume, inputs, masks


def _roi_masks(roiset: Any) -> dict[str, np.ndarray]:
    """Name -> bool mask from a RoiSet (mapping-like, ``.rois`` list or (name, mask) pairs)."""
    if isinstance(roiset, np.ndarray):
        return {"roi": roiset.astype(bool)}
    if hasattr(roiset, "items"):
        return {str(n): np.asarray(getattr(m, "mask", m), bool) for n, m in roiset.items()}
    items = getattr(roiset, "rois", roiset)
    out: dict[str, np.ndarray] = {}
    for item in items:
        if isinstance(item, tuple):
            name, mask = item
        else:
            name, mask = item.name, item.mask
        out[str(name)] = np.asarray(mask, bool)
    return out


def case_slices(case: Case, shape: tuple[int, int, int], masks: dict[str, np.ndarray]
                ) -> list[int]:
    """The manifest's slices, or every slice where any selected ROI has a pixel."""
    if case.slices is not None:
        bad = [z for z in case.slices if z >= shape[0]]
        if bad:
            raise ValueError(f"slice(s) {bad} outside the volume (0..{shape[0] - 1})")
        return list(case.slices)
    any_roi = np.zeros(shape[0], bool)
    for m in masks.values():
        any_roi |= m.reshape(shape[0], -1).any(axis=1)
    zs = [int(z) for z in np.flatnonzero(any_roi)]
    if not zs:
        raise ValueError("the ROI file holds no ROI pixels (give slices in the manifest)")
    return zs


def class_index(label: str | None, classes: tuple[str, ...]) -> int | None:
    """A manifest label (index or class name, case-insensitive) as a class index."""
    if label is None:
        return None
    text = label.strip()
    if text.lstrip("-").isdigit():
        idx = int(text)
        if 0 <= idx < len(classes):
            return idx
    else:
        lowered = [c.lower() for c in classes]
        if text.lower() in lowered:
            return lowered.index(text.lower())
    raise ValueError(f"label {label!r} is not a class of the model ({', '.join(classes)})")


def _clean(value: Any) -> Any:
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    try:
        f = float(value)
    except (TypeError, ValueError):
        return value
    return f if math.isfinite(f) else None


def encode_vector(v: np.ndarray) -> str:
    return base64.b64encode(np.asarray(v, "<f4").tobytes()).decode("ascii")


def decode_vector(s: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(s), "<f4").astype(np.float64)


def explain_slice(model: Any, volume: Any, z: int | None, task: CaseTask, rank: str,
                  methods: tuple[str, ...]) -> Any:
    """``explain`` of slice ``z`` (a 3-D model: ``z`` None, the whole volume)."""
    from coloc_viewer.explain.engine import explain

    return explain(model, volume, z, layer=task.layer, target=task.target, rank=rank,
                   methods=methods, top_k=task.top_k)


def unit_maps(exp: Any, unit: UnitSpec, channel_set: dict[str, Any] | None
              ) -> tuple[np.ndarray, np.ndarray | None, int | None] | None:
    """(saliency map on the slice grid, seed map or None, top channel or None) of ``unit``;
    None for a principal-channel unit whose channel set has no channels for the slice's
    target class (e.g. every training case had one label): that slice has no such map."""
    if unit.method == TOP_MAP:
        return exp.top_map, exp.seed_map, exp.top_channel
    if unit.method.startswith(PRINCIPAL_PREFIX):
        from coloc_viewer.cohort.principal import gradient_weights, principal_cam

        if channel_set is None:
            raise ValueError("a principal-channel unit needs a channel set")
        channels = channel_set["classes"].get(str(int(exp.target)))
        if not channels:
            return None
        cam = principal_cam(exp.activations, gradient_weights(exp), channels)
        return exp.transform.to_image_grid(cam, mode="bilinear"), None, None
    return exp.cam_map(unit.method), None, None


def _scores(sal: np.ndarray, seed: np.ndarray | None, masks: dict[str, np.ndarray],
            z: int | None, task: CaseTask) -> dict[str, dict[str, Any]]:
    """ROI name -> DESIGN §4 scores of one map: of slice ``z`` (one Scorer for every ROI),
    or volume scores (``z`` None: pooled, p-value over 3-D shifts)."""
    if z is None:
        from coloc_viewer.metrics.volume import score_volume

        return {name: score_volume(sal, mask, seed_map=seed, shifts="3d",
                                   threshold=task.threshold, p_value=task.p_value)["aggregate"]
                for name, mask in masks.items()}
    from coloc_viewer.metrics.scorer import Scorer

    scorer = Scorer(sal, sal.shape, threshold=task.threshold, seed_map=seed)
    return {name: scorer.update(mask[z], p_value=task.p_value) for name, mask in masks.items()}


def _explanations(model: Any, volume: Any, zs: list[int] | None, task: CaseTask
                  ) -> list[dict[str | None, Any]]:
    """Per slice of ``zs``: the explanations it needs by rank (``None``: the one whose
    CAMs the CAM units read), each CAM method computed once, slices batched. ``zs`` None:
    a 3-D model's one explanation of the whole volume."""
    from coloc_viewer.cohort.batched import explain_slices

    ranks = sorted({u.rank for u in task.units if u.rank is not None},
                   key=lambda r: (r != "contribution", r))
    cams = tuple(sorted({u.method for u in task.units
                         if u.rank is None and u.method != TOP_MAP}))
    if not ranks:
        ranks = ["contribution"]
    if zs is None:
        per_rank = {r: [explain_slice(model, volume, None, task, r, cams if i == 0 else ())]
                    for i, r in enumerate(ranks)}
    else:
        per_rank = {r: explain_slices(model, volume, zs, layer=task.layer,
                                      target=task.target, rank=r,
                                      methods=cams if i == 0 else (), top_k=task.top_k,
                                      batch_size=task.batch_size)
                    for i, r in enumerate(ranks)}
    out: list[dict[str | None, Any]] = []
    for j in range(len(per_rank[ranks[0]])):
        d: dict[str | None, Any] = {r: per_rank[r][j] for r in ranks}
        d[None] = d[ranks[0]]
        out.append(d)
    return out


def run_case(task: CaseTask) -> list[dict[str, Any]]:
    """Every unit of ``task``; a failure of the case fails all its units with the reason."""
    set_threads(task.threads)
    base = {"case_id": task.case.case_id, "model": task.model_label}
    try:
        return _run_case(task, base)
    except (ColocError, ValueError, OSError, RuntimeError, KeyError, IndexError,
            TypeError) as err:
        # ours (and a ValueError's message, the case readers' own mistakes: an ROI name, a
        # label, a slice) read as sentences; other exceptions keep their type's name
        reason = str(err) if isinstance(err, ColocError | ValueError) else \
            f"{type(err).__name__}: {err}"
        reason = " ".join(reason.split()) or type(err).__name__
        return [dict(base, key=u.key, rank=u.rank, method=u.method, status="failed",
                     reason=reason) for u in task.units]


def _run_case(task: CaseTask, base: dict[str, Any]) -> list[dict[str, Any]]:
    from coloc_viewer.explain.engine import model_spatial_dims

    model = _model(task.model)
    set_threads(task.threads)  # after loading: load_model sets its own default
    volume, inputs, masks = load_case(task.case, task.roi_names, model.card)
    label_idx = class_index(task.case.label, tuple(model.classes))
    recs = {u.key: dict(base, key=u.key, rank=u.rank, method=u.method, status="ok",
                        rows=[], extrema=[], contributions=[]) for u in task.units}
    if model_spatial_dims(model.card) == 3:  # volume scores: one row per ROI, no slice
        set_threads(_threads_now(task))
        _score_maps(task, recs, None, _explanations(model, inputs, None, task)[0], masks,
                    label_idx)
        return list(recs.values())
    zs = case_slices(task.case, volume.shape, masks)
    for start in range(0, len(zs), max(1, task.batch_size)):
        set_threads(_threads_now(task))
        chunk = zs[start:start + max(1, task.batch_size)]
        for z, exps in zip(chunk, _explanations(model, inputs, chunk, task), strict=True):
            _score_maps(task, recs, z, exps, masks, label_idx)
    return list(recs.values())


def _score_maps(task: CaseTask, recs: dict[str, dict[str, Any]], z: int | None,
                exps: dict[str | None, Any], masks: dict[str, np.ndarray],
                label_idx: int | None) -> None:
    """Score every unit's map of slice ``z`` (None: the volume) against every ROI; append
    the rows to ``recs``."""
    for u in task.units:
        exp = exps[u.rank] if u.rank in exps else exps[None]
        maps = unit_maps(exp, u, task.channel_set)
        if maps is None:
            recs[u.key].setdefault("skipped_slices", []).append(z)
            continue
        sal, seed, top = maps
        probs = exp.prediction.get("probabilities")  # none for segmentation
        pred = int(exp.prediction["index"])
        target = int(exp.target)
        rec = recs[u.key]
        rec["extrema"].append([z, _clean(np.min(sal)), _clean(np.max(sal))])
        rec.setdefault("fingerprints", []).append([z, encode_vector(fingerprint(sal))])
        if u.rank == "contribution" and u.method == TOP_MAP:
            rec["contributions"].append({"slice": z, "target": target, "predicted": pred,
                                         "label": label_idx,
                                         "im": encode_vector(exp.importance)})
        scores = _scores(np.asarray(sal), seed, masks, z, task)
        for name, mask in masks.items():
            row = {"case_id": task.case.case_id, "label": task.case.label,
                   "model": task.model_label, "layer": exp.layer, "rank": u.rank,
                   "method": u.method, "roi": name, "slice": z,
                   "roi_pixels": int((mask if z is None else mask[z]).sum()), "channel": top,
                   "predicted": pred, "predicted_label": str(exp.prediction.get("label")),
                   "target": target,
                   "target_probability": None if probs is None else _clean(probs[target]),
                   "correct": None if label_idx is None else pred == label_idx}
            row.update({k: _clean(scores[name].get(k)) for k in SCORE_KEYS})
            rec["rows"].append(row)


def thumbnail(task: CaseTask, unit: UnitSpec, roi_name: str, z: int | None
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(image slice, saliency map, ROI mask) of one unit's slice ``z``, for the report
    (``z`` None, a 3-D model's volume row: the slice where the ROI is largest)."""
    from coloc_viewer.explain.engine import model_spatial_dims

    model = _model(task.model)
    set_threads(task.threads)
    volume, inputs, masks = load_case(task.case, (roi_name,), model.card)
    three_d = model_spatial_dims(model.card) == 3
    mask = masks[roi_name]
    if z is None:
        z = int(np.argmax(mask.reshape(mask.shape[0], -1).sum(axis=1)))
    exp = explain_slice(model, inputs, None if three_d else z, task,
                        unit.rank or "contribution",
                        () if unit.method == TOP_MAP or unit.method.startswith(PRINCIPAL_PREFIX)
                        else (unit.method,))
    maps = unit_maps(exp, unit, task.channel_set)
    if maps is None:
        raise ValueError(f"the channel set has no channels for class {int(exp.target)}")
    sal = np.asarray(maps[0])
    return np.asarray(volume.voxels[z]), sal[z] if three_d else sal, mask[z]
