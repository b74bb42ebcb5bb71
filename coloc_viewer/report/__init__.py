"""Exports a researcher can publish and a hospital can share (Qt-free).

* :func:`case_report` / :class:`MapPanel` -- collect one slice, its ROI and scored maps;
  :func:`panel_from_explanation` builds a panel from ``coloc_viewer.explain``'s result.
* :func:`write_html_report` (self-contained), :func:`write_pdf_report`,
  :func:`write_scores_csv` / :func:`score_rows` / :func:`slice_score_rows` (many slices and
  ROIs), :func:`export_case` (all three, safe names).
* :func:`legend_lines` -- model, layer, method, scale and scores for screenshots.
* PHI: patient name, ID and birth date appear only with ``include_phi=True``
  (:class:`PhiGuard`, :func:`patient_identity`).
"""

from coloc_viewer.metrics.definitions import format_score
from coloc_viewer.report.case import CaseReport, MapPanel, case_report, panel_from_explanation
from coloc_viewer.report.csv_export import score_rows, scores_csv_text, write_scores_csv
from coloc_viewer.report.definitions import SCORE_DEFINITIONS
from coloc_viewer.report.export import export_case
from coloc_viewer.report.html_report import write_html_report
from coloc_viewer.report.legend import legend_lines, legend_text, panel_legend
from coloc_viewer.report.pdf_report import write_pdf_report
from coloc_viewer.report.phi import PhiGuard, patient_identity
from coloc_viewer.report.rows import slice_score_rows

__all__ = ["SCORE_DEFINITIONS", "CaseReport", "MapPanel", "PhiGuard", "case_report",
           "export_case", "format_score", "legend_lines", "legend_text", "panel_from_explanation",
           "panel_legend", "patient_identity", "score_rows", "scores_csv_text", "slice_score_rows",
           "write_html_report",
           "write_pdf_report", "write_scores_csv"]
