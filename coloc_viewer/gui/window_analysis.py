"""Models and analysis runs for the main window: the shared model registry and result
cache of ``viewer``, work in background workers (a mixin of
:class:`~coloc_viewer.gui.main_window.MainWindow`)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QFileDialog

from coloc_viewer.viewer.analysis import (
    AnalysisKey,
    AnalysisSettings,
    SliceResult,
    analyse_slices,
    cannot_run,
    is_volume_model,
)
from coloc_viewer.viewer.maps import PreparedMap, prepare_map

log = logging.getLogger("coloc_viewer.gui.main_window")  # one logger for the window's lines

ROI_FILTER = "ROI files (*.seg.dcm *.dcm *.nii.gz *.nii *.nrrd *.seg.nrrd);;All files (*)"
IMAGE_FILTER = ("Images (*.dcm *.nii *.nii.gz *.mha *.mhd *.nrrd *.zip DICOMDIR);;"
                "All files (*)")
APP_NAME = "coloc_viewer"


class AnalysisActions:
    """Methods of the main window (uses its widgets, ``state`` and ``runner``)."""

    def load_model_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load model card", "", "Model card (*.json)")
        if path:
            self.select_model(path)
        else:
            self.model_panel.set_models(self.registry.names, self.model_panel.current_model())

    def select_model(self, name: str, then: Any = None) -> None:
        """Load ``name`` (a bundled name or a card path) in the background, then ``then()``;
        the model joins the shared registry (so the compare window offers it too)."""
        if then is not None:
            self._after_model.append(then)
        if self.registry.is_loaded(name):
            self._model_loaded(name, self.registry.get(name), self.registry.layers(name))
            return
        self.status_labels["model"].setText(f"loading {Path(name).stem}…")
        self.runner.submit("model", self.registry.load_task, name,
                           on_result=lambda res: self._model_loaded(name, *res),
                           on_error=self._model_failed)

    def _model_failed(self, err: Exception) -> None:
        self._after_model.clear()
        self.status_labels["model"].setText("no model")
        self.show_error("Cannot load model", err)

    def _model_loaded(self, name: str, model: Any, layers: Any) -> None:
        self.registry.put(name, model, layers)
        self.state.card = model.card
        self.update_domain_banner()
        self.model_panel.blockSignals(True)
        self.model_panel.add_model(name, model.name)
        self.model_panel.set_layers(layers, model.card.target_layer)
        self.model_panel.set_classes(list(model.classes))
        self.model_panel.blockSignals(False)
        self.status_labels["model"].setText(model.name)
        self.status_labels["device"].setText(str(model.device))
        self.model_ready.emit(name)
        self._settings_changed()
        pending, self._after_model = self._after_model, []
        for callback in pending:
            callback()

    @property
    def models(self) -> dict[str, Any]:
        """Loaded models by registry name (read-only view for scripts)."""
        return {n: self.registry.get(n) for n in self.registry.names
                if self.registry.is_loaded(n)}

    def current_model(self) -> Any:
        name = self.model_panel.current_model() or ""
        return self.registry.get(name) if self.registry.is_loaded(name) else None

    def analysis_settings(self) -> AnalysisSettings | None:
        """The state's analysis settings (the model panel writes its choices there)."""
        self.state.set_analysis(self.model_panel.settings())
        return self.state.analysis

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
        if not self.registry.is_loaded(name):
            self.select_model(name, then=lambda: self._analyse(slices, channel))
            return
        settings = self.analysis_settings()
        model, volume = self.current_model(), self.state.volume
        reason = cannot_run(model, volume)
        if reason is not None:
            self.show_error("Cannot analyse", reason)
            return
        if is_volume_model(model):  # one run explains every slice of the volume
            slices = list(range(self.state.n_slices))
            # every slice's entry shares the one volume explanation: keep them all
            self.cache.capacity = max(self.cache.capacity, len(slices) + 64)
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
        if self.model_panel.progress.maximum() != total:
            self.model_panel.progress.setMaximum(total)
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
        self.model_panel.progress.reset()  # a cancelled run leaves no progress behind
        self.statusBar().showMessage("Analysis cancelled", 3000)
        self.analysis_finished.emit()

    def escape(self) -> None:
        if self.view.polygon_rc:
            self.view.cancel_polygon()
        elif self.runner.is_busy("analysis"):
            self.cancel_analysis()

    def _busy(self, running: int) -> None:
        self.statusBar().setToolTip(f"{running} background task(s) running")

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
