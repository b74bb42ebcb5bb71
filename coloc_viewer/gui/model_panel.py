"""Model panel: a view of the state's analysis settings (model, layer, target, ranking,
map; :class:`ChoiceBoxes`, shared with the compare panes), the overlay look and the run
buttons. The combo boxes render :class:`~coloc_viewer.viewer.settings.AnalysisChoices` and
write the user's choices into it; the analysis reads the state only."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

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

from coloc_viewer.viewer.analysis import AnalysisSettings
from coloc_viewer.viewer.settings import AnalysisChoices, Option
from coloc_viewer.viewer.state import ViewerState

LOAD_ITEM = "Load model…"
LOAD_KEY = "\0load"  # the data of the Load model… item (no model is called that)
DEFAULT_LAYER = "(card default)"


def _fill(box: QComboBox, options: list[Option], current: object) -> None:
    """Replace ``box``'s items (data = the option's key) without emitting."""
    box.blockSignals(True)
    box.clear()
    for i, option in enumerate(options):
        box.addItem(option.label, option.key)
        if option.tip:
            box.setItemData(i, option.tip, Qt.ItemDataRole.ToolTipRole)
    idx = next((i for i in range(box.count()) if box.itemData(i) == current), -1)
    box.setCurrentIndex(idx)  # blank when the state's value is not offered
    box.blockSignals(False)


def _select(box: QComboBox, key: object) -> None:
    idx = next((i for i in range(box.count()) if box.itemData(i) == key), -1)
    if idx >= 0 and idx != box.currentIndex():
        box.blockSignals(True)
        box.setCurrentIndex(idx)
        box.blockSignals(False)


class ChoiceBoxes:
    """The combo boxes of an :class:`AnalysisChoices` (model, layer, target, rank, map),
    used by the model panel and by every compare pane: they render the state and write the
    user's choices into it. ``load_item`` adds *Load model…* (``on_load`` is called);
    ``card_default``: the layer list starts with "(card default)" (layer None)."""

    def __init__(self, choices: AnalysisChoices, *, load_item: bool = False,
                 card_default: bool = False, on_load: Any = None) -> None:
        self.choices = choices
        self.load_item, self.card_default, self.on_load = load_item, card_default, on_load
        self.model_box, self.layer_box = QComboBox(), QComboBox()
        self.target_box, self.rank_box, self.map_box = QComboBox(), QComboBox(), QComboBox()
        self.model_box.activated.connect(self._model_activated)
        for box, name in ((self.layer_box, "layer"), (self.target_box, "target"),
                          (self.rank_box, "rank"), (self.map_box, "map_choice")):
            box.currentIndexChanged.connect(
                lambda _i, b=box, n=name: self.choices.set(**{n: b.currentData()}))
        choices.events.options.connect(lambda _c: self.render_options())
        choices.events.changed.connect(lambda _c: self.render_values())
        self.render_options()

    @property
    def boxes(self) -> tuple[QComboBox, ...]:
        return (self.model_box, self.layer_box, self.target_box, self.rank_box, self.map_box)

    def render_options(self) -> None:
        c = self.choices
        models = list(c.models)
        if c.model and c.model not in [o.key for o in models]:
            models.append(Option(c.model, c.model, c.model))
        _fill(self.model_box, models + ([Option(LOAD_KEY, LOAD_ITEM)] if self.load_item else []),
              c.model)
        layers = ([Option(None, DEFAULT_LAYER)] if self.card_default else []) + c.layers
        if c.layer is not None and c.layer not in [o.key for o in layers]:
            layers.append(Option(c.layer, c.layer))
        _fill(self.layer_box, layers, c.layer)
        targets = c.targets
        if c.target not in [o.key for o in targets]:  # classes not known yet
            targets.append(Option(c.target, f"class {c.target}"))
        _fill(self.target_box, targets, c.target)
        _fill(self.rank_box, c.ranks, c.rank)
        maps = c.maps
        if c.map_choice not in [o.key for o in maps]:
            maps.append(Option(c.map_choice, c.map_choice))
        _fill(self.map_box, maps, c.map_choice)

    def render_values(self) -> None:
        c = self.choices
        for box, key in zip(self.boxes, (c.model, c.layer, c.target, c.rank, c.map_choice)):
            if box.currentData() != key:
                if box.findData(key) < 0 and key is not None:
                    self.render_options()  # a value outside the options (a script's)
                    return
                _select(box, key)

    def _model_activated(self, index: int) -> None:
        name = self.model_box.itemData(index)
        if name == LOAD_KEY:
            _select(self.model_box, self.choices.model)  # the state keeps its model
            if self.on_load is not None:
                self.on_load()
        else:
            self.choices.set(model=name)


@contextmanager
def _quiet(widget: QWidget) -> Iterator[None]:
    """No Qt signals from ``widget`` (a restored model is not a user's choice)."""
    before = widget.blockSignals(True)
    try:
        yield
    finally:
        widget.blockSignals(before)


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
        self.boxes = ChoiceBoxes(state.choices, load_item=True,
                                 on_load=self.load_model_requested.emit)
        b = self.boxes
        self.model_box, self.layer_box, self.target_box = b.model_box, b.layer_box, b.target_box
        self.rank_box, self.map_box = b.rank_box, b.map_box
        self.model_box.setToolTip("Bundled models, models you loaded, or Load model… (a card)")
        self.layer_box.setToolTip("Spatial layer whose feature maps are captured (output shape)")
        self.target_box.setToolTip("Class explained; 'predicted' follows the model's answer")
        self.rank_box.setToolTip("How the 'most important' channel is chosen")
        self.map_box.setToolTip("Map shown and scored: a ranked channel or a CAM")
        state.choices.events.changed.connect(self._choices_changed)

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

    # -- the state's options and values (the panel renders them) -----------------------
    def _choices_changed(self, changes: dict[str, Any]) -> None:
        if "model" in changes and changes["model"] is not None:
            self.model_chosen.emit(changes["model"])  # the window loads it
        if set(changes) - {"model"}:
            self.settings_changed.emit()

    def set_models(self, names: list[str], current: str | None = None) -> None:
        self.state.choices.set_models(names)
        current = current if current in names else (names[0] if names else None)
        if current is not None:
            with _quiet(self):
                self.state.choices.set(model=current)

    def add_model(self, key: str, label: str | None = None) -> None:
        """Select model ``key`` (a bundled name or a card path), adding it if new."""
        self.state.choices.add_model(key, label)
        self.state.choices.set(model=key)

    def set_layers(self, layers: list[tuple[str, tuple[int, ...]]], default: str | None) -> None:
        self.state.choices.set_layers(layers, default, keep=False)  # a new model: its layer

    def set_classes(self, classes: list[str]) -> None:
        self.state.choices.set_classes(classes)

    def set_top_k(self, k: int) -> None:
        self.state.choices.top_k = int(k)
        self.boxes.render_options()

    def select_map(self, choice: str) -> None:
        self.state.choices.set(map_choice=choice)

    # -- reading the state -----------------------------------------------------------------
    def current_model(self) -> str | None:
        return self.state.choices.model

    def settings(self) -> AnalysisSettings | None:
        return self.state.analysis

    def set_running(self, running: bool) -> None:
        self.cancel.setEnabled(running)
        if not running:
            self.progress.setFormat("%p%")
