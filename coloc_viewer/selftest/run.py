"""``run_smoke_test``: the self test's steps, its report file and exit status."""

from __future__ import annotations

import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from coloc_viewer.selftest.checks import SmokeFailure, check_codecs, fail, say
from coloc_viewer.selftest.window_run import SmokeTest

log = logging.getLogger(__name__)


def _facts() -> dict[str, Any]:
    import platform

    from coloc_viewer import __version__
    from coloc_viewer.resources import resources_dir

    return {"version": __version__, "frozen": bool(getattr(sys, "frozen", False)),
            "python": platform.python_version(), "platform": platform.platform(terse=True),
            "executable": sys.executable, "resources": str(resources_dir())}


def _model_families(test: SmokeTest) -> dict[str, Any]:
    from coloc_viewer.selftest.model_families import check_monai_3d
    from coloc_viewer.viewer.study import demo_cases

    cases = demo_cases()
    return check_monai_3d(test.out_dir, test.demo_volume,
                          cases[0].image.parent if cases else None)


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
            fail(f"coloc-viewer: smoke test FAILED: --window needs a usable display: {reason}")
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
    say(f"smoke-test: coloc-viewer {report.facts['version']} "
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
        report.facts["model_families"] = test.step(
            "MONAI 3-D model loaded by name and explained", lambda: _model_families(test))
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
        fail(f"coloc-viewer: warning: cannot write {result_file}: {err}")
    if report.passed:
        log.info("smoke test passed in %.1f s", report.facts["seconds"])
        say(f"smoke-test: PASSED in {report.facts['seconds']:.1f} s; screenshot "
             f"{report.screenshot}; report {result_file}")
        return 0
    log.error("smoke test failed: %s", report.failure)
    fail(f"coloc-viewer: smoke test FAILED: {report.failure}")
    return 1
