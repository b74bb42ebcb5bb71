"""Shared data of the report tests: PHI values, the case type, PDF text extraction."""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

PHI = {"name": "Zyxwvut^Qrstuvw", "id": "PID-8472-XQ", "birth": "19450317"}
PHI_STRINGS = ("Zyxwvut", "Qrstuvw", "PID-8472-XQ", "19450317", "1945-03-17")


@dataclass
class PhiCase:
    volume: object
    roi: np.ndarray  # 3-D
    slice_index: int
    saliency: np.ndarray  # 2-D, peaks on the ROI
    folder: Path


def pdf_text(data: bytes) -> str:
    """The text shown by a PDF's (Flate-compressed) content streams, one string per op."""
    out = []
    for raw in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", data, re.S):
        try:
            stream = zlib.decompress(raw)
        except zlib.error:
            stream = raw
        if b"BT" not in stream or b"ET" not in stream:
            continue  # an image or font stream, not page text
        for op in re.findall(rb"\[([^\]\n]*)\]\s*TJ|\(([^\n]*?)\)\s*Tj", stream):
            arr, single = op
            parts = re.findall(rb"\((.*?)\)", arr) if arr else [single]
            out.append(b"".join(parts).decode("latin-1"))
    return "\n".join(out)
