"""The viewer's "Refine with these ROIs…" job, without Qt: check the request, write the
open study as a training case, run :func:`coloc_viewer.refine.refine`, report progress.

``refine()`` trains on a cohort manifest, so the open study becomes one manifest row:

* ``<out>/training/this-study/image.nii.gz`` -- the series on its *stored* grid (the model
  runs on stored slices; the display orientation only flips or swaps in-plane axes);
* ``<out>/training/this-study/rois.nii.gz`` (+ ``.labels.json``) -- the study's ROI set on
  the same grid, every ROI with its name;
* ``<out>/training/manifest.csv`` -- ``case_id,image,roi,series,slices,label`` with the open
  study first (case ``this-study``: no patient name or ID) and then the rows of the user's
  extra manifest, if any, with absolute paths.

Which slices of the open study train (the manifest's ``slices`` column; :data:`SLICE_POLICIES`):
``balanced`` (default) -- every slice with lesion pixels and as many slices without, evenly
spread over the rest of the series (a slice classifier needs both classes; the labels come
from the lesion ROI); ``all`` -- every slice; ``lesion`` -- only the slices with lesion
pixels (every label positive: only with an extra manifest that brings the other class).
The training folder stays next to the
refined card so a run can be repeated or resumed into the same output folder.
"""

from __future__ import annotations

import csv
import math
import os
import queue
import threading
from collections.abc import Callable, Generator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from coloc_viewer.errors import ColocError
from coloc_viewer.viewer.refine_progress import ProgressClock, RefineProgress

#: the method explanations the dialog shows (keys: ``coloc_viewer.refine.METHODS``)
METHOD_HELP = {
    "actdiff": "ActDiff: activations must not change when the pixels outside the lesion "
               "are shuffled",
    "gradmask": "GradMask: penalise the class-score gradient outside the lesion",
    "rrr": "RRR (Right for the Right Reasons): penalise the squared log-probability "
           "gradient outside the lesion",
    "masked": "Masked training: the model sees only the lesion (outside set to zero)",
    "none": "No penalty: plain fine-tuning, the same-budget baseline",
}
SLICE_POLICIES = {
    "balanced": "Lesion slices and as many others",
    "all": "Every slice",
    "lesion": "Lesion slices only (with an extra manifest's other slices)",
}
CASE_ID = "this-study"
MANIFEST_COLUMNS = ("case_id", "image", "roi", "series", "slices", "label")


@dataclass
class RefineRequest:
    """What the dialog asks for. ``model``: the registry name; ``source``: what the
    registry loads it from (a bundled name, a card path or a LoadedModel)."""

    model: str
    source: Any
    method: str
    lam: float
    epochs: int
    lr: float
    seed: int
    lesion_roi: str
    out_dir: Path
    shortcut_roi: str | None = None
    organ_roi: str | None = None
    extra_manifest: str | None = None
    slices: str = "balanced"
    batch_size: int = 16
    weight_decay: float = 0.0
    flip: bool = False
    train_batchnorm: bool = False
    schedule: str = "constant"
    actdiff_layer: str | None = None


#: Whole-form settings the dialog offers (key -> label and RefineRequest values): the
#: defaults, and the recipe that made the bundled demo-refined (tools/make_refine_demo.py).
RECIPES: dict[str, dict[str, Any]] = {
    "defaults": {"label": "Defaults (as the command line)", "lam": 1.0, "epochs": 3, "lr": 1e-4,
                 "schedule": "constant", "weight_decay": 0.0, "batch_size": 16,
                 "flip": False, "train_batchnorm": False, "actdiff_layer": None},
    "demo-refined": {"label": "demo-refined's recipe (ActDiff, lambda 0.01, 4 epochs, "
                                "lr 2e-3 cosine)", "method": "actdiff", "lam": 0.01,
                     "epochs": 4, "lr": 2e-3, "schedule": "cosine", "weight_decay": 1e-4,
                     "batch_size": 32, "flip": True, "train_batchnorm": True,
                     "actdiff_layer": None},
}


def default_out_dir(model: str, method: str, now: datetime | None = None) -> Path:
    """``<data dir>/refined/<model>-<method>-<YYYYmmdd-HHMMSS>`` (a new folder per run)."""
    from coloc_viewer.viewer.settings import model_label
    from coloc_viewer.workspace.paths import data_dir

    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in model_label(model))
    base = data_dir() / "refined" / f"{safe}-{method}-{stamp}"
    path, k = base, 1
    while path.exists():  # two runs in one second
        k += 1
        path = base.with_name(f"{base.name}-{k}")
    return path


def default_lesion_roi(rois: Any) -> str | None:
    """The ROI named ``lesion`` when the set has one, else the active ROI, else None."""
    if rois is None or len(rois) == 0:
        return None
    names = [r.name for r in rois]
    if "lesion" in names:
        return "lesion"
    return rois.active if rois.active in names else names[0]


