"""Qt-free study loading for the viewer: scan, then the volume (progressively when the
imaging layer offers it), and the bundled demo case."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from coloc_viewer.imaging.volume import Volume
from coloc_viewer.resources import demo_dir

ROI_FILE_NAMES = ("rois.seg.dcm", "rois.nii.gz", "lesion.nii.gz")


@dataclass
class DemoCase:
    image: Path
    rois: Path | None


def demo_cases() -> list[DemoCase]:
    """Bundled demo cases (``<demo>/<case>/dicom`` + the first ROI file found)."""
    root = demo_dir()
    cases = []
    if root.is_dir():
        for folder in sorted(p for p in root.iterdir() if p.is_dir()):
            image = folder / "dicom" if (folder / "dicom").is_dir() else None
            if image is None:
                continue
            rois = next((folder / n for n in ROI_FILE_NAMES if (folder / n).exists()), None)
            cases.append(DemoCase(image, rois))
    return cases


@dataclass
class LoadStep:
    """One message from a loading worker to the GUI."""

    kind: str  # "series" | "first" | "progress"
    payload: Any = None
    done: int = 0
    total: int = 0


def load_study(path: str | os.PathLike[str], series: str | None = None) -> Iterator[LoadStep]:
    """Generator for a worker: the series list, a first slice early, progress, then the Volume.

    Returns (via ``StopIteration.value``) the complete :class:`Volume`.
    """
    from coloc_viewer.imaging import load

    path = os.fspath(path)
    scan = getattr(load, "scan", None)
    if scan is not None:
        yield LoadStep("series", list(scan(path)))
    opener = getattr(load, "open_series", None)
    if opener is None:
        return load.load_volume(path, series=series)
    loader = opener(path, series=series)
    try:
        first = _first_volume(loader)
        if first is not None:
            yield LoadStep("first", first)
        total = 0
        for step in loader.iter_slices():
            done, total = _progress(step, total)
            yield LoadStep("progress", None, done, total)
        return _final_volume(loader)
    finally:
        cancel = getattr(loader, "cancel", None)
        if cancel is not None and _final_volume(loader) is None:
            cancel()


def _first_volume(loader: Any) -> Volume | None:
    vol = getattr(loader, "volume", None)
    return vol if isinstance(vol, Volume) else None


def _progress(step: Any, total: int) -> tuple[int, int]:
    if isinstance(step, tuple) and len(step) >= 2 and isinstance(step[1], int):
        return int(step[0]), int(step[1])
    return int(step[0]) + 1 if isinstance(step, tuple) else 0, total


def _final_volume(loader: Any) -> Volume | None:
    for attr in ("result", "volume"):
        vol = getattr(loader, attr, None)
        vol = vol() if callable(vol) else vol
        if isinstance(vol, Volume):
            return vol
    return None


def load_rois_for(path: str | os.PathLike[str], volume: Volume) -> Any:
    """A RoiSet from a multi-ROI file (or an old single-mask file, as one ROI)."""
    from coloc_viewer.imaging.roi_io import load_rois

    return load_rois(os.fspath(path), like=volume)


def save_rois_to(rois: Any, path: str | os.PathLike[str], volume: Volume) -> None:
    from coloc_viewer.imaging.roi_io import save_rois

    save_rois(rois, os.fspath(path), like=volume)
