"""Crash-safe result storage: one JSON line per finished unit, appended and fsynced.

Only the coordinating process writes. Each record is written with a single ``write`` of
one complete line followed by ``fsync``, so a kill leaves at most one torn last line,
which :meth:`ResultStore.load` ignores (and the next append starts on a fresh line).
Tables are always rebuilt from this file, so a resumed run never duplicates rows.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

RESULTS_NAME = "results.jsonl"


def unit_key(fields: dict[str, Any]) -> str:
    """Stable identity of a unit of work (case, model, options, rank, method)."""
    blob = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha1(blob.encode("utf-8")).hexdigest()[:20]


class ResultStore:
    """Append-only JSON-lines store of unit records under ``out_dir``."""

    def __init__(self, out_dir: str | os.PathLike[str]):
        self.dir = Path(out_dir)
        self.path = self.dir / RESULTS_NAME

    def load(self) -> dict[str, dict[str, Any]]:
        """Records by key; a successful record wins over a failed one for the same key."""
        records: dict[str, dict[str, Any]] = {}
        if not self.path.exists():
            return records
        with open(self.path, "rb") as fh:
            for raw in fh:
                if not raw.endswith(b"\n"):
                    break  # torn last line of a killed run
                try:
                    rec = json.loads(raw)
                except ValueError:
                    continue
                if not isinstance(rec, dict) or "key" not in rec:
                    continue
                old = records.get(rec["key"])
                if old is None or old.get("status") != "ok" or rec.get("status") == "ok":
                    records[rec["key"]] = rec
        return records

    def append(self, records: list[dict[str, Any]]) -> None:
        """Append complete lines atomically enough that a kill never corrupts earlier ones."""
        if not records:
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        data = b"".join(json.dumps(r, separators=(",", ":"), allow_nan=False,
                                   default=_json_default).encode("utf-8") + b"\n"
                        for r in records)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            if os.fstat(fd).st_size and not _ends_with_newline(self.path):
                data = b"\n" + data
            view = memoryview(data)
            while view:
                n = os.write(fd, view)
                view = view[n:]
            os.fsync(fd)
        finally:
            os.close(fd)


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as fh:
        fh.seek(-1, os.SEEK_END)
        return fh.read(1) == b"\n"


def _json_default(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
