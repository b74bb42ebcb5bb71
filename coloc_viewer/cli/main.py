"""Entry point of ``coloc-viewer``: the GUI by default, or a subcommand.

Each subcommand lives in its own module under ``coloc_viewer.cli`` and provides
``add_parser(subparsers)`` and ``run(args) -> int``. Bad input (``ColocError``) is
reported as one line on stderr with exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from coloc_viewer import __version__
from coloc_viewer.errors import ColocError, InputError
from coloc_viewer.logging_setup import configure_logging

SUBCOMMANDS = {
    "inspect": "coloc_viewer.cli.inspect_cmd",
    "analyze": "coloc_viewer.cli.analyze_cmd",
    "cohort": "coloc_viewer.cli.cohort_cmd",
    "refine": "coloc_viewer.cli.refine_cmd",
    "pacs": "coloc_viewer.cli.pacs_cmd",
}


class OneLineParser(argparse.ArgumentParser):
    """argparse's errors as one line naming the command and where its help is (argparse
    prints the whole usage block first), exit status 2 as before."""

    def error(self, message: str) -> NoReturn:  # noqa: D102
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _gui_parser() -> argparse.ArgumentParser:
    p = OneLineParser(
        prog="coloc-viewer",
        description="Open the viewer (the bundled demo when no PATH is given). "
        f"Subcommands: {', '.join(SUBCOMMANDS)} (see 'coloc-viewer SUBCOMMAND --help').",
    )
    p.add_argument("path", nargs="?", help="DICOM file/folder/DICOMDIR/zip or NIfTI/MHA/NRRD")
    p.add_argument("--roi", help="ROI file to open with the study")
    p.add_argument("--model", help="bundled model name or model card to select")
    p.add_argument("--smoke-test", action="store_true",
                   help="run the packaged-install self test offscreen and exit")
    p.add_argument("--window", action="store_true",
                   help="with --smoke-test: run the same steps in a real window (needs a "
                   "usable display)")
    p.add_argument("--screenshot", help="render the view offscreen to this PNG and exit")
    p.add_argument("--version", action="version", version=f"coloc-viewer {__version__}")
    return p


def _sub_parser(name: str) -> tuple[argparse.ArgumentParser, object]:
    module = importlib.import_module(SUBCOMMANDS[name])
    parser = OneLineParser(prog="coloc-viewer")
    subs = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    module.add_parser(subs)
    return parser, module


def _near_subcommand(word: str) -> str | None:
    """The subcommand ``word`` nearly spells ("analyse"), unless it is a file to open."""
    import difflib

    if word.startswith("-") or os.path.exists(word):
        return None
    close = difflib.get_close_matches(word, list(SUBCOMMANDS), n=1, cutoff=0.75)
    return close[0] if close else None


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    configure_logging()
    try:
        if argv and argv[0] in SUBCOMMANDS:
            parser, module = _sub_parser(argv[0])
            args = parser.parse_args(argv)
            return int(module.run(args) or 0)
        if argv and (near := _near_subcommand(argv[0])):
            raise InputError(f"no command {argv[0]!r} (did you mean {near!r}?)")
        args = _gui_parser().parse_args(argv)
        if args.path and "://" not in args.path and not os.path.exists(args.path):
            raise InputError("no such file or folder", args.path)  # before Qt starts
        from coloc_viewer.gui.app import run_gui

        return int(run_gui(args) or 0)
    except ColocError as err:
        print(f"coloc-viewer: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("coloc-viewer: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