def training_slices(lesion: np.ndarray, policy: str) -> list[int]:
    """The slice indices of one study that train, for ``policy`` (module docstring)."""
    n_z = lesion.shape[0]
    has = lesion.reshape(n_z, -1).any(axis=1)
    positive = [int(z) for z in np.flatnonzero(has)]
    if policy == "all":
        return list(range(n_z))
    if policy == "lesion":
        return positive
    if policy != "balanced":
        raise ValueError(f"unknown slice policy {policy!r}")
    others = [int(z) for z in np.flatnonzero(~has)]
    k = min(len(positive), len(others))
    picks = [others[int(i)] for i in np.linspace(0, len(others) - 1, k).round()] if k else []
    return sorted(set(positive) | set(picks))


def check_request(req: RefineRequest, volume: Any, rois: Any, card: Any = None) -> str | None:
    """One sentence saying why ``req`` cannot run on this study, or None when it can."""
    from coloc_viewer.refine import METHODS, SCHEDULES

    if volume is None:
        return "Open a study first: refine trains on the open study and its ROIs."
    names = [r.name for r in rois] if rois is not None else []
    if not req.lesion_roi or req.lesion_roi not in names:
        return "Draw a lesion ROI first: refine learns where to look from the ROIs of this study."
    if not rois[req.lesion_roi].mask.any():
        return (f"The ROI {req.lesion_roi!r} is empty: draw the lesion on at least one slice "
                "before refining.")
    if req.shortcut_roi is not None:
        if req.shortcut_roi == req.lesion_roi:
            return "The shortcut ROI must differ from the lesion ROI."
        if req.shortcut_roi not in names or not rois[req.shortcut_roi].mask.any():
            return (f"The shortcut ROI {req.shortcut_roi!r} is empty: draw it or choose "
                    "(none).")
    if req.organ_roi is not None:
        if req.organ_roi in (req.lesion_roi, req.shortcut_roi):
            return "The organ ROI must differ from the lesion and shortcut ROIs."
        if req.organ_roi not in names or not rois[req.organ_roi].mask.any():
            return f"The organ ROI {req.organ_roi!r} is empty: draw it or choose (none)."
    if req.method not in METHODS:
        return f"Unknown method {req.method!r}."
    if req.schedule not in SCHEDULES:
        return f"Unknown learning-rate schedule {req.schedule!r}."
    if req.actdiff_layer and req.method != "actdiff":
        return "An ActDiff layer applies to the actdiff method only."
    if req.batch_size < 1 or not (req.weight_decay >= 0 and math.isfinite(req.weight_decay)):
        return "The batch size must be at least 1 and the weight decay not negative."
    if req.epochs < 1 or not (req.lr > 0 and math.isfinite(req.lr)) \
            or not (req.lam >= 0 and math.isfinite(req.lam)):
        return "Epochs must be at least 1, the learning rate positive and lambda not negative."
    if card is None and req.model:
        try:
            card = _card_of(req)
        except ColocError as err:
            return f"Cannot read the model card: {err}"
    if card is not None and (refusal := card_refusal(card)):
        return refusal
    if req.slices == "lesion" and not req.extra_manifest:
        return ("Lesion slices only would train on one class, and the model would learn to "
                "always say lesion: add an extra manifest of other cases, or choose "
                f"\u201c{SLICE_POLICIES['balanced']}\u201d.")
    if req.extra_manifest:
        try:
            _extra_rows(req.extra_manifest)
        except ColocError as err:
            return f"The extra manifest cannot be used: {err}"
    out = Path(req.out_dir)
    if out.exists() and not out.is_dir():
        return f"The output folder {out} is a file; choose a folder."
    return None


def card_refusal(card: Any) -> str | None:
    """Why the viewer cannot refine the model of ``card`` (one sentence), or None."""
    if len(card.inputs or ()) > 1:
        return ("Refine in the viewer trains single-series models; use coloc-viewer "
                "refine with a manifest for a multi-series model.")
    from coloc_viewer.refine import untrainable_reason

    reason = untrainable_reason(card)
    return f"{reason[:1].upper()}{reason[1:]}: choose another model." if reason else None


def _card_of(req: RefineRequest) -> Any:
    """The card of the model to refine, read without loading it."""
    card = getattr(req.source, "card", None)
    if card is not None:
        return card
    from coloc_viewer.model.loading import resolve_card

    return resolve_card(req.source or req.model)


def _extra_rows(path: str | os.PathLike[str]) -> list[dict[str, str]]:
    """The rows of the user's manifest as manifest dicts with absolute paths."""
    from coloc_viewer.cohort.manifest import read_manifest

    rows = []
    for case in read_manifest(path):
        rows.append({"case_id": case.case_id, "image": case.image, "roi": case.roi,
                     "series": case.series or "",
                     "slices": ";".join(str(z) for z in case.slices) if case.slices else "",
                     "label": case.label or ""})
    return rows


def snapshot_rois(rois: Any, volume: Any) -> Any:
    """A copy of ``rois`` (names, masks, colours) that later edits in the GUI do not touch."""
    from coloc_viewer.imaging.roi import RoiSet

    out = RoiSet.for_volume(volume)
    for roi in rois:
        out.add(roi.name, np.array(roi.mask, dtype=bool, copy=True), color=roi.color,
                record=False)
    out.active = rois.active
    return out


