"""A self-contained HTML case report (images inline as base64 PNG; no external files)."""

from __future__ import annotations

import base64
import html
import os
from pathlib import Path

from coloc_viewer.report.case import CaseReport
from coloc_viewer.report.document import ReportContent, build_content
from coloc_viewer.workspace.atomic import atomic_write_text

STYLE = """
body { font-family: sans-serif; margin: 2em; color: #222; max-width: 70em; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.5em 0; }
td, th { border: 1px solid #bbb; padding: 3px 8px; text-align: left; vertical-align: top; }
figure { display: inline-block; margin: 0.5em; } figcaption { font-size: 0.85em; max-width: 30em; }
pre { background: #f4f4f4; padding: 0.5em; font-size: 0.8em; }
.meta { color: #555; } .phi { background: #fff3cd; }
"""


def _e(text: object) -> str:
    return html.escape(str(text))


def _rows(rows: list[tuple[str, str]]) -> str:
    return "<table>" + "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows) \
        + "</table>"


def render_html(content: ReportContent) -> str:
    """The report as one HTML string."""
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{_e(content.title)}"
             f"</title><style>{STYLE}</style></head><body>",
             f"<h1>{_e(content.title)}</h1>",
             f"<p class='meta'>Created {_e(content.created)} with {_e(content.version)}.</p>"]
    if content.patient:
        parts.append("<h2>Patient</h2><div class='phi'>" + _rows(content.patient) + "</div>")
    parts.append("<h2>Study</h2>" + _rows(content.study))
    parts.append("<h2>Images</h2>")
    for fig in content.figures:
        data = base64.b64encode(fig.png).decode("ascii")
        parts.append(f"<figure><img src='data:image/png;base64,{data}' alt='{_e(fig.caption)}'>"
                     f"<figcaption>{_e(fig.caption)}</figcaption></figure>")
    parts.append("<h2>Scores</h2><table><tr>"
                 + "".join(f"<th>{_e(h)}</th>" for h in content.score_header) + "</tr>"
                 + "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>"
                           for row in content.score_rows) + "</table>")
    parts.append("<h2>Settings to reproduce</h2>")
    for name, rows in content.reproduce:
        parts.append(f"<h3>{_e(name)}</h3>" + _rows(rows))
    if content.commands:
        parts.append("<p>Command line (replace INPUT and ROI_FILE):</p>"
                     "<pre style='white-space: pre-wrap; overflow-wrap: anywhere'>"
                     + _e("\n".join(content.commands)) + "</pre>")
    if content.cards:
        parts.append("<h2>Model cards</h2>")
        for name, text in content.cards:
            parts.append(f"<h3>{_e(name)}</h3><pre>{_e(text)}</pre>")
    parts.append("<h2>Score definitions</h2><dl>"
                 + "".join(f"<dt><b>{_e(k)}</b></dt><dd>{_e(v)}</dd>"
                           for k, v in content.definitions) + "</dl>")
    parts.extend(f"<p class='meta'>{_e(n)}</p>" for n in content.notes)
    parts.append("</body></html>")
    return "\n".join(parts)


def write_html_report(report: CaseReport, path: str | os.PathLike[str], *,
                      include_phi: bool = False) -> Path:
    """Write the report to ``path`` atomically. Patient identifiers only with include_phi."""
    atomic_write_text(path, render_html(build_content(report, include_phi)))
    return Path(path)
