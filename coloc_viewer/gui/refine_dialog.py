"""Model → "Refine with these ROIs…": a non-modal dialog that fine-tunes a model on the
open study's ROIs (plus an optional cohort manifest) in a worker, with progress, ETA and
Cancel, then offers the refined card in the model list and in the compare window.

The Qt-free part (checks, the training case, progress and ETA) is
:mod:`coloc_viewer.viewer.refine_job`; the training is :func:`coloc_viewer.refine.refine`.
The run is the main window's ``"refine"`` worker channel, so closing the window cancels it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from coloc_viewer.gui.compare_open import compare_before_after
from coloc_viewer.gui.form_widgets import file_row, with_button
from coloc_viewer.gui.refine_options import (
    NO_SHORTCUT,
    TrainingOptions,
    fill_model_box,
    fill_roi_boxes,
    model_layers,
)
from coloc_viewer.gui.settings import remember_card
from coloc_viewer.gui.workers import lower_thread_priority
from coloc_viewer.viewer.refine_job import (
    METHOD_HELP,
    RECIPES,
    SLICE_POLICIES,
    RefineRequest,
    check_request,
    default_out_dir,
    refine_steps,
    snapshot_rois,
)
from coloc_viewer.viewer.refine_progress import RefineProgress, training_warning

log = logging.getLogger(__name__)

CHANNEL = "refine"
MANIFEST_FILTER = "Cohort manifest (*.csv);;All files (*)"


class RefineDialog(QDialog):
    """The refine settings, Run/Cancel and the progress of the run (``window``: the main
    window, whose state, registry, runner and status bar it uses)."""

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.window_ = window
        self.setWindowTitle("Refine with these ROIs")
        self.setModal(False)
        self.worker: Any = None
        self.request: RefineRequest | None = None
        self.message: QMessageBox | None = None  # the last result or problem shown
        self.refined: str | None = None  # the registry key of the last refined card
        self.refined_now = False  # the last run wrote a model
        self._auto_out = ""
        self._build()
        self.refresh()

    # -- layout --------------------------------------------------------------------------
    def _build(self) -> None:
        from coloc_viewer.refine import METHODS

        self.model_box = QComboBox()
        self.model_box.setToolTip("The model to fine-tune (a 2-D slice classifier)")
        self.method_box = QComboBox()
        for i, m in enumerate(METHODS):
            self.method_box.addItem(m, m)
            self.method_box.setItemData(i, METHOD_HELP.get(m, m), Qt.ItemDataRole.ToolTipRole)
        self.method_help = QLabel()
        self.method_help.setWordWrap(True)  # a form row gives a wrapped label one line
        self.method_help.setMinimumHeight(2 * self.method_help.fontMetrics().lineSpacing() + 4)
        self.lam = QDoubleSpinBox(decimals=4, minimum=0.0, maximum=1e6, value=1.0)
        self.lam.setToolTip("Weight of the attribution penalty (actdiff, gradmask, rrr)")
        self.epochs = QSpinBox(minimum=1, maximum=1000, value=3)
        self.lr = QDoubleSpinBox(decimals=6, minimum=0.000001, maximum=1.0, value=0.0001,
                                 singleStep=0.00001)
        self.lr.setToolTip("Adam learning rate")
        self.seed = QSpinBox(minimum=0, maximum=2**31 - 1, value=0)
        self.slices_box = QComboBox()
        for key, label in SLICE_POLICIES.items():
            self.slices_box.addItem(label, key)
        self.slices_box.setToolTip("Which slices of this study train (labels come from the "
                                   "lesion ROI: a slice with lesion pixels is positive)")
        self.lesion_box = QComboBox()
        self.lesion_box.setToolTip("Where the model should look")
        self.shortcut_box = QComboBox()
        self.shortcut_box.setToolTip("Optional: where it must not look (e.g. a marker)")
        self.organ_box = QComboBox()
        self.organ_box.setToolTip("Optional: the organ; on slices without a lesion the "
                                  "model is taught to look inside it")
        self.manifest = QLineEdit()
        self.manifest.setPlaceholderText("optional: more cases (cohort manifest CSV)")
        self.out = QLineEdit()
        self.out.setMinimumWidth(360)
        self.out.setToolTip("The refined card, its weights, checkpoints and the training "
                            "case go here; Run again into it to resume a cancelled run")
        self.options = TrainingOptions()
        self.options.recipe.activated.connect(lambda _i: self.apply_recipe(
            self.options.recipe.currentData()))
        self.select_after = QCheckBox("Switch to the refined model when done")
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.setValue(0)
        self.progress_text = QLabel("")

        form = QFormLayout()
        form.addRow("Model", self.model_box)
        form.addRow("Recipe", self.options.recipe)  # it sets the rows below
        form.addRow("Method", self.method_box)
        form.addRow("", self.method_help)
        form.addRow("Lambda", self.lam)
        form.addRow("Epochs", self.epochs)
        form.addRow("Learning rate", self.lr)
        form.addRow("Seed", self.seed)
        form.addRow("Training slices", self.slices_box)
        form.addRow("Lesion ROI", self.lesion_box)
        form.addRow("Shortcut ROI", self.shortcut_box)
        form.addRow("Organ ROI", self.organ_box)
        form.addRow("Extra cases", file_row(self.manifest, "Extra cases (cohort manifest)",
                                                    MANIFEST_FILTER))
        form.addRow("Output folder", with_button(self.out, "Browse…", self._pick_out))
        self.buttons = QDialogButtonBox()
        self.run_button = self.buttons.addButton("Run", QDialogButtonBox.ButtonRole.AcceptRole)
        self.cancel_button = self.buttons.addButton("Cancel",
                                                    QDialogButtonBox.ButtonRole.RejectRole)
        self.close_button = self.buttons.addButton("Close",
                                                   QDialogButtonBox.ButtonRole.DestructiveRole)
        self.run_button.clicked.connect(self.run)
        self.cancel_button.clicked.connect(self.cancel)
        self.close_button.clicked.connect(self.close)
        self.cancel_button.setEnabled(False)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.options)
        layout.addWidget(self.select_after)
        layout.addWidget(self.progress)
        layout.addWidget(self.progress_text)
        layout.addWidget(self.buttons)
        self.settings_widgets: list[QWidget] = [
            self.model_box, self.method_box, self.lam, self.epochs, self.lr, self.seed,
            self.slices_box, self.lesion_box, self.shortcut_box, self.organ_box,
            self.manifest, self.out, *self.options.widgets]
        self.method_box.currentIndexChanged.connect(self._method_changed)
        for signal in (self.method_box.currentIndexChanged, self.lam.valueChanged,
                       self.epochs.valueChanged, self.lr.valueChanged,
                       *self.options.changed_signals()):
            signal.connect(lambda *_a: self.options.show_recipe(self._form()))
        self.model_box.currentIndexChanged.connect(lambda _i: self._model_changed())

    def apply_recipe(self, key: str) -> None:
        """Set method, lambda, epochs, learning rate and the training options at once
        ("Custom" only says the form differs from every recipe)."""
        if key not in RECIPES:
            return
        recipe = RECIPES[key]
        if recipe.get("method"):
            self.method_box.setCurrentIndex(self.method_box.findData(recipe["method"]))
        self.lam.setValue(recipe["lam"])
        self.epochs.setValue(recipe["epochs"])
        self.lr.setValue(recipe["lr"])
        self.options.apply(recipe)

    def _form(self) -> dict[str, Any]:
        method = self.method_box.currentData() or ""
        return {"method": method, "lam": self.lam.value(), "epochs": self.epochs.value(),
                "lr": self.lr.value(), **self.options.values(method)}

    def _model_changed(self) -> None:  # ActDiff's layers, when the model is loaded already
        if not self.running:
            self.progress_text.setText("")  # a line about the previous model's run
        name, registry = self.model_box.currentData(), self.window_.registry
        layers = model_layers(registry.get(name)) if name and registry.is_loaded(name) else []
        self.options.set_layers(layers)
        self._default_out()

    def refresh(self) -> None:
        """Fill the model and ROI choices from the window (the current model, the ROI
        called lesion or the active one, a shortcut ROI called marker and an organ ROI
        called prostate, gland or organ if there is one)."""
        if self.running:
            return
        self.progress.setValue(0)  # the last run's "Done" is history once reopened
        self.progress_text.clear()
        choices = self.window_.state.choices
        fill_model_box(self.model_box, choices.models, choices.model, self.window_.registry)
        fill_roi_boxes(self.lesion_box, self.shortcut_box, self.organ_box,
                       self.window_.state.rois)
        self._method_changed()

    def _method_changed(self, _index: int = 0) -> None:
        method = self.method_box.currentData()
        self.method_help.setText(METHOD_HELP.get(method, ""))
        self._update_lambda()
        self._default_out()

    def _update_lambda(self) -> None:
        method = self.method_box.currentData()
        self.lam.setEnabled(not self.running and method in ("actdiff", "gradmask", "rrr"))
        self.options.set_actdiff(not self.running and method == "actdiff")

    def _default_out(self) -> None:
        """A new folder per model and method, unless the user typed one."""
        if self.out.text() and self.out.text() != self._auto_out:
            return
        model, method = self.model_box.currentData(), self.method_box.currentData()
        if model and method:
            self._auto_out = str(default_out_dir(model, method))
            self.out.setText(self._auto_out)

    def _pick_out(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Output folder", self.out.text())
        if path:
            self.out.setText(path)

    # -- the run ---------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.worker is not None

    def current_request(self) -> RefineRequest:
        """The request the widgets describe."""
        name = self.model_box.currentData() or ""
        registry = self.window_.registry
        shortcut, organ = self.shortcut_box.currentText(), self.organ_box.currentText()
        return RefineRequest(
            model=name, source=registry.sources.get(name, name),
            method=self.method_box.currentData(), lam=self.lam.value(),
            epochs=self.epochs.value(), lr=self.lr.value(), seed=self.seed.value(),
            lesion_roi=self.lesion_box.currentText(), out_dir=Path(self.out.text().strip()),
            shortcut_roi=None if shortcut in ("", NO_SHORTCUT) else shortcut,
            organ_roi=None if organ in ("", NO_SHORTCUT) else organ,
            extra_manifest=self.manifest.text().strip() or None,
            slices=self.slices_box.currentData(),
            **self.options.values(self.method_box.currentData() or ""))

    def run(self) -> bool:
        """Check the settings and start the worker; False (and one sentence) if they fail."""
        if self.running:
            return False
        w = self.window_
        req = self.current_request()
        problem = check_request(req, w.state.volume, w.state.rois)  # reads the card itself
        if not req.model:
            problem = "Choose a model to refine (load a model card first)."
        elif not self.out.text().strip():
            problem = "Choose an output folder for the refined model."
        if problem:
            self._tell(QMessageBox.Icon.Warning, "Cannot refine", problem)
            return False
        self.request, self.refined_now = req, False
        rois = snapshot_rois(w.state.rois, w.state.volume)  # later edits do not change the run
        self._set_running(True)
        self.progress.setRange(0, 0)  # busy until the plan is known
        self.progress_text.setText("Preparing…")
        log.info("refine started: %s, %s, %d epoch(s)", req.model, req.method, req.epochs)
        self.worker = w.runner.submit(
            CHANNEL, refine_steps, req, w.state.volume, rois,
            lambda: lower_thread_priority(10), on_yield=self._step,
            on_result=self._finished, on_error=self._failed)
        self.worker.signals.finished.connect(self._worker_ended)
        return True

    def cancel(self) -> None:
        """Stop the run at its next batch; the GUI returns to how it was before Run."""
        if not self.running:
            return
        self.window_.runner.cancel(CHANNEL)
        self.progress_text.setText("Cancelling…")
        self.cancel_button.setEnabled(False)

    def _step(self, step: RefineProgress | str | None) -> None:
        if isinstance(step, str):
            self.progress_text.setText(step[:1].upper() + step[1:] + "…")
        elif isinstance(step, RefineProgress):
            self.progress.setRange(0, max(1, step.total))
            self.progress.setValue(step.done)
            self.progress.setFormat(f"epoch {step.epoch}/{step.epochs} · batch "
                                    f"{step.batch}/{step.batches}")
            self.progress_text.setText(step.text())
            self.window_.statusBar().showMessage(f"Refining {self.request.model}: "
                                                 f"{step.text()}")

    def _worker_ended(self) -> None:
        worker, self.worker = self.worker, None
        cancelled = worker is not None and worker.abort_requested
        self._set_running(False)
        if self.refined_now:  # full, as the last batch left it
            self.progress.setValue(self.progress.maximum())
        else:
            self.progress.setRange(0, 100)
            self.progress.setValue(0)
        self.progress.setFormat("%p%")
        if cancelled:
            self.progress_text.setText("Cancelled. The last complete epoch is kept in the "
                                       "output folder: Run again to resume from it.")
            self.window_.statusBar().showMessage(
                "Refine cancelled: no model was added. Run again into the same output folder "
                "to resume after the last complete epoch.", 10000)

    def _failed(self, err: Exception) -> None:
        from coloc_viewer.refine import RefineCancelled

        if isinstance(err, RefineCancelled):
            self.window_.statusBar().showMessage(f"Refine cancelled: {err}", 10000)
            return
        self.window_.statusBar().showMessage("Refine failed", 10000)
        self.progress_text.setText("Refine failed: nothing was added.")
        self._tell(QMessageBox.Icon.Critical, "Refine failed", str(err) or type(err).__name__)

    def _finished(self, result: Any) -> None:
        """Register the refined card (the one model registry), offer it and say where."""
        w, req = self.window_, self.request
        key = str(result.card_path)
        w.registry.add(key)
        w.state.choices.add_model(key, result.card.name)
        remember_card(w.settings, key)  # still offered after a restart
        warning = training_warning(result.losses, len(result.card.classes))
        if self.select_after.isChecked() and warning is None:
            w.select_model(key)
        w.statusBar().showMessage(f"Refined model {result.card.name} added to the model list",
                                  10000)
        log.info("refine finished: %s (%s)", result.card.name, req.method if req else "")
        self.refined, self.refined_now = key, True
        if self.out.text() == self._auto_out:  # the next run goes to a folder of its own
            self._auto_out = ""
            self.out.clear()
            self._default_out()
        self.progress_text.setText(f"Done: {result.card.name} is in the model list.")
        text = (f"{result.card.name} ({result.method}, {result.epochs} epoch(s) on "
                f"{result.n_slices} slices) was written to {result.card_path.parent} and "
                "added to the model list.")
        self._tell(QMessageBox.Icon.Information if warning is None else
                   QMessageBox.Icon.Warning, "Refined model ready",
                   text if warning is None else f"{text}\n\n{warning} (not switched to it)",
                   compare=(req.model if req else "", key))

    def _tell(self, icon: QMessageBox.Icon, title: str, text: str,
              compare: tuple[str, str] | None = None) -> QMessageBox:
        """A non-blocking message box (kept in ``self.message``)."""
        box = QMessageBox(icon, title, text, QMessageBox.StandardButton.Close, self)
        if compare is not None:
            button = box.addButton("Compare with the original",
                                   QMessageBox.ButtonRole.ActionRole)
            button.clicked.connect(lambda: compare_before_after(self.window_, *compare))
        self.message = box
        box.open()
        return box

    def _set_running(self, running: bool) -> None:
        for widget in self.settings_widgets:
            widget.setEnabled(not running)
        if not running:
            self._update_lambda()  # used by the penalty methods only
        self.run_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)

    def closeEvent(self, event: Any) -> None:  # noqa: N802
        self.cancel()  # closing the dialog stops its run
        super().closeEvent(event)

    def reject(self) -> None:
        self.cancel()  # so does Esc
        super().reject()


def open_refine_dialog(window: Any) -> RefineDialog:
    """Show the window's refine dialog (one per window; refreshed unless it is running)."""
    dialog = getattr(window, "refine_dialog", None)
    if dialog is None:
        dialog = RefineDialog(window)
        window.refine_dialog = dialog
    dialog.refresh()
    dialog.show()
    dialog.raise_()
    dialog.activateWindow()
    return dialog
