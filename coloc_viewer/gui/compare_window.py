"""Compare mode: 2-4 linked panes over one study (or two studies side by side).

Each pane has its own model, layer, target, ranking and map. Slice, zoom/pan and
window/level are linked (each link can be switched off); the ROI of a study is shown in all
of its panes; a table holds one column of scores per pane; maps share one intensity scale
(calibrated over the panes' maps, or loaded from a cohort calibration file) or are scaled
per image. Screenshots carry a legend; "Export report" writes the HTML/PDF/CSV case report.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QRectF, Qt, QThreadPool, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QImage, QPainter
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDockWidget,
    QFileDialog,
    QGridLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QSlider,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QToolBar,
    QWidget,
)

from coloc_viewer.gui.compare_pane import ComparePane
from coloc_viewer.gui.compare_worker import CompareJob
from coloc_viewer.gui.qt_compat import favour_the_gui_thread
from coloc_viewer.metrics.scorer import SCORE_KEYS
from coloc_viewer.report.definitions import SCORE_DEFINITIONS, format_score
from coloc_viewer.report.legend import legend_lines
from coloc_viewer.report.phi import PhiGuard, patient_identity
from coloc_viewer.viewer.analysis import ResultCache
from coloc_viewer.viewer.compare import (
    SCALE_COMMON,
    SCALE_IMAGE,
    ModelRegistry,
    PaneResult,
    PaneSpec,
    Study,
    display_ranges,
    safe_stem,
)

LETTERS = "ABCD"
EXTRA_ROWS = ("prediction", "channel")


class CompareWindow(QMainWindow):
    """The compare window. ``studies``: one Study (all panes) or two (alternating panes)."""

    results_ready = Signal()  # every pane of the current request has a result or an error

    def __init__(self, studies: Study | Sequence[Study], registry: ModelRegistry | None = None,
                 n_panes: int = 2, specs: Sequence[PaneSpec] | None = None,
                 parent: QWidget | None = None, cache: ResultCache | None = None) -> None:
        super().__init__(parent)
        favour_the_gui_thread()  # the model worker must not starve timers and repaints
        self.setWindowTitle("coloc_viewer -- compare")  # no patient name here
        self.studies = [studies] if isinstance(studies, Study) else list(studies)
        if not 1 <= len(self.studies) <= 2:
            raise ValueError("compare mode shows one study or two studies side by side")
        self.registry = registry or ModelRegistry()
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
        self.slider.valueChanged.connect(lambda k: self.panes and self.panes[0].set_slice(k))
        self.slice_label = QLabel()
        self.setCentralWidget(central)

        self.table = QTableWidget(len(EXTRA_ROWS) + len(SCORE_KEYS), 0)
        labels = ["Prediction", "Channel"] + [SCORE_DEFINITIONS[k][0] for k in SCORE_KEYS]
        self.table.setVerticalHeaderLabels(labels)
        for i, key in enumerate(SCORE_KEYS):
            self.table.verticalHeaderItem(len(EXTRA_ROWS) + i).setToolTip(SCORE_DEFINITIONS[key][1])
        dock = QDockWidget("Scores", self)
        dock.setObjectName("compare-scores")
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
            pane.setParent(None)
            pane.deleteLater()
        self._pending = {i for i in self._pending if i < n}
        names = self.registry.names
        while len(self.panes) < n:
            i = len(self.panes)
            spec = self._specs[i] if i < len(self._specs) else \
                PaneSpec(names[i % len(names)] if names else "")
            pane = ComparePane(LETTERS[i], self.study_of(i), names, spec)
            pane.set_opacity(self.opacity.value() / 100.0)
            if self.panes:  # a new pane joins the linked slice and window of the first
                lead = self.panes[0]
                if self.link_slice.isChecked():
                    pane.set_slice(lead.slice_index, emit=False)
                if self.link_window.isChecked() and pane.study is lead.study:
                    pane.set_window(*lead.window, emit=False)
            pane.slice_changed.connect(lambda k, p=pane: self._pane_slice(p, k))
            pane.window_changed.connect(lambda c, w, p=pane: self._pane_window(p, c, w))
            pane.spec_changed.connect(self._spec_changed)
            self.panes.append(pane)
        cols = 2 if n == 4 else n
        for i, pane in enumerate(self.panes):
            self.grid.addWidget(pane, i // cols, i % cols)
        rows = (n + cols - 1) // cols
        self.grid.addWidget(self.slice_label, rows, 0)
        self.grid.addWidget(self.slider, rows, 1, 1, max(1, cols - 1))
        self.table.setColumnCount(n)
        self.table.setHorizontalHeaderLabels(list(LETTERS[:n]))
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
        if self._syncing:
            return
        if self.link_slice.isChecked():
            self._syncing = True
            try:
                for pane in self.panes:
                    if pane is not source:
                        pane.set_slice(k, emit=False)
            finally:
                self._syncing = False
        self._sync_slider()
        self._fill_table()
        self.update_scales()
        if self.auto_box.isChecked():
            self._auto_timer.start()

    def _pane_window(self, source: ComparePane, center: float, width: float) -> None:
        if self._syncing or not self.link_window.isChecked():
            return
        self._syncing = True
        try:
            for pane in self.panes:
                if pane is not source and pane.study is source.study:
                    pane.set_window(center, width, emit=False)
        finally:
            self._syncing = False

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
    def analyse(self) -> int:
        """Start computing every pane at its current slice; returns the request id."""
        if self._job is not None:
            self._job.cancel()
        self._request += 1
        tasks = [(i, p.study, p.slice_index, p.spec()) for i, p in enumerate(self.panes)]
        self._pending = {i for i, *_ in tasks}
        self._errors.clear()
        job = CompareJob(self._request, self.registry, tasks, self._cache, self._cache_lock)
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
        if request != self._request:
            return
        self._errors[index] = message
        self._pending.discard(index)
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

    def update_scales(self) -> None:
        maps = [p.result.saliency if p.result is not None
                and p.result.slice_index == p.slice_index else None for p in self.panes]
        for pane, rng in zip(self.panes, display_ranges(maps, self.scale_mode(),
                                                        self.common_scale)):
            pane.set_display_range(rng)

    def scale_label(self, pane: ComparePane) -> str:
        if self.scale_mode() == SCALE_IMAGE or pane.display_range is None:
            return SCALE_IMAGE
        lo, hi = pane.display_range
        src = "cohort calibration" if self.common_scale is not None else "common over panes"
        return f"{src} [{lo:.3g}, {hi:.3g}]"

    def _fill_table(self, columns: Sequence[int] | None = None) -> None:
        for col, pane in enumerate(self.panes):
            if columns is not None and col not in columns:
                continue
            res = pane.result if pane.result is not None and \
                pane.result.slice_index == pane.slice_index else None
            self.table.setHorizontalHeaderItem(col, QTableWidgetItem(pane.letter))
            self.table.horizontalHeaderItem(col).setToolTip(pane.describe())
            values: list[str] = []
            if res is None:
                msg = self._errors.get(col, "")
                values = ["error" if msg else ""] + [""] * (self.table.rowCount() - 1)
            else:
                pred = res.explanation.prediction if res.explanation is not None else {}
                values = [str(pred.get("label", "")),
                          "" if res.channel is None else str(res.channel)]
                values += [format_score(k, res.scores.get(k)) for k in SCORE_KEYS]
            for row, text in enumerate(values):
                item = QTableWidgetItem(text)
                item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
                if row == 0 and res is None and self._errors.get(col):
                    item.setToolTip(self._errors[col])
                self.table.setItem(row, col, item)

    def table_values(self) -> list[dict[str, str]]:
        """The score table as text, one dict per pane column (for tests and scripts)."""
        keys = [*EXTRA_ROWS, *SCORE_KEYS]
        return [{k: (self.table.item(r, c).text() if self.table.item(r, c) else "")
                 for r, k in enumerate(keys)} for c in range(self.table.columnCount())]

    def set_roi(self, study: Study, roi: np.ndarray) -> None:
        """Replace a study's ROI (shown in all its panes); scores need a new analysis."""
        study.roi = np.asarray(roi, dtype=bool)
        for pane in self.panes:
            if pane.study is study:
                pane.roi_changed()
                if pane.result is not None:
                    pane.show_result(None)
        self._fill_table()

    # -- screenshot and report -------------------------------------------------------------
    def pane_legend(self, pane: ComparePane) -> list[str]:
        spec = pane.spec()
        scores = pane.result.scores if pane.result is not None else None
        guard = PhiGuard(patient_identity(pane.study.volume))
        lines = legend_lines(spec.model, spec.layer or "default layer", spec.method_label(),
                             self.scale_label(pane), scores, target=spec.target, rank=spec.rank)
        head = f"{pane.letter}: {guard.clean(pane.study.label)}, slice {pane.slice_index}"
        return [head, *lines]

    def screenshot(self, legend: bool = True) -> QImage:
        """All panes side by side (as laid out), each with its legend underneath."""
        shots = [p.graphics.grab().toImage() for p in self.panes]
        cols = 2 if len(self.panes) == 4 else len(self.panes)
        font = QFont("monospace", 9)
        line_h = 16
        legend_h = (line_h * 5 + 8) if legend else 0
        cell_w = max(s.width() for s in shots)
        cell_h = max(s.height() for s in shots) + legend_h
        rows = (len(shots) + cols - 1) // cols
        out = QImage(cell_w * cols, cell_h * rows, QImage.Format.Format_RGB32)
        out.fill(QColor(20, 20, 20))
        painter = QPainter(out)
        painter.setFont(font)
        painter.setPen(QColor(235, 235, 235))
        for i, (pane, shot) in enumerate(zip(self.panes, shots)):
            x, y = (i % cols) * cell_w, (i // cols) * cell_h
            painter.drawImage(x, y, shot)
            if legend:
                for j, line in enumerate(self.pane_legend(pane)):
                    painter.drawText(QRectF(x + 6, y + shot.height() + 4 + j * line_h,
                                            cell_w - 12, line_h),
                                     Qt.AlignmentFlag.AlignLeft, line)
        painter.end()
        return out

    def save_screenshot(self, folder: str | Path, legend: bool = True) -> Path:
        """Save :meth:`screenshot` as PNG under a PHI-free name in ``folder``."""
        lead = self.panes[0]
        path = Path(folder) / f"{safe_stem(lead.study, lead.slice_index)}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        if not self.screenshot(legend).save(str(path)):
            raise OSError(f"could not write {path}")
        return path

    def case_reports(self) -> list[Any]:
        """One CaseReport per study with the panes that show it (analysed panes only)."""
        from coloc_viewer.report.case import MapPanel, case_report

        reports = []
        for study in self.studies:
            panes = [p for p in self.panes if p.study is study and p.result is not None
                     and p.result.slice_index == p.slice_index]
            if not panes:
                continue
            k = panes[0].slice_index
            panels, cards = [], {}
            for p in panes:
                if p.slice_index != k:
                    continue
                spec, res = p.spec(), p.result
                expl = res.explanation
                layer = expl.layer if expl is not None else (spec.layer or "")
                cards[res.card.get("name", spec.model)] = res.card
                panels.append(MapPanel(
                    f"{p.letter}: {spec.model} / {layer} / {spec.method_label()}",
                    res.saliency, res.scores, model=spec.model, layer=layer,
                    method=spec.map_choice,
                    target=expl.target if expl is not None else spec.target, rank=spec.rank,
                    channel=res.channel,
                    scale=None if self.scale_mode() == SCALE_IMAGE else p.display_range,
                    scale_label=self.scale_label(p).split(" [")[0],
                    prediction=expl.prediction if expl is not None else None))
            c, w = panes[0].window
            reports.append(case_report(
                study.volume, k, study.roi, panels, model_cards=list(cards.values()),
                window=(c, w), settings={
                    "compare_links": {"slice": self.link_slice.isChecked(),
                                      "zoom": self.link_zoom.isChecked(),
                                      "window": self.link_window.isChecked()},
                    "scale_mode": self.scale_mode()}))
        return reports

    def export_reports(self, folder: str | Path, include_phi: bool | None = None
                       ) -> list[dict[str, Path]]:
        from coloc_viewer.report.export import export_case

        phi = self.phi_box.isChecked() if include_phi is None else include_phi
        return [export_case(r, folder, include_phi=phi) for r in self.case_reports()]

    def _choose_screenshot(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Save screenshot in")
        if folder:
            path = self.save_screenshot(folder)
            self.status.showMessage(f"saved {path.name}", 5000)

    def _choose_export(self) -> None:
        if not self.case_reports():
            QMessageBox.information(self, "Export report", "Analyse the panes first.")
            return
        folder = QFileDialog.getExistingDirectory(self, "Export report to")
        if folder:
            written = self.export_reports(folder)
            self.status.showMessage(f"exported {sum(len(w) for w in written)} files", 5000)

    def _choose_calibration(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Common scale calibration", "",
                                              "Calibration (*.json)")
        if path:
            try:
                self.load_calibration(path)
            except Exception as exc:  # InputError: one clear line
                QMessageBox.warning(self, "Calibration", str(exc))

    def closeEvent(self, event: Any) -> None:
        if self._job is not None:
            self._job.cancel()
        self.pool.waitForDone(30000)
        super().closeEvent(event)


def open_compare(images: Sequence[str], rois: Sequence[str | None] = (),
                 models: Sequence[str] = (), n_panes: int = 2,
                 specs: Sequence[PaneSpec] | None = None) -> CompareWindow:
    """Load one or two studies (with ROI files) and return a compare window (not shown).

    ``models``: bundled names or card paths (default: the bundled models). Needs a
    QApplication.
    """
    from coloc_viewer.imaging.load import load_volume
    from coloc_viewer.imaging.roi_io import load_roi

    studies = []
    for i, path in enumerate(images):
        volume = load_volume(path)
        roi_path = rois[i] if i < len(rois) else None
        studies.append(Study(volume, load_roi(roi_path, like=volume) if roi_path else None))
    registry = ModelRegistry({Path(m).stem if m.endswith(".json") else m: m for m in models}
                             if models else None)
    return CompareWindow(studies, registry, n_panes=n_panes, specs=specs)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m coloc_viewer.gui.compare_window IMAGE [IMAGE2] --roi R [--roi R2] ...``"""
    import argparse
    import sys

    from PySide6.QtWidgets import QApplication

    from coloc_viewer.errors import ColocError

    parser = argparse.ArgumentParser(prog="python -m coloc_viewer.gui.compare_window",
                                     description="Compare maps side by side (2-4 panes).")
    parser.add_argument("images", nargs="+", help="one study, or two side by side")
    parser.add_argument("--roi", action="append", default=[], help="ROI file per study")
    parser.add_argument("--model", action="append", default=[],
                        help="bundled model name or card JSON (repeat for several)")
    parser.add_argument("--panes", type=int, default=2)
    args = parser.parse_args(argv)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    try:
        win = open_compare(args.images, args.roi, args.model, args.panes)
    except ColocError as exc:
        print(exc, file=sys.stderr)
        return 2
    win.resize(1400, 800)
    win.show()
    win.analyse()
    return app.exec()


if __name__ == "__main__":
    raise SystemExit(main())
