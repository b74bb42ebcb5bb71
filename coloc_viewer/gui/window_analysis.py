"""Models and analysis runs for the main window: the shared model registry and result
cache of ``viewer``, work in background workers (a mixin of
:class:`~coloc_viewer.gui.main_window.MainWindow`)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import QTimer

from coloc_viewer.gui import file_dialogs
from coloc_viewer.gui.series_roles_dialog import SeriesRolesDialog
from coloc_viewer.gui.settings import remember_card, workspace_root
from coloc_viewer.viewer.analysis import (
    AnalysisKey,
    AnalysisSettings,
    SliceResult,
    analyse_slices,
    cannot_run,
    is_volume_model,
)
from coloc_viewer.viewer.maps import PreparedMap, prepare_map
from coloc_viewer.viewer.series_roles import (
    RoleInputs,
    find_study_series,
    is_multi_series,
    plan_roles,
    study_key,
)
from coloc_viewer.workspace.role_choices import RoleChoices

log = logging.getLogger("coloc_viewer.gui.main_window")  # one logger for the window's lines

ROI_FILTER = "ROI files (*.seg.dcm *.dcm *.nii.gz *.nii *.nrrd *.seg.nrrd);;All files (*)"
IMAGE_FILTER = ("Images (*.dcm *.nii *.nii.gz *.mha *.mhd *.nrrd *.zip DICOMDIR);;"
                "All files (*)")
APP_NAME = "coloc_viewer"


class AnalysisActions:
    """Methods of the main window (uses its widgets, ``state`` and ``runner``)."""

    def load_model_dialog(self) -> None:
        path = file_dialogs.open_file(self, "Load model card", "Model card (*.json)")
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
        shown = self.model_panel.current_model()  # the model in use before stays in use
        model = self.registry.get(shown) if shown and self.registry.is_loaded(shown) else None
        self.status_labels["model"].setText(model.name if model is not None else "no model")
        self.show_error("Cannot load model", err)

    def _model_loaded(self, name: str, model: Any, layers: Any) -> None:
        self.registry.put(name, model, layers)
        self.state.card = model.card
        self.update_domain_banner()
        self.model_panel.blockSignals(True)
        self.model_panel.add_model(name, model.name)
        if Path(name).is_file():  # a card the user chose: offered in later sessions too
            remember_card(self.settings, name)
        self.model_panel.set_layers(layers, model.card.target_layer)
        self.model_panel.set_classes(list(model.classes))
        self.model_panel.blockSignals(False)
        self.status_labels["model"].setText(model.name)
        self.status_labels["device"].setText(str(model.device))
        self.model_ready.emit(name)
        self._settings_changed()
        if not self._after_model and self.state.volume is not None and \
                is_multi_series(model.card) and self.role_inputs_for(model) is None:
            self.choose_series_roles(model)  # several series: find them (ask) now
        pending, self._after_model = self._after_model, []
        for callback in pending:
            callback()

    @property
    def models(self) -> dict[str, Any]:
        """Loaded models by registry name (read-only view for scripts)."""
        return {n: self.registry.get(n) for n in self.registry.names
                if self.registry.is_loaded(n)}

    def current_model(self) -> Any:
        name = self.state.choices.model or ""
        return self.registry.get(name) if self.registry.is_loaded(name) else None

    def analysis_settings(self) -> AnalysisSettings | None:
        """The state's analysis settings (the model panel writes its choices there)."""
        return self.state.analysis

    def _settings_changed(self) -> None:
        """Layer/target/rank/method or study changed: show cached maps for the new settings."""
        settings = self.analysis_settings()
        if settings is None or self.state.volume is None:
            return
        had_map = self.state.explanation is not None
        cached = self.cache.for_settings(self.analysis_series(), settings)
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
        inputs = None
        if is_multi_series(model.card):  # its other series: matched, asked or remembered
            inputs = self.role_inputs_for(model)
            if inputs is None:
                self.choose_series_roles(model, then=lambda: self._analyse(slices, channel))
                return
        reason = cannot_run(model, volume, inputs)
        if reason is not None:
            self.show_error("Cannot analyse", reason)
            return
        series = self.analysis_series(model)
        if is_volume_model(model):  # one run explains every slice of the volume
            slices = list(range(self.state.n_slices))
            # every slice's entry shares the one volume explanation: keep them all
            self.cache.capacity = max(self.cache.capacity, len(slices) + 64)
        missing = [z for z in slices
                   if self.cache.get(AnalysisKey(series, z, settings)) is None]
        for z in slices:
            hit = self.cache.get(AnalysisKey(series, z, settings))
            if hit is not None:
                self._slice_result(hit, show_time=len(slices) == 1, rescore_volume=False)
        if not missing:
            self.state.refresh_volume_scores()
            self.analysis_finished.emit()
            return
        self.model_panel.progress.setRange(0, len(missing))
        self.model_panel.progress.setValue(0)
        self.model_panel.set_running(True)
        self.runner.submit(channel, analyse_slices, model, volume, series, missing,
                           settings, self.cache, self._preparer(), inputs,
                           on_yield=self._analysis_step,
                           on_error=lambda err: self.show_error("Analysis failed", err),
                           on_done=self._analysis_over)

    # -- several series as input channels (card ``inputs``) ----------------------------------
    def analysis_series(self, model: Any = None) -> str:
        """The cache's series key: the open series, plus the series that play the other
        roles of a multi-series model."""
        model = model if model is not None else self.current_model()
        inputs = self.role_inputs_for(model) if model is not None else None
        return self.series_id if inputs is None else f"{self.series_id}|{inputs.signature}"

    def role_inputs_for(self, model: Any) -> RoleInputs | None:
        """The decided series of ``model``'s roles on the open study (None: not yet)."""
        found = getattr(self, "_role_inputs", None)
        if found is None or not is_multi_series(model.card):
            return None
        key, inputs = found
        return inputs if key == (self.series_id, model.card.name) else None

    def role_store(self) -> RoleChoices:
        """Where the reader's role choices are remembered, per study (one root per window)."""
        if getattr(self, "_role_store", None) is None:
            self._role_store = RoleChoices(workspace_root())
        return self._role_store

    def choose_series_dialog(self) -> None:
        """Model > Series for inputs…: ask which series plays each role of the model."""
        name = self.model_panel.current_model()
        if self.state.volume is None or name is None:
            self.show_error("Series for inputs", "Open a study and choose a model first.")
            return
        if not self.registry.is_loaded(name):
            self.select_model(name, then=self.choose_series_dialog)
            return
        model = self.current_model()
        if not is_multi_series(model.card):
            self.show_error("Series for inputs", f"Model '{model.card.name}' takes one "
                            "series, the open one.")
            return
        self.choose_series_roles(model, ask=True)

    def choose_series_roles(self, model: Any, then: Any = None, ask: bool = False) -> None:
        """Find the study's series (in a worker), match them to ``model``'s roles and, when
        a pattern matches none or several (or ``ask``), let the reader choose; then
        ``then()`` (default: show the maps of the chosen series, if computed). Requests
        made while one is under way (or its dialog open) wait for it."""
        waiting = self.__dict__.setdefault("_roles_waiting", {"model": None, "then": []})
        same = waiting["model"] == model.card.name
        if then is not None:
            waiting["then"].append(then)
        asking = getattr(self, "roles_dialog", None)
        if same and (self.runner.is_busy("roles") or (asking is not None
                                                      and asking.isVisible())):
            return  # one question at a time: its answer serves this request too
        if not same:
            waiting["model"], waiting["then"] = model.card.name, [then] if then else []
        volume, card = self.state.volume, model.card
        study = study_key(volume)

        def planned(series: list[Any]) -> None:
            if self.state.volume is not volume:
                return  # another study was opened meanwhile
            self.statusBar().clearMessage()
            self._study_series = (self.series_id, series)
            remembered = None if study is None else self.role_store().get(study, card.name)
            plan = plan_roles(card, volume, series, remembered)
            if plan.reason is not None:
                waiting["then"] = []
                self.show_error("Cannot analyse", plan.reason)
            elif plan.ready and not ask:
                self._use_roles(model, plan, remember=False)
            else:
                dialog = SeriesRolesDialog(plan, self)
                self.roles_dialog = dialog
                dialog.accepted.connect(lambda: self._use_roles(model, dialog.plan()))
                dialog.rejected.connect(self._roles_rejected)
                dialog.open()

        cached = getattr(self, "_study_series", None)
        if cached is not None and cached[0] == self.series_id:
            planned(cached[1])
            return
        self.statusBar().showMessage("Looking for the study's other series…")
        def failed(err: Exception) -> None:
            waiting["then"] = []
            self.show_error("Cannot find series", err)

        self.runner.submit("roles", find_study_series, volume, on_result=planned,
                           on_error=failed)

    def _roles_rejected(self) -> None:
        self.__dict__.get("_roles_waiting", {})["then"] = []
        self.statusBar().showMessage("No series chosen for the model's inputs", 5000)

    def _use_roles(self, model: Any, plan: Any, remember: bool = True) -> None:
        self._role_inputs = ((self.series_id, model.card.name), RoleInputs(plan))
        study = study_key(self.state.volume)
        if remember and study is not None:
            try:
                self.role_store().put(study, model.card.name, plan.remembered())
            except OSError as err:
                log.info("role choice not remembered: %s", err)
        log.info("series chosen for the inputs of %s (%s)", model.card.name,
                 ", ".join(plan.assignment))  # roles only: descriptions may name people
        self.statusBar().showMessage(f"Inputs of {model.card.name}: " + ", ".join(
            f"{r} = {plan.by_key()[k].description or '?'}" for r, k in plan.assignment.items()),
            8000)
        waiting = self.__dict__.get("_roles_waiting") or {"then": []}
        pending, waiting["then"] = list(waiting["then"]), []
        for then in pending:
            then()
        if not pending:
            self._settings_changed()

    def forget_study_series(self) -> None:
        """A new study is shown: its roles are planned again (remembered choices stay)."""
        self._role_inputs = None
        self._study_series = None

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
        if (result.key.series != self.analysis_series()
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
        self._running_tasks = running
        self.update_status_tip()

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
