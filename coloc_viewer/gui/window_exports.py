"""Screenshots, case reports and the compare window link of the main window (a mixin of
:class:`~coloc_viewer.gui.main_window.MainWindow`)."""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import QRect
from PySide6.QtGui import QImage

from coloc_viewer.gui import file_dialogs
from coloc_viewer.gui.screenshot_painter import with_legend

log = logging.getLogger("coloc_viewer.gui.main_window")  # one logger for the window's lines

ROI_FILTER = "ROI files (*.seg.dcm *.dcm *.nii.gz *.nii *.nrrd *.seg.nrrd);;All files (*)"
IMAGE_FILTER = ("Images (*.dcm *.nii *.nii.gz *.mha *.mhd *.nrrd *.zip DICOMDIR);;"
                "All files (*)")
APP_NAME = "coloc_viewer"


class ExportActions:
    """Methods of the main window (uses its widgets, ``state`` and ``runner``)."""

    def open_compare(self) -> Any:
        """The side-by-side review window on this study: it shares the study's ROI set,
        the model registry and the result cache, and ROI edits travel both ways."""
        if self.state.volume is None:
            return None
        from coloc_viewer.gui.compare_window import CompareWindow

        if self._compare is not None:
            with contextlib.suppress(RuntimeError):  # deleted by Qt
                self._compare.close()
        self._compare = CompareWindow(self._compare_study(), self.registry, cache=self.cache,
                                      specs=self._compare_specs())
        self._compare.pane_inputs.store = self.role_store()  # remembered series per study
        self._compare.links.add(self.state, views=False)  # ROI edits only
        # as large as the main window (Qt's default size left the score tables unreadable)
        self._compare.setGeometry(self.geometry())
        self._compare.show()
        return self._compare

    def _compare_specs(self) -> list[Any]:
        """Pane A shows what this window shows (model, layer, target, ranking, map); pane
        B the same map of the next model, so a compare starts from the reader's view."""
        from coloc_viewer.viewer.compare import PaneSpec

        c = self.state.choices
        if not c.model:
            return []
        # B: the next model that reads this one series (a multi-series model asks first)
        names = sorted((n for n in self.registry.names if n != c.model),
                       key=self._needs_series_roles)
        first = PaneSpec(c.model, c.layer, c.target, c.rank, c.map_choice)
        return [first] + [PaneSpec(n, None, None, c.rank, c.map_choice) for n in names[:1]]

    def _needs_series_roles(self, name: str) -> bool:
        from coloc_viewer.errors import ColocError
        from coloc_viewer.viewer.series_roles import is_multi_series

        try:
            return is_multi_series(self.registry.card(name))
        except (ColocError, OSError, ValueError, TypeError):
            return True  # an unreadable card goes last

    def _compare_study(self) -> Any:
        from coloc_viewer.viewer.compare import Study

        return Study(self.state.volume, rois=self.state.rois)

    def _follow_in_compare(self) -> None:
        """A new study in the main window: an open compare window shows it instead."""
        compare = self._compare
        if compare is None:
            return
        try:
            if compare.isVisible():
                compare.set_study(self._compare_study())
                return
        except RuntimeError:  # deleted
            pass
        self._compare = None

    def export_screenshot_dialog(self) -> None:
        path = file_dialogs.save_file(self, "Export screenshot", "coloc_viewer.png", "PNG (*.png)")
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
        """The legend under a screenshot: model, layer, method, scale, active ROI's scores,
        and the predicted mask's classes while that overlay is shown."""
        from coloc_viewer.viewer.exports import scale_label, view_legend

        state = self.state
        model = self.current_model()
        active = state.rois.active if state.rois is not None else None
        common = state.overlay.normalisation == "common" and len(state.explanations) > 1
        overlay = getattr(self, "mask_overlay", None)
        shown = overlay is not None and overlay.labels() is not None
        return view_legend(model.name if model is not None else "", state.explanation,
                           state.overlay.choice, scale_label(state.display_range(), common),
                           state.scores.get(active) if active else None, active,
                           overlay.legend_rows() if shown else ())

    def screenshot(self, legend: bool = True) -> QImage:
        """The view (image, overlay, ROIs, colour bar) with the legend lines drawn under it;
        not the slice slider, nor the brush's outline (it looked like an ROI)."""
        view = self.view
        ring = view.cursor_item.isVisible()
        view.cursor_item.setVisible(False)
        try:
            image = view.grab(QRect(0, 0, view.width(), view.colorbar.geometry().bottom() + 1))
        finally:
            view.cursor_item.setVisible(ring)
        return with_legend(image.toImage(), self.screenshot_legend() if legend else [])

    def export_case_dialog(self) -> None:
        if self.state.volume is None:
            return
        folder = file_dialogs.folder(self, "Export case report into folder")
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
        folders = {p.parent for p in paths}
        where = os.path.commonpath([str(f) for f in folders]) if folders else ""
        per_roi = len(folders) > 1  # roi-1, roi-2...: in the order of the ROIs list
        self.statusBar().showMessage(
            f"Case report written to {where}: {len(paths)} files"
            + (f", one folder per ROI (roi-1 to roi-{len(folders)}, in the ROIs list's "
               "order)" if per_roi else ""), 30000)
        self.case_exported.emit(paths)

    def export_dicom_results_dialog(self) -> None:
        if self.state.volume is None:
            return
        folder = file_dialogs.folder(self, "Export results as DICOM SEG + SR into folder")
        if folder:
            self.export_dicom_results(folder)

    def export_dicom_results(self, folder: str | os.PathLike[str]) -> bool:
        """The ROIs as a DICOM SEG and the shown map's scores as a DICOM SR (TID 1500),
        written in the background; ``dicom_exported`` holds the paths when done."""
        from coloc_viewer.errors import ColocError
        from coloc_viewer.viewer.dicom_results import (
            copy_roiset,
            model_info,
            score_rows_from_view,
            write_dicom_results,
        )

        state, model = self.state, self.current_model()
        try:
            if model is None:
                raise ColocError("load a model and analyse this slice first")
            rows = score_rows_from_view(state)
            info = model_info(model.card, state.explanation)
        except ColocError as err:
            self.show_error("Nothing to export", err)
            return False
        self.dicom_exported: list[Path] | None = None
        self.statusBar().showMessage("Exporting DICOM SEG + SR…")
        self.runner.submit("export-dicom", write_dicom_results, state.volume,
                           copy_roiset(state.rois), rows, info, os.fspath(folder),
                           on_result=self._dicom_exported,
                           on_error=lambda err: self.show_error("Cannot export DICOM results",
                                                                err))
        return True

    def _dicom_exported(self, paths: list[Path]) -> None:
        self.dicom_exported = paths
        # unlike the reports, these carry the patient's name and ID: a PACS files them by it
        self.statusBar().showMessage(
            f"Wrote {', '.join(p.name for p in paths)} to {paths[0].parent if paths else ''} "
            "(DICOM objects: they carry the patient's name and ID, so that a PACS files them "
            "with the study)", 30000)
