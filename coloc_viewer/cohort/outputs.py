"""What a cohort run derives from its unit records besides the tables: principal channel
sets, common display scales, and the JSON files they are written to (atomically)."""

from __future__ import annotations

import json
import os
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from coloc_viewer.cohort.principal import ChannelSet, principal_channels
from coloc_viewer.cohort.worker import TOP_MAP, decode_vector


def channel_set_dict(cs: ChannelSet) -> dict[str, Any]:
    """The part of a channel set that a principal-channel unit needs (and is keyed by)."""
    return {"model": cs.model, "layer": cs.layer, "ratio": cs.ratio,
            "classes": {str(k): v for k, v in sorted(cs.classes.items())}}


def derive_channel_set(records: list[dict[str, Any]], model: str, layer: str, ratio: float
                       ) -> ChannelSet | None:
    """Principal channels of ``model`` from the contribution vectors in ``records``.

    A sample is a scored slice. Its class is the manifest label when given (and it counts
    only when predicted correctly), else the explained target class.
    """
    ims, classes, correct = [], [], []
    for rec in records:
        for c in rec.get("contributions", ()):
            ims.append(decode_vector(c["im"]))
            cls = c["label"] if c.get("label") is not None else c["target"]
            classes.append(int(cls))
            correct.append(c["predicted"] == cls)
    if not ims or not any(correct):
        return None
    return principal_channels(np.stack(ims), np.asarray(classes), np.asarray(correct), ratio,
                              model=model, layer=layer)


def map_name(rec: dict[str, Any]) -> str:
    """``MODEL__METHOD`` (``MODEL__top-RANK`` for the top channel): one (model, map) of a run,
    the key of its display scale and of its map similarity."""
    return (f"{rec['model']}__{TOP_MAP}-{rec['rank']}" if rec["method"] == TOP_MAP
            else f"{rec['model']}__{rec['method']}")


def write_scales(records: list[dict[str, Any]], out_dir: Path) -> dict[str, str]:
    """One CommonScale calibration per (model, map): 90th pct of the slice maxima,
    50th pct of the slice minima (calibrated from each map's [min, max])."""
    from coloc_viewer.explain.scale import CommonScale

    extrema: dict[str, list[np.ndarray]] = defaultdict(list)
    for rec in records:
        if rec.get("status") != "ok":
            continue
        name = map_name(rec)
        for _, lo, hi in rec["extrema"]:
            if lo is not None and hi is not None:
                extrema[name].append(np.array([lo, hi], dtype=np.float64))
    folder = out_dir / "scales"
    written = {}
    for name, maps in sorted(extrema.items()):
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{safe_name(name)}.json"
        CommonScale.calibrate(maps).save(path)
        written[name] = str(path.relative_to(out_dir))
    return written


def safe_name(name: str) -> str:
    """``name`` as a file name (letters, digits and ``-_.+``; anything else ``_``)."""
    return "".join(ch if ch.isalnum() or ch in "-_.+" else "_" for ch in name)


def write_json(path: Path, data: Any) -> None:
    """``data`` as indented JSON at ``path``, via a temp file and a rename."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, allow_nan=False), encoding="utf-8")
    os.replace(tmp, path)
