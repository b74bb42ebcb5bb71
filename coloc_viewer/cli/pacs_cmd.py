"""``coloc-viewer pacs find|get|send|echo|cache``: search a PACS, retrieve into the local cache,
send DICOM files (SEG, SR, anything), test a connection, show or purge the cache.

SERVER is a configured server's name, a DICOMweb root URL (``http(s)://host:port/dicom-web``)
or ``dicom://AET@host:port`` (our AE title from ``--calling-aet``, default COLOCVIEWER).
``find --json`` prints one JSON object per study (or per series with ``--series``/``--study``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from coloc_viewer.errors import InputError

__all__ = ["add_parser", "run"]


def _server_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--server", required=True,
                   help="configured name, DICOMweb root URL or dicom://AET@host:port")
    p.add_argument("--calling-aet", default=None,
                   help="our AE title for DIMSE (default: COLOCVIEWER, or the configured one)")


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "pacs", help="search, retrieve from and send to a PACS (DICOMweb or DIMSE)",
        description="Search a PACS, retrieve studies into the local cache, send DICOM files.")
    actions = p.add_subparsers(dest="action", required=True)

    f = actions.add_parser("find", help="search studies (or their series)")
    _server_options(f)
    f.add_argument("--patient-id", default="", help="patient ID (wildcards * and ?)")
    f.add_argument("--patient-name", default="", help="patient name, e.g. 'DOE^J*'")
    f.add_argument("--accession", default="", help="accession number")
    f.add_argument("--date-from", default="", help="study date from (YYYYMMDD or YYYY-MM-DD)")
    f.add_argument("--date-to", default="", help="study date to")
    f.add_argument("--modality", default="", help="modality in the study, e.g. MR")
    f.add_argument("--study", help="list the series of this study UID")
    f.add_argument("--series", action="store_true", help="list the series of every study found")
    f.add_argument("--limit", type=int, help="at most this many studies")
    f.add_argument("--json", action="store_true", help="one JSON object per line")

    g = actions.add_parser("get", help="retrieve a study or series into the cache and print "
                                       "its folder")
    _server_options(g)
    g.add_argument("study", help="study instance UID (or a pacs:// address)")
    g.add_argument("--series", help="only this series instance UID")
    g.add_argument("--quiet", action="store_true", help="no progress on stderr")

    s = actions.add_parser("send", help="send DICOM files (SEG, SR, images) to the PACS")
    _server_options(s)
    s.add_argument("files", nargs="+", help="DICOM files or folders of them")

    e = actions.add_parser("echo", help="test the connection (C-ECHO or a QIDO-RS ping)")
    _server_options(e)

    c = actions.add_parser("cache", help="show the local PACS cache, or purge it")
    c.add_argument("--purge", action="store_true", help="delete every cached study")
    return p


def _server(args: argparse.Namespace) -> Any:
    from coloc_viewer.pacs.servers import parse_server

    return parse_server(args.server, args.calling_aet)


def _find(args: argparse.Namespace) -> int:
    from coloc_viewer.pacs.query import Query
    from coloc_viewer.pacs.retrieve import connect

    client = connect(_server(args))
    if args.study:
        rows: list[Any] = client.find_series(args.study)
    else:
        query = Query(args.patient_id, args.patient_name, args.accession, args.date_from,
                      args.date_to, args.modality)
        rows = client.find_studies(query, limit=args.limit)
        if args.series:
            rows = [r for study in rows for r in (study, *client.find_series(study.study_uid))]
    for row in rows:
        if args.json:
            print(json.dumps(row.to_json()))
        elif row.level == "study":
            print(f"study  {row.study_uid}  {row.study_date or '-'}  {row.patient_id or '-'}  "
                  f"{row.patient_name or '-'}  {row.modalities or '-'}  "
                  f"{row.n_series or '?'} series  {row.description}")
        else:
            print(f"series {row.series_uid}  {row.modality or '-'}  #{row.series_number or '?'}"
                  f"  {row.n_instances or '?'} instances  {row.description}")
    if not rows and not args.json:
        print("nothing found", file=sys.stderr)
    return 0


def _get(args: argparse.Namespace) -> int:
    from coloc_viewer.pacs.resolve import PacsRef, fetch_ref, is_pacs_url, parse_pacs_url
    from coloc_viewer.pacs.retrieve import Progress

    if is_pacs_url(args.study):
        ref = parse_pacs_url(args.study, args.calling_aet)
    else:
        ref = PacsRef(_server(args), args.study, args.series)

    shown = []

    def progress(p: Progress) -> None:
        if args.quiet:
            return
        shown.append(p)
        if p.cached:
            print("in the cache already", file=sys.stderr)
        elif p.waiting:
            print("waiting: another program is retrieving this series", file=sys.stderr)
        else:
            total = f"/{p.total}" if p.total else ""
            print(f"\rretrieving {p.done}{total} instances", end="", file=sys.stderr)

    try:  # Ctrl+C stops it; the partial series is removed, never cached as complete
        folder = fetch_ref(ref, progress=progress)
    finally:
        if shown and not (shown[-1].cached or shown[-1].waiting):
            print("", file=sys.stderr)  # end the progress line
    print(folder)
    return 0


def _files(items: list[str]) -> list[Path]:
    out: list[Path] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            out += sorted(f for f in p.rglob("*") if f.is_file() and not f.name.startswith("."))
        elif p.is_file():
            out.append(p)
        else:
            raise InputError("no such file or folder", p)
    import pydicom

    for f in out:
        try:
            pydicom.dcmread(f, stop_before_pixels=True, specific_tags=["SOPClassUID"])
        except (pydicom.errors.InvalidDicomError, OSError):
            raise InputError("not a DICOM file", f) from None
    if not out:
        raise InputError("no DICOM file to send")
    return out


def _send(args: argparse.Namespace) -> int:
    from coloc_viewer.pacs.retrieve import connect

    files = _files(args.files)
    server = _server(args)
    n = connect(server).store(files)
    print(f"sent {n} object(s) to {server.label}")
    return 0


def _echo(args: argparse.Namespace) -> int:
    from coloc_viewer.pacs.retrieve import connect

    server = _server(args)
    print(f"{server.label}: {connect(server).verify()}")
    return 0


def _cache(args: argparse.Namespace) -> int:
    from coloc_viewer.pacs.cache import open_cache

    cache = open_cache()
    if args.purge:
        freed = cache.purge()
        print(f"purged {freed / 1e6:.1f} MB from {cache.root}")
        return 0
    print(f"{cache.root}: {cache.summary()} of {cache.limit_bytes / 1e9:.1f} GB")
    return 0


def run(args: argparse.Namespace) -> int:
    handlers = {"find": _find, "get": _get, "send": _send, "echo": _echo, "cache": _cache}
    return handlers[args.action](args)
