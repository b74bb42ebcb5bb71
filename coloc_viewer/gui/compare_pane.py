"""One pane of the compare window: a pyqtgraph view of a slice, its ROI outline and a map.

Mouse: wheel = slice, Ctrl+wheel / right-drag = zoom, left-drag = pan, Shift+left-drag =
window/level (horizontal: width, vertical: level). The pane's own controls choose model,
layer, target, ranking and map.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from coloc_viewer.viewer.compare import (
    MAP_CHOICES,
    RANKS,
    PaneResult,
    PaneSpec,
    Study,
    roi_outline,
)

MAP_COLORMAP = "inferno"
ROI_RGBA = (0, 229, 255, 255)
DEFAULT_LAYER = "(card default)"
PREDICTED = "predicted"


def _window_of(volume: Any) -> tuple[float, float]:
    w = (volume.metadata or {}).get("window")
    if isinstance(w, list | tuple) and len(w) == 2 and float(w[1]) > 0:
        return float(w[0]), float(w[1])
    lo, hi = np.percentile(volume.voxels[:: max(1, volume.shape[0] // 8)], [1.0, 99.0])
    return float(lo + hi) / 2.0, float(max(hi - lo, 1e-3))


class _PaneViewBox(pg.ViewBox):
    """A ViewBox whose wheel scrolls slices and whose Shift+left-drag sets window/level."""

    def __init__(self, pane: ComparePane) -> None:
        super().__init__(invertY=True, lockAspect=True, enableMenu=False)
        self._pane = pane

    def wheelEvent(self, ev: Any, axis: Any = None) -> None:
        if ev.modifiers() & Qt.KeyboardModifier.ControlModifier:
            super().wheelEvent(ev, axis)
            return
        delta = ev.delta() if hasattr(ev, "delta") else ev.angleDelta().y()
        if delta:
            self._pane.step_slice(-1 if delta > 0 else 1)
        ev.accept()

    def mouseDragEvent(self, ev: Any, axis: Any = None) -> None:
        if ev.button() == Qt.MouseButton.LeftButton and \
                ev.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            ev.accept()
            d = ev.screenPos() - ev.lastScreenPos()
            self._pane.drag_window(float(d.x()), float(d.y()))
            return
        super().mouseDragEvent(ev, axis)


class ComparePane(QWidget):
    """A view of one study at one slice with one map; emits what the user changes."""

    slice_changed = Signal(int)
    window_changed = Signal(float, float)
    spec_changed = Signal()

    def __init__(self, letter: str, study: Study, models: list[str],
                 spec: PaneSpec | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.letter = letter
        self.study = study
        self.slice_index = study.largest_roi_slice()
        self.window = _window_of(study.volume)
        self.result: PaneResult | None = None
        self.display_range: tuple[float, float] | None = None
        self.opacity = 0.5
        self._build(models)
        if spec is not None:
            self.set_spec(spec)
        self._show_slice()

    # -- construction ----------------------------------------------------------------------
    def _build(self, models: list[str]) -> None:
        self.title = QLabel(self.letter)
        self.title.setWordWrap(True)
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setMinimumSize(240, 240)
        self.view = _PaneViewBox(self)
        self.graphics.addItem(self.view, row=0, col=0)
        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.overlay_item = pg.ImageItem(axisOrder="row-major")
        self.outline_item = pg.ImageItem(axisOrder="row-major")
        self.cmap = pg.colormap.get(MAP_COLORMAP)
        self.overlay_item.setLookupTable(self.cmap.getLookupTable(nPts=256, alpha=False))
        self.overlay_item.setOpacity(self.opacity)
        for z, item in enumerate((self.image_item, self.overlay_item, self.outline_item)):
            item.setZValue(z)
            self.view.addItem(item)
        self.colorbar = pg.ColorBarItem(values=(0.0, 1.0), colorMap=self.cmap, width=14,
                                        interactive=False, label="raw map value")
        self.graphics.addItem(self.colorbar, row=0, col=1)

        self.model_box = QComboBox()
        self.model_box.addItems(models)
        self.layer_box = QComboBox()
        self.layer_box.addItem(DEFAULT_LAYER)
        self.target_box = QSpinBox()
        self.target_box.setRange(-1, 999)
        self.target_box.setSpecialValueText(PREDICTED)
        self.target_box.setValue(-1)
        self.rank_box = QComboBox()
        self.rank_box.addItems(RANKS)
        self.map_box = QComboBox()
        self.map_box.addItems(MAP_CHOICES)
        self.map_box.setEditable(True)  # "channel:<k>" for any channel
        for box, tip in ((self.model_box, "Model of this pane"),
                         (self.layer_box, "Layer whose feature maps are captured"),
                         (self.target_box, "Target class (predicted by default)"),
                         (self.rank_box, "How channels are ranked"),
                         (self.map_box, "Map shown: top channel, channel:<k> or a CAM")):
            box.setToolTip(tip)
        for sig in (self.model_box.currentIndexChanged, self.layer_box.currentIndexChanged,
                    self.target_box.valueChanged, self.rank_box.currentIndexChanged,
                    self.map_box.currentTextChanged):
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
        layout.addWidget(self.graphics, 1)
        layout.addLayout(form)

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
            self.map_box.setCurrentText(spec.map_choice)
        finally:
            for box in boxes:
                box.blockSignals(False)
        self._spec_edited()

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
        self.result = None
        self._show_map()
        self.spec_changed.emit()

    # -- slice, window, study --------------------------------------------------------------
    def set_study(self, study: Study) -> None:
        self.study = study
        self.slice_index = min(self.slice_index, study.n_slices - 1)
        self.result = None
        self._show_slice()

    def set_slice(self, k: int, emit: bool = True) -> None:
        k = int(np.clip(k, 0, self.study.n_slices - 1))
        if k == self.slice_index:
            return
        self.slice_index = k
        if self.result is not None and self.result.slice_index != k:
            self.result = None
        self._show_slice()
        if emit:
            self.slice_changed.emit(k)

    def step_slice(self, step: int) -> None:
        self.set_slice(self.slice_index + step)

    def set_window(self, center: float, width: float, emit: bool = True) -> None:
        width = max(float(width), 1e-6)
        if (center, width) == self.window:
            return
        self.window = (float(center), width)
        self.image_item.setLevels((center - width / 2.0, center + width / 2.0))
        if emit:
            self.window_changed.emit(float(center), width)

    def drag_window(self, dx: float, dy: float) -> None:
        """Shift+drag: right widens the window, down raises the level (as in most viewers)."""
        c, w = self.window
        step = max(w, 1.0) / 256.0
        self.set_window(c + dy * step, max(w + dx * step * 2.0, 1e-3))

    def roi_changed(self) -> None:
        """The study's ROI was edited: redraw the outline (scores are recomputed by the window)."""
        self._show_outline()

    # -- map -------------------------------------------------------------------------------
    def show_result(self, result: PaneResult | None) -> None:
        self.result = result
        if result is not None and result.layers:
            self.set_layers(result.layers)
        self._show_map()

    def set_display_range(self, rng: tuple[float, float] | None) -> None:
        if rng == self.display_range:
            return
        self.display_range = rng
        if self.overlay_item.isVisible() and self.result is not None:
            lo, hi = self._levels()
            self.overlay_item.setLevels((lo, hi))  # colours only: no new image upload
            self.colorbar.setLevels((lo, hi))

    def set_opacity(self, opacity: float) -> None:
        self.opacity = float(opacity)
        self.overlay_item.setOpacity(self.opacity)

    def describe(self) -> str:
        spec = self.spec()
        text = f"{self.letter}: {spec.model} / {spec.layer or 'default layer'} / " \
               f"{spec.method_label()} ({spec.rank})"
        if self.result is not None and self.result.explanation is not None:
            pred = self.result.explanation.prediction
            probs = pred.get("probabilities") or []
            p = probs[pred["index"]] if len(probs) > pred["index"] else None
            text += f" -- predicts {pred.get('label')}" + (f" ({p:.2f})" if p is not None else "")
        return text

    # -- drawing ---------------------------------------------------------------------------
    def _show_slice(self) -> None:
        vol = self.study.volume
        image = vol.voxels[self.slice_index]
        self.image_item.setImage(image, autoLevels=False)
        c, w = self.window
        self.image_item.setLevels((c - w / 2.0, c + w / 2.0))
        self._place(self.image_item)
        self._show_outline()
        self._show_map()

    def _place(self, item: pg.ImageItem) -> None:
        """Put an item's pixels on the slice in mm (after setImage: the rect scales pixels)."""
        vol = self.study.volume
        rows, cols = vol.shape[1], vol.shape[2]
        item.setRect(QRectF(0, 0, cols * vol.spacing[2], rows * vol.spacing[1]))

    def _show_outline(self) -> None:
        edge = roi_outline(self.study.roi[self.slice_index])
        rgba = np.zeros((*edge.shape, 4), np.uint8)
        rgba[edge] = ROI_RGBA
        self.outline_item.setImage(rgba, autoLevels=False, levels=(0, 255))
        self._place(self.outline_item)

    def _show_map(self) -> None:
        res = self.result
        shown = res is not None and res.slice_index == self.slice_index
        self.overlay_item.setVisible(shown)
        if shown:
            lo, hi = self._levels()
            self.overlay_item.setImage(res.saliency, autoLevels=False, levels=(lo, hi))
            self._place(self.overlay_item)
            self.colorbar.setLevels((lo, hi))
        self.title.setText(self.describe() + ("" if shown else "  [not analysed]"))

    def _levels(self) -> tuple[float, float]:
        res = self.result
        rng = self.display_range or (float(res.saliency.min()), float(res.saliency.max()))
        return rng if rng[1] > rng[0] else (rng[0], rng[0] + 1e-6)
