"""The main window: menus, docks, status bar, and the wiring between the view model,
the panels and the background workers."""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from PySide6.QtCore import QByteArray, Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QDockWidget,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from coloc_viewer.gui.gallery import ChannelGallery
from coloc_viewer.gui.mask_overlay import PredictedMaskOverlay
from coloc_viewer.gui.model_panel import ModelPanel
from coloc_viewer.gui.qt_compat import favour_the_gui_thread
from coloc_viewer.gui.roi_panel import RoiPanel
from coloc_viewer.gui.score_panel import ScorePanel, scrolling
from coloc_viewer.gui.series_browser import SeriesBrowser
from coloc_viewer.gui.settings import model_cards, open_settings
from coloc_viewer.gui.slice_view import SliceView
from coloc_viewer.gui.window_actions import WindowActions
from coloc_viewer.gui.window_analysis import AnalysisActions
from coloc_viewer.gui.window_exports import ExportActions
from coloc_viewer.gui.window_study import IMAGE_FILTER, ROI_FILTER, StudyActions  # noqa: F401
from coloc_viewer.gui.workers import TaskRunner
from coloc_viewer.viewer.analysis import (
    ResultCache,
    prediction_text,
)
from coloc_viewer.viewer.autosave import Autosave
from coloc_viewer.viewer.domain import domain_warnings
from coloc_viewer.viewer.registry import ModelRegistry
from coloc_viewer.viewer.state import ViewerState
from coloc_viewer.viewer.tools import TOOLS

log = logging.getLogger(__name__)

APP_NAME = "coloc_viewer"


