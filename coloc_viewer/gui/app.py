"""``coloc-viewer`` without a subcommand: the viewer, or an offscreen render when there is
no screen (a headless machine, a broken X forward), ``--screenshot`` or ``--smoke-test``."""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from coloc_viewer.errors import InputError
from coloc_viewer.gui.display_probe import no_display_reason, platform_request

__all__ = ["no_display_reason", "run_gui"]
log = logging.getLogger(__name__)


OFFSCREEN_PLATFORMS = ("offscreen", "minimal")


def window_platform(app: Any) -> str:
    """The Qt platform plugin that actually started (``xcb``, ``wayland``, ``offscreen``)."""
    return str(app.platformName())


def _application(offscreen: bool) -> Any:
    """The QApplication; for a window, Qt gets ``offscreen`` as its last resort so a
    platform plugin that fails to start cannot abort the program (see ``window_platform``)."""
    if offscreen:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    elif platform_request():
        os.environ["QT_QPA_PLATFORM"] = platform_request()
    os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")
    from PySide6.QtWidgets import QApplication

    from coloc_viewer.gui.theme import apply_dark_theme

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("coloc-viewer")
    app.setOrganizationName("coloc_viewer")
    apply_dark_theme(app)
    return app


def default_study() -> tuple[str, str | None]:
    """The bundled demo case (image path, ROI file) that opens without arguments."""
    from coloc_viewer.viewer.study import demo_cases

    cases = demo_cases()
    if not cases:
        raise InputError("no bundled demo case found; pass a PATH to open")
    case = cases[0]
    return str(case.image), (str(case.rois) if case.rois else None)


def open_sync(window: Any, path: str, rois: str | None = None,
              series: str | None = None) -> None:
    """Load a study and its ROIs in the calling thread (scripts, offscreen renders)."""
    from coloc_viewer.imaging.inspect import scan
    from coloc_viewer.imaging.load import load_volume
    from coloc_viewer.viewer.study import load_rois_for

    if str(path).lower().startswith("pacs://"):  # the cached folder (retrieved if need be)
        from coloc_viewer.pacs.resolve import local_path

        path = local_path(path)
    volume = load_volume(path, series=series)
    roiset = load_rois_for(rois, volume) if rois else None
    window.set_volume(volume, roiset)
    window.series_browser.set_series(path, scan(path))
    roiset = window.state.rois
    sizes = [int(r.mask.sum(axis=(1, 2)).max()) if r.mask.any() else 0 for r in roiset]
    if sizes and max(sizes) > 0:
        first = next(r for r, n in zip(roiset, sizes, strict=True) if n > 0)
        window.state.set_slice(int(np.argmax(first.mask.sum(axis=(1, 2)))))


def analyse_sync(window: Any, model_name: str | None = None) -> None:
    """Load the model and explain the shown slice in the calling thread."""
    from coloc_viewer.model.loading import default_model_name
    from coloc_viewer.viewer.analysis import AnalysisKey, explain_slice

    name = model_name or window.model_panel.current_model() or default_model_name()
    window.registry.add(name)
    window._model_loaded(name, window.registry.get(name), window.registry.layers(name))
    key = AnalysisKey(window.series_id, window.state.slice_index, window.analysis_settings())
    result = explain_slice(window.current_model(), window.state.volume, key)
    window.cache.put(result)
    window._slice_result(result)
    window.model_panel.progress.setRange(0, 1)
    window.model_panel.progress.setValue(1)


def render(window: Any, png: str | os.PathLike[str]) -> Path:
    """Show the window offscreen, let it lay out, and save a PNG of it."""
    from PySide6.QtCore import QCoreApplication

    window.resize(1500, 950)
    window.show()
    for _ in range(5):
        QCoreApplication.processEvents()
    window.view.reset_view()
    QCoreApplication.processEvents()
    return window.save_screenshot(png)


