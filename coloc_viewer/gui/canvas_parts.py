"""The canvas's pyqtgraph view box (the clinical mouse mapping) and its colour bar."""

from __future__ import annotations

from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QLinearGradient, QPainter
from PySide6.QtWidgets import QWidget

from coloc_viewer.viewer.display import colormap_lut

ZOOM_PER_100PX = 2.0


class ImageViewBox(pg.ViewBox):
    """ViewBox with the clinical mouse mapping: wheel = slice, Ctrl+wheel = zoom,
    Shift+wheel = brush size, left = tool (Shift+left = W/L), middle = pan, right = zoom."""

    def __init__(self, view: Any) -> None:
        super().__init__(lockAspect=True, invertY=True, enableMenu=False)
        self._view = view

    def wheelEvent(self, ev, axis=None):  # noqa: N802 - Qt naming
        mods = ev.modifiers()
        if mods & Qt.KeyboardModifier.ControlModifier:
            super().wheelEvent(ev, axis)
            return
        delta = ev.delta()
        steps = int(delta / 120) or (1 if delta > 0 else -1)  # 120 = one notch
        if mods & Qt.KeyboardModifier.ShiftModifier:
            self._view.state.grow_brush(steps)
        else:
            self._view.state.step_slice(-steps)
        ev.accept()

    def mouseDragEvent(self, ev, axis=None):  # noqa: N802
        if ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            self._view.left_drag(ev)
        elif ev.button() == Qt.MouseButton.RightButton:
            ev.accept()  # zoom 2x per 100 px dragged down (out when dragged up)
            dy = (ev.screenPos() - ev.lastScreenPos()).y()
            s = ZOOM_PER_100PX ** (-dy / 100.0)
            centre = self.mapToView(ev.buttonDownPos(Qt.MouseButton.RightButton))
            self.scaleBy((s, s), center=centre)
        else:
            super().mouseDragEvent(ev, axis)

    def mouseClickEvent(self, ev):  # noqa: N802
        if ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            self._view.left_click(ev)
        else:
            super().mouseClickEvent(ev)


class ColorBar(QWidget):
    """Vertical colour bar of the overlay colour map with the raw value range."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFixedWidth(74)
        self.low: float | None = None
        self.high: float | None = None
        self.setToolTip("Overlay colour scale; the labels are the raw map values.")

    def set_range(self, low: float | None, high: float | None) -> None:
        self.low, self.high = low, high
        self.update()

    def paintEvent(self, event):  # noqa: N802
        painter = QPainter(self)
        if self.low is None or self.high is None:
            painter.end()
            return
        rect = QRectF(8, 22, 16, max(self.height() - 44, 10))
        grad = QLinearGradient(rect.bottomLeft(), rect.topLeft())
        lut = colormap_lut()
        for i in range(0, 256, 32):
            grad.setColorAt(i / 255, QColor(*lut[i]))
        grad.setColorAt(1.0, QColor(*lut[255]))
        painter.fillRect(rect, grad)
        painter.setPen(QColor(220, 220, 220))
        painter.drawText(QRectF(0, 0, self.width(), 20), Qt.AlignmentFlag.AlignLeft,
                         f"{self.high:.3g}")
        painter.drawText(QRectF(0, self.height() - 20, self.width(), 20),
                         Qt.AlignmentFlag.AlignLeft, f"{self.low:.3g}")
        painter.end()
