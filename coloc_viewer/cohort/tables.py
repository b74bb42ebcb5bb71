"""Per-slice and per-case tables, rebuilt from unit records; written as CSV and Parquet.

Per-case rows describe one (case, model, rank, method, roi): the scores on the case's
index slice (the slice where that ROI is largest, as ``analyze`` picks by default), the
mean of each continuous score over the case's slices that hold the ROI, and the share of
those slices where the pointing game hits. A 3-D model's unit has one volume row per ROI
(``slice`` empty); its case row holds those volume scores (``index_slice`` and ``n_slices``
empty).
"""

from __future__ import annotations

import csv
import os
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from coloc_viewer.metrics.definitions import SCORE_KEYS, SCORES

#: the scores summarised with means and CIs (the yes/no pointing game and the p-value
#: are summarised as shares instead)
CONTINUOUS = tuple(k for k in SCORE_KEYS if k not in ("pointing_game", "p_value"))
GROUP = ("case_id", "label", "model", "layer", "rank", "method", "roi")

SLICE_TYPES: dict[str, str] = {
    "case_id": "string", "label": "string", "model": "string", "layer": "string",
    "rank": "string", "method": "string", "roi": "string", "slice": "int",
    "roi_pixels": "int", "channel": "int", "predicted": "int", "predicted_label": "string",
    "target": "int", "target_probability": "float", "correct": "bool",
    **{d.key: d.kind for d in SCORES},  # the score registry's column types
}
CASE_TYPES: dict[str, str] = {
    **{k: SLICE_TYPES[k] for k in GROUP},
    "n_slices": "int", "index_slice": "int", "roi_pixels": "int", "channel": "int",
    "predicted": "int", "target": "int", "target_probability": "float", "correct": "bool",
    **{k: SLICE_TYPES[k] for k in SCORE_KEYS},
    **{f"{k}_mean": "float" for k in CONTINUOUS},
    "pointing_game_rate": "float",
}
FAILURE_TYPES = {"case_id": "string", "model": "string", "rank": "string",
                 "method": "string", "reason": "string"}


def _sort_key(order: dict[str, int]):
    def key(row: dict[str, Any]) -> tuple:
        return (order.get(row["case_id"], 1 << 30), row["case_id"], row["model"],
                row.get("rank") or "", row["method"], row["roi"],
                -1 if row.get("slice") is None else row["slice"])
    return key


def slice_rows(records: Iterable[dict[str, Any]], case_order: list[str]) -> list[dict[str, Any]]:
    """All per-slice rows of the successful records, in a deterministic order."""
    order = {c: i for i, c in enumerate(case_order)}
    rows = [dict(r) for rec in records if rec.get("status") == "ok" for r in rec["rows"]]
    rows.sort(key=_sort_key(order))
    return [{c: r.get(c) for c in SLICE_TYPES} for r in rows]


def _mean(values: list[Any]) -> float | None:
    x = [float(v) for v in values if v is not None]
    return float(np.mean(x)) if x else None


def case_rows(slices: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (case, model, layer, rank, method, roi) (see the module docstring)."""
    groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for r in slices:
        groups[tuple(r[k] for k in GROUP)].append(r)
    out = []
    for key, rows in groups.items():  # slices are sorted, so groups keep their order
        with_roi = [r for r in rows if r["roi_pixels"]]
        index = max(with_roi or rows, key=lambda r: (r["roi_pixels"], -(r["slice"] or 0)))
        row = dict(zip(GROUP, key, strict=True))
        volume = index["slice"] is None
        row.update(n_slices=None if volume else len(with_roi), index_slice=index["slice"],
                   roi_pixels=index["roi_pixels"], channel=index["channel"],
                   predicted=index["predicted"], target=index["target"],
                   target_probability=index["target_probability"], correct=index["correct"])
        row.update({k: index[k] for k in SCORE_KEYS})
        row.update({f"{k}_mean": _mean([r[k] for r in with_roi]) for k in CONTINUOUS})
        pg = [r["pointing_game"] for r in with_roi if r["pointing_game"] is not None]
        row["pointing_game_rate"] = float(np.mean(pg)) if pg else None
        out.append({c: row.get(c) for c in CASE_TYPES})
    return out


def failure_rows(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{c: rec.get(c) for c in FAILURE_TYPES} for rec in records
            if rec.get("status") != "ok"]


def _arrow_type(kind: str):
    import pyarrow as pa

    return {"string": pa.string(), "int": pa.int64(), "float": pa.float64(),
            "bool": pa.bool_()}[kind]


def write_table(rows: list[dict[str, Any]], types: dict[str, str], stem: str | os.PathLike[str]
                ) -> tuple[Path, Path]:
    """``stem.csv`` and ``stem.parquet`` (nulls as empty CSV fields), each via temp+rename."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    stem = Path(stem)
    csv_path, pq_path = stem.with_suffix(".csv"), stem.with_suffix(".parquet")
    tmp = csv_path.with_name(csv_path.name + ".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(list(types))
        for r in rows:
            w.writerow(["" if r.get(c) is None else _csv_value(r.get(c)) for c in types])
    os.replace(tmp, csv_path)
    schema = pa.schema([(c, _arrow_type(t)) for c, t in types.items()])
    table = pa.Table.from_pylist([{c: r.get(c) for c in types} for r in rows], schema=schema)
    tmp = pq_path.with_name(pq_path.name + ".tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, pq_path)
    return csv_path, pq_path


def _csv_value(v: Any) -> Any:
    if isinstance(v, float):
        return repr(v)
    return v
