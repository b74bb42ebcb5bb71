"""The window-driving part of the self test: a :class:`SmokeTest` steps a real
:class:`~coloc_viewer.gui.main_window.MainWindow` through its background workers."""

from __future__ import annotations

import logging
import os
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from coloc_viewer.selftest.checks import (
    MAP_ATOL,
    MAP_RTOL,
    NAME,
    ROI_NAME,
    TEST_PATIENT_ID,
    TEST_PATIENT_NAME,
    SmokeFailure,
    SmokeReport,
    check_transfer_syntax,
    compare_scores,
    compare_voxels,
    image_is_not_blank,
    polygon_around,
    qt_version,
    say,
    write_compressed_series,
)

log = logging.getLogger(__name__)


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
        say(f"smoke-test: ok   {name} ({seconds:.1f} s)")
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
        self.report.facts["qt_version"] = app.applicationVersion() or qt_version()

    def _count_load(self) -> None:
        self.loaded += 1

    def open_and_wait(self, path: Path, rois: Path | None = None) -> Any:
        before = self.loaded
        self.window.open_path(str(path), rois=str(rois) if rois else None)
        self.wait_until(lambda: self.loaded > before and not self.window.runner.is_busy(),
                        f"opening {path.name}")
        return self.window.state.volume

    def open_demo(self) -> None:
        from coloc_viewer.resources import demo_dir
        from coloc_viewer.viewer.study import demo_cases

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

        from coloc_viewer.imaging.load import load_volume
        from coloc_viewer.viewer.study import demo_cases

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
        from coloc_viewer.metrics.definitions import format_score

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
        from coloc_viewer.viewer.live_scores import SCORE_KEYS

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
            self.window.ask_before_quit = False  # the test's own ROI: nothing to ask
            self.window.close()