class MainWindow(StudyActions, AnalysisActions, ExportActions, WindowActions, QMainWindow):
    """The viewer. ``state`` holds everything shown; workers never touch widgets."""

    study_loaded = Signal()
    analysis_done = Signal(object)  # SliceResult
    analysis_finished = Signal()  # a run (one slice or all) ended, done or cancelled
    model_ready = Signal(str)
    error_shown = Signal(str)
    case_exported = Signal(object)  # list of Paths written


    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        favour_the_gui_thread()
        self.setWindowTitle(APP_NAME)
        self.setAcceptDrops(True)
        self.setDockOptions(QMainWindow.DockOption.AllowTabbedDocks
                            | QMainWindow.DockOption.AnimatedDocks)
        self.state = ViewerState()
        self.settings = open_settings()
        self.runner = TaskRunner(max_threads=2, parent=self)
        self.cache = ResultCache()  # the one result cache, shared with the compare window
        self.registry = ModelRegistry()  # the one model registry, shared likewise
        self.series_id = ""
        self._after_model: list[Any] = []
        self._pending_rois: str | None = None
        self._loading_path = ""
        self.study_address = ""  # what the shown study was opened from (path or pacs://)
        self.autosave = Autosave(self.state)  # the study's session (viewer.autosave)
        self._compare: Any = None
        self.unsaved_edits = False  # ROI edits not yet saved to a file (Quit asks)
        self.ask_before_quit = QGuiApplication.platformName() != "offscreen"

        self.view = SliceView(self.state)
        self.mask_overlay = PredictedMaskOverlay(self.view, self.state)  # segmentation output
        self.banner = QLabel("")  # out-of-domain warning (viewer.domain)
        self.banner.setWordWrap(True)
        self.banner.setStyleSheet("background:#7a4a00; color:white; padding:4px;")
        self.banner.setVisible(False)
        central = QWidget()
        column = QVBoxLayout(central)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.banner)
        column.addWidget(self.view, 1)
        self.setCentralWidget(central)
        self.series_browser = SeriesBrowser()
        self.series_browser.series_activated.connect(self.open_path)
        self.roi_panel = RoiPanel(self.state)
        self.model_panel = ModelPanel(self.state)
        self.score_panel = ScorePanel(self.state)
        self.gallery = ChannelGallery(self.state)
        self.gallery.channel_clicked.connect(self.model_panel.select_map)
        self.docks: dict[str, QDockWidget] = {}
        self._add_dock("Series", self.series_browser, Qt.DockWidgetArea.LeftDockWidgetArea)
        self._add_dock("ROIs", self.roi_panel, Qt.DockWidgetArea.LeftDockWidgetArea)
        self._add_dock("Model", self.model_panel, Qt.DockWidgetArea.RightDockWidgetArea)
        self._add_dock("Scores", scrolling(self.score_panel),
                       Qt.DockWidgetArea.BottomDockWidgetArea)
        self._add_dock("Channels", self.gallery, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.splitDockWidget(self.docks["Scores"], self.docks["Channels"],
                             Qt.Orientation.Horizontal)

        self._build_status_bar()
        self._build_actions()
        self._connect()
        self._restore_settings()
        for card in reversed(model_cards(self.settings)):  # cards loaded or refined before
            self.registry.add(card)
        self.model_panel.set_models(self.registry.names, self._last_model())

    def _add_dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> None:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock-{title}")
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        self.docks[title] = dock

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.status_labels: dict[str, QLabel] = {}
        for key, tip, chars in (
                ("position", "Pixel (row, col) and LPS position in mm", 34),
                ("value", "Pixel value in physical units", 9),
                ("slice", "Slice index and position along the normal", 20),
                ("model", "Model", 12), ("prediction", "Prediction and probability", 16),
                ("time", "Inference time of the shown map", 9),
                ("device", "Device the model runs on", 4),
                ("wl", "Window width and level (W/L) in physical units", 16)):
            label = QLabel("")
            label.setToolTip(tip)
            label.setMinimumWidth(label.fontMetrics().horizontalAdvance("0" * chars))
            if key in ("position", "value"):  # follow the mouse: a message may cover them
                bar.addWidget(label)
            else:
                bar.addPermanentWidget(label)
            self.status_labels[key] = label
        # a pacs:// study (Recent studies) retrieved again: stop it here
        self.retrieval_cancel = QPushButton("Cancel retrieval")
        self.retrieval_cancel.setToolTip("Stop retrieving this study from the PACS: nothing "
                                         "of it is kept, and the study shown stays")
        self.retrieval_cancel.clicked.connect(self.cancel_retrieval)
        self.retrieval_cancel.hide()
        # the first permanent place (indices count the two mouse readouts before it): the
        # readouts to its right stay where they are when it shows
        bar.insertPermanentWidget(2, self.retrieval_cancel)
        # a message longer than the room the readouts leave is cut: the whole of it on hover
        self._running_tasks = 0
        bar.messageChanged.connect(lambda _text: self.update_status_tip())

    def update_status_tip(self) -> None:
        """The status bar's tooltip: the whole current message, and the running tasks."""
        bar, tasks = self.statusBar(), f"{self._running_tasks} background task(s) running"
        bar.setToolTip(f"{bar.currentMessage()}\n{tasks}" if bar.currentMessage() else tasks)

    def _connect(self) -> None:
        mp = self.model_panel
        mp.model_chosen.connect(self.select_model)
        mp.load_model_requested.connect(self.load_model_dialog)
        mp.settings_changed.connect(self._settings_changed)
        mp.analyse_requested.connect(self.analyse_current)
        mp.analyse_all_requested.connect(self.analyse_all)
        mp.cancel_requested.connect(self.cancel_analysis)
        self.view.hovered.connect(self._hover)
        self.state.events.slice.connect(self._slice_changed)
        self.state.events.explanation.connect(self._show_prediction)
        self.state.events.window.connect(
            lambda _w: self.status_labels["wl"].setText(self.state.window_model.readout()))
        self.state.events.rois.connect(self._mark_unsaved)
        self.state.events.notice.connect(lambda text: self.statusBar().showMessage(text, 5000))
        self.runner.busy_changed.connect(self._busy)

    def _restore_settings(self) -> None:
        st = self.settings
        geometry, layout = st.value("window/geometry"), st.value("window/state")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        else:
            self.resize(1500, 950)
        if isinstance(layout, QByteArray):
            self.restoreState(layout)
        self._default_layout_pending = not isinstance(layout, QByteArray)
        tool = st.value("tools/tool", "brush")
        if tool in TOOLS:
            self.state.set_tool(str(tool))
        try:
            self.state.set_brush_radius(float(st.value("tools/brush_radius_mm", 4.0)))
            self.state.set_overlay(opacity=float(st.value("overlay/opacity", 0.5)))
        except (TypeError, ValueError):
            pass
        self.model_panel.opacity.setValue(int(self.state.overlay.opacity * 100))

    def save_settings(self) -> None:
        st = self.settings
        st.setValue("window/geometry", self.saveGeometry())
        st.setValue("window/state", self.saveState())
        st.setValue("tools/tool", self.state.tools.tool)
        st.setValue("tools/brush_radius_mm", self.state.tools.brush_radius_mm)
        st.setValue("overlay/opacity", self.state.overlay.opacity)
        if self.model_panel.current_model():
            st.setValue("model/last", self.model_panel.current_model())
        st.sync()

    def _last_model(self) -> str | None:
        value = self.settings.value("model/last")
        return str(value) if value else None

    def showEvent(self, event):  # noqa: N802
        super().showEvent(event)
        if self._default_layout_pending:  # first start: the image gets the room
            self._default_layout_pending = False
            # room for a three-line verdict and four ROI rows (the panel scrolls beyond)
            self.resizeDocks([self.docks["Scores"]], [310], Qt.Orientation.Vertical)
            self.resizeDocks([self.docks["Scores"], self.docks["Channels"]], [1100, 380],
                             Qt.Orientation.Horizontal)
            self.resizeDocks([self.docks["Series"], self.docks["Model"]], [320, 340],
                             Qt.Orientation.Horizontal)

    def closeEvent(self, event):  # noqa: N802
        if self.unsaved_edits and self.ask_before_quit:
            box = QMessageBox(QMessageBox.Icon.Question, "Unsaved ROI edits",
                              "Save the ROI edits to a file before quitting?\n\nEither way "
                              "they stay autosaved for this series and come back when you "
                              "open it again.", parent=self)
            # the buttons say what they do ("Close" read as "close this question")
            save = box.addButton("Save to a file…", QMessageBox.ButtonRole.AcceptRole)
            box.addButton("Quit", QMessageBox.ButtonRole.DestructiveRole)
            cancel = box.addButton("Keep working", QMessageBox.ButtonRole.RejectRole)
            box.setDefaultButton(save)
            box.exec()
            if box.clickedButton() in (cancel, None):
                event.ignore()
                return
            if box.clickedButton() is save:
                self.save_rois_dialog()
        if self._compare is not None:
            with contextlib.suppress(RuntimeError):  # already deleted
                self._compare.close()
            self._compare = None
        self.save_settings()
        self.runner.shutdown(3000)
        self.autosave.close()
        super().closeEvent(event)

    def open_sources(self) -> list[str]:
        """The folders of the series this window and its compare window show."""
        volumes = [self.state.volume]
        if self._compare is not None:
            with contextlib.suppress(RuntimeError):  # already deleted
                volumes += [pane.state.volume for pane in self._compare.panes]
        return [str(v.source) for v in volumes if v is not None and v.source]

    def show_error(self, title: str, err: Any) -> None:
        """An error dialog and a log entry; the viewer keeps running."""
        text = str(err) or type(err).__name__
        log.error("%s: %s", title, text)
        self.statusBar().showMessage(f"{title}: {text}", 10000)
        self.error_shown.emit(text)
        QMessageBox.critical(self, title, text)

    def _slice_changed(self, _value: object = None) -> None:
        vol = self.state.volume
        if vol is None:
            return
        z = self.state.slice_index
        self.status_labels["slice"].setText(
            f"slice {z + 1}/{vol.shape[0]} ({vol.slice_position_mm(z):.1f} mm)")
        self._show_prediction()
        if self.model_panel.auto.isChecked() and self.state.explanation is None:
            self.analyse_current()

    def _show_prediction(self, _value: object = None) -> None:
        ex = self.state.explanation
        if ex is None:
            self.status_labels["prediction"].setText("")
            self.status_labels["time"].setText("")  # the time of no shown map
            self.model_panel.prediction.setText("No map on this slice.")
            return
        text = prediction_text(ex.prediction)
        self.status_labels["prediction"].setText(text)
        self.model_panel.prediction.setText(
            f"Prediction: {text}\nLayer {ex.layer}, ranked by {ex.rank}")

    def _hover(self, info: dict | None) -> None:
        if info is None:
            self.status_labels["position"].setText("")
            self.status_labels["value"].setText("")
            return
        x, y, z = info["lps"]
        self.status_labels["position"].setText(
            f"({info['row']}, {info['col']})  LPS {x:.1f}, {y:.1f}, {z:.1f} mm")
        self.status_labels["value"].setText(f"{info['value']:.1f} {info['units']}".strip())

    def _mark_unsaved(self, _region: object = None) -> None:
        if not self.autosave.is_quiet:
            self.unsaved_edits = True

    def update_domain_banner(self) -> None:
        """Show why the study lies outside what the model card ``expects`` (if it does)."""
        card = self.state.card
        reasons = domain_warnings(self.state.volume, getattr(card, "expects", None))
        self.banner.setText("Outside what the model was made for: " + "; ".join(reasons)
                            + ". Read its maps and scores with care." if reasons else "")
        self.banner.setVisible(bool(reasons))

    def reset_view(self) -> None:
        self.state.reset_window()
        self.view.reset_view()
