"""The viewer's results as DICOM (Qt-free): the ROIs as a DICOM SEG and the shown map's
scores as a TID 1500 Structured Report (``report.dicom_sr``), for File > Export and for
sending to a PACS. The ROIs drawn on the shown (display-oriented) grid are written on the
stored images. File names carry the input's hash and the slice, never a name."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from coloc_viewer.errors import InputError
from coloc_viewer.explain.choices import label
from coloc_viewer.imaging.roi import RoiSet
from coloc_viewer.report.dicom_sr import build_dicom_results, card_hash
from coloc_viewer.viewer.verdict import describe
from coloc_viewer.workspace.paths import source_hash

__all__ = ["build_results", "copy_roiset", "dicom_results_from_view", "model_info",
           "score_rows_from_view", "write_dicom_results"]


def copy_roiset(rois: Any) -> RoiSet:
    """A copy of the set's ROIs (masks, names, colours, codes) a worker may read while the
    reader goes on drawing."""
    out = RoiSet(rois.shape, rois.spacing)
    for roi in rois:
        out.add(roi.name, roi.mask.copy(), color=roi.color, code=roi.code,
                category=roi.category, record=False)
    return out


def score_rows_from_view(state: Any) -> list[dict[str, Any]]:
    """One SR row per ROI scored on the shown slice (the whole volume for a 3-D model): the
    shown map's scores and the score panel's phrase for them."""
    expl = state.explanation
    if state.volume is None or expl is None:
        raise InputError("analyse this slice first: there are no scores to report")
    z = None if getattr(expl, "slice_index", None) is None else int(state.slice_index)
    rows = [{"roi": name, "map": label(state.overlay.choice), "slice": z, **dict(sc),
             "verdict": describe(dict(sc))}
            for name, sc in state.scores.items() if sc]
    if not rows:
        raise InputError("no ROI has scores on this slice")
    return rows


def model_info(card: Any, explanation: Any) -> dict[str, str]:
    """The SR's algorithm identification: model name, card hash, layer and ranking."""
    return {"name": str(getattr(card, "name", "") or explanation.model_name),
            "card_hash": card_hash(card), "layer": str(explanation.layer),
            "rank": str(explanation.rank or "")}


def build_results(volume: Any, rois: Any, rows: list[dict[str, Any]],
                  info: dict[str, Any]) -> tuple[Any, Any]:
    """(SEG, SR) of ``rois`` drawn on the shown ``volume``: the masks go back through the
    display orientation (flips, transpose) onto the stored images the SEG references."""
    from coloc_viewer.viewer.orientation import orientation_of, storage_of
    from coloc_viewer.viewer.study import regrid, source_files_ready

    source_files_ready(volume)
    stored = storage_of(volume)
    on_stored = regrid(rois, stored, orientation_of(volume).to_storage)
    return build_dicom_results(stored, on_stored, rows, info)


def dicom_results_from_view(state: Any, card: Any) -> tuple[Any, Any]:
    """(SEG, SR) datasets of what the view shows ("Send results to PACS")."""
    rows = score_rows_from_view(state)
    return build_results(state.volume, copy_roiset(state.rois), rows,
                         model_info(card, state.explanation))


def file_stem(volume: Any, slice_index: int | None) -> str:
    source = os.fspath(getattr(volume, "source", "") or "")
    where = "volume" if slice_index is None else f"slice{int(slice_index) + 1:03d}"
    return f"coloc-{(source_hash(source) if source else 'unknown')[:10]}-{where}"


def write_dicom_results(volume: Any, rois: RoiSet, rows: list[dict[str, Any]],
                        info: dict[str, str], folder: str | os.PathLike[str]) -> list[Path]:
    """Write ``<stem>-rois.seg.dcm`` and ``<stem>-scores.sr.dcm`` into ``folder`` (a worker
    runs this); returns both paths."""
    seg, sr = build_results(volume, rois, rows, info)
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    stem = file_stem(volume, rows[0].get("slice"))
    paths = [out / f"{stem}-rois.seg.dcm", out / f"{stem}-scores.sr.dcm"]
    for ds, path in zip((seg, sr), paths):
        tmp = path.with_name(f".{path.name}.tmp")
        ds.save_as(tmp, enforce_file_format=True)
        os.replace(tmp, path)
    return paths
