"""Shared data of the report tests: PHI values, the case type (PDF text: ``tests/pdf_text``)."""

from __future__ import annotations

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
