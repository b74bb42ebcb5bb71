"""Helpers of the DICOM results tests: analyze in-process, dciodvfy, the written files."""

from __future__ import annotations

import argparse
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

DEMO = Path(__file__).resolve().parents[2] / "resources" / "demo" / "case-01"


@dataclass
class WrittenResults:
    out: dict[str, Any]  # analyze's JSON-ready result (the scores)
    seg: Path
    sr: Path
    image: Path
    roi: Path


def run_analyze(argv: list[str]) -> dict[str, Any]:
    """``coloc-viewer analyze ARGV`` in-process (the CLI's own parser and function)."""
    from coloc_viewer.cli.analyze_cmd import add_parser, analyze

    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers())
    return analyze(parser.parse_args(["analyze", *argv]))


def dciodvfy(path: Path) -> tuple[list[str], list[str]]:
    """(errors, warnings) lines of dicom3tools' validator."""
    if shutil.which("dciodvfy") is None:
        pytest.skip("dicom3tools (dciodvfy) is not installed")
    res = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=120)
    lines = (res.stdout + res.stderr).splitlines()
    return ([ln for ln in lines if ln.startswith("Error")],
            [ln for ln in lines if ln.startswith("Warning")])
