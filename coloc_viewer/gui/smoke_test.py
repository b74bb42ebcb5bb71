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
import os
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
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


def _say(text: str) -> None:
    stream = sys.stdout
    if stream is not None:  # a windowed build has no console
        print(text, file=stream, flush=True)


def _fail(text: str) -> None:
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
    from coloc_viewer.gui.live_scores import SCORE_KEYS

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


# -- the window-driving run ---------------------------------------------------------------
class SmokeTest:
    """Drives a :class:`MainWindow` through the steps; one instance per run."""

    def __init__(self, out_dir: Path, screenshot: Path, model: str | None,
                 timeout_s: float, real_window: bool = False) -> None:
        self.real_window = real_window
        self.out_dir = out_dir
        self.screenshot = screenshot
        self.model_name = model
        self.timeout_s = timeout_s
        self.report = SmokeReport()
        self.errors: list[str] = []
        self.window: Any = None
        self.loaded = 0
        self.demo_volume: Any = None

    # plumbing
    def step(self, name: str, action: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        try:
            result = action()
        except SmokeFailure as err:
            raise SmokeFailure(f"{name}: {err}") from None
        except Exception as err:
            log.error("smoke test step %s failed:\n%s", name, traceback.format_exc())
            raise SmokeFailure(f"{name}: {type(err).__name__}: {err}") from err
        seconds = time.perf_counter() - start
        self.report.steps.append({"step": name, "seconds": round(seconds, 3)})
        _say(f"smoke-test: ok   {name} ({seconds:.1f} s)")
        log.info("smoke test: %s passed in %.1f s", name, seconds)
        return result

    def _close_dialogs(self) -> None:
        """Error dialogs are modal: record their text and close them so the run goes on."""
        from PySide6.QtWidgets import QApplication

        widget = QApplication.activeModalWidget()
        if widget is not None:
            text = getattr(widget, "text", lambda: "")()
            self.errors.append(f"dialog {widget.windowTitle()!r}: {text}")
            widget.close()

    def _unhandled(self, kind: type[BaseException], err: BaseException, tb: Any) -> None:
        """Exceptions escaping Qt slots (worker callbacks) fail the step at once."""
        log.error("unhandled exception in the viewer:\n%s",
                  "".join(traceback.format_exception(kind, err, tb)))
        self.errors.append(f"an unhandled {kind.__name__}: {err}")
        self._previous_hook(kind, err, tb)

    def wait_until(self, done: Callable[[], bool], what: str) -> None:
        from PySide6.QtCore import QCoreApplication, QEventLoop

        deadline = time.monotonic() + self.timeout_s
        self.errors.clear()
        while True:
            QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
            if self.errors:
                raise SmokeFailure(f"{what}: the viewer reported {self.errors[0]}")
            if done():
                return
            if time.monotonic() > deadline:
                raise SmokeFailure(f"{what}: nothing after {self.timeout_s:.0f} s")
            time.sleep(0.01)

    # steps
    def start_window(self) -> None:
        from coloc_viewer.gui.display_probe import platform_request

        os.environ["QT_QPA_PLATFORM"] = platform_request() if self.real_window else "offscreen"
        os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")
        from PySide6.QtCore import QTimer
        from PySide6.QtGui import QGuiApplication
        from PySide6.QtWidgets import QApplication

        app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else NAME])
        platform = QGuiApplication.platformName()
        if self.real_window and platform == "offscreen":
            raise SmokeFailure("Qt started offscreen although a real window was asked for")
        if not self.real_window and platform != "offscreen":
            raise SmokeFailure(f"Qt platform is {platform!r}, expected 'offscreen'")
        from coloc_viewer.gui.main_window import MainWindow

        self._previous_hook = sys.excepthook
        sys.excepthook = self._unhandled
        self.window = MainWindow()
        self.window.error_shown.connect(lambda text: self.errors.append(str(text)))
        self.window.study_loaded.connect(self._count_load)
        self._dialog_timer = QTimer()
        self._dialog_timer.timeout.connect(self._close_dialogs)
        self._dialog_timer.start(100)
        self.window.resize(1500, 950)
        self.window.show()
        self.report.facts["qt_platform"] = platform
        if self.real_window:
            handle = self.window.windowHandle
            self.wait_until(lambda: handle() is not None and handle().isExposed(),
                            "the window is mapped on the display")
        self.report.facts["qt_version"] = app.applicationVersion() or _qt_version()

    def _count_load(self) -> None:
        self.loaded += 1

    def open_and_wait(self, path: Path, rois: Path | None = None) -> Any:
        before = self.loaded
        self.window.open_path(str(path), rois=str(rois) if rois else None)
        self.wait_until(lambda: self.loaded > before and not self.window.runner.is_busy(),
                        f"opening {path.name}")
        return self.window.state.volume

    def open_demo(self) -> None:
        from coloc_viewer.gui.study import demo_cases
        from coloc_viewer.resources import demo_dir

        cases = demo_cases()
        if not cases:
            raise SmokeFailure(f"no bundled demo case in {demo_dir()}")
        case = cases[0]
        volume = self.open_and_wait(case.image, case.rois)
        if volume is None or volume.voxels.size == 0:
            raise SmokeFailure(f"{case.image}: no voxels after loading")
        rois = [r for r in self.window.state.rois if r.mask.any()]
        if case.rois is not None and not rois:
            raise SmokeFailure(f"{case.rois}: the demo ROI file loaded empty")
        if rois:  # show the lesion, as the viewer does for the demo
            self.window.state.set_slice(int(np.argmax(rois[0].mask.sum(axis=(1, 2)))))
        self.demo_volume = volume
        self.report.facts["demo_case"] = case.image.parent.name
        self.report.facts["demo_shape"] = list(volume.shape)

    def open_compressed(self) -> None:
        from pydicom.pixels.encoders import JPEG2000LosslessEncoder, JPEGLSLosslessEncoder
        from pydicom.uid import JPEG2000Lossless, JPEGLSLossless

        from coloc_viewer.gui.study import demo_cases
        from coloc_viewer.imaging.load import load_volume

        cases = demo_cases()
        if not cases:
            raise SmokeFailure("no bundled demo case to build a compressed series from")
        source = load_volume(str(cases[0].image))
        if not JPEG2000LosslessEncoder.is_available:
            raise SmokeFailure("the JPEG 2000 encoder (pylibjpeg-openjpeg) is missing")
        folder = self.out_dir / "jpeg2000"
        expected, tol = write_compressed_series(source, folder, JPEG2000Lossless)
        check_transfer_syntax(folder, JPEG2000Lossless)
        volume = self.open_and_wait(folder)
        err = compare_voxels(volume.voxels, expected, tol, "JPEG 2000 series in the viewer")
        self.report.facts["jpeg2000_max_error"] = err
        if JPEGLSLosslessEncoder.is_available:
            folder = self.out_dir / "jpegls"
            expected, tol = write_compressed_series(source, folder, JPEGLSLossless)
            check_transfer_syntax(folder, JPEGLSLossless)
            err = compare_voxels(load_volume(str(folder)).voxels, expected, tol,
                                 "JPEG-LS series through the API")
            self.report.facts["jpegls_max_error"] = err
        else:
            self.report.facts["jpegls_max_error"] = "skipped: no JPEG-LS encoder"

    def analyse(self) -> None:
        from coloc_viewer.model.loading import default_model_name, list_bundled_models

        bundled = list_bundled_models()
        if not bundled:
            raise SmokeFailure("no bundled model")
        name = self.model_name or default_model_name()
        window, state = self.window, self.window.state
        window.model_panel.add_model(name)
        window.analyse_current()
        self.wait_until(lambda: state.explanation is not None
                        and not window.runner.is_busy(), f"analysing with {name}")
        if window.model_panel.current_model() != name:
            raise SmokeFailure(f"model {window.model_panel.current_model()!r} ran, not {name!r}")
        self.report.facts["bundled_models"] = bundled
        self.report.facts["model"] = name

    def compare_with_api(self) -> None:
        from coloc_viewer.explain.engine import explain

        window, state = self.window, self.window.state
        settings = window.analysis_settings()
        shown = state.explanation
        ref = explain(window.current_model(), state.volume, state.slice_index,
                     layer=settings.layer, target=settings.target,
                     rank=settings.rank, methods=settings.methods,
                     top_k=settings.top_k)
        if ref.top_channel != shown.top_channel:
            raise SmokeFailure(f"top channel {shown.top_channel} in the viewer, "
                               f"{ref.top_channel} from the API")
        if not np.allclose(shown.top_map, ref.top_map, rtol=MAP_RTOL, atol=MAP_ATOL):
            diff = float(np.max(np.abs(shown.top_map - ref.top_map)))
            raise SmokeFailure(f"the viewer's top map differs from the API's by {diff:g}")

    def draw_roi_and_score(self) -> None:
        import coloc_viewer
        from coloc_viewer.gui.live_scores import format_score

        window, state = self.window, self.window.state
        saliency = state.current_map()
        if saliency is None:
            raise SmokeFailure("no map is shown after the analysis")
        window.roi_panel.add(ROI_NAME)
        active = state.rois.active
        if getattr(active, "name", active) != ROI_NAME:
            raise SmokeFailure(f"the new ROI {ROI_NAME!r} is not the active one")
        polygon = polygon_around(saliency)
        state.fill_polygon(polygon)
        centre_col = float(polygon[:, 1].mean())
        state.dab(float(polygon[:, 0].max()), centre_col)  # a brush dab on the lower edge
        self.wait_until(lambda: ROI_NAME in state.scores, "scoring the drawn ROI")
        mask = dict(state.roi_slices()).get(ROI_NAME)
        if mask is None:
            raise SmokeFailure(f"the ROI {ROI_NAME!r} is not on the shown slice")
        if not mask.any():
            raise SmokeFailure("the drawn ROI is empty")
        shown = state.scores[ROI_NAME]
        if shown.get("relevance_mass") is None:
            raise SmokeFailure(f"no relevance_mass for the drawn ROI: {shown}")
        ex = state.explanation
        seed = ex.seed_map if state.overlay.choice == "top" else None
        reference = coloc_viewer.score(state.current_map(), mask,
                                       threshold=state.overlay.threshold, seed_map=seed)
        bad = compare_scores(shown, reference)
        if bad:
            raise SmokeFailure("scores differ from the API's: " + "; ".join(bad))
        from coloc_viewer.gui.live_scores import SCORE_KEYS

        texts = {key: window.score_panel.value(ROI_NAME, key) for key in SCORE_KEYS}
        wrong = [f"{k}: shows {t!r}, API {format_score(k, reference[k])!r}"
                 for k, t in texts.items() if t != format_score(k, reference[k])]
        if wrong:
            raise SmokeFailure("score table differs from the API: " + "; ".join(wrong))
        self.report.facts["roi_pixels"] = int(mask.sum())
        self.report.facts["scores"] = {k: reference[k] for k in SCORE_KEYS}

    def take_screenshot(self) -> None:
        from PySide6.QtCore import QCoreApplication

        for _ in range(5):
            QCoreApplication.processEvents()
        self.screenshot.parent.mkdir(parents=True, exist_ok=True)
        path = Path(self.window.save_screenshot(self.screenshot))
        if not path.is_file():
            raise SmokeFailure(f"{path}: no screenshot was written")
        w, h, colours = image_is_not_blank(path)
        self.report.screenshot = str(path)
        self.report.facts["screenshot"] = {"width": w, "height": h, "colours": colours}

    def check_log(self) -> None:
        path = self.report.log_file
        if path is None:
            raise SmokeFailure("no log file could be opened (see the warning above)")
        for handler in logging.getLogger().handlers:
            handler.flush()
        text = Path(path).read_text(encoding="utf-8", errors="replace")
        if "smoke test" not in text:
            raise SmokeFailure(f"{path}: the run's entries are missing")
        for secret in (TEST_PATIENT_NAME, TEST_PATIENT_ID, *TEST_PATIENT_NAME.split("^")):
            if secret in text:
                raise SmokeFailure(f"{path}: a patient identifier of the test series leaked")

    def close(self) -> None:
        if getattr(self, "_previous_hook", None) is not None:
            sys.excepthook = self._previous_hook
        if self.window is not None:
            self._dialog_timer.stop()
            self.window.runner.shutdown(3000)
            self.window.close()


