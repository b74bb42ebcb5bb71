"""``coloc-viewer --smoke-test [--window]``: prove that an installed program really works,
offscreen (or, with ``--window``, in a real window on the current display).

A bundle that starts but fails on the first compressed DICOM (a missing pylibjpeg plugin
or its entry-point metadata), on the first model run, or on a missing Qt platform plugin
is the typical failure of a packaged viewer; starting it and killing it after a few seconds
catches none of that. This check drives the real main window through its real background
workers:

1. the DICOM codecs: pydicom's pylibjpeg decoders for JPEG 2000 and JPEG-LS are present;
2. the main window starts on the ``offscreen`` Qt platform (``--window``: on the display's
   own platform plugin, never the offscreen fallback);
3. a JPEG 2000 lossless series written from the demo volume opens in the window and
   decodes to exactly the demo's voxels (and a JPEG-LS copy through the API);
4. the bundled demo case opens;
5. a bundled model analyses the shown slice, and its map equals the API's ``explain``;
6. an ROI is drawn programmatically (polygon, then a brush dab); the score table shows
   scores, and they equal ``coloc_viewer.score`` on the same map and mask;
7. a screenshot of the window is written and is not blank;
8. the log file was written and holds none of the test series' patient identifiers.

Exit status 0 when every step passed; otherwise 1 with the failed step and the reason on
stderr. The steps and the outcome also go to ``smoke_test.json`` next to the screenshot
(by default in ``<log folder>/smoke-test/``: GUI builds on Windows/macOS have no console).
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

# Identifiers written into the test series; none may reach the log file.
TEST_PATIENT_NAME = "SMOKETEST^PHICHECK"
TEST_PATIENT_ID = "SMK0042PHI"
ROI_NAME = "smoke-test"
NAME = "coloc-viewer"
MAX_SERIES_SLICES = 6
SCORE_TOLERANCE = 1e-9
MAP_RTOL, MAP_ATOL = 1e-4, 1e-5


class SmokeFailure(Exception):
    """A check failed; the message says what was expected and what was found."""


@dataclass
class SmokeReport:
    """What ran, how long it took, and the outcome (written as JSON)."""

    steps: list[dict[str, Any]] = field(default_factory=list)
    passed: bool = False
    failure: str | None = None
    screenshot: str | None = None
    log_file: str | None = None
    facts: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(self.__dict__, indent=2, default=_plain)


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(type(value).__name__)


def say(text: str) -> None:
    stream = sys.stdout
    if stream is not None:  # a windowed build has no console
        print(text, file=stream, flush=True)


def fail(text: str) -> None:
    stream = sys.stderr
    if stream is not None:
        print(text, file=stream, flush=True)


# -- checks that need no window ----------------------------------------------------------
def check_codecs() -> dict[str, list[str]]:
    """pydicom decoders for JPEG 2000 and JPEG-LS, with the pylibjpeg plugin available."""
    from pydicom.pixels.decoders.base import get_decoder
    from pydicom.uid import JPEG2000Lossless, JPEGLSLossless, RLELossless

    found: dict[str, list[str]] = {}
    for uid in (JPEG2000Lossless, JPEGLSLossless, RLELossless):
        plugins = list(get_decoder(uid).available_plugins)
        found[uid.name] = plugins
        if "pylibjpeg" not in plugins:
            raise SmokeFailure(
                f"no pylibjpeg decoder for {uid.name} (available: {plugins or 'none'}); "
                "the pylibjpeg plugin or its entry-point metadata is missing")
    return found


def storage_params(voxels: np.ndarray) -> tuple[float, float, str]:
    """(slope, intercept, dtype) that store ``voxels`` in 16 bits: exactly when they are
    integers that fit, else with the finest slope that covers their range."""
    lo, hi = float(np.min(voxels)), float(np.max(voxels))
    integral = bool(np.all(np.equal(np.mod(voxels, 1), 0)))
    if integral and lo >= 0 and hi <= 65535:
        return 1.0, 0.0, "uint16"
    if integral and lo >= -32768 and hi <= 32767:
        return 1.0, 0.0, "int16"
    slope = max((hi - lo) / 65535.0, 1e-6)
    return slope, lo, "uint16"


def write_compressed_series(volume: Any, folder: Path, transfer_syntax: str,
                            n_slices: int = MAX_SERIES_SLICES) -> tuple[np.ndarray, float]:
    """Write up to ``n_slices`` middle slices of ``volume`` as a compressed DICOM series.

    Returns the voxels written and the largest error the 16-bit storage allows.
    """
    from coloc_viewer.imaging.dicom_write import write_dicom_series

    z0 = max(0, volume.shape[0] // 2 - n_slices // 2)
    voxels = np.asarray(volume.voxels[z0:z0 + n_slices], dtype=np.float64)
    slope, intercept, dtype = storage_params(voxels)
    direction = np.asarray(volume.direction, dtype=float).reshape(3, 3)
    origin = np.asarray(volume.origin, dtype=float) + z0 * volume.spacing[0] * direction[:, 2]
    write_dicom_series(
        voxels, folder, spacing=volume.spacing, origin=origin, direction=direction,
        modality=str(volume.metadata.get("modality") or "MR"),
        series_description="coloc-viewer smoke test", rescale_slope=slope,
        rescale_intercept=intercept, dtype=dtype, transfer_syntax=transfer_syntax,
        patient_name=TEST_PATIENT_NAME, patient_id=TEST_PATIENT_ID)
    return voxels, slope / 2.0 + 1e-6 * max(1.0, float(np.max(np.abs(voxels))))


def check_transfer_syntax(folder: Path, expected: str) -> None:
    import pydicom

    files = sorted(folder.glob("*.dcm"))
    if not files:
        raise SmokeFailure(f"{folder}: no DICOM files were written")
    found = {str(pydicom.dcmread(f, stop_before_pixels=True).file_meta.TransferSyntaxUID)
             for f in files}
    if found != {str(expected)}:
        raise SmokeFailure(f"{folder}: transfer syntax {sorted(found)}, expected {expected}")


def compare_voxels(loaded: np.ndarray, expected: np.ndarray, tolerance: float,
                   what: str) -> float:
    if loaded.shape != expected.shape:
        raise SmokeFailure(f"{what}: shape {loaded.shape}, expected {expected.shape}")
    err = float(np.max(np.abs(np.asarray(loaded, dtype=np.float64) - expected)))
    if err > tolerance:
        raise SmokeFailure(f"{what}: voxels differ by up to {err:g} (allowed {tolerance:g})")
    return err


def compare_scores(shown: dict[str, Any], reference: dict[str, Any]) -> list[str]:
    """Keys whose values differ between the viewer's scores and the API's."""
    from coloc_viewer.viewer.live_scores import SCORE_KEYS

    bad = []
    for key in SCORE_KEYS:
        a, b = shown.get(key), reference.get(key)
        if a is None or b is None or isinstance(a, bool) or isinstance(b, bool):
            if a != b:
                bad.append(f"{key}: viewer {a!r}, API {b!r}")
        elif abs(float(a) - float(b)) > SCORE_TOLERANCE * max(1.0, abs(float(b))):
            bad.append(f"{key}: viewer {a!r}, API {b!r}")
    return bad


def polygon_around(saliency: np.ndarray, fraction: float = 0.12) -> np.ndarray:
    """A square (row, col) polygon centred on the map's maximum, inside the image."""
    rows, cols = saliency.shape
    r, c = np.unravel_index(int(np.argmax(saliency)), saliency.shape)
    half = max(3.0, fraction * min(rows, cols))
    r = float(np.clip(r, half, rows - 1 - half))
    c = float(np.clip(c, half, cols - 1 - half))
    return np.array([[r - half, c - half], [r - half, c + half],
                     [r + half, c + half], [r + half, c - half]], dtype=float)


def image_is_not_blank(path: Path) -> tuple[int, int, int]:
    """(width, height, distinct colours) of a PNG; fails when it is empty or one colour."""
    from PySide6.QtGui import QImage

    image = QImage(str(path))
    if image.isNull():
        raise SmokeFailure(f"{path}: the screenshot cannot be read back")
    image = image.convertToFormat(QImage.Format.Format_RGB32)
    w, h = image.width(), image.height()
    buf = np.frombuffer(image.constBits(), dtype=np.uint32,
                        count=image.bytesPerLine() * h // 4).reshape(h, -1)[:, :w]
    colours = int(np.unique(buf).size)
    if w < 200 or h < 200 or colours < 50:
        raise SmokeFailure(f"{path}: screenshot {w}x{h} with {colours} colours looks blank")
    return w, h, colours


def qt_version() -> str:
    import PySide6

    return PySide6.__version__
