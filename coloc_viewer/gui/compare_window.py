"""Compare mode: 2-4 linked panes over one study (or two studies side by side).

Each pane is the main view's canvas over its own view state, with its own model, layer,
target, ranking and map, and the main window's per-ROI score rows and verdict. Slice,
zoom/pan and window/level are linked (each link can be switched off; ``viewer.compare.Links``
forwards the state events). A study's ROI set is shared by its panes (and the main window),
so an ROI drawn in any of them is in all. A table holds one column per pane. Panes showing
the same kind of map share one intensity scale (calibrated over those maps, or loaded from a
cohort calibration file), or each map is scaled per image. Screenshots carry a legend;
"Export report" writes the case report. Multi-series models take the study's other series
as the main window does (``compare_roles``).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, QThreadPool, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDockWidget,
    QGridLayout,
    QLabel,
    QMainWindow,
    QPushButton,
    QSlider,
    QSpinBox,
    QToolBar,
    QWidget,
)

from coloc_viewer.gui.compare_exports import CompareExports
from coloc_viewer.gui.compare_pane import ComparePane
from coloc_viewer.gui.compare_roles import CompareRoles
from coloc_viewer.gui.compare_table import CompareTable
from coloc_viewer.gui.compare_worker import CompareJob
from coloc_viewer.gui.qt_compat import favour_the_gui_thread
from coloc_viewer.viewer.analysis import ResultCache
from coloc_viewer.viewer.compare import (
    SCALE_COMMON,
    SCALE_IMAGE,
    Links,
    ModelRegistry,
    PaneResult,
    PaneSpec,
    Study,
    cached_pane,
)
from coloc_viewer.viewer.tools import TOOL_LIST

LETTERS = "ABCD"
EXTRA_ROWS = ("prediction", "channel")


class CompareWindow(CompareExports, CompareRoles, QMainWindow):
    """The compare window. ``studies``: one Study (all panes) or two (alternating panes)."""

    results_ready = Signal()  # every pane of the current request has a result or an error

    def __init__(self, studies: Study | Sequence[Study], registry: ModelRegistry | None = None,
                 n_panes: int = 2, specs: Sequence[PaneSpec] | None = None,
                 parent: QWidget | None = None, cache: ResultCache | None = None) -> None:
        super().__init__(parent)
        favour_the_gui_thread()  # the model worker must not starve timers and repaints
        self.setWindowTitle("Compare — coloc_viewer")  # no patient name here
        self.studies = [studies] if isinstance(studies, Study) else list(studies)
        if not 1 <= len(self.studies) <= 2:
            raise ValueError("compare mode shows one study or two studies side by side")
        self.registry = registry or ModelRegistry()
        self.links = Links()  # slice / window / ROI edits between the panes' states
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)
        self._cache = cache if cache is not None else ResultCache()  # bounded (LRU)
        self._cache_lock = threading.Lock()
        self._job: CompareJob | None = None
        self._request = 0
        self._pending: set[int] = set()
        self._errors: dict[int, str] = {}
        self._syncing = False
        self.common_scale: Any = None  # a CommonScale loaded from a calibration file
        self.panes: list[ComparePane] = []
        self._specs = list(specs or [])
        self._build_ui()
        self.set_pane_count(max(2 if len(self.studies) == 1 else 2, min(4, n_panes)))
        self._auto_timer = QTimer(self, singleShot=True, interval=200)
        self._auto_timer.timeout.connect(self.analyse)

    # -- layout ----------------------------------------------------------------------------
    def _build_ui(self) -> None:
        bar = QToolBar("Compare")
        bar.setObjectName("compare-toolbar")
        self.addToolBar(bar)
        self.pane_count = QSpinBox()
        self.pane_count.setRange(2, 4)
        self.pane_count.setPrefix("panes: ")
        self.pane_count.valueChanged.connect(self.set_pane_count)
        bar.addWidget(self.pane_count)
        self.link_slice = QCheckBox("Link slice")
        self.link_zoom = QCheckBox("Link zoom/pan")
        self.link_window = QCheckBox("Link W/L")
        for box in (self.link_slice, self.link_zoom, self.link_window):
            box.setChecked(True)
            bar.addWidget(box)
        self.link_zoom.toggled.connect(self._apply_zoom_link)
        self.link_slice.toggled.connect(lambda on: setattr(self.links, "slice", on))
        self.link_window.toggled.connect(lambda on: setattr(self.links, "window", on))
        bar.addSeparator()
        self.tool_group = QActionGroup(self)
        self.tool_actions: dict[str, QAction] = {}
        for tool in TOOL_LIST:
            act = QAction(tool.label, self, checkable=True)
            act.setToolTip(f"{tool.tip} ({tool.key} in the main window)")
            act.triggered.connect(lambda _c=False, name=tool.name: self.set_tool(name))
            self.tool_group.addAction(act)
            bar.addAction(act)
            self.tool_actions[tool.name] = act
        self.tool_actions["wl"].setChecked(True)
        bar.addSeparator()
        self.scale_box = QComboBox()
        self.scale_box.addItems([SCALE_COMMON, SCALE_IMAGE])
        self.scale_box.setToolTip("Common: one colour scale for all panes (comparable maps); "
                                  "per-image: each map stretched to its own range")
        self.scale_box.currentTextChanged.connect(lambda _: self.update_scales())
        bar.addWidget(QLabel(" scale "))
        bar.addWidget(self.scale_box)
        load_cal = QPushButton("Load calibration...")
        load_cal.setToolTip("Use a common scale from a cohort calibration file (JSON)")
        load_cal.clicked.connect(self._choose_calibration)
        bar.addWidget(load_cal)
        self.addToolBarBreak()  # a second row: at 1500 px one row hid Analyse and the exports
        bar = QToolBar("Analyse and export")
        bar.setObjectName("compare-run-toolbar")
        self.addToolBar(bar)
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(50)
        self.opacity.setMaximumWidth(90)
        self.opacity.setToolTip("Opacity of the maps in every pane")
        self.opacity.valueChanged.connect(
            lambda v: [p.set_opacity(v / 100.0) for p in self.panes])
        bar.addWidget(QLabel(" opacity "))
        bar.addWidget(self.opacity)
        bar.addSeparator()
        self.analyse_button = QPushButton("Analyse")
        self.analyse_button.setShortcut("Ctrl+Return")
        self.analyse_button.setToolTip("Analyse every pane (F5 or Ctrl+Return)")
        QShortcut(QKeySequence("F5"), self, self.analyse)  # as in the main window
        self.analyse_button.clicked.connect(self.analyse)
        bar.addWidget(self.analyse_button)
        self.auto_box = QCheckBox("Auto")
        self.auto_box.setToolTip("Analyse again when the slice or a pane's settings change")
        bar.addWidget(self.auto_box)
        shot = QPushButton("Screenshot...")
        shot.clicked.connect(self._choose_screenshot)
        bar.addWidget(shot)
        export = QPushButton("Export report...")
        export.clicked.connect(self._choose_export)
        bar.addWidget(export)
        self.phi_box = QCheckBox("Include patient identifiers")
        self.phi_box.setToolTip("Exports omit patient name, ID and birth date unless ticked")
        bar.addWidget(self.phi_box)

        central = QWidget()
        self.grid = QGridLayout(central)
        self.grid.setContentsMargins(2, 2, 2, 2)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setToolTip("Slice of pane A (linked panes follow)")
        self.slider.valueChanged.connect(lambda k: self.panes and self.panes[0].set_slice(k))
        self.slice_label = QLabel()
        self.setCentralWidget(central)

        self.table = CompareTable()
        dock = QDockWidget("Active ROI", self)
        dock.setObjectName("compare-scores")
        dock.setToolTip("Scores of the active ROI, one column per pane")
        dock.setWidget(self.table)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        self.status = self.statusBar()

    def study_of(self, index: int) -> Study:
        return self.studies[index % len(self.studies)]

    def set_pane_count(self, n: int) -> None:
        n = int(np.clip(n, 2, 4))
        if self.pane_count.value() != n:
            self.pane_count.setValue(n)  # re-enters with the same n
            return
        while len(self.panes) > n:
            pane = self.panes.pop()
            self.links.remove(pane.state)
            pane.setParent(None)
            pane.deleteLater()
        self._pending = {i for i in self._pending if i < n}
        names = self.registry.names
        while len(self.panes) < n:
            i = len(self.panes)
            spec = self._specs[i] if i < len(self._specs) else \
                PaneSpec(names[i % len(names)] if names else "")
            pane = ComparePane(LETTERS[i], self.study_of(i), names, spec, registry=self.registry)
            pane.set_opacity(self.opacity.value() / 100.0)
            pane.state.set_tool(self.current_tool())
            if self.panes:  # a new pane joins the linked slice and window of the first
                lead = self.panes[0]
                if self.link_slice.isChecked():
                    pane.set_slice(lead.slice_index)
                if self.link_window.isChecked() and pane.study is lead.study:
                    pane.set_window(*lead.window)
            self.links.add(pane.state)
            pane.slice_changed.connect(lambda k, p=pane: self._pane_slice(p, k))
            pane.spec_changed.connect(self._spec_changed)
            self.panes.append(pane)
        cols = 2 if n == 4 else n
        for i, pane in enumerate(self.panes):
            self.grid.addWidget(pane, i // cols, i % cols)
        rows = (n + cols - 1) // cols
        self.grid.addWidget(self.slice_label, rows, 0)
        self.grid.addWidget(self.slider, rows, 1, 1, max(1, cols - 1))
        self.table.set_panes(LETTERS[:n])
        self._apply_zoom_link(self.link_zoom.isChecked())
        self._sync_slider()
        self._fill_table()
        self.update_scales()

    # -- links -----------------------------------------------------------------------------
    def _apply_zoom_link(self, on: bool) -> None:
        lead = self.panes[0].view if self.panes else None
        for pane in self.panes[1:]:
            pane.view.setXLink(lead if on else None)
            pane.view.setYLink(lead if on else None)

    def _pane_slice(self, source: ComparePane, k: int) -> None:
        self.show_cached([source])
        if source is not self.panes[0] and self.link_slice.isChecked():
            self._fill_table()
            return  # the lead pane follows through the link and reports once
        self._sync_slider()
        self._fill_table()
        self.update_scales()
        if self.auto_box.isChecked():
            self._auto_timer.start()

    def current_tool(self) -> str:
        return next((n for n, a in self.tool_actions.items() if a.isChecked()), "wl")

    def set_tool(self, tool: str) -> None:
        """The ROI tool of every pane (W/L by default; brush and polygon draw ROIs)."""
        self.tool_actions[tool].setChecked(True)
        for pane in self.panes:
            pane.state.set_tool(tool)

    def set_study(self, study: Study) -> None:
        """Show ``study`` in every pane (the main window's new study)."""
        self.studies = [study]
        for pane in self.panes:
            pane.set_study(study)
        self._sync_slider()
        self._fill_table()
        self.update_scales()

    def fit_panes(self) -> None:
        """Fit the whole slice into each pane (the lead only when zoom is linked)."""
        for pane in self.panes[:1] if self.link_zoom.isChecked() else self.panes:
            pane.fit()

    def showEvent(self, event: Any) -> None:  # noqa: N802
        super().showEvent(event)
        for pane in self.panes:  # models loaded in the main window since
            pane.set_models(self.registry.names)

    def _sync_slider(self) -> None:
        if not self.panes:
            return
        lead = self.panes[0]
        self.slider.blockSignals(True)
        self.slider.setRange(0, lead.study.n_slices - 1)
        self.slider.setValue(lead.slice_index)
        self.slider.blockSignals(False)
        self.slice_label.setText(f"slice {lead.slice_index + 1}/{lead.study.n_slices}")

    def _spec_changed(self) -> None:
        self._fill_table()
        self.update_scales()
        if self.auto_box.isChecked():
            self._auto_timer.start()

    # -- model work ------------------------------------------------------------------------
    def show_cached(self, panes: Sequence[ComparePane] | None = None) -> None:
        """Show the panes' slices that the session cache holds (a 3-D model's one run
        covers every slice), without running a model."""
        for pane in self.panes if panes is None else panes:
            if pane.model.shown_result is None:
                hit = cached_pane(self.registry, pane.study, pane.slice_index, pane.spec(),
                                  self._cache, self.known_inputs(pane))
                if hit is not None:
                    pane.show_result(hit)

    def analyse(self) -> int:
        """Start computing every pane at its current slice; returns the request id."""
        if self._job is not None:
            self._job.cancel()
        self._request += 1
        tasks = [(i, p.study, p.slice_index, p.spec()) for i, p in enumerate(self.panes)]
        self._pending = {i for i, *_ in tasks}
        self._errors.clear()
        job = CompareJob(self._request, self.registry, tasks, self._cache, self._cache_lock,
                         self.pane_inputs)
        job.signals.ask.connect(self._on_ask)
        job.signals.result.connect(self._on_result)
        job.signals.failed.connect(self._on_failed)
        job.signals.finished.connect(self._on_finished)
        self._job = job
        self.status.showMessage("analysing...")
        self.pool.start(job)
        return self._request

    def _on_result(self, request: int, index: int, result: PaneResult) -> None:
        if request != self._request or index >= len(self.panes):
            return
        pane = self.panes[index]
        if result.slice_index == pane.slice_index and result.spec == pane.spec():
            pane.show_result(result)
        self._pending.discard(index)
        self._fill_table([index])
        if not self._pending or self.scale_mode() == SCALE_IMAGE:
            self.update_scales()  # the common range settles once: one repaint per pane
        if not self._pending:
            self.status.showMessage("done", 3000)
            self.results_ready.emit()

    def _on_failed(self, request: int, index: int, message: str) -> None:
        if request != self._request or index >= len(self.panes):
            return
        self._errors[index] = message
        self._pending.discard(index)
        self.panes[index].show_notice(message)
        self._fill_table()
        self.status.showMessage(f"pane {LETTERS[index]}: {message}")
        if not self._pending:
            self.results_ready.emit()

    def _on_finished(self, request: int) -> None:
        if request == self._request:
            self._job = None

    def wait_idle(self, msecs: int = 60000) -> bool:
        return self.pool.waitForDone(msecs)

    # -- scales and scores -----------------------------------------------------------------
    def scale_mode(self) -> str:
        return self.scale_box.currentText()

    def set_scale_mode(self, mode: str) -> None:
        self.scale_box.setCurrentText(mode)

    def load_calibration(self, path: str | Path | None) -> None:
        """Use a cohort's CommonScale file (None: calibrate over the panes again)."""
        from coloc_viewer.explain.scale import CommonScale

        self.common_scale = CommonScale.load(path) if path else None
        self.set_scale_mode(SCALE_COMMON)
        self.update_scales()

    def _fill_table(self, columns: Sequence[int] | None = None) -> None:
        self.table.fill(self.panes, self._errors, columns)

    def table_values(self) -> list[dict[str, str]]:
        """The score table as text, one dict per pane column (for tests and scripts)."""
        return self.table.values()

    def set_roi(self, study: Study, roi: np.ndarray) -> None:
        """Replace the active ROI of a study (shown and rescored in all its panes)."""
        study.set_mask(roi)
        for pane in self.panes:
            if pane.study is study:
                pane.roi_changed()
        self._fill_table()

    def closeEvent(self, event: Any) -> None:
        self.links.clear()  # the panes' states and the main window's
        if self._job is not None:
            self._job.cancel()
        self.pool.waitForDone(30000)
        super().closeEvent(event)


def open_compare(images: Sequence[str], rois: Sequence[str | None] = (),
                 models: Sequence[str] = (), n_panes: int = 2,
                 specs: Sequence[PaneSpec] | None = None) -> CompareWindow:
    """See :func:`coloc_viewer.gui.compare_open.open_compare`."""
    from coloc_viewer.gui.compare_open import open_compare as load_and_open

    return load_and_open(images, rois, models, n_panes, specs)