def scores_summary(window: Any) -> dict[str, Any]:
    """The shown scores, JSON-ready: per ROI, plus the slice, model and map."""
    state = window.state
    return {"slice": state.slice_index, "slice_number": state.slice_index + 1,
            "model": window.model_panel.current_model(), "map": state.overlay.choice,
            "scores": {name: {k: v for k, v in s.items()} for name, s in state.scores.items()}}


def run_offscreen(args: Any, reason: str | None) -> int:
    """Render the study (the demo by default) offscreen, print the PNG path and scores."""
    _application(offscreen=True)
    from coloc_viewer.gui.main_window import MainWindow

    if reason and not args.screenshot and not args.smoke_test:
        print(f"coloc-viewer: no usable display ({reason}); rendering the view offscreen "
              "instead.")
    path, rois = (args.path, args.roi) if args.path else default_study()
    if args.path and not args.roi:
        rois = None
    window = MainWindow()
    try:
        open_sync(window, path, rois)
        analyse_sync(window, args.model)
        png = args.screenshot or os.path.join(tempfile.gettempdir(), "coloc_viewer_view.png")
        out = render(window, png)
        print(f"coloc-viewer: view saved to {out}")
        print(json.dumps(scores_summary(window), default=_json_default))
        ok = bool(window.state.scores) or not any(r.mask.any() for r in window.state.rois)
    finally:
        window.runner.shutdown(2000)
        window.close()
    return 0 if ok else 1


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(type(value).__name__)


def run_gui(args: Any) -> int:
    """Entry point called by ``coloc_viewer.cli.main`` (args: path, roi, model,
    smoke_test, screenshot)."""
    if getattr(args, "smoke_test", False):
        from coloc_viewer.selftest import run_smoke_test

        return int(run_smoke_test(args))
    reason = None if args.screenshot else no_display_reason()
    if reason or args.screenshot:
        return run_offscreen(args, reason)
    app = _application(offscreen=False)
    chosen = window_platform(app)
    if chosen in OFFSCREEN_PLATFORMS:
        return run_offscreen(args, f"Qt could not start a window platform plugin for "
                                   f"{os.environ.get('QT_QPA_PLATFORM')!r}")
    from coloc_viewer.gui.main_window import MainWindow

    log.info("window on the Qt %s platform", chosen)
    window = MainWindow()
    window.show()
    if offer_recovery(window):
        return int(app.exec())
    if args.model:
        window.select_model(args.model)
    if args.path:
        window.open_path(args.path, rois=args.roi)
    else:
        try:
            path, rois = default_study()
        except InputError as err:
            window.statusBar().showMessage(str(err), 10000)
        else:
            window.study_loaded.connect(_analyse_once(window))
            window.open_path(path, rois=rois)
    return int(app.exec())


def offer_recovery(window: Any) -> bool:
    """Ask about ROIs a crashed session left unsaved; reopen the first one accepted."""
    from PySide6.QtWidgets import QMessageBox

    try:
        from coloc_viewer.workspace.recovery import find_recoverable
        from coloc_viewer.workspace.session import describe_recoverable

        items = find_recoverable()
    except Exception:  # recovery is a convenience; never block start-up
        return False
    for item in items:
        answer = QMessageBox.question(window, "Recover unsaved ROIs",
                                      f"Recover unsaved ROIs: {describe_recoverable(item)}?")
        if answer == QMessageBox.StandardButton.Yes:
            window.open_path(item.source, series=item.series_uid)
            return True
        item.workspace.discard_rois()
    return False


def _analyse_once(window: Any) -> Any:
    """After the demo opens: go to the lesion and show its overlay and score at once."""
    def run() -> None:
        window.study_loaded.disconnect(run)
        rois = window.state.rois
        if rois is not None:
            for roi in rois:
                if roi.mask.any():
                    window.state.set_slice(int(np.argmax(roi.mask.sum(axis=(1, 2)))))
                    break
        window.analyse_current()
    return run
