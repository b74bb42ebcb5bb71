"""The one screenshot painter of both windows: a view's image with its legend lines under
it, and several such cells tiled (the compare window)."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QPainter

BACKGROUND = QColor(20, 20, 20)
TEXT = QColor(230, 230, 230)


def with_legend(shot: QImage, lines: Sequence[str], min_lines: int = 0) -> QImage:
    """``shot`` with ``lines`` written underneath (monospace, light on dark)."""
    n = max(len(lines), min_lines)
    if n == 0:
        return shot
    font = QFont("monospace", 9)
    line_h = QFontMetrics(font).lineSpacing() + 2
    out = QImage(shot.width(), shot.height() + line_h * n + 8, QImage.Format.Format_RGB32)
    out.fill(BACKGROUND)
    painter = QPainter(out)
    try:
        painter.drawImage(0, 0, shot)
        painter.setFont(font)
        painter.setPen(TEXT)
        for i, line in enumerate(lines):
            painter.drawText(QRectF(6, shot.height() + 4 + line_h * i, shot.width() - 12,
                                    line_h), Qt.AlignmentFlag.AlignLeft, line)
    finally:
        painter.end()
    return out


def tiled(cells: Sequence[QImage], cols: int) -> QImage:
    """Cells laid out row by row, ``cols`` per row, each in a cell of the largest size."""
    cell_w = max(c.width() for c in cells)
    cell_h = max(c.height() for c in cells)
    rows = (len(cells) + cols - 1) // cols
    out = QImage(cell_w * cols, cell_h * rows, QImage.Format.Format_RGB32)
    out.fill(BACKGROUND)
    painter = QPainter(out)
    try:
        for i, cell in enumerate(cells):
            painter.drawImage((i % cols) * cell_w, (i // cols) * cell_h, cell)
    finally:
        painter.end()
    return out
