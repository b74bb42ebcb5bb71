"""The main window's menus, shortcuts and help: every command is a QAction with its key,
tooltip and menu (a mixin of :class:`~coloc_viewer.gui.main_window.MainWindow`)."""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QMenu, QMessageBox, QToolBar, QWidget

from coloc_viewer.gui.pacs_open import open_from_pacs
from coloc_viewer.gui.pacs_send import send_to_pacs
from coloc_viewer.gui.pacs_settings import PacsSettingsDialog
from coloc_viewer.gui.refine_dialog import open_refine_dialog
from coloc_viewer.gui.roi_commands import run_roi_command
from coloc_viewer.viewer.tools import ROI_COMMANDS, TOOL_LIST
from coloc_viewer.viewer.view_models import OVERLAY_LAYERS

log = logging.getLogger("coloc_viewer.gui.main_window")  # one logger for the window's lines

ROI_FILTER = "ROI files (*.seg.dcm *.dcm *.nii.gz *.nii *.nrrd *.seg.nrrd);;All files (*)"
IMAGE_FILTER = ("Images (*.dcm *.nii *.nii.gz *.mha *.mhd *.nrrd *.zip DICOMDIR);;"
                "All files (*)")
APP_NAME = "coloc_viewer"


class WindowActions:
    """Methods of the main window (uses its widgets, ``state`` and ``runner``)."""

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
        self._action("Open from PACS…", lambda: open_from_pacs(self), "Ctrl+Shift+P",
                     "Search a PACS (DICOMweb or DIMSE) and open a retrieved series", menu=f)
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
        self._action("Export results as DICOM SEG + SR…", self.export_dicom_results_dialog,
                     None, "Write the ROIs as a DICOM SEG and this slice's scores as a DICOM "
                     "Structured Report (TID 1500) into a folder; as DICOM objects of the "
                     "study they carry the patient's name and ID", menu=f)
        self._action("Send results to PACS…", lambda: send_to_pacs(self), None,
                     "Send the ROIs as DICOM SEG and the scores as DICOM SR to a PACS", menu=f)
        self._action("PACS servers…", self.edit_pacs_servers, None,
                     "Configure PACS servers, test a connection, limit or purge the cache",
                     menu=f)
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
        e.addSeparator()
        for cmd in ROI_COMMANDS:  # fill between slices, copy to next/previous (viewer.tools)
            self._action(cmd.label, lambda n=cmd.name: run_roi_command(self, n), cmd.key,
                         cmd.tip, menu=e)

        t = mb.addMenu("&Tools")
        self.tool_bar = QToolBar("Tools")  # the active tool, checked (viewer.tools)
        self.tool_bar.setObjectName("toolbar-tools")
        self.addToolBar(self.tool_bar)
        self.tool_group = QActionGroup(self)
        self.tool_group.setExclusive(True)
        self.tool_actions: dict[str, QAction] = {}
        s.events.tool.connect(lambda tools: self.tool_actions[tools.tool].setChecked(True))
        for spec in TOOL_LIST:  # the one tool vocabulary (viewer.tools)
            tool = spec.name
            act = self._action(spec.label, lambda tool=tool: s.set_tool(tool), spec.key,
                               spec.tip, menu=t)
            act.setCheckable(True)
            act.setChecked(s.tools.tool == tool)
            self.tool_group.addAction(act)
            self.tool_bar.addAction(act)
            self.tool_actions[tool] = act
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
        self._action("Cancel polygon / analysis", self.escape, "Esc",
                     "Cancel the polygon or the running analysis (from anywhere in the window)")
        v.addSeparator()
        presets = v.addMenu("Window presets")
        for n in range(1, 6):
            self._action(f"Preset {n}", lambda n=n: s.apply_preset(n), str(n),
                         f"Window preset {n}", menu=presets)
        self._action("Reset view", self.reset_view, "R", "Reset window/level and zoom", menu=v)
        self._action("Toggle ROIs", self.view.toggle_rois, "H", "Show/hide ROI drawings", menu=v)
        for layer in OVERLAY_LAYERS:  # the map, a segmentation model's predicted mask
            self._action(layer.label, lambda f=layer.flag: s.set_overlay(
                **{f: not getattr(s.overlay, f)}), layer.key, layer.tip, menu=v)
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
        self._action("Series for inputs…", self.choose_series_dialog, None,
                     "Choose which series of the study plays each input of a multi-series "
                     "model (T2, ADC, DWI, …); remembered for the study", menu=m)
        self._action("Refine with these ROIs…", lambda: open_refine_dialog(self), None,
                     "Fine-tune the model to look inside the lesion ROI of this study (and "
                     "more cases), in the background; the refined model joins the list", menu=m)

        h = mb.addMenu("&Help")
        self._action("Keyboard shortcuts", self.show_shortcuts, "F1", menu=h)
        self._action("About", self.show_about, None, menu=h)
        self._refresh_recent_menu()

    def edit_pacs_servers(self) -> None:
        dialog = PacsSettingsDialog(self)
        if dialog.exec():
            self.statusBar().showMessage(dialog.saved_message, 8000)

    def show_shortcuts(self) -> None:
        from coloc_viewer.gui.shortcuts_dialog import ShortcutsDialog

        self._help_box = ShortcutsDialog(self.actions_by_name, self)
        self._help_box.show()
        self._help_box.activateWindow()  # takes the keyboard: Esc closes it

    def show_about(self) -> None:
        from coloc_viewer import __version__

        QMessageBox.about(self, "About coloc_viewer",
                          f"coloc_viewer {__version__}<br>Does the classifier look where the "
                          "clinician looks? Feature-map and CAM overlays scored against your "
                          "ROIs, with a test against chance.<br>Not for diagnostic use.")
