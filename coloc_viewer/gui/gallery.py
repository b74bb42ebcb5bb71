"""Channel gallery: the top-k feature maps as thumbnails with importance bars."""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QImage, QPainter, QPixmap
from PySide6.QtWidgets import QListView, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from coloc_viewer.viewer.display import colormap_lut, normalise_map
from coloc_viewer.viewer.state import ViewerState

THUMB = 96


def thumbnail(saliency: np.ndarray, importance: float, max_importance: float) -> QPixmap:
    """A coloured map thumbnail with a bar (below it) proportional to |importance|."""
    scaled, _, _ = normalise_map(saliency)
    rgb = np.ascontiguousarray(colormap_lut()[(scaled * 255).astype(np.intp)])
    h, w = rgb.shape[:2]
    image = QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
    pix = QPixmap(THUMB, THUMB + 12)
    pix.fill(QColor(30, 30, 30))
    painter = QPainter(pix)
    painter.drawImage(pix.rect().adjusted(0, 0, 0, -12), image)
    share = abs(importance) / max_importance if max_importance > 0 else 0.0
    painter.fillRect(0, THUMB + 3, int(round(THUMB * share)), 8,
                     QColor(90, 200, 120) if importance >= 0 else QColor(220, 90, 90))
    painter.end()
    return pix


class ChannelGallery(QWidget):
    """Observes the explanation; clicking a thumbnail shows that channel and re-scores."""

    channel_clicked = Signal(str)  # map choice, e.g. "top" or "channel:3"

    def __init__(self, state: ViewerState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.list = QListWidget()
        self.list.setViewMode(QListView.ViewMode.IconMode)
        self.list.setIconSize(QSize(THUMB, THUMB + 12))
        self.list.setResizeMode(QListView.ResizeMode.Adjust)
        self.list.setMovement(QListView.Movement.Static)
        self.list.setToolTip("Top-ranked channels; click one to overlay and score it")
        self.list.itemClicked.connect(self._clicked)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.list)
        self._shown: Any = None
        state.events.explanation.connect(self.refresh)
        state.events.slice.connect(self.refresh)

    def refresh(self, _value: object = None) -> None:
        ex = self.state.explanation
        if ex is self._shown:
            return
        self._shown = ex
        self.list.clear()
        if ex is None:
            return
        top = list(ex.top_channels)
        peak = max((abs(float(imp)) for _, imp in top), default=0.0)
        for rank, (channel, importance) in enumerate(top):
            try:
                small = ex.channel_map(channel, grid="layer")
            except TypeError:
                small = ex.channel_map(channel)
            item = QListWidgetItem(QIcon(thumbnail(np.asarray(small), float(importance), peak)),
                                   f"#{rank + 1} ch {channel}")
            item.setData(Qt.ItemDataRole.UserRole, "top" if rank == 0 else f"channel:{rank}")
            item.setToolTip(f"channel {channel}, importance {float(importance):.4g}")
            self.list.addItem(item)

    def _clicked(self, item: QListWidgetItem) -> None:
        self.channel_clicked.emit(item.data(Qt.ItemDataRole.UserRole))
