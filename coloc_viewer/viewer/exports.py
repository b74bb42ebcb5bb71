"""Qt-free pieces of the viewer's exports: the screenshot legend and the case-report task
(run in a worker). No patient identifier is written unless ``include_phi`` is set."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from coloc_viewer.explain.choices import label
from coloc_viewer.report.legend import legend_lines


def report_choice(choice: str) -> str:
    """The map choice as reports spell it: the same spelling (``explain.choices``)."""
    return choice


def choice_label(choice: str) -> str:
    """A readable method name ("top channel", "channel #3", "Grad-CAM")."""
    return label(choice)


def reader_warnings(volume: Any, card: Any, explanation: Any) -> dict[str, str]:
    """What the viewer's banner and panel told the reader, for the report's settings."""
    from coloc_viewer.viewer.domain import domain_warnings, target_note

    out = {}
    reasons = domain_warnings(volume, getattr(card, "expects", None))
    if reasons:
        out["out_of_domain"] = "outside what the model was made for: " + "; ".join(reasons)
    note = target_note(explanation, card)
    if note:
        out["explained_class"] = note
    return out


def scale_label(display_range: tuple[float, float] | None, common: bool) -> str:
    if display_range is None:
        return "per-image"
    low, high = display_range
    return f"{'common over analysed slices' if common else 'per-image'} [{low:.3g}, {high:.3g}]"


def mask_line(rows: Sequence[tuple[int, str, float | None]], whole: str = "slice",
              ) -> str | None:
    """The predicted-mask line of a legend: "predicted mask (share of the slice): gland
    12.3%, lesion 4.2%". ``rows``: the classes drawn, as
    :func:`coloc_viewer.viewer.maps.mask_legend` lists them (None: no mask shown)."""
    if not rows:
        return None
    parts = [name if share is None else f"{name} {share:.1%}" for _value, name, share in rows]
    shares = any(share is not None for _value, _name, share in rows)
    return f"predicted mask{f' (share of the {whole})' if shares else ''}: " + ", ".join(parts)


def view_legend(model: str, explanation: Any, choice: str, scale: str,
                scores: Mapping[str, Any] | None, roi_name: str | None = None,
                mask_rows: Sequence[tuple[int, str, float | None]] = ()) -> list[str]:
    """Legend lines for a screenshot of the main view (model, layer, method, scale, scores,
    and the classes of the predicted mask when that overlay is shown: ``mask_rows``)."""
    if explanation is None:
        return [f"{model or 'no model'}: no map on this slice"]
    # the class by name ("target lesion"), as the model panel shows it, not its index
    target = getattr(explanation, "target_label", None) or explanation.target
    lines = legend_lines(model, explanation.layer, choice_label(choice), scale, scores,
                         target=target, rank=explanation.rank)
    if roi_name and scores:
        lines[-1] = f"{roi_name}: {lines[-1]}"
    whole = "volume" if getattr(explanation, "spatial_dims", 2) == 3 else "slice"
    mask = mask_line(mask_rows, whole)
    return lines if mask is None else [*lines, mask]


def model_reference(card: Any, name: str) -> str:
    """What ``--model`` loads ``card`` by: its bundled name, else its card file (a refined
    or user card, whose name alone the command line cannot find)."""
    path = getattr(card, "path", None)
    if not path:
        return name
    from coloc_viewer.resources import models_dir

    card_file = Path(path).resolve()
    bundled = models_dir().resolve() / f"{card_file.stem}.json"
    return card_file.stem if card_file == bundled else str(card_file)


def export_case_reports(volume: Any, slice_index: int, rois: Sequence[tuple[str, np.ndarray]],
                        explanation: Any, choice: str, scale: Any, card: Any,
                        folder: str | os.PathLike[str], include_phi: bool = False,
                        scores: Mapping[str, Mapping[str, Any]] | None = None,
                        window: tuple[float, float] | None = None) -> list[Path]:
    """HTML + PDF + CSV case reports of one slice, one report per ROI drawn on it.

    ``rois``: (name, 3-D mask); ROIs empty on the slice are skipped. One ROI writes into
    ``folder``; several write into ``folder/roi-<n>`` (no ROI or patient name in paths).
    Returns the files written."""
    from coloc_viewer.report.case import case_report, panel_from_explanation
    from coloc_viewer.report.export import export_case

    drawn = [(name, mask) for name, mask in rois if mask[slice_index].any()]
    if not drawn:
        raise ValueError("no ROI is drawn on this slice: draw one before exporting")
    out = Path(folder)
    written: list[Path] = []
    for n, (name, mask) in enumerate(drawn, start=1):
        roi2d = np.asarray(mask[slice_index], dtype=bool)
        given = (scores or {}).get(name)
        panel = panel_from_explanation(
            explanation, roi2d, map_choice=report_choice(choice), scale=scale,
            scores=dict(given) if given and given.get("p_value") is not None else None)
        panel = replace(panel, model_ref=model_reference(card, panel.model))
        report = case_report(volume, slice_index, roi2d, [panel],
                             model_cards=[card] if card is not None else [], window=window,
                             roi_name=name, settings=reader_warnings(volume, card, explanation))
        target = out if len(drawn) == 1 else out / f"roi-{n}"
        written += list(export_case(report, target, include_phi=include_phi).values())
    return written
