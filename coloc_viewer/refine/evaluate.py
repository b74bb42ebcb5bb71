"""Before/after evaluation of refined models with the cohort machinery.

:func:`compare_models` writes an evaluation manifest (the given cases with every slice
listed, unless the manifest already lists slices) and runs one cohort
(:func:`coloc_viewer.cohort.runner.run_cohort`, Grad-CAM, target = the positive class,
p-values on) over all the models. From its slice table, per model:

* ``auc`` -- ROC-AUC of the positive-class probability against the slice label (the
  manifest's ``label`` when given, else "the slice holds lesion-ROI pixels");
* ``lesion_mass`` -- median Grad-CAM relevance mass in the lesion ROI on lesion slices;
* ``shortcut_mass`` -- the same in the shortcut ROI on the slices it covers;
* ``lesion_p05`` / ``shortcut_p05`` -- the share of those slices whose co-localisation
  p-value is below 0.05;
* ``map_similarity`` -- how alike the model's Grad-CAM maps of different cases are
  (:mod:`coloc_viewer.cohort.map_similarity`; near 1: the map hardly depends on the image
  and the relevance masses say where the ROIs lie, not what the model responded to).
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from coloc_viewer.cohort.manifest import Case, read_manifest
from coloc_viewer.cohort.runner import CohortOptions, run_cohort
from coloc_viewer.cohort.worker import class_index
from coloc_viewer.errors import InputError
from coloc_viewer.imaging.load import load_volume

METRICS = ("auc", "lesion_mass", "shortcut_mass", "lesion_p05", "shortcut_p05",
           "map_similarity")


def roc_auc(labels: Sequence[int], scores: Sequence[float]) -> float | None:
    """ROC-AUC (the Mann-Whitney statistic, ties counted half); None without both classes."""
    y = np.asarray(labels, bool)
    s = np.asarray(scores, float)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s), float)
    sorted_s = s[order]
    i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and sorted_s[j + 1] == sorted_s[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def eval_manifest(cases: Sequence[Case], path: Path) -> Path:
    """A manifest of ``cases`` with absolute paths and every slice listed."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["case_id", "image", "roi", "series", "slices", "label"])
    for c in cases:
        if c.inputs:
            raise InputError("refine's evaluation takes single-series cases only", c.image)
        if c.slices is not None:
            zs = ";".join(str(z) for z in c.slices)
        else:
            try:
                n = load_volume(c.image, series=c.series).shape[0]
            except (OSError, ValueError, RuntimeError) as err:
                raise InputError(f"case {c.case_id}: {err}", c.image) from None
            zs = f"0-{n - 1}"
        w.writerow([c.case_id, c.image, c.roi, c.series or "", zs, c.label or ""])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path


def _median(values: list[float]) -> float | None:
    return float(np.median(values)) if values else None


def _share_below(values: list[float], alpha: float = 0.05) -> float | None:
    return float(np.mean(np.asarray(values) < alpha)) if values else None


def model_metrics(rows: Sequence[Mapping[str, Any]], model: str, lesion_roi: str,
                  shortcut_roi: str | None, classes: Sequence[str], positive: int = 1
                  ) -> dict[str, Any]:
    """The metrics of one model from cohort slice rows (Grad-CAM rows only)."""
    rows = [r for r in rows if r.get("model") == model and r.get("method") == "gradcam"]
    labels, probs, l_mass, l_p, s_mass, s_p = [], [], [], [], [], []
    for r in rows:
        if r["roi"] == lesion_roi:
            lab = r.get("label")
            if lab not in (None, ""):
                try:
                    idx = class_index(str(lab), tuple(classes))
                except ValueError as err:
                    raise InputError(f"case {r.get('case_id')}: {err}") from None
                labels.append(idx == positive)
            else:
                labels.append(int(r["roi_pixels"]) > 0)
            probs.append(float(r["target_probability"]))
            if int(r["roi_pixels"]) > 0 and r.get("relevance_mass") is not None:
                l_mass.append(float(r["relevance_mass"]))
                if r.get("p_value") is not None:
                    l_p.append(float(r["p_value"]))
        elif shortcut_roi is not None and r["roi"] == shortcut_roi and int(r["roi_pixels"]) > 0:
            if r.get("relevance_mass") is not None:
                s_mass.append(float(r["relevance_mass"]))
            if r.get("p_value") is not None:
                s_p.append(float(r["p_value"]))
    return {"auc": roc_auc(labels, probs), "lesion_mass": _median(l_mass),
            "shortcut_mass": _median(s_mass), "lesion_p05": _share_below(l_p),
            "shortcut_p05": _share_below(s_p), "slices": len(labels),
            "lesion_slices": len(l_mass), "shortcut_slices": len(s_mass)}


def compare_models(models: Mapping[str, str], manifest: str | os.PathLike[str],
                   out_dir: str | os.PathLike[str], *, lesion_roi: str = "lesion",
                   shortcut_roi: str | None = None, positive: int = 1,
                   classes: Sequence[str] = ("no lesion", "lesion"),
                   threads: int | None = None, stream: Any = None) -> dict[str, dict[str, Any]]:
    """Evaluate ``models`` (label -> card path or bundled name) on ``manifest``'s cases in
    one cohort run into ``out_dir``; return ``{label: metrics}`` (see the module doc)."""
    out = Path(out_dir)
    cases = read_manifest(manifest)
    em = eval_manifest(cases, out / "manifest.csv")
    rois = (lesion_roi,) if shortcut_roi is None else (lesion_roi, shortcut_roi)
    opts = CohortOptions(models=tuple(models.values()), methods=("gradcam",),
                         roi_names=rois, target=positive, p_value=True, workers=1,
                         report=False, principal_ratio=None, threads=threads)
    run = run_cohort(em, out / "cohort", opts, stream=stream if stream is not None
                     else io.StringIO())
    if run.n_failed:
        first = run.summary["failures"]["list"][0]
        raise InputError(f"the evaluation failed on case {first['case_id']}: "
                         f"{first['reason']}", manifest)
    names = run.summary["models"]
    sims = run.summary.get("map_similarity") or {}
    return {label: {**model_metrics(run.slices, name, lesion_roi, shortcut_roi, classes,
                                    positive),
                    "map_similarity": (sims.get(f"{name}__gradcam") or {}).get("similarity")}
            for label, name in zip(models, names, strict=True)}
