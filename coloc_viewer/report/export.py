"""One call for the GUI's "Export case": HTML report, PDF report and CSV with safe names."""

from __future__ import annotations

import os
from pathlib import Path

from coloc_viewer.report.case import CaseReport
from coloc_viewer.report.csv_export import score_rows, write_scores_csv
from coloc_viewer.report.document import build_content
from coloc_viewer.report.html_report import render_html
from coloc_viewer.report.pdf_report import render_pdf
from coloc_viewer.workspace.atomic import atomic_write_text, atomic_write_with


def export_case(report: CaseReport, folder: str | os.PathLike[str], *, include_phi: bool = False,
                html: bool = True, pdf: bool = True, csv: bool = True) -> dict[str, Path]:
    """Write the chosen exports into ``folder`` under PHI-free names (input hash + slice).

    Returns {"html": path, "pdf": path, "csv": path} for what was written.
    """
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    stem = report.file_stem()
    written: dict[str, Path] = {}
    if html or pdf:
        content = build_content(report, include_phi)
    if html:
        written["html"] = out / f"{stem}.html"
        atomic_write_text(written["html"], render_html(content))
    if pdf:
        written["pdf"] = out / f"{stem}.pdf"
        atomic_write_with(written["pdf"], lambda handle: render_pdf(content, handle))
    if csv:
        written["csv"] = write_scores_csv(score_rows(report), out / f"{stem}-scores.csv",
                                          identity=report.identity, include_phi=include_phi)
    return written