def write_training_set(volume: Any, rois: Any, work: Path, lesion_roi: str,
                       policy: str = "balanced", extra_manifest: str | None = None) -> Path:
    """Write the open study (``volume`` and ``rois`` on the display grid) and the manifest
    into ``work``; return the manifest's path (module docstring)."""
    import SimpleITK as sitk

    from coloc_viewer.imaging.sitk_io import to_sitk_image
    from coloc_viewer.viewer.orientation import storage_of
    from coloc_viewer.viewer.study import save_rois_to

    case_dir = work / CASE_ID
    case_dir.mkdir(parents=True, exist_ok=True)
    stored = storage_of(volume)
    image = case_dir / "image.nii.gz"
    tmp = case_dir / "image.tmp.nii.gz"
    sitk.WriteImage(to_sitk_image(np.ascontiguousarray(stored.voxels, np.float32), stored),
                    str(tmp), useCompression=True)
    os.replace(tmp, image)
    roi_path = case_dir / "rois.nii.gz"
    save_rois_to(rois, roi_path, volume)
    zs = training_slices(rois[lesion_roi].mask, policy)
    rows = [{"case_id": CASE_ID, "image": str(image), "roi": str(roi_path), "series": "",
             "slices": ";".join(str(z) for z in zs), "label": ""}]
    extra = _extra_rows(extra_manifest) if extra_manifest else []
    taken = {CASE_ID}
    for row in extra:
        base, n = row["case_id"], 2
        while row["case_id"] in taken:  # the user's ids stay, unless they clash with ours
            row["case_id"], n = f"{base}-{n}", n + 1
        taken.add(row["case_id"])
    manifest = work / "manifest.csv"
    with open(manifest, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=MANIFEST_COLUMNS)
        writer.writeheader()
        writer.writerows(rows + extra)
    return manifest


def run_refine(req: RefineRequest, volume: Any, rois: Any, cancel: threading.Event,
               report: Callable[[RefineProgress], None]) -> Any:
    """Write the training set and fine-tune (blocking). Returns the
    :class:`~coloc_viewer.refine.RefineResult`; raises ``RefineCancelled`` when ``cancel``
    is set and :class:`ColocError` for bad input. ``rois``: a :func:`snapshot_rois` copy."""
    from coloc_viewer.refine import RefineCancelled, refine

    out = Path(req.out_dir)
    manifest = write_training_set(volume, rois, out / "training", req.lesion_roi, req.slices,
                                  req.extra_manifest)
    clock = ProgressClock(report)
    try:
        if cancel.is_set():
            raise RefineCancelled("refine cancelled before training started")
        return refine(req.source, manifest, req.method, lam=req.lam, epochs=req.epochs,
                      lr=req.lr, seed=req.seed, out_dir=out, shortcut_roi=req.shortcut_roi,
                      lesion_roi=req.lesion_roi, progress=clock.progress, cancel=cancel,
                      batch_size=req.batch_size, on_plan=clock.on_plan,
                      organ_roi=req.organ_roi, weight_decay=req.weight_decay, flip=req.flip,
                      train_batchnorm=req.train_batchnorm, schedule=req.schedule,
                      actdiff_layer=req.actdiff_layer)
    except RefineCancelled:
        raise
    except ColocError as err:
        if cancel.is_set():  # refine stops reading cases when cancelled, then finds none
            raise RefineCancelled("refine cancelled while reading the training slices") \
                from err
        raise


HEARTBEAT_S = 0.1


def refine_steps(req: RefineRequest, volume: Any, rois: Any,
                 thread_setup: Callable[[], Any] | None = None
                 ) -> Generator[RefineProgress | str | None, None, Any]:
    """Generator for a GUI worker: runs :func:`run_refine` in its own thread and yields a
    phase (str), a :class:`RefineProgress` per batch, or None every ``HEARTBEAT_S`` (so the
    worker notices a cancel while the model loads); returns the ``RefineResult``. Closing
    the generator (the worker cancelled) cancels the run and waits for it to stop, so the
    checkpoint of the last complete epoch is all it leaves. ``thread_setup`` runs first in
    the training thread (e.g. a lower OS priority)."""
    cancel = threading.Event()
    reports: queue.Queue[RefineProgress] = queue.Queue()
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            if thread_setup is not None:
                thread_setup()
            outcome["result"] = run_refine(req, volume, rois, cancel, reports.put)
        except BaseException as err:  # handed to the generator, raised there
            outcome["error"] = err

    thread = threading.Thread(target=work, name="coloc-refine", daemon=True)
    yield "writing the training case, loading the model and its slices"
    thread.start()
    try:
        while thread.is_alive() or not reports.empty():
            try:
                yield reports.get(timeout=HEARTBEAT_S)
            except queue.Empty:
                yield None
    finally:
        cancel.set()  # a closed generator (cancelled worker) stops the run
        thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]
