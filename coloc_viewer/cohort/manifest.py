"""Read a cohort manifest: a CSV with one row per case.

Columns (header row required): ``image`` and ``roi`` (paths, relative to the manifest's
folder or absolute), and optionally ``case_id``, ``series`` (a series UID), ``slices``
(``3-7;9``; default: every slice that holds an ROI) and ``label`` (class index or name),
plus one column per extra input role of the run's model cards (``ADC``, ``DWI``: a path
to that series; ``image`` is the first role).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from coloc_viewer.errors import InputError
from coloc_viewer.pacs.resolve import is_pacs_url

REQUIRED = ("image", "roi")
OPTIONAL = ("case_id", "series", "slices", "label")


@dataclass(frozen=True)
class Case:
    """One manifest row, with paths made absolute."""

    case_id: str
    image: str
    roi: str
    series: str | None = None
    slices: tuple[int, ...] | None = None
    label: str | None = None
    row: int = 0
    inputs: tuple[tuple[str, str], ...] = ()  # (role column, lower case; path) when given

    def input_path(self, role: str) -> str | None:
        """The path in this case's column for input ``role`` (case-insensitive), if any."""
        return dict(self.inputs).get(role.lower())


def parse_slices(spec: str) -> tuple[int, ...]:
    """``"3-7;9"`` -> ``(3, 4, 5, 6, 7, 9)`` (sorted, unique; ``,`` also separates)."""
    out: set[int] = set()
    for part in spec.replace(",", ";").split(";"):
        part = part.strip()
        if not part:
            continue
        lo, sep, hi = part.partition("-")
        try:
            a = int(lo)
            b = int(hi) if sep else a
        except ValueError:
            raise ValueError(f"bad slice range {part!r} (expected e.g. 3-7;9)") from None
        if a < 0 or b < a:
            raise ValueError(f"bad slice range {part!r} (expected e.g. 3-7;9)")
        out.update(range(a, b + 1))
    if not out:
        raise ValueError(f"empty slice list {spec!r}")
    return tuple(sorted(out))


def _resolve(value: str, base: Path) -> str:
    if is_pacs_url(value):  # pacs://SERVER/STUDY[/SERIES], retrieved when the case runs
        return value.strip()
    p = Path(os.path.expanduser(value.strip()))
    return str(p if p.is_absolute() else (base / p))


def read_manifest(path: str | os.PathLike[str], roles: Sequence[str] = ()) -> list[Case]:
    """Parse the manifest at ``path``; raise :class:`InputError` for an unusable file.
    ``roles``: the input roles whose columns the manifest may have (case-insensitive).

    Missing files named by rows are not checked here: a case whose image cannot be read
    is recorded as failed by the run, which continues.
    """
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"cannot read the manifest ({err.__class__.__name__})", path) from None
    except csv.Error as err:
        raise InputError(f"not a CSV file ({err})", path) from None
    rows = [r for r in rows if any(c.strip() for c in r)]
    if not rows:
        raise InputError("the manifest is empty (a header row with image,roi is required)", path)
    header = [h.strip().lower() for h in rows[0]]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise InputError(f"the manifest lacks the column(s) {', '.join(missing)} "
                         f"(found: {', '.join(header) or 'none'})", path)
    role_cols = tuple(c for c in dict.fromkeys(r.strip().lower() for r in roles)
                      if c not in REQUIRED + OPTIONAL)
    unknown = [h for h in header if h not in REQUIRED + OPTIONAL + role_cols]
    if unknown:
        extra = f" or input roles ({', '.join(roles)})" if roles else ""
        raise InputError(f"unknown manifest column(s) {', '.join(unknown)} (expected "
                         f"{', '.join(REQUIRED + OPTIONAL)}{extra})", path)
    if len(set(header)) != len(header):
        raise InputError("a manifest column appears twice", path)
    base = path.resolve().parent
    cases: list[Case] = []
    seen: set[str] = set()
    for n, raw in enumerate(rows[1:], start=2):
        if len(raw) > len(header):
            raise InputError(f"row {n} has {len(raw)} fields, the header {len(header)}", path)
        rec = {h: (raw[i].strip() if i < len(raw) else "") for i, h in enumerate(header)}
        if not rec["image"] or not rec["roi"]:
            raise InputError(f"row {n}: image and roi must not be empty", path)
        case_id = rec.get("case_id") or f"case{len(cases) + 1:04d}"
        if case_id in seen:
            raise InputError(f"row {n}: duplicate case_id {case_id!r}", path)
        seen.add(case_id)
        try:
            slices = parse_slices(rec["slices"]) if rec.get("slices") else None
        except ValueError as err:
            raise InputError(f"row {n}: {err}", path) from None
        cases.append(Case(case_id=case_id, image=_resolve(rec["image"], base),
                          roi=_resolve(rec["roi"], base), series=rec.get("series") or None,
                          slices=slices, label=rec.get("label") or None, row=n,
                          inputs=tuple((c, _resolve(rec[c], base)) for c in role_cols
                                       if rec.get(c))))
    if not cases:
        raise InputError("the manifest has a header but no cases", path)
    return cases
