"""``refine_report.json`` and ``refine_report.html``: the before/after table of a refine run.

JSON keys: ``format`` (``coloc_viewer.refine/1``), ``source`` (model reference),
``refined`` (card path), ``baseline`` (card path or null), ``method``, ``settings``
(method, lambda, epochs, lr, seed, batch_size, lesion_roi, shortcut_roi),
``train_seconds`` {refined, baseline}, ``evaluated_on`` (manifest path),
``evaluated_on_training_cases`` (true when no ``--val`` was given: the numbers then
measure fit, not generalisation), ``metrics`` {before, after, baseline?} each with the
keys of :func:`coloc_viewer.refine.evaluate.model_metrics`.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from coloc_viewer.cohort.map_similarity import similarity_warnings as cohort_warnings
from coloc_viewer.refine.output import epochs_text
from coloc_viewer.workspace.atomic import atomic_write_json, atomic_write_text

ROWS = (("auc", "held-out ROC-AUC"), ("lesion_mass", "median lesion relevance mass (Grad-CAM)"),
        ("shortcut_mass", "median shortcut relevance mass (Grad-CAM)"),
        ("lesion_p05", "lesion slices with p < 0.05"),
        ("shortcut_p05", "shortcut slices with p < 0.05"),
        ("map_similarity", "Grad-CAM map similarity across cases (1: one map for every image)"),
        ("slices", "slices evaluated"), ("lesion_slices", "lesion slices with a defined mass"),
        ("shortcut_slices", "shortcut slices with a defined mass"))


def _cell(value: Any) -> str:
    if value is None:
        return "&ndash;"
    if isinstance(value, float):
        return f"{value:.3f}"
    return html.escape(str(value))


def similarity_warnings(metrics: dict[str, dict[str, Any]]) -> list[str]:
    """One sentence per model whose Grad-CAM is nearly the same map on every image."""
    return cohort_warnings({label: {"similarity": m["map_similarity"]}
                            for label, m in metrics.items()
                            if m.get("map_similarity") is not None})


def write_report(out: Path, report: dict[str, Any]) -> tuple[Path, Path]:
    """Write the JSON and a small HTML table; return both paths."""
    jpath, hpath = out / "refine_report.json", out / "refine_report.html"
    atomic_write_json(jpath, report)
    metrics = report.get("metrics") or {}
    cols = list(metrics)
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = "".join(
        f"<tr><td>{html.escape(label)}</td>"
        + "".join(f"<td>{_cell(metrics[c].get(key))}</td>" for c in cols) + "</tr>"
        for key, label in ROWS)
    s = report["settings"]
    warn = "".join(f"<p><b>{html.escape(w)}</b></p>" for w in similarity_warnings(metrics))
    note = warn + ("<p><b>Evaluated on the training cases</b> (no --val manifest): these numbers "
            "measure fit, not generalisation.</p>" if report["evaluated_on_training_cases"]
            else "")
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>coloc-viewer refine report</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #999;padding:4px 10px;text-align:right}}td:first-child{{text-align:left}}
</style></head><body>
<h1>Refine: {html.escape(str(report['source']))} &rarr; {html.escape(report['method'])}</h1>
<p>Method {html.escape(s['method'])}, &lambda; {s['lambda']:g}, {epochs_text(s['epochs'])},
lr {s['lr']:g}, seed {s['seed']}, batch size {s['batch_size']}; lesion ROI
{html.escape(str(s['lesion_roi']))}, shortcut ROI {html.escape(str(s['shortcut_roi']))}.
Training time {report['train_seconds'].get('refined', 0):.1f} s.</p>
<p>Evaluated on {html.escape(str(report['evaluated_on']))}.</p>{note}
<table><tr><th></th>{head}</tr>{body}</table>
<p>before = the source model; after = the refined model; baseline = plain fine-tuning
(method none) at the same budget. Relevance mass: the share of the Grad-CAM map (target:
the positive class) inside the ROI, on the slices where the ROI has pixels; p: the
co-localisation test of the cohort analysis; map similarity: the median correlation between
the Grad-CAM maps of two different cases.</p>
</body></html>
"""
    atomic_write_text(hpath, page)
    return jpath, hpath
