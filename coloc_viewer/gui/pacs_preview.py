"""The first retrieved slice in the main window while a PACS retrieval runs: a read-only
layer over the main canvas, labelled as a partial series ("retrieving n/N"), gone as soon as
the complete series is shown (or the retrieval is cancelled or fails).

The slice is never put into the viewer's state: nothing can be analysed, scored, edited or
autosaved on a partial series. It is the first instance that arrived, read by the same
loader as File > Open, in the viewer's display orientation and the file's window (or the
percentile window of that slice), at its pixel aspect ratio.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QEvent, QObject, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

__all__ = ["PacsPreview", "PreviewSlice", "preview_slice"]


@dataclass(frozen=True)
class PreviewSlice:
    """An 8-bit display image of one retrieved instance and its pixel spacing (row, col)."""

    image: np.ndarray
    spacing: tuple[float, float]


def preview_slice(path: Path) -> PreviewSlice | None:
    """The instance at ``path`` as the viewer would show it (None if it is no image)."""
    from coloc_viewer.imaging.load import load_volume
    from coloc_viewer.viewer.display import apply_window
    from coloc_viewer.viewer.orientation import oriented
    from coloc_viewer.viewer.view_models import default_window

    try:
        volume = oriented(load_volume(path))
    except Exception:  # noqa: BLE001 - no preview for what cannot be read
        return None
    plane = volume.voxels[volume.shape[0] // 2]
    # the window the viewer opens the series with (its DICOM window, else the slice's
    # 1-99 %; a missing window had painted the slice white)
    window = default_window(volume, volume.shape[0] // 2)
    image = apply_window(plane, window, invert=bool(volume.metadata.get("monochrome1")))
    return PreviewSlice(np.ascontiguousarray(image),
                        (float(volume.spacing[1]), float(volume.spacing[2])))


class PacsPreview(QWidget):
    """Covers ``host`` (the main canvas) while shown; swallows mouse and key input."""

    painted = Signal(float)  # perf_counter() of the first paint of a new slice
    finished = Signal()  # the preview went (the series opened, or the retrieval stopped)

    def __init__(self, host: QWidget) -> None:
        super().__init__(host)
        self.host = host
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.label = QLabel("")
        self.label.setWordWrap(True)
        self.label.setStyleSheet("background:#5a3a8a; color:white; padding:6px;"
                                 " font-weight:bold;")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label)
        layout.addStretch(1)
        self._qimage: QImage | None = None
        self._spacing = (1.0, 1.0)
        self._announce = False
        self.done, self.total = 0, None
        host.installEventFilter(self)
        self.hide()

    @property
    def text(self) -> str:
        return self.label.text()

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802
        if obj is self.host and event.type() == QEvent.Type.Resize:
            self.setGeometry(self.host.rect())
        return False

    def start(self, total: int | None) -> None:
        """A retrieval began: nothing shown yet (the canvas keeps what it shows)."""
        self._qimage, self.done, self.total = None, 0, total
        self.hide()

    def show_slice(self, shown: PreviewSlice) -> None:
        h, w = shown.image.shape
        self._qimage = QImage(shown.image.data, w, h, w,
                              QImage.Format.Format_Grayscale8).copy()
        self._spacing = shown.spacing
        self._announce = True
        self.done = max(self.done, 1)  # the slice shown arrived (progress may come later)
        self._update_text()
        self.setGeometry(self.host.rect())
        self.show()
        self.raise_()
        self.update()

    def follow(self, progress: Any) -> None:
        """A ``pacs.retrieve.Progress`` (connect the dialog's signal to this method, not to
        a lambda: a lambda would run in the retrieval thread and touch widgets there)."""
        self.set_progress(progress.done, progress.total)

    def set_progress(self, done: int, total: int | None) -> None:
        self.done, self.total = done, total or self.total
        if self.isVisible():
            self._update_text()

    def set_status(self, text: str) -> None:
        self.label.setText(text)

    def _update_text(self) -> None:
        of = f"/{self.total}" if self.total else ""
        self.label.setText(f"Retrieving from the PACS: {self.done}{of} instances. Partial "
                           "series: a preview of the first slice that arrived, read-only, "
                           "nothing is analysed until the series is complete.")

    def finish(self) -> None:
        was_shown = self.isVisible()
        self._qimage = None
        self.hide()
        if was_shown:
            self.finished.emit()

    def paintEvent(self, _event) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(0, 0, 0))
        if self._qimage is not None:
            # fitted below the banner, not under it (its top rows had been hidden)
            top = self.label.height() if self.label.isVisible() else 0
            width, height = self.width(), max(1, self.height() - top)
            sy, sx = self._spacing
            w_mm, h_mm = self._qimage.width() * sx, self._qimage.height() * sy
            scale = min(width / max(w_mm, 1e-6), height / max(h_mm, 1e-6))
            w, h = w_mm * scale, h_mm * scale
            target = QRectF((width - w) / 2, top + (height - h) / 2, w, h)
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            painter.drawImage(target, self._qimage)
        painter.end()
        if self._qimage is not None and self._announce:
            self._announce = False
            self.painted.emit(time.perf_counter())

    def mousePressEvent(self, event) -> None:  # noqa: N802 - read-only
        event.accept()

    def wheelEvent(self, event) -> None:  # noqa: N802
        event.accept()

    def keyPressEvent(self, event) -> None:  # noqa: N802
        event.accept()
