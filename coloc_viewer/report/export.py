"""One call for the GUI's "Export case": HTML report, PDF report and CSV with safe names."""

from __future__ import annotations

import os
from pathlib import Path

from coloc_viewer.report.case import CaseReport
from coloc_viewer.report.csv_export import score_rows, write_scores_csv
from coloc_viewer.report.html_report import write_html_report
from coloc_viewer.report.pdf_report import write_pdf_report


def export_case(report: CaseReport, folder: str | os.PathLike[str], *, include_phi: bool = False,
                html: bool = True, pdf: bool = True, csv: bool = True) -> dict[str, Path]:
    """Write the chosen exports into ``folder`` under PHI-free names (input hash + slice).

    Returns {"html": path, "pdf": path, "csv": path} for what was written.
    """
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    stem = report.file_stem()
    written: dict[str, Path] = {}
    if html:
        written["html"] = write_html_report(report, out / f"{stem}.html", include_phi=include_phi)
    if pdf:
        written["pdf"] = write_pdf_report(report, out / f"{stem}.pdf", include_phi=include_phi)
    if csv:
        written["csv"] = write_scores_csv(score_rows(report), out / f"{stem}-scores.csv",
                                          identity=report.identity, include_phi=include_phi)
    return written
