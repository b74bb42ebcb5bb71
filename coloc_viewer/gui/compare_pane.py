"""One pane of the compare window: the main view's canvas (:class:`SliceView`) over the
pane's own :class:`~coloc_viewer.viewer.state.ViewerState`, the pane's settings, and the
same per-ROI score rows and verdict as the main window (:class:`ScorePanel`).

Mouse and keys are the main view's: wheel = slice, Ctrl+wheel / right-drag = zoom,
middle-drag = pan, Shift+left-drag = window/level, left-drag = the active tool (so ROIs can
be drawn in a pane; the study's ROI set is shared by its panes and the main window).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from coloc_viewer.gui.model_panel import ChoiceBoxes
from coloc_viewer.gui.score_panel import ScorePanel
from coloc_viewer.gui.slice_view import SliceView
from coloc_viewer.viewer.compare import (
    Pane,
    PaneResult,
    PaneSpec,
    Study,
)
from coloc_viewer.viewer.display import WindowLevel
from coloc_viewer.viewer.settings import model_label


class ComparePane(QWidget):
    """A view of one study with one map; emits what the user changes."""

    slice_changed = Signal(int)
    window_changed = Signal(float, float)
    spec_changed = Signal()

    def __init__(self, letter: str, study: Study, models: list[str],
                 spec: PaneSpec | None = None, parent: QWidget | None = None,
                 registry: Any = None) -> None:
        super().__init__(parent)
        self.letter = letter
        self.registry = registry
        self.model = Pane(letter, study, spec or PaneSpec(models[0] if models else ""))
        self.state = self.model.state
        self.canvas = SliceView(self.state)  # the main view's canvas class
        self.scores = ScorePanel(self.state, compact=True)  # the image takes the room
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
        # two lines for every pane's title: a long one wrapping no longer shifts its image
        # below its neighbours'
        self.title.setFixedHeight(2 * self.title.fontMetrics().lineSpacing() + 2)
        self.title.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.notice = QLabel("")  # why this pane's model cannot run here (one sentence)
        self.notice.setObjectName("compare-pane-notice")
        self.notice.setWordWrap(True)
        self.notice.setStyleSheet("color: #ff8a80;")
        self.notice.hide()
        self.scale_text = QLabel("")
        self.scale_text.setToolTip("The colour scale of this pane's map: shared with the panes "
                                   "showing the same kind of map, or per image")
        self.choices.set_models(models, self._labels(models))
        self.boxes = ChoiceBoxes(self.choices, card_default=True)
        b = self.boxes
        self.model_box, self.layer_box, self.target_box = b.model_box, b.layer_box, b.target_box
        self.rank_box, self.map_box = b.rank_box, b.map_box
        for box in b.boxes:  # the pane is narrow
            box.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            box.setMinimumContentsLength(8)
        for box, tip in ((self.model_box, "Model of this pane (the session's registry)"),
                         (self.layer_box, "Layer whose feature maps are captured"),
                         (self.target_box, "Target class (predicted by default)"),
                         (self.rank_box, "How channels are ranked"),
                         (self.map_box, "Map shown: top channel, a ranked channel or a CAM")):
            box.setToolTip(tip)
        self.choices.events.changed.connect(self._spec_edited)
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
        layout.addWidget(self.notice)
        layout.addWidget(self.canvas, 1)
        layout.addWidget(self.scale_text)
        layout.addLayout(form)
        layout.addWidget(self.scores)

    # -- settings (the pane's state holds them; the boxes render them) ---------------------
    @property
    def choices(self) -> Any:
        return self.state.choices

    def _labels(self, names: list[str]) -> dict[str, str]:
        """Display names: the card's name when the model is loaded, else the file stem."""
        reg = self.registry
        return {n: model_label(n, reg.get(n) if reg is not None and reg.is_loaded(n)
                               else None) for n in names}

    def spec(self) -> PaneSpec:
        return self.model.spec

    def set_spec(self, spec: PaneSpec) -> None:
        if spec.model and spec.model not in [o.key for o in self.choices.models]:
            self.choices.add_model(spec.model, self._labels([spec.model])[spec.model])
        self.model.set_spec(spec)
        self._update_title()

    def set_models(self, names: list[str]) -> None:
        """Offer the registry's names (a card loaded in the main window appears here)."""
        known = [o.key for o in self.choices.models]
        names = known + [n for n in names if n not in known]
        self.choices.set_models(names, self._labels(names))

    def set_layers(self, names: list[str]) -> None:
        """Fill the layer chooser once the model's spatial layers are known."""
        if [o.key for o in self.choices.layers] != list(names):
            self.choices.set_layers([(n, ()) for n in names], keep_default=True)

    def _spec_edited(self, *_: Any) -> None:
        self.show_notice("")
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
        if result is not None and result.card.get("classes"):
            self.choices.set_classes(list(result.card["classes"]))
        if result is not None and self.registry is not None and \
                self.registry.is_loaded(result.spec.model):
            self.set_models([])  # relabel with the card name now that it is loaded
        self.model.set_result(result)
        if result is not None:
            self.show_notice("")
        self._update_title()

    def show_notice(self, text: str) -> None:
        """Say in the pane why its model did not run (empty: hide the notice)."""
        self.notice.setText(text)
        self.notice.setVisible(bool(text))

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
        # the whole title (two lines show) and the full card path
        self.title.setToolTip(f"{self.title.text()}\nmodel: {self.spec().model}")
