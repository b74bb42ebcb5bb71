"""One pane of the compare window: the main view's canvas (:class:`SliceView`) over the
pane's own :class:`~coloc_viewer.viewer.state.ViewerState`, the pane's settings, and the
same per-ROI score rows and verdict as the main window (:class:`ScorePanel`).

Mouse and keys are the main view's: wheel = slice, Ctrl+wheel / right-drag = zoom,
middle-drag = pan, Shift+left-drag = window/level, left-drag = the active tool (so ROIs can
be drawn in a pane; the study's ROI set is shared by its panes and the main window).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QRectF, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from coloc_viewer.explain.choices import RANK_HELP
from coloc_viewer.gui.score_panel import ScorePanel
from coloc_viewer.gui.slice_view import SliceView
from coloc_viewer.viewer.compare import (
    MAP_CHOICES,
    RANKS,
    Pane,
    PaneResult,
    PaneSpec,
    Study,
)
from coloc_viewer.viewer.display import WindowLevel

DEFAULT_LAYER = "(card default)"
PREDICTED = "predicted"


class ComparePane(QWidget):
    """A view of one study with one map; emits what the user changes."""

    slice_changed = Signal(int)
    window_changed = Signal(float, float)
    spec_changed = Signal()

    def __init__(self, letter: str, study: Study, models: list[str],
                 spec: PaneSpec | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.letter = letter
        self.model = Pane(letter, study, spec or PaneSpec(models[0] if models else ""))
        self.state = self.model.state
        self.canvas = SliceView(self.state)  # the main view's canvas class
        self.scores = ScorePanel(self.state)
        self.scores.setMaximumHeight(220)
        self.canvas.vb.sigResized.connect(lambda _vb: self.fit())  # fit on every resize
        self._build(models)
        self.state.events.slice.connect(self._slice_moved)
        self.state.events.window.connect(
            lambda w: self.window_changed.emit(float(w.center), float(w.width)))
        self.set_study(study)
        self.set_spec(self.model.spec)

    # -- the canvas, as the tests and the window address it --------------------------------
    @property
    def graphics(self) -> Any:
        return self.canvas.graphics

    @property
    def view(self) -> Any:
        return self.canvas.vb

    @property
    def image_item(self) -> Any:
        return self.canvas.image_item

    @property
    def outline_item(self) -> Any:
        """The ROI layer (fills and outlines) of the canvas."""
        return self.canvas.roi_item

    @property
    def slice_index(self) -> int:
        return self.state.slice_index

    @property
    def window(self) -> tuple[float, float]:
        w = self.state.window
        return float(w.center), float(w.width)

    @property
    def display_range(self) -> tuple[float, float] | None:
        return self.state.overlay.fixed_range

    @property
    def opacity(self) -> float:
        return self.state.overlay.opacity

    # -- construction ----------------------------------------------------------------------
    def _build(self, models: list[str]) -> None:
        self.title = QLabel(self.letter)
        self.title.setWordWrap(True)
        self.model_box = QComboBox()
        self.model_box.addItems(models)
        self.layer_box = QComboBox()
        self.layer_box.addItem(DEFAULT_LAYER)
        self.target_box = QSpinBox()
        self.target_box.setRange(-1, 999)
        self.target_box.setSpecialValueText(PREDICTED)
        self.target_box.setValue(-1)
        self.rank_box = QComboBox()
        for i, rank in enumerate(RANKS):
            self.rank_box.addItem(rank)
            self.rank_box.setItemData(i, RANK_HELP.get(rank, rank), 3)  # ToolTipRole
        self.map_box = QComboBox()
        self.map_box.addItems(MAP_CHOICES)
        for box in (self.model_box, self.layer_box, self.map_box):  # long card paths
            box.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            box.setMinimumContentsLength(10)
        for box, tip in ((self.model_box, "Model of this pane (the session's registry)"),
                         (self.layer_box, "Layer whose feature maps are captured"),
                         (self.target_box, "Target class (predicted by default)"),
                         (self.rank_box, "How channels are ranked"),
                         (self.map_box, "Map shown: top channel, channel:<r> (the r-th ranked "
                                        "channel, 0 = top) or a CAM")):
            box.setToolTip(tip)
        for sig in (self.model_box.currentIndexChanged, self.layer_box.currentIndexChanged,
                    self.target_box.valueChanged, self.rank_box.currentIndexChanged,
                    self.map_box.currentIndexChanged):
            sig.connect(self._spec_edited)
        form = QFormLayout()
        row = QHBoxLayout()
        row.addWidget(self.model_box, 2)
        row.addWidget(self.layer_box, 2)
        form.addRow("Model / layer", row)
        row2 = QHBoxLayout()
        row2.addWidget(self.target_box, 1)
        row2.addWidget(self.rank_box, 1)
        row2.addWidget(self.map_box, 1)
        form.addRow("Target / rank / map", row2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.title)
        layout.addWidget(self.canvas, 1)
        layout.addLayout(form)
        layout.addWidget(self.scores)

    # -- settings --------------------------------------------------------------------------
    def spec(self) -> PaneSpec:
        layer = self.layer_box.currentText()
        target = self.target_box.value()
        return PaneSpec(self.model_box.currentText(),
                        None if layer == DEFAULT_LAYER else layer,
                        None if target < 0 else target, self.rank_box.currentText(),
                        self.map_box.currentText().strip() or "top")

    def set_spec(self, spec: PaneSpec) -> None:
        boxes = (self.model_box, self.layer_box, self.target_box, self.rank_box, self.map_box)
        for box in boxes:
            box.blockSignals(True)
        try:
            if self.model_box.findText(spec.model) < 0:
                self.model_box.addItem(spec.model)
            self.model_box.setCurrentText(spec.model)
            layer = spec.layer or DEFAULT_LAYER
            if self.layer_box.findText(layer) < 0:
                self.layer_box.addItem(layer)
            self.layer_box.setCurrentText(layer)
            self.target_box.setValue(-1 if spec.target is None else int(spec.target))
            self.rank_box.setCurrentText(spec.rank)
            if self.map_box.findText(spec.map_choice) < 0:
                self.map_box.addItem(spec.map_choice)
            self.map_box.setCurrentText(spec.map_choice)
        finally:
            for box in boxes:
                box.blockSignals(False)
        self._spec_edited()

    def set_models(self, names: list[str]) -> None:
        """Offer the registry's names (a card loaded in the main window appears here)."""
        have = [self.model_box.itemText(i) for i in range(self.model_box.count())]
        for name in names:
            if name not in have:
                self.model_box.addItem(name)

    def set_layers(self, names: list[str]) -> None:
        """Fill the layer chooser once the model's spatial layers are known."""
        current = self.layer_box.currentText()
        known = [self.layer_box.itemText(i) for i in range(self.layer_box.count())]
        if known[1:] == list(names):
            return
        self.layer_box.blockSignals(True)
        self.layer_box.clear()
        self.layer_box.addItems([DEFAULT_LAYER, *names])
        self.layer_box.setCurrentText(current if current in names else DEFAULT_LAYER)
        self.layer_box.blockSignals(False)

    def _spec_edited(self, *_: Any) -> None:
        self.model.set_spec(self.spec())
        self._update_title()
        self.spec_changed.emit()

    # -- slice, window, study (the pane's Qt-free model holds them) ------------------------
    @property
    def study(self) -> Study:
        return self.model.study

    @property
    def result(self) -> PaneResult | None:
        return self.model.result

    def set_study(self, study: Study) -> None:
        """Show ``study`` (its volume and shared ROI set) at its largest-ROI slice."""
        self.model.show_study(study)
        self._update_title()

    def _slice_moved(self, k: int) -> None:
        self.model.slice_moved()
        self._update_title()
        self.slice_changed.emit(int(k))

    def set_slice(self, k: int, emit: bool = True) -> None:
        if not emit:
            self.state.slice.set_quietly(index=int(k))
            self.state.events.slice.emit(self.state.slice_index)
            return
        self.state.set_slice(k)

    def step_slice(self, step: int) -> None:
        self.state.step_slice(step)

    def set_window(self, center: float, width: float, emit: bool = True) -> None:
        self.state.set_window(WindowLevel(center, width))

    def roi_changed(self) -> None:
        """The study's ROI set changed outside the panes: redraw and rescore."""
        self.state.rois_changed()

    def fit(self) -> None:
        """Fit the whole slice into the pane (the window does this on resize)."""
        vol = self.study.volume
        sy, sx = float(vol.spacing[1]), float(vol.spacing[2])
        self.view.setRange(QRectF(0, 0, vol.shape[2] * sx, vol.shape[1] * sy), padding=0.02)

    # -- map -------------------------------------------------------------------------------
    def show_result(self, result: PaneResult | None) -> None:
        """Show a computed pane (None: clear); the state scores every ROI live."""
        if result is not None and result.layers:
            self.set_layers(result.layers)
        self.model.set_result(result)
        self._update_title()

    def set_display_range(self, rng: tuple[float, float] | None) -> None:
        if rng != self.state.overlay.fixed_range:
            self.state.set_overlay(fixed_range=rng)

    def set_opacity(self, opacity: float) -> None:
        self.state.set_overlay(opacity=float(opacity))

    def describe(self) -> str:
        return self.model.describe()

    def _update_title(self) -> None:
        shown = self.model.shown_result is not None
        self.title.setText(self.describe() + ("" if shown else "  [not analysed]"))
