"""Screenshots, case reports and the compare window link of the main window (a mixin of
:class:`~coloc_viewer.gui.main_window.MainWindow`)."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QPainter
from PySide6.QtWidgets import QFileDialog

log = logging.getLogger("coloc_viewer.gui.main_window")  # one logger for the window's lines

ROI_FILTER = "ROI files (*.seg.dcm *.dcm *.nii.gz *.nii *.nrrd *.seg.nrrd);;All files (*)"
IMAGE_FILTER = ("Images (*.dcm *.nii *.nii.gz *.mha *.mhd *.nrrd *.zip DICOMDIR);;"
                "All files (*)")
APP_NAME = "coloc_viewer"


class ExportActions:
    """Methods of the main window (uses its widgets, ``state`` and ``runner``)."""

    def open_compare(self) -> Any:
        """The side-by-side review window on this study and its active ROI."""
        if self.state.volume is None:
            return None
        from coloc_viewer.gui.compare_window import CompareWindow
        from coloc_viewer.viewer.compare import Study

        mask = self.state.rois.mask().copy() if self.state.rois is not None and \
            self.state.rois.active else None
        self._compare = CompareWindow(Study(self.state.volume, mask), self.registry,
                                      cache=self.cache)
        self._compare.show()
        return self._compare

    def _follow_in_compare(self) -> None:
        """A new study in the main window: an open compare window shows it instead."""
        compare = self._compare
        if compare is None:
            return
        try:
            visible = compare.isVisible()
            compare.close()
        except RuntimeError:  # deleted
            visible = False
        self._compare = None
        if visible:
            self.open_compare()

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
