"""What every ROI file format shares: atomic writes, the label sidecar's path and the
geometry check against the volume."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from coloc_viewer.errors import InputError
from coloc_viewer.imaging.volume import Volume

__all__ = ["SIDECAR_SUFFIX", "atomic_path", "check_geometry", "sidecar_path",
           "write_json_atomic"]

SIDECAR_SUFFIX = ".labels.json"


def sidecar_path(path: str | os.PathLike[str]) -> Path:
    """The JSON sidecar of a label-map file: ``<file>.labels.json``."""
    p = Path(path)
    return p.with_name(p.name + SIDECAR_SUFFIX)


# -- atomic writes --------------------------------------------------------------------------
@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path next to ``path`` (same suffix); replaces ``path`` on success."""
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = "".join(path.suffixes[-2:]) if path.name.lower().endswith(".gz") else path.suffix
    if path.name.lower().endswith(".seg.nrrd"):
        suffix = ".seg.nrrd"
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{suffix}", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


# -- geometry ------------------------------------------------------------------------------
def check_geometry(path: Path, shape: tuple[int, ...], spacing: tuple[float, ...],
                   origin: tuple[float, ...], direction: np.ndarray, like: Volume) -> None:
    """InputError unless the grid (shape, spacing, origin, direction) matches ``like``."""
    problems = []
    if tuple(shape) != like.shape:
        problems.append(f"shape {list(shape)} != volume {list(like.shape)}")
    else:
        if not np.allclose(spacing, like.spacing, rtol=1e-3, atol=1e-4):
            problems.append(f"spacing {np.round(spacing, 4).tolist()} != volume "
                            f"{np.round(like.spacing, 4).tolist()}")
        tol = 0.05 * min(like.spacing) + 1e-3
        if not np.allclose(origin, like.origin, atol=tol):
            problems.append(f"origin {np.round(origin, 3).tolist()} != volume "
                            f"{np.round(like.origin, 3).tolist()}")
        if not np.allclose(direction, like.direction, atol=1e-3):
            problems.append("orientation differs from the volume")
    if problems:
        raise InputError("ROI does not match the volume geometry: " + "; ".join(problems), path)
