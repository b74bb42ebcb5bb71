"""``coloc-viewer inspect PATH [--json]``: the series found under a path."""

from __future__ import annotations

import argparse
import json
import sys

from coloc_viewer.imaging.inspect import SeriesInfo, scan


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "inspect", help="list the series under PATH (file, folder, DICOMDIR, zip, NIfTI/MHA/NRRD)",
        description="List the series found under PATH without decoding pixels.")
    p.add_argument("path", help="DICOM file/folder/DICOMDIR/zip or NIfTI/MHA/NRRD file")
    p.add_argument("--json", action="store_true",
                   help="one JSON object per series per line (series_uid, modality, "
                        "description, shape, spacing, origin, n_files, warnings, ...)")
    p.add_argument("--show-identifiers", action="store_true",
                   help="print series descriptions as stored; by default the patient's "
                        "name, ID and accession number are removed from them")
    return p


def _fmt(values: list[float] | None, digits: int = 4) -> str:
    return "-" if values is None else " x ".join(f"{v:.{digits}g}" for v in values)


def _table(infos: list[SeriesInfo], redact: bool = True) -> str:
    lines = [f"{'#':>2}  {'modality':<8} {'kind':<18} {'shape (z, y, x)':<18} "
             f"{'spacing mm (z, y, x)':<20} {'files':>5}  description / series"]
    for i, s in enumerate(infos, 1):
        shape = _fmt(s.shape) if s.shape else "-"
        lines.append(f"{i:>2}  {s.modality:<8} {s.kind:<18} {shape:<18} "
                     f"{_fmt(s.spacing):<20} {s.n_files:>5}  "
                     f"{(s.safe_description if redact else s.description) or '-'}")
        if s.series_key:
            lines.append(f"{'':>4}series: {s.series_key}")
        for w in s.warnings:
            lines.append(f"{'':>4}warning: {w}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    infos = scan(args.path)
    redact = not args.show_identifiers
    if args.json:
        for info in infos:
            sys.stdout.write(json.dumps(info.to_dict(redact)) + "\n")
    else:
        sys.stdout.write(_table(infos, redact) + "\n")
    return 0
