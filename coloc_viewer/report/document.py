"""The content of a case report as PHI-checked text blocks and PNG figures.

Both the HTML and the PDF writer render the same :class:`ReportContent`, so they cannot
disagree about what is shown or about what is withheld.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

from coloc_viewer.metrics.definitions import format_score
from coloc_viewer.metrics.scorer import SCORE_KEYS
from coloc_viewer.report.case import CaseReport
from coloc_viewer.report.definitions import NULL_NOTE, SCORE_DEFINITIONS
from coloc_viewer.report.figures import overlay_figure, slice_figure
from coloc_viewer.report.legend import panel_legend
from coloc_viewer.report.phi import PhiGuard


@dataclass
class Figure:
    caption: str
    png: bytes


@dataclass
class ReportContent:
    """Rows of (label, value) text, score table, figures -- all PHI-scrubbed."""

    title: str
    created: str
    version: str
    patient: list[tuple[str, str]]
    study: list[tuple[str, str]]
    figures: list[Figure]
    score_header: list[str]
    score_rows: list[list[str]]
    reproduce: list[tuple[str, list[tuple[str, str]]]]
    commands: list[str]
    cards: list[tuple[str, str]]
    definitions: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def texts(self) -> list[str]:
        """Every string that ends up in an export (for the final PHI check)."""
        out = [self.title, self.created, self.version, *self.commands, *self.notes,
               *self.score_header]
        for rows in (self.patient, self.study, self.cards, self.definitions):
            out.extend(x for row in rows for x in row)
        out.extend(c for row in self.score_rows for c in row)
        out.extend(f.caption for f in self.figures)
        for name, rows in self.reproduce:
            out.append(name)
            out.extend(x for row in rows for x in row)
        return out


def build_content(report: CaseReport, include_phi: bool = False, dpi: int = 100
                  ) -> ReportContent:
    """Scrub, format and render everything a report shows."""
    g = PhiGuard(report.identity, include_phi)
    aspect = report.pixel_spacing[0] / report.pixel_spacing[1]
    n_roi = int(report.roi.sum())
    area = n_roi * report.pixel_spacing[0] * report.pixel_spacing[1]
    study = [
        ("Input", (f"{g.clean(report.source_name)} " if include_phi else "")
         + f"(path hash {report.source_hash or 'n/a'})"),
        ("Series UID", report.series_uid or "n/a"),
        ("Modality", g.clean(report.modality) or "n/a"),
        ("Series description", g.clean_description(report.description) or "n/a"),
        ("Slice", f"{report.slice_index + 1} (counted from 1; index {report.slice_index})"
         + (f", position {report.slice_position_mm:.2f} mm"
            if report.slice_position_mm is not None else "")),
        ("Pixel spacing", f"{report.pixel_spacing[0]:.4g} x {report.pixel_spacing[1]:.4g} mm"),
        (f"ROI '{g.clean(report.roi_name)}'", f"{n_roi} pixels, {area:.1f} mm2"),
        ("Window (center / width)", "auto (1st-99th percentile)" if report.window is None
         else f"{report.window[0]:.4g} / {report.window[1]:.4g}"),
    ]
    number = report.slice_index + 1  # as people count, and as the viewer shows it
    figures = [Figure(f"Slice {number} with the ROI outline (cyan)",
                      slice_figure(report.image, report.roi, window=report.window,
                                   aspect=aspect, title=f"slice {number}", dpi=dpi))]
    for i, panel in enumerate(report.panels):
        title = g.clean(panel.title)
        legend = [g.clean(line) for line in panel_legend(panel)]
        png = overlay_figure(report.image, report.roi, np.asarray(panel.saliency),
                             panel.display_range(), window=report.window, aspect=aspect,
                             title=f"{chr(65 + i)}: {title}", legend=legend, dpi=dpi)
        figures.append(Figure(f"{chr(65 + i)}: {title} -- overlay on the slice, colour bar in "
                              f"raw map values ({g.clean(panel.scale_label)})", png))
    header = ["Score", *[f"{chr(65 + i)}" for i in range(len(report.panels))]]
    rows = [[SCORE_DEFINITIONS[k][0],
             *[format_score(k, p.scores.get(k)) for p in report.panels]] for k in SCORE_KEYS]
    reproduce = []
    for i, panel in enumerate(report.panels):
        items = [(k, g.clean("n/a" if v is None else v)) for k, v in panel.settings().items()]
        if panel.prediction:
            pred = panel.prediction
            items.append(("prediction", g.clean(f"{pred.get('label', pred.get('index'))}"
                                                f" (index {pred.get('index')})")))
        if panel.scores.get("threshold") is not None:
            items.append(("threshold t", str(panel.scores.get("threshold"))))
        reproduce.append((f"{chr(65 + i)}: {g.clean(panel.title)}", items))
    if report.settings:
        reproduce.append(("Other settings", [  # "explained class: Explaining class ..."
            (g.clean(k.replace("_", " ")),
             g.clean(v if isinstance(v, str) else json.dumps(v, default=str)))
            for k, v in report.settings.items()]))
    cards = [(g.clean(c.get("name", f"card {i}")),
              g.clean(json.dumps(c, indent=1, sort_keys=True, default=str)))
             for i, c in enumerate(report.model_cards)]
    content = ReportContent(
        title="Co-localization case report", created=report.created,
        version=f"coloc_viewer {report.software_version}",
        patient=g.identity_rows(), study=study, figures=figures, score_header=header,
        score_rows=rows, reproduce=reproduce,
        commands=[g.clean(report.reproduce_command(p)) for p in report.panels], cards=cards,
        definitions=[(f"{SCORE_DEFINITIONS[k][0]} ({k})", SCORE_DEFINITIONS[k][1])
                     for k in SCORE_KEYS],
        notes=[NULL_NOTE, "Maps are shown with their raw values on the colour bar; a common "
               "scale maps equal raw values to equal colours across panels, per-image scaling "
               "stretches each map to its own range."],
    )
    g.check(content.texts())
    return content

