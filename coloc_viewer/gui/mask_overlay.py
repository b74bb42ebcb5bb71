"""A segmentation model's predicted mask over the slice view, with its legend: a thin view
over :func:`coloc_viewer.viewer.maps.predicted_mask` and
:func:`coloc_viewer.viewer.display.label_mask_rgba` (shown while ``overlay.mask`` is on)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QTransform
from PySide6.QtWidgets import QLabel

from coloc_viewer.viewer.display import label_colour, label_mask_rgba
from coloc_viewer.viewer.maps import mask_legend, predicted_mask

Z_VALUE = 2.5  # above the map and its contour, under the ROIs


class PredictedMaskOverlay:
    """Draws the shown explanation's predicted labels on ``view`` (a SliceView) and lists
    the classes in a legend at the image's top-left corner."""

    def __init__(self, view: Any, state: Any) -> None:
        self.view, self.state = view, state
        self.item = pg.ImageItem(axisOrder="row-major")
        self.item.setZValue(Z_VALUE)
        view.vb.addItem(self.item)
        self.legend = QLabel(view.graphics)
        self.legend.setObjectName("predicted-mask-legend")
        self.legend.setStyleSheet("background: rgba(0, 0, 0, 160); color: #eeeeee; "
                                  "padding: 3px; font-size: 12px;")
        self.legend.move(8, 8)
        self.legend.hide()
        ev = state.events
        ev.volume.connect(self._on_volume)
        for event in (ev.slice, ev.explanation, ev.overlay):
            event.connect(self.redraw)

    def _on_volume(self, _value: object = None) -> None:
        vol = self.state.volume
        if vol is not None:
            self.item.setTransform(QTransform.fromScale(vol.spacing[2], vol.spacing[1]))
        self.redraw()

    def labels(self) -> np.ndarray | None:
        """The predicted labels drawn now (None: nothing drawn)."""
        ex = self.state.explanation
        if ex is None or not self.state.overlay.mask:
            return None
        mask = predicted_mask(ex)
        vol = self.state.volume
        if mask is None or vol is None or mask.shape != vol.shape[1:]:
            return None
        return mask

    def legend_rows(self) -> list[tuple[int, str, float | None]]:
        ex = self.state.explanation
        classes = getattr(self.state.card, "classes", None)
        return mask_legend(ex, classes) if ex is not None else []

    def redraw(self, _value: object = None) -> None:
        mask = self.labels()
        if mask is None:
            self.item.clear()
            self.item.setVisible(False)
            self.legend.hide()
            return
        self.item.setImage(label_mask_rgba(mask), autoLevels=False, levels=(0, 255))
        self.item.setVisible(True)
        rows = []
        whole = "volume" if getattr(self.state.explanation, "spatial_dims", 2) == 3 else "slice"
        for value, name, share in self.legend_rows():
            r, g, b = label_colour(value)
            amount = "" if share is None else f" ({share:.1%} of the {whole})"
            rows.append(f"<span style='color: rgb({r},{g},{b})'>&#9632;</span> "
                        f"{name}{amount}")
        self.legend.setText("Predicted mask (M)<br>" + "<br>".join(rows))
        self.legend.adjustSize()
        self.legend.show()
        self.legend.raise_()
