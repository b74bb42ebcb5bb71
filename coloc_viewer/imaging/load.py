"""``load_volume``: any supported input (DICOM file/folder/DICOMDIR/zip, NIfTI, MHA, NRRD).

Bad input raises :class:`coloc_viewer.errors.InputError` (one line: file and reason).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from coloc_viewer.errors import InputError
from coloc_viewer.imaging.dicom_decode import decode_series
from coloc_viewer.imaging.dicom_scan import ScanResult, SeriesGroup, scan_dicom
from coloc_viewer.imaging.display import robust_window, window_presets
from coloc_viewer.imaging.sources import is_volume_file
from coloc_viewer.imaging.volume import Volume

__all__ = ["load_volume", "select_series", "volume_from_group", "group_metadata"]


def select_series(result: ScanResult, path: str | os.PathLike[str],
                  series: str | None = None) -> tuple[SeriesGroup, list[str]]:
    """The series to load (``series`` = a key or a SeriesInstanceUID; default the largest)
    and the warnings that go with the choice."""
    warnings = result.warnings()
    if not result.series:
        if result.non_images:
            kinds = sorted({n.kind for n in result.non_images})
            raise InputError(f"no image series found (only {', '.join(kinds)})", path)
        if len(result.skipped) == 1:
            file, reason = result.skipped[0]
            raise InputError(reason, file)
        if result.skipped:
            file, reason = result.skipped[0]
            raise InputError(f"no readable DICOM images ({len(result.skipped)} files skipped; "
                             f"first: {os.path.basename(file)}: {reason})", path)
        raise InputError("no DICOM files found", path)
    if series is not None:
        match = [g for g in result.series if g.key == series] or \
                [g for g in result.series if g.series_uid == series]
        if not match:
            keys = ", ".join(g.key for g in result.series[:5])
            raise InputError(f"series {series} not found (available: {keys})", path)
        return match[0], warnings
    chosen = result.series[0]
    if len(result.series) > 1:
        desc = f" ({chosen.first.description})" if chosen.first.description else ""
        warnings.append(f"{len(result.series)} image series found; loaded {chosen.key}{desc} "
                        f"with {len(chosen.frames)} slices (choose another with series=)")
    return chosen, warnings


def group_metadata(group: SeriesGroup, warnings: list[str]) -> dict[str, Any]:
    """PHI-free metadata of a series (window filled in once voxels are known)."""
    f = group.first
    windows = [fr.window for fr in group.frames if fr.window is not None]
    return {
        "modality": f.modality,
        "series_uid": f.series_uid,
        "series_key": group.key,
        "study_uid": f.study_uid,
        "frame_of_reference_uid": f.frame_of_reference_uid,
        "sop_class_uid": f.sop_class,
        "description": f.description,
        "window": list(windows[len(windows) // 2]) if windows else None,
        "window_source": "file" if windows else "percentile",
        "monochrome1": f.photometric == "MONOCHROME1",
        "photometric": f.photometric,
        "units": f.units,
        "transfer_syntax": f.transfer_syntax,
        "echo_time": f.echo_time,
        "n_files": len(group.files),
        "warnings": list(warnings) + list(group.warnings),
    }


def finish_metadata(meta: dict[str, Any], voxels: np.ndarray,
                    value_range: tuple[float, float] | None = None) -> dict[str, Any]:
    """Fill the percentile window (when the file has none) and the presets
    (``value_range``: the voxels' NaN-ignoring min and max, when already known)."""
    auto = robust_window(voxels)
    if meta.get("window") is None:
        meta["window"] = list(auto)
    meta["presets"] = {k: list(v) for k, v in
                       window_presets(meta["modality"], voxels, auto, value_range).items()}
    if meta["window_source"] == "file":
        meta["presets"] = {"File": list(meta["window"]), **meta["presets"]}
    return meta


def volume_from_group(group: SeriesGroup, voxels: np.ndarray, meta: dict[str, Any],
                      source: str, value_range: tuple[float, float] | None = None) -> Volume:
    private = {k: group.first.private.get(k, "")
               for k in ("patient_name", "patient_id", "accession_number")}
    return Volume(voxels=voxels, spacing=group.spacing, origin=group.origin,
                  direction=group.direction, metadata=finish_metadata(meta, voxels, value_range),
                  source=source, files=tuple(str(f.ref) for f in group.frames),
                  private=private)


def load_volume(path: str | os.PathLike[str], series: str | None = None) -> Volume:
    """Load a volume: a DICOM file, folder (recursive), DICOMDIR or zip, or NIfTI/MHA/NRRD.

    ``series`` picks a series key/UID when several are found (default: the one with most
    slices; the choice is noted in ``metadata["warnings"]``). Voxels are float32 physical
    values (modality LUT applied). ``Volume.files`` lists the source file of every slice in
    slice order (a multi-frame file repeats).
    """
    p = Path(path)
    if not p.exists():
        raise InputError("no such file or folder", p)
    if p.is_file() and is_volume_file(p):
        from coloc_viewer.imaging.sitk_io import read_sitk_volume

        return read_sitk_volume(p)
    result = scan_dicom(p)
    group, warnings = select_series(result, p, series)
    voxels = decode_series(group)
    return volume_from_group(group, voxels, group_metadata(group, warnings), str(p))
