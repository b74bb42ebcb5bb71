"""The case report as a PDF (matplotlib PdfPages, standard PDF fonts)."""

from __future__ import annotations

import io
import os
import textwrap
from pathlib import Path

import matplotlib
from matplotlib.figure import Figure

from coloc_viewer.report.case import CaseReport
from coloc_viewer.report.document import ReportContent, build_content
from coloc_viewer.workspace.atomic import atomic_write_with

A4 = (8.27, 11.69)


class _Pages:
    """Flows text lines and images down A4 pages."""

    def __init__(self) -> None:
        self.pages: list[Figure] = []
        self._new()

    def _new(self) -> None:
        self.fig = Figure(figsize=A4)
        self.pages.append(self.fig)
        self.y = 0.95

    def text(self, line: str, size: float = 9, bold: bool = False, mono: bool = False) -> None:
        height = size * 1.45 / 72 / A4[1]
        if self.y - height < 0.04:
            self._new()
        self.fig.text(0.07, self.y, line, fontsize=size, va="top",
                      weight="bold" if bold else "medium",
                      family="monospace" if mono else "sans-serif")
        self.y -= height

    def para(self, text: str, size: float = 9, mono: bool = False, width: int = 100) -> None:
        for raw in text.splitlines() or [""]:
            for line in textwrap.wrap(raw, width) or [""]:
                self.text(line, size, mono=mono)

    def images(self, pngs: list[bytes], per_row: int = 2) -> None:
        import matplotlib.image as mpimg

        for start in range(0, len(pngs), per_row):
            chunk = pngs[start:start + per_row]
            arrays = [mpimg.imread(io.BytesIO(p), format="png") for p in chunk]
            w = 0.86 / per_row
            h = max(w * a.shape[0] / a.shape[1] * A4[0] / A4[1] for a in arrays)
            if self.y - h < 0.04:
                self._new()
            for i, arr in enumerate(arrays):
                ax = self.fig.add_axes((0.07 + i * w, self.y - h, w, h))
                ax.imshow(arr, interpolation="none")
                ax.axis("off")
            self.y -= h + 0.01


def _ascii(text: str) -> str:
    """The standard PDF fonts cover Latin-1 only."""
    return text.encode("latin-1", "replace").decode("latin-1")


def render_pdf(content: ReportContent, handle) -> None:
    from matplotlib.backends.backend_pdf import PdfPages

    p = _Pages()
    p.text(content.title, 15, bold=True)
    p.text(_ascii(f"Created {content.created} with {content.version}."), 8)
    if content.patient:
        p.text("Patient", 11, bold=True)
        for k, v in content.patient:
            p.text(_ascii(f"{k}: {v}"))
    p.text("Study", 11, bold=True)
    for k, v in content.study:
        p.para(_ascii(f"{k}: {v}"))
    p.images([f.png for f in content.figures])
    for i, f in enumerate(content.figures):
        p.para(_ascii(f"[{i + 1}] {f.caption}"), 7, width=130)
    p.text("Scores", 11, bold=True)
    widths = [20] + [10] * (len(content.score_header) - 1)
    for row in [content.score_header, *content.score_rows]:
        p.text(_ascii("".join(str(c).ljust(w) for c, w in zip(row, widths))), 8.5, mono=True)
    p.text("Settings to reproduce", 11, bold=True)
    for name, rows in content.reproduce:
        p.text(_ascii(name), 9, bold=True)
        for k, v in rows:
            p.para(_ascii(f"  {k}: {v}"), 8)
    for cmd in content.commands:
        p.para(_ascii(cmd), 7.5, mono=True, width=110)
    if content.cards:
        p.text("Model cards", 11, bold=True)
        for name, text in content.cards:
            p.text(_ascii(name), 9, bold=True)
            p.para(_ascii(text), 7, mono=True, width=120)
    p.text("Score definitions", 11, bold=True)
    for k, v in content.definitions:
        p.para(_ascii(f"{k}: {v}"), 8)
    for n in content.notes:
        p.para(_ascii(n), 7.5)
    with matplotlib.rc_context({"pdf.use14corefonts": True, "pdf.compression": 6}), \
            PdfPages(handle, metadata={"Creator": content.version, "Title": content.title}) as pdf:
        for fig in p.pages:
            pdf.savefig(fig)


def write_pdf_report(report: CaseReport, path: str | os.PathLike[str], *,
                     include_phi: bool = False) -> Path:
    """Write the report as a PDF atomically. Patient identifiers only with include_phi."""
    content = build_content(report, include_phi, dpi=110)
    atomic_write_with(path, lambda handle: render_pdf(content, handle))
    return Path(path)