def _qt_version() -> str:
    import PySide6

    return PySide6.__version__


def _facts() -> dict[str, Any]:
    import platform

    from coloc_viewer import __version__
    from coloc_viewer.resources import resources_dir

    return {"version": __version__, "frozen": bool(getattr(sys, "frozen", False)),
            "python": platform.python_version(), "platform": platform.platform(terse=True),
            "executable": sys.executable, "resources": str(resources_dir())}


def run_smoke_test(args: Any) -> int:
    """Run every check offscreen; 0 when all pass, else 1 with the reason on stderr.

    ``args`` may carry ``screenshot`` (PNG path; default ``smoke-test/smoke_test.png`` in
    the log folder, next to ``smoke_test.json``), ``model``
    (a bundled model name; default the default bundled model) and ``smoke_timeout``
    (seconds per step, default 300).
    """
    real_window = bool(getattr(args, "window", False))
    if real_window:
        from coloc_viewer.gui.display_probe import no_display_reason

        reason = no_display_reason()
        if reason:
            _fail(f"coloc-viewer: smoke test FAILED: --window needs a usable display: {reason}")
            return 1
    else:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    os.environ.setdefault("COLOC_VIEWER_NO_SETTINGS", "1")  # leave the user's settings alone
    from coloc_viewer.logging_setup import configure_logging, log_dir

    screenshot = getattr(args, "screenshot", None)
    out_dir = Path(tempfile.mkdtemp(prefix="coloc-viewer-smoke-"))  # the test series
    shot = Path(screenshot) if screenshot else log_dir() / "smoke-test" / "smoke_test.png"
    test = SmokeTest(out_dir, shot, getattr(args, "model", None),
                     float(getattr(args, "smoke_timeout", None) or 300), real_window)
    report = test.report
    log_file = configure_logging()  # idempotent: replaces the handlers run_gui installed
    report.log_file = str(log_file) if log_file else None
    report.facts.update(_facts())
    _say(f"smoke-test: coloc-viewer {report.facts['version']} "
         f"({'frozen bundle' if report.facts['frozen'] else 'Python package'}), "
         f"resources {report.facts['resources']}")
    log.info("smoke test started")
    start = time.perf_counter()
    try:
        report.facts["decoders"] = test.step("DICOM codecs", check_codecs)
        test.step("main window " + ("in a real window" if real_window else "offscreen"),
                  test.start_window)
        test.step("compressed DICOM (JPEG 2000 in the viewer, JPEG-LS via the API)",
                  test.open_compressed)
        test.step("bundled demo case", test.open_demo)
        test.step("analysis with a bundled model", test.analyse)
        test.step("viewer map equals the API's explain()", test.compare_with_api)
        test.step("drawn ROI scored, equal to the API's score()", test.draw_roi_and_score)
        test.step("screenshot", test.take_screenshot)
        log.info("smoke test checks done")
        test.step("log file without patient identifiers", test.check_log)
        report.passed = True
    except SmokeFailure as err:
        report.failure = str(err)
    finally:
        try:
            test.close()
        except Exception as err:  # closing must not hide the outcome
            log.warning("closing the smoke-test window: %s", err)
        shutil.rmtree(out_dir, ignore_errors=True)
    report.facts["seconds"] = round(time.perf_counter() - start, 2)
    result_file = shot.parent / "smoke_test.json"
    try:
        result_file.parent.mkdir(parents=True, exist_ok=True)
        result_file.write_text(report.to_json(), encoding="utf-8")
    except OSError as err:
        _fail(f"coloc-viewer: warning: cannot write {result_file}: {err}")
    if report.passed:
        log.info("smoke test passed in %.1f s", report.facts["seconds"])
        _say(f"smoke-test: PASSED in {report.facts['seconds']:.1f} s; screenshot "
             f"{report.screenshot}; report {result_file}")
        return 0
    log.error("smoke test failed: %s", report.failure)
    _fail(f"coloc-viewer: smoke test FAILED: {report.failure}")
    return 1
