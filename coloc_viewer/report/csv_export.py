"""CSV of scores: one row per slice / ROI / map, score definitions in '#' header lines.

Read it back with ``pandas.read_csv(path, comment="#")`` or skip lines starting with '#'.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from coloc_viewer.metrics.scorer import SCORE_KEYS
from coloc_viewer.report.definitions import NULL_NOTE, SCORE_DEFINITIONS
from coloc_viewer.report.phi import PHI_FIELDS, PhiGuard
from coloc_viewer.workspace.atomic import atomic_write_text

SETTING_COLUMNS = ("input", "series_uid", "slice", "slice_number", "roi", "pane", "model",
                   "layer", "target", "rank", "method", "channel", "scale")
EXTRA_SCORE_COLUMNS = ("n_roi", "threshold", "n_shifts")


def score_rows(report: Any) -> list[dict[str, Any]]:
    """One row per panel of a :class:`~coloc_viewer.report.case.CaseReport`."""
    rows = []
    for panel in report.panels:
        row: dict[str, Any] = {
            "input": report.source_hash, "series_uid": report.series_uid or "",
            "slice": report.slice_index, "slice_number": report.slice_index + 1,
            "roi": report.roi_name, "pane": panel.title,
            **{k: v for k, v in panel.settings().items()},
        }
        row.update({k: panel.scores.get(k) for k in (*SCORE_KEYS, *EXTRA_SCORE_COLUMNS)})
        rows.append(row)
    return rows


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def scores_csv_text(rows: Iterable[Mapping[str, Any]], *, identity: Mapping[str, str] | None = None,
                    include_phi: bool = False, software_version: str | None = None) -> str:
    """The CSV text (see :func:`write_scores_csv`)."""
    import coloc_viewer

    guard = PhiGuard(identity or {}, include_phi)
    rows = [dict(r) for r in rows]
    extra = [k for r in rows for k in r if k not in SETTING_COLUMNS and k not in SCORE_KEYS
             and k not in EXTRA_SCORE_COLUMNS]
    columns = list(dict.fromkeys([*SETTING_COLUMNS, *SCORE_KEYS, *EXTRA_SCORE_COLUMNS, *extra]))
    phi_cols = list(PHI_FIELDS) if include_phi and identity else []
    out = io.StringIO()
    out.write(f"# coloc_viewer {software_version or coloc_viewer.__version__} scores. "
              "input = hash of the input path; empty cell = undefined score.\n")
    for key in SCORE_KEYS:
        title, text = SCORE_DEFINITIONS[key]
        out.write(f"# {key}: {title}. {text}\n")
    out.write(f"# {NULL_NOTE}\n")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(phi_cols + columns)
    for row in rows:
        phi = [str((identity or {}).get(c, "") or "") for c in phi_cols]
        writer.writerow(phi + [(guard.clean_description if "description" in c else guard.clean)(
            _cell(row.get(c))) for c in columns])
    text = out.getvalue()
    guard.check([text])
    return text


def write_scores_csv(rows: Iterable[Mapping[str, Any]], path: str | os.PathLike[str], *,
                     identity: Mapping[str, str] | None = None, include_phi: bool = False) -> Path:
    """Write score rows (dicts with the setting columns and score keys) atomically.

    Patient name, ID and birth date are columns only with ``include_phi=True``; otherwise
    they are removed from every cell and the file is checked before it is written.
    """
    text = scores_csv_text(rows, identity=identity, include_phi=include_phi)
    atomic_write_text(path, text)
    return Path(path)
