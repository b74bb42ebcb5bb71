"""The main window: menus, docks, status bar, and the wiring between the view model,
the panels and the background workers."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QColor, QFont, QFontMetrics, QImage, QKeySequence, QPainter
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QWidget,
)

from coloc_viewer.gui.gallery import ChannelGallery
from coloc_viewer.gui.model_panel import ModelPanel
from coloc_viewer.gui.qt_compat import favour_the_gui_thread
from coloc_viewer.gui.roi_panel import RoiPanel
from coloc_viewer.gui.score_panel import ScorePanel
from coloc_viewer.gui.series_browser import SeriesBrowser
from coloc_viewer.gui.settings import add_recent, open_settings, recent_studies, workspace_root
from coloc_viewer.gui.slice_view import SliceView
from coloc_viewer.gui.workers import TaskRunner
from coloc_viewer.imaging.volume import Volume
from coloc_viewer.viewer.analysis import (
    AnalysisKey,
    AnalysisSettings,
    ResultCache,
    SliceResult,
    analyse_slices,
    load_model_task,
    series_key,
)
from coloc_viewer.viewer.display import WindowLevel
from coloc_viewer.viewer.state import PreparedMap, ViewerState, prepare_map
from coloc_viewer.viewer.study import (
    LoadStep,
    load_rois_for,
    load_study,
    open_session,
    save_rois_to,
)

log = logging.getLogger(__name__)

APP_NAME = "coloc_viewer"
ROI_FILTER = "ROI files (*.seg.dcm *.dcm *.nii.gz *.nii *.nrrd *.seg.nrrd);;All files (*)"
IMAGE_FILTER = ("Images (*.dcm *.nii *.nii.gz *.mha *.mhd *.nrrd *.zip DICOMDIR);;"
                "All files (*)")


class MainWindow(QMainWindow):
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
        self.cache = ResultCache()
        self.models: dict[str, Any] = {}
        self.series_id = ""
        self._after_model: list[Any] = []
        self._pending_rois: str | None = None
        self._loading_path = ""
        self.session: Any = None  # coloc_viewer.workspace.session.StudySession
        self._session_quiet = False
        self._compare: Any = None
        self._compare_behind = False  # ROI edits of a running stroke not yet sent to it
        self._restoring: dict[str, Any] = {}  # model settings a reopened study waits for

        self.view = SliceView(self.state)
        self.setCentralWidget(self.view)
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
        self._add_dock("Scores", self.score_panel, Qt.DockWidgetArea.BottomDockWidgetArea)
        self._add_dock("Channels", self.gallery, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.splitDockWidget(self.docks["Scores"], self.docks["Channels"],
                             Qt.Orientation.Horizontal)

        self._build_status_bar()
        self._build_actions()
        self._connect()
        self._restore_settings()
        self.model_panel.set_models(self._bundled_models(), self._last_model())

    # -- construction --------------------------------------------------------------------
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
                ("device", "Device the model runs on", 4)):
            label = QLabel("")
            label.setToolTip(tip)
            label.setMinimumWidth(label.fontMetrics().horizontalAdvance("0" * chars))
            bar.addPermanentWidget(label)
            self.status_labels[key] = label

    def _action(self, text: str, slot: Any, shortcut: Any = None, tip: str = "",
                context: Qt.ShortcutContext = Qt.ShortcutContext.WindowShortcut,
                menu: QMenu | None = None, owner: QWidget | None = None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            keys = shortcut if isinstance(shortcut, list) else [shortcut]
            seqs: list[QKeySequence] = []
            for key in keys:  # a standard key may expand to what is also listed explicitly
                for seq in (QKeySequence.keyBindings(key)
                            if isinstance(key, QKeySequence.StandardKey) else [QKeySequence(key)]):
                    if seq not in seqs:
                        seqs.append(seq)
            action.setShortcuts(seqs)
        action.setShortcutContext(context)
        action.setToolTip(tip or text)
        action.setStatusTip(tip or text)
        action.triggered.connect(lambda _checked=False: slot())
        (owner or self).addAction(action)
        if menu is not None:
            menu.addAction(action)
        self.actions_by_name[text] = action
        return action

    def _build_actions(self) -> None:
        self.actions_by_name: dict[str, QAction] = {}
        mb = self.menuBar()
        s, view_only = self.state, Qt.ShortcutContext.WidgetWithChildrenShortcut
        f = mb.addMenu("&File")
        self._action("Open file…", self.open_file_dialog, QKeySequence.StandardKey.Open,
                     "Open a DICOM, NIfTI, MHA or NRRD file, a zip or a DICOMDIR", menu=f)
        self._action("Open folder…", self.open_folder_dialog, "Ctrl+Shift+O",
                     "Open a folder of DICOM files (searched recursively)", menu=f)
        self._action("Open DICOMDIR…", self.open_dicomdir_dialog, None,
                     "Open a DICOMDIR index", menu=f)
        self.recent_menu = f.addMenu("Recent studies")
        f.addSeparator()
        self._action("Load ROIs…", self.load_rois_dialog, "Ctrl+L",
                     "Load ROIs (DICOM SEG, NIfTI/NRRD label map, single mask)", menu=f)
        self._action("Save ROIs…", self.save_rois_dialog, QKeySequence.StandardKey.Save,
                     "Save every ROI (DICOM SEG, NIfTI/NRRD label map + names)", menu=f)
        self._action("Save screenshot…", self.export_screenshot_dialog, "Ctrl+E",
                     "Save a PNG of the view with a legend (model, layer, method, scale, "
                     "scores; no patient name)", menu=f)
        self._action("Export case report…", self.export_case_dialog, "Ctrl+Shift+E",
                     "Write an HTML and a PDF report and a CSV of scores of this slice into a "
                     "folder", menu=f)
        self.include_phi = self._action(
            "Include patient identifiers", lambda: None, None,
            "Print patient name, ID and birth date in exported reports (off by default)",
            menu=f)
        self.include_phi.setCheckable(True)
        self.include_phi.setChecked(False)
        f.addSeparator()
        self._action("Quit", self.close, QKeySequence.StandardKey.Quit, menu=f)

        e = mb.addMenu("&Edit")
        self._action("Undo", s.undo, [QKeySequence.StandardKey.Undo, "Ctrl+Z"],
                     "Undo the last ROI edit (any slice)", menu=e)
        self._action("Redo", s.redo, ["Ctrl+Y", "Ctrl+Shift+Z"], "Redo", menu=e)
        e.addSeparator()
        self._action("Fill holes", s.fill_holes, "F", "Fill holes of the active ROI on this "
                     "slice", menu=e)
        self._action("Clear slice", s.clear_slice, "Delete", "Clear the active ROI on this "
                     "slice", menu=e)
        self._action("Add ROI…", self.roi_panel.add, "Ctrl+N", "Add a named ROI", menu=e)

        t = mb.addMenu("&Tools")
        for text, tool, key, tip in (
            ("Window/level tool", "wl", "W", "Left-drag sets window (horizontal) and level "
             "(vertical); Shift+left-drag does it with any tool"),
            ("Brush", "brush", "B", "Paint the active ROI; radius in mm"),
            ("Eraser", "eraser", "E", "Erase from the active ROI"),
            ("Polygon / lasso", "polygon", "P", "Click points (Enter or double-click closes, "
             "Esc cancels) or drag a lasso"),
        ):
            self._action(text, lambda tool=tool: s.set_tool(tool), key, tip, menu=t)
        t.addSeparator()
        self._action("Smaller brush", lambda: s.grow_brush(-1), "[", "Brush radius -20 % "
                     "(Shift+wheel)", menu=t)
        self._action("Larger brush", lambda: s.grow_brush(1), "]", "Brush radius +20 % "
                     "(Shift+wheel)", menu=t)

        v = mb.addMenu("&View")
        self._action("Next slice", lambda: s.step_slice(1),
                     ["PgDown", "Down", "Right"], "Next slice (wheel down)", view_only, v,
                     self.view)
        self._action("Previous slice", lambda: s.step_slice(-1), ["PgUp", "Up", "Left"],
                     "Previous slice (wheel up)", view_only, v, self.view)
        self._action("First slice", lambda: s.set_slice(0), "Home", context=view_only, menu=v,
                     owner=self.view)
        self._action("Last slice", lambda: s.set_slice(s.n_slices - 1), "End",
                     context=view_only, menu=v, owner=self.view)
        self._action("Close polygon", self.view.close_polygon, ["Return", "Enter"],
                     context=view_only, owner=self.view)
        self._action("Cancel polygon / analysis", self.escape, "Esc", context=view_only,
                     owner=self.view)
        v.addSeparator()
        presets = v.addMenu("Window presets")
        for n in range(1, 6):
            self._action(f"Preset {n}", lambda n=n: s.apply_preset(n), str(n),
                         f"Window preset {n}", menu=presets)
        self._action("Reset view", self.reset_view, "R", "Reset window/level and zoom", menu=v)
        self._action("Toggle ROIs", self.view.toggle_rois, "H", "Show/hide ROI drawings", menu=v)
        self._action("Toggle overlay", lambda: s.set_overlay(visible=not s.overlay.visible),
                     "O", "Show/hide the map overlay", menu=v)
        self._action("Compare models/methods…", self.open_compare, "Ctrl+K",
                     "Side-by-side panes of this study (models, layers, methods, scales)",
                     menu=v)
        v.addSeparator()
        for dock in self.docks.values():
            v.addAction(dock.toggleViewAction())

        m = mb.addMenu("&Model")
        self._action("Analyse this slice", self.analyse_current, "F5",
                     "Run the model on this slice (in the background)", menu=m)
        self._action("Analyse all slices", self.analyse_all, "Shift+F5",
                     "Run the model on every slice, with progress and Cancel", menu=m)
        self._action("Cancel analysis", self.cancel_analysis, None, "Stop the running analysis",
                     menu=m)
        self._action("Load model…", self.load_model_dialog, None, "Load a model card (JSON)",
                     menu=m)

        h = mb.addMenu("&Help")
        self._action("Keyboard shortcuts", self.show_shortcuts, "F1", menu=h)
        self._action("About", self.show_about, None, menu=h)
        self._refresh_recent_menu()

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
        self.state.events.rois.connect(self._autosave_rois)
        self.state.events.rois.connect(self._sync_compare)
        self.state.events.scores.connect(self._sync_compare_after_stroke)
        self.state.events.roi_list.connect(self._autosave_rois)
        self.state.events.slice.connect(self._autosave_state)
        self.state.events.window.connect(self._autosave_state)
        self.model_panel.settings_changed.connect(self._autosave_state)
        self.state.events.explanation.connect(self._show_prediction)
        self.runner.busy_changed.connect(self._busy)

    # -- settings ------------------------------------------------------------------------
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
        if tool in ("wl", "brush", "eraser", "polygon"):
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

    def _bundled_models(self) -> list[str]:
        try:
            from coloc_viewer.model.loading import list_bundled_models

            return list_bundled_models()
        except Exception as err:  # the viewer still opens images without models
            log.warning("no bundled models: %s", err)
            return []

    def showEvent(self, event):  # noqa: N802
        super().showEvent(event)
        if self._default_layout_pending:  # first start: the image gets the room
            self._default_layout_pending = False
            self.resizeDocks([self.docks["Scores"]], [200], Qt.Orientation.Vertical)
            self.resizeDocks([self.docks["Scores"], self.docks["Channels"]], [1100, 380],
                             Qt.Orientation.Horizontal)
            self.resizeDocks([self.docks["Series"], self.docks["Model"]], [320, 340],
                             Qt.Orientation.Horizontal)

    def closeEvent(self, event):  # noqa: N802
        self.save_settings()
        self.runner.shutdown(3000)
        self._close_session()
        super().closeEvent(event)

    # -- errors --------------------------------------------------------------------------
    def show_error(self, title: str, err: Any) -> None:
        """An error dialog and a log entry; the viewer keeps running."""
        text = str(err) or type(err).__name__
        log.error("%s: %s", title, text)
        self.statusBar().showMessage(f"{title}: {text}", 10000)
        self.error_shown.emit(text)
        QMessageBox.critical(self, title, text)

    # -- opening studies -----------------------------------------------------------------
    def open_file_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open image", "", IMAGE_FILTER)
        if path:
            self.open_path(path)

    def open_folder_dialog(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open DICOM folder")
        if path:
            self.open_path(path)

    def open_dicomdir_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open DICOMDIR", "", "DICOMDIR (DICOMDIR);;"
                                              "All files (*)")
        if path:
            self.open_path(path)

    def open_path(self, path: str | os.PathLike[str], series: str | None = None,
                  rois: str | os.PathLike[str] | None = None) -> None:
        """Load a study in the background; the first slice shows before the rest decodes."""
        path = os.fspath(path)
        self._pending_rois = os.fspath(rois) if rois else None
        self.statusBar().showMessage(f"Opening {Path(path).name}…")
        self._loading_path = path
        self.runner.submit("load", load_study, path, series, series is None, workspace_root(),
                           self.session,
                           on_yield=self._load_step,
                           on_result=lambda result: self._study_loaded(path, *result),
                           on_error=lambda err: self.show_error("Cannot open study", err))

    def _load_step(self, step: LoadStep) -> None:
        if step.kind == "series":
            self.series_browser.set_series(self._loading_path, step.payload)
        elif step.kind == "first":
            volume, rois, session, presets = step.payload
            self.set_volume(volume, rois, session=session, presets=presets)
            self.statusBar().showMessage("Loading slices…")
        elif step.kind == "progress" and step.total:
            self.state.voxels_filled(step.payload)
            self.statusBar().showMessage(f"Loading slices {step.done}/{step.total}")

    def _study_loaded(self, path: str, volume: Volume, presets: Any = None) -> None:
        current = self.state.volume
        if current is not None and current.voxels is volume.voxels:
            self.state.replace_volume(volume, presets)
            self.series_id = series_key(volume)
            self._update_title()
        else:
            self.set_volume(volume)
        self._refresh_recent(path)
        self.statusBar().showMessage(f"Opened {Path(path).name}: {volume.shape[0]} slices", 5000)
        log.info("study shown: %s, %s slices of %s x %s", volume.metadata.get("modality", "?"),
                 *volume.shape)
        if self._pending_rois:
            self.load_rois(self._pending_rois)
            self._pending_rois = None
        self.study_loaded.emit()

    def set_volume(self, volume: Volume, rois: Any = None, *, session: Any = False,
                   presets: Any = None) -> None:
        """Show ``volume`` now (synchronous; used by the loader and by scripts/tests).

        The study's workspace is opened: ROIs autosaved for this series come back when no
        ROIs with content are given, and every later edit is autosaved. ``session``: one
        the loading worker opened already (None: autosave unavailable)."""
        self.series_id = series_key(volume)
        if session is False:
            restored_state = self._open_session(volume)
        else:  # the loading worker closed the previous session and opened this one
            self.session = session
            restored_state = session.state if session is not None else {}
        if session is False and (rois is None or not any(r.mask.any() for r in rois)):
            restored = self.session.restored_roiset() if self.session is not None else None
            rois = restored if restored is not None else rois
        self._session_quiet = True
        try:
            self.state.set_volume(volume, rois, presets)
            z = restored_state.get("slice")
            if isinstance(z, int) and 0 <= z < volume.shape[0]:
                self.state.set_slice(z)
            win = restored_state.get("window")
            if isinstance(win, list | tuple) and len(win) == 2:
                self.state.set_window(WindowLevel(float(win[0]), float(win[1])))
        finally:
            self._session_quiet = False
        self._restore_model_settings(restored_state)
        self._settings_changed()
        self._update_title()
        self._slice_changed()
        self.view.graphics.setFocus()  # slice keys work at once

    # -- autosave (coloc_viewer.workspace) -------------------------------------------------
    def _open_session(self, volume: Volume) -> dict:
        self._close_session()
        self.session = open_session(volume, workspace_root())
        return self.session.state if self.session is not None else {}

    def _close_session(self) -> None:
        if self.session is not None:
            try:
                self.session.close()
            finally:
                self.session = None

    def _autosave_rois(self, _value: object = None) -> None:
        if self.session is not None and not self._session_quiet and self.state.rois is not None:
            self.session.rois_changed(self.state.rois)

    def _autosave_state(self, _value: object = None) -> None:
        if self.session is None or self._session_quiet or self.state.volume is None:
            return
        settings = self.analysis_settings()
        w = self.state.window
        chosen = {"model": settings.model if settings else None,
                  "layer": settings.layer if settings else None,
                  "rank": settings.rank if settings else None,
                  "method": self.state.overlay.choice}
        chosen.update(self._restoring)  # the model a reopened study asked for is loading
        self.session.state_changed(slice=self.state.slice_index, window=[w.center, w.width],
                                   **chosen)

    def _restore_model_settings(self, saved: dict) -> None:
        """Bring back the model, layer, rank and map a reopened study was reviewed with."""
        name = saved.get("model")
        if not isinstance(name, str) or not name:
            return
        if name not in self.models and name not in self._bundled_models() \
                and not Path(name).is_file():
            log.info("the study's model is no longer available")
            return
        self._restoring = {k: saved.get(k) for k in ("model", "layer", "rank", "method")}

        def apply() -> None:
            wanted, self._restoring = self._restoring, {}
            if not wanted or self.model_panel.current_model() != wanted["model"]:
                return
            mp = self.model_panel
            for box, key in ((mp.layer_box, "layer"), (mp.rank_box, "rank")):
                idx = box.findData(wanted.get(key)) if wanted.get(key) else -1
                if idx >= 0:
                    box.setCurrentIndex(idx)
            if isinstance(wanted.get("method"), str):
                mp.select_map(wanted["method"])

        self.select_model(name, then=apply)

    def _update_title(self) -> None:
        vol = self.state.volume
        name = vol.private.get("patient_name") if vol is not None else None
        desc = vol.metadata.get("description") if vol is not None else None
        parts = [str(p) for p in (name, desc) if p]
        self.setWindowTitle(" — ".join(parts + [APP_NAME]))

    def _refresh_recent(self, path: str) -> None:
        add_recent(self.settings, path)
        self._refresh_recent_menu()

    def _refresh_recent_menu(self) -> None:
        self.recent_menu.clear()
        for path in recent_studies(self.settings):
            act = self.recent_menu.addAction(path)
            act.triggered.connect(lambda _c=False, p=path: self.open_path(p))

    def dragEnterEvent(self, event):  # noqa: N802
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event):  # noqa: N802
        urls = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if not urls:
            return
        event.acceptProposedAction()
        path = urls[0]
        if self.state.volume is not None and _looks_like_roi(path):
            self.load_rois(path)
        else:
            self.open_path(path)

    # -- ROIs ----------------------------------------------------------------------------
    def load_rois_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load ROIs", "", ROI_FILTER)
        if path:
            self.load_rois(path)

    def load_rois(self, path: str | os.PathLike[str]) -> None:
        if self.state.volume is None:
            return
        try:
            rois = load_rois_for(path, self.state.volume)
        except Exception as err:
            self.show_error("Cannot load ROIs", err)
            return
        self.state.rois = rois
        self.state.rois_changed()

    def save_rois_dialog(self) -> None:
        if self.state.volume is None:
            return
        path, _ = QFileDialog.getSaveFileName(self, "Save ROIs", "rois.seg.dcm", ROI_FILTER)
        if path:
            self.save_rois(path)

    def save_rois(self, path: str | os.PathLike[str]) -> None:
        try:
            save_rois_to(self.state.rois, path, self.state.volume)
            if self.session is not None:
                self.session.saved_as(path)
            self.statusBar().showMessage(f"Saved ROIs to {Path(path).name}", 5000)
        except Exception as err:
            self.show_error("Cannot save ROIs", err)

    # -- models --------------------------------------------------------------------------
    def load_model_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load model card", "", "Model card (*.json)")
        if path:
            self.select_model(path)
        else:
            self.model_panel.set_models(self._bundled_models() + [
                n for n in self.models if n not in self._bundled_models()],
                self.model_panel.current_model())

    def select_model(self, name: str, then: Any = None) -> None:
        """Load ``name`` (a bundled name or a card path) in the background, then ``then()``."""
        if then is not None:
            self._after_model.append(then)
        if name in self.models:
            self._model_loaded(name, self.models[name])
            return
        self.status_labels["model"].setText(f"loading {Path(name).stem}…")
        self.runner.submit("model", load_model_task, name,
                           on_result=lambda res: self._model_loaded(name, *res),
                           on_error=self._model_failed)

    def _model_failed(self, err: Exception) -> None:
        self._after_model.clear()
        self.status_labels["model"].setText("no model")
        self.show_error("Cannot load model", err)

    def _model_loaded(self, name: str, model: Any, layers: Any = None) -> None:
        key = name
        self.models[key] = (model, layers) if layers is not None else self.models[key]
        model, layers = self.models[key]
        self.model_panel.blockSignals(True)
        self.model_panel.add_model(key, model.name)
        self.model_panel.set_layers(layers, model.card.target_layer)
        self.model_panel.set_classes(list(model.classes))
        self.model_panel.blockSignals(False)
        self.status_labels["model"].setText(model.name)
        self.status_labels["device"].setText(str(model.device))
        self.model_ready.emit(key)
        self._settings_changed()
        pending, self._after_model = self._after_model, []
        for callback in pending:
            callback()

    def current_model(self) -> Any:
        entry = self.models.get(self.model_panel.current_model() or "")
        return entry[0] if entry else None

    # -- analysis ------------------------------------------------------------------------
    def analysis_settings(self) -> AnalysisSettings | None:
        return self.model_panel.settings()

    def _settings_changed(self) -> None:
        """Layer/target/rank/method or study changed: show cached maps for the new settings."""
        settings = self.analysis_settings()
        if settings is None or self.state.volume is None:
            return
        had_map = self.state.explanation is not None
        cached = self.cache.for_settings(self.series_id, settings)
        self.state.set_explanations({z: r.explanation for z, r in cached.items()})
        if self.state.explanation is None and (had_map or self.model_panel.auto.isChecked()):
            self.analyse_current()  # e.g. a CAM was chosen that this run did not compute

    def analyse_current(self) -> None:
        self._analyse([self.state.slice_index], "analysis")

    def analyse_all(self) -> None:
        self._analyse(list(range(self.state.n_slices)), "analysis")

    def _analyse(self, slices: list[int], channel: str) -> None:
        if self.state.volume is None:
            return
        name = self.model_panel.current_model()
        if name is None:
            self.show_error("No model", "choose a model in the Model panel first")
            return
        if name not in self.models:
            self.select_model(name, then=lambda: self._analyse(slices, channel))
            return
        settings = self.analysis_settings()
        model, volume = self.current_model(), self.state.volume
        missing = [z for z in slices
                   if self.cache.get(AnalysisKey(self.series_id, z, settings)) is None]
        for z in slices:
            hit = self.cache.get(AnalysisKey(self.series_id, z, settings))
            if hit is not None:
                self._slice_result(hit, show_time=len(slices) == 1, rescore_volume=False)
        if not missing:
            self.state.refresh_volume_scores()
            self.analysis_finished.emit()
            return
        self.model_panel.progress.setRange(0, len(missing))
        self.model_panel.progress.setValue(0)
        self.model_panel.set_running(True)
        self.runner.submit(channel, analyse_slices, model, volume, self.series_id, missing,
                           settings, self.cache, self._preparer(),
                           on_yield=self._analysis_step,
                           on_error=lambda err: self.show_error("Analysis failed", err),
                           on_done=self._analysis_over)

    def _preparer(self) -> Any:
        """A worker-side function making the shown slice's display map and Scorer."""
        state = self.state
        z, choice, threshold = state.slice_index, state.overlay.choice, state.overlay.threshold
        masks = [(name, mask.copy()) for name, mask in state.roi_slices()]
        opacity = state.overlay.opacity

        def prepare(result: SliceResult) -> PreparedMap | None:
            if result.key.slice_index != z:
                return None
            return prepare_map(result.explanation, choice, threshold, masks, opacity)

        return prepare

    def _analysis_step(self, step: tuple[int, int, SliceResult]) -> None:
        done, total, result = step
        self.cache.put(SliceResult(result.key, result.explanation, result.seconds))
        self.model_panel.progress.setValue(done)
        self._slice_result(result, rescore_volume=total == 1)

    def _slice_result(self, result: SliceResult, show_time: bool = True,
                      rescore_volume: bool = True) -> None:
        if (result.key.series != self.series_id
                or result.key.settings != self.analysis_settings()):
            return
        self.state.add_explanation(result.key.slice_index, result.explanation,
                                   prepared=result.prepared, rescore_volume=rescore_volume)
        if show_time:
            self.status_labels["time"].setText(f"{result.seconds * 1000:.0f} ms")
        log.info("analysis shown: slice %d, %s %s, map %s, %d ROI score rows, %.0f ms",
                 result.key.slice_index + 1, result.explanation.model_name,
                 result.explanation.layer, self.state.overlay.choice, len(self.state.scores),
                 result.seconds * 1000)
        self.analysis_done.emit(result)

    def _analysis_over(self) -> None:
        self.model_panel.set_running(False)
        self.state.refresh_volume_scores()
        self.analysis_finished.emit()

    def cancel_analysis(self) -> None:
        self.runner.cancel("analysis")
        self.model_panel.set_running(False)
        self.statusBar().showMessage("Analysis cancelled", 3000)
        self.analysis_finished.emit()

    def escape(self) -> None:
        if self.view.polygon_rc:
            self.view.cancel_polygon()
        elif self.runner.is_busy("analysis"):
            self.cancel_analysis()

    def _busy(self, running: int) -> None:
        self.statusBar().setToolTip(f"{running} background task(s) running")

    # -- status, title, help -------------------------------------------------------------
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
            self.model_panel.prediction.setText("No map on this slice.")
            return
        pred = ex.prediction
        prob = float(pred["probabilities"][pred["index"]])
        text = f"{pred['label']} ({prob:.1%})"
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

    def open_compare(self) -> Any:
        """The side-by-side review window on this study and its active ROI."""
        if self.state.volume is None:
            return None
        from coloc_viewer.gui.compare_window import CompareWindow
        from coloc_viewer.viewer.compare import ModelRegistry, Study

        mask = self.state.rois.mask().copy() if self.state.rois is not None and \
            self.state.rois.active else None
        self._compare = CompareWindow(Study(self.state.volume, mask), ModelRegistry())
        self._compare.show()
        return self._compare

    def _sync_compare(self, _value: object = None) -> None:
        """Every ROI edit reaches the compare window's study (once per stroke)."""
        compare, state = self._compare, self.state
        if compare is None or state.rois is None or not state.rois.active:
            return
        self._compare_behind = state.stroke_in_progress
        if self._compare_behind:
            return
        try:
            if not compare.isVisible():
                return
            study = compare.studies[0]
            if study.volume is not state.volume:
                return
            compare.set_roi(study, state.rois.mask().copy())
        except RuntimeError:  # the window was deleted
            self._compare = None

    def _sync_compare_after_stroke(self, _value: object = None) -> None:
        if self._compare_behind and not self.state.stroke_in_progress:
            self._sync_compare()

    def reset_view(self) -> None:
        self.state.reset_window()
        self.view.reset_view()

    def export_screenshot_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export screenshot", "coloc_viewer.png",
                                              "PNG (*.png)")
        if path:
            self.save_view_screenshot(path)

    def save_screenshot(self, path: str | os.PathLike[str]) -> Path:
        """Save a PNG of the whole window (``--screenshot``); the title bar (patient name)
        is not part of the grab."""
        path = Path(path)
        if not self.grab().save(str(path)):
            self.show_error("Cannot save screenshot", f"{path}: write failed")
        return path

    def save_view_screenshot(self, path: str | os.PathLike[str]) -> Path:
        """Save a PNG of the view with its legend underneath (File > Save screenshot…)."""
        path = Path(path)
        if not self.screenshot().save(str(path)):
            self.show_error("Cannot save screenshot", f"{path}: write failed")
        return path

    def screenshot_legend(self) -> list[str]:
        """The legend under a screenshot: model, layer, method, scale, active ROI's scores."""
        from coloc_viewer.viewer.exports import scale_label, view_legend

        state = self.state
        model = self.current_model()
        active = state.rois.active if state.rois is not None else None
        common = state.overlay.normalisation == "common" and len(state.explanations) > 1
        return view_legend(model.name if model is not None else "", state.explanation,
                           state.overlay.choice, scale_label(state.display_range(), common),
                           state.scores.get(active) if active else None, active)

    def screenshot(self, legend: bool = True) -> QImage:
        """The view (image, overlay, ROIs) with the legend lines drawn under it."""
        shot = self.view.grab().toImage()
        lines = self.screenshot_legend() if legend else []
        if not lines:
            return shot
        font = QFont("monospace", 9)
        line_h = QFontMetrics(font).lineSpacing() + 2
        out = QImage(shot.width(), shot.height() + line_h * len(lines) + 8,
                     QImage.Format.Format_RGB32)
        out.fill(QColor(20, 20, 20))
        painter = QPainter(out)
        try:
            painter.drawImage(0, 0, shot)
            painter.setFont(font)
            painter.setPen(QColor(230, 230, 230))
            for i, line in enumerate(lines):
                painter.drawText(6, shot.height() + 4 + line_h * (i + 1) - 4, line)
        finally:
            painter.end()
        return out

    # -- case report -----------------------------------------------------------------------
    def export_case_dialog(self) -> None:
        if self.state.volume is None:
            return
        folder = QFileDialog.getExistingDirectory(self, "Export case report into folder")
        if folder:
            self.export_case_report(folder, include_phi=self.include_phi.isChecked())

    def export_case_report(self, folder: str | os.PathLike[str],
                           include_phi: bool = False) -> bool:
        """HTML + PDF + CSV of this slice (one report per ROI drawn on it), written in the
        background; ``case_exported`` carries the paths. False if nothing can be exported."""
        from coloc_viewer.viewer.exports import export_case_reports

        state, model = self.state, self.current_model()
        if state.volume is None or state.explanation is None or model is None:
            self.show_error("Nothing to export", "analyse this slice first")
            return False
        common = state.overlay.normalisation == "common" and len(state.explanations) > 1
        scale = state.display_range() if common else None
        rois = [(r.name, r.mask.copy()) for r in state.rois] if state.rois is not None else []
        w = state.window
        self.statusBar().showMessage("Exporting case report…")
        self.runner.submit("export", export_case_reports, state.volume, state.slice_index, rois,
                           state.explanation, state.overlay.choice, scale, model.card,
                           os.fspath(folder), include_phi,
                           {k: dict(v) for k, v in state.scores.items()}, (w.center, w.width),
                           on_result=self._case_exported,
                           on_error=lambda err: self.show_error("Cannot export case report",
                                                                err))
        return True

    def _case_exported(self, paths: list[Path]) -> None:
        self.statusBar().showMessage(f"Exported {len(paths)} files", 5000)
        self.case_exported.emit(paths)

    def shortcut_table(self) -> list[tuple[str, str, str]]:
        rows = []
        for name, act in self.actions_by_name.items():
            keys = ", ".join(k.toString(QKeySequence.SequenceFormat.NativeText)
                             for k in act.shortcuts())
            if keys:
                rows.append((name, keys, act.toolTip()))
        return rows

    def show_shortcuts(self) -> None:
        mouse = [("Wheel", "next/previous slice"), ("Ctrl+wheel, right-drag", "zoom"),
                 ("Middle-drag", "pan"), ("Shift+left-drag", "window/level"),
                 ("Shift+wheel", "brush radius"), ("Left-drag", "active tool")]
        html = ["<table>"]
        html += [f"<tr><td><b>{k}</b></td><td>{v}</td></tr>" for k, v in mouse]
        html += [f"<tr><td><b>{keys}</b></td><td>{name}</td></tr>"
                 for name, keys, _tip in self.shortcut_table()]
        html.append("</table>")
        box = QMessageBox(self)
        box.setWindowTitle("Keyboard shortcuts")
        box.setTextFormat(Qt.TextFormat.RichText)
        box.setText("".join(html))
        box.setModal(False)
        box.show()
        self._help_box = box

    def show_about(self) -> None:
        from coloc_viewer import __version__

        QMessageBox.about(self, "About coloc_viewer",
                          f"coloc_viewer {__version__}<br>Does the classifier look where the "
                          "clinician looks? Feature-map and CAM overlays scored against your "
                          "ROIs, with a test against chance.<br>Not for diagnostic use.")

    # -- synchronous helpers for scripts, --screenshot and tests --------------------------
    def wait_idle(self, timeout_ms: int = 60000) -> bool:
        """Process events until no worker runs (for scripts; the GUI never blocks)."""
        from PySide6.QtCore import QCoreApplication, QElapsedTimer

        timer = QElapsedTimer()
        timer.start()
        while self.runner.is_busy() or self._after_model:
            QCoreApplication.processEvents()
            if timer.elapsed() > timeout_ms:
                return False
            QTimer.singleShot(0, lambda: None)
        QCoreApplication.processEvents()
        return True


def _looks_like_roi(path: str) -> bool:
    lower = path.lower()
    return lower.endswith((".seg.dcm", ".seg.nrrd")) or "roi" in Path(lower).name or \
        "lesion" in Path(lower).name
