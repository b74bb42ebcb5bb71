"""Model panel: model, layer, target, ranking, map choice, overlay look, and the run buttons."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from coloc_viewer.explain.choices import RANK_HELP, RANKINGS, map_choices, methods_needed
from coloc_viewer.viewer.analysis import AnalysisSettings
from coloc_viewer.viewer.state import ViewerState

LOAD_ITEM = "Load model…"

class ModelPanel(QWidget):
    """Emits requests; the main window runs them in workers."""

    model_chosen = Signal(str)
    load_model_requested = Signal()
    settings_changed = Signal()
    analyse_requested = Signal()
    analyse_all_requested = Signal()
    cancel_requested = Signal()

    def __init__(self, state: ViewerState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.model_box = QComboBox()
        self.model_box.setToolTip("Bundled models, models you loaded, or Load model… (a card)")
        self.model_box.activated.connect(self._model_activated)
        self.layer_box = QComboBox()
        self.layer_box.setToolTip("Spatial layer whose feature maps are captured (output shape)")
        self.target_box = QComboBox()
        self.target_box.setToolTip("Class explained; 'predicted' follows the model's answer")
        self.rank_box = QComboBox()
        for i, rank in enumerate(RANKINGS):
            self.rank_box.addItem(rank, rank)
            self.rank_box.setItemData(i, RANK_HELP[rank], Qt.ItemDataRole.ToolTipRole)
        self.rank_box.setToolTip("How the 'most important' channel is chosen")
        self.map_box = QComboBox()
        self.map_box.setToolTip("Map shown and scored: a ranked channel or a CAM")
        self.set_top_k(10)
        for box in (self.layer_box, self.target_box, self.rank_box):
            box.currentIndexChanged.connect(lambda _i: self.settings_changed.emit())
        self.map_box.currentIndexChanged.connect(self._map_changed)

        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(int(state.overlay.opacity * 100))
        self.opacity.setToolTip("Overlay opacity (O toggles the overlay)")
        self.opacity.valueChanged.connect(lambda v: state.set_overlay(opacity=v / 100.0))
        self.contour = QCheckBox("Contour at threshold")
        self.contour.setToolTip("Outline of {map >= t x max}, the region Dice/IoU use")
        self.contour.toggled.connect(lambda on: state.set_overlay(contour=on))
        self.common = QCheckBox("Common scale across slices")
        self.common.setToolTip("Per-image scaling, or one scale over all analysed slices "
                               "(90th percentile of maxima, 50th of minima; Li et al. 2024)")
        self.common.toggled.connect(
            lambda on: state.set_overlay(normalisation="common" if on else "image"))
        self.auto = QCheckBox("Auto-analyse on slice change")
        self.auto.setToolTip("Run the model whenever the slice changes (results are cached)")

        self.analyse = QPushButton("Analyse this slice (F5)")
        self.analyse.clicked.connect(self.analyse_requested)
        self.analyse_all = QPushButton("Analyse all slices")
        self.analyse_all.clicked.connect(self.analyse_all_requested)
        self.cancel = QPushButton("Cancel")
        self.cancel.setToolTip("Stop the running analysis (Esc)")
        self.cancel.clicked.connect(self.cancel_requested)
        self.cancel.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.setValue(0)
        self.prediction = QLabel("No model run yet.")
        self.prediction.setWordWrap(True)
        self.prediction.setMinimumHeight(3 * self.prediction.fontMetrics().lineSpacing())

        form = QFormLayout()
        form.addRow("Model", self.model_box)
        form.addRow("Layer", self.layer_box)
        form.addRow("Target", self.target_box)
        form.addRow("Rank by", self.rank_box)
        form.addRow("Map", self.map_box)
        form.addRow("Opacity", self.opacity)
        buttons = QHBoxLayout()
        buttons.addWidget(self.analyse_all)
        buttons.addWidget(self.cancel)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.contour)
        layout.addWidget(self.common)
        layout.addWidget(self.auto)
        layout.addWidget(self.analyse)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.prediction)
        layout.addStretch(1)

    # -- filling the choices -------------------------------------------------------------
    def set_models(self, names: list[str], current: str | None = None) -> None:
        self.model_box.blockSignals(True)
        self.model_box.clear()
        for name in names:
            self.model_box.addItem(name, name)
        self.model_box.addItem(LOAD_ITEM, None)
        if current in names:
            self.model_box.setCurrentIndex(names.index(current))
        self.model_box.blockSignals(False)

    def add_model(self, key: str, label: str | None = None) -> None:
        """Select model ``key`` (a bundled name or a card path), adding it if new."""
        idx = self.model_box.findData(key)
        if idx < 0:
            self.model_box.insertItem(self.model_box.count() - 1, label or key, key)
            idx = self.model_box.findData(key)
            self.model_box.setItemData(idx, key, Qt.ItemDataRole.ToolTipRole)
        self.model_box.setCurrentIndex(idx)

    def set_layers(self, layers: list[tuple[str, tuple[int, ...]]], default: str | None) -> None:
        self.layer_box.blockSignals(True)
        self.layer_box.clear()
        for name, shape in layers:
            self.layer_box.addItem(f"{name}  {'x'.join(str(s) for s in shape)}", name)
        idx = self.layer_box.findData(default) if default else len(layers) - 1
        self.layer_box.setCurrentIndex(max(idx, 0))
        self.layer_box.blockSignals(False)

    def set_classes(self, classes: list[str]) -> None:
        self.target_box.blockSignals(True)
        self.target_box.clear()
        self.target_box.addItem("predicted", None)
        for i, name in enumerate(classes):
            self.target_box.addItem(f"{i}: {name}", i)
        self.target_box.blockSignals(False)

    def set_top_k(self, k: int) -> None:
        self.map_box.blockSignals(True)
        self.map_box.clear()
        for choice, label in map_choices(k):
            self.map_box.addItem(label, choice)
        self.map_box.setCurrentIndex(0)
        self.map_box.blockSignals(False)

    def select_map(self, choice: str) -> None:
        idx = self.map_box.findData(choice)
        if idx >= 0:
            self.map_box.setCurrentIndex(idx)

    # -- reading the choices -------------------------------------------------------------
    def current_model(self) -> str | None:
        return self.model_box.currentData()

    def settings(self) -> AnalysisSettings | None:
        model = self.current_model()
        if model is None:
            return None
        choice = self.map_box.currentData() or "top"
        methods = methods_needed(choice)
        return AnalysisSettings(model=model, layer=self.layer_box.currentData(),
                                target=self.target_box.currentData(),
                                rank=self.rank_box.currentData() or "contribution",
                                methods=methods)

    def _model_activated(self, index: int) -> None:
        name = self.model_box.itemData(index)
        if name is None:
            self.load_model_requested.emit()
        else:
            self.model_chosen.emit(name)

    def _map_changed(self, _index: int) -> None:
        self.state.set_overlay(choice=self.map_box.currentData() or "top")
        self.settings_changed.emit()

    def set_running(self, running: bool) -> None:
        self.cancel.setEnabled(running)
        if not running:
            self.progress.setFormat("%p%")
