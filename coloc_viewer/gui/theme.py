"""Dark reading-room theme: low-glare palette, large readable type."""

from __future__ import annotations

from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QApplication

STYLE = """
QToolTip { color: #f0f0f0; background: #2b2b2b; border: 1px solid #555; font-size: 13px; }
QLabel#verdict { font-size: 17px; font-weight: bold; color: #ffd54f; padding: 4px; }
QDockWidget::title { padding: 4px; background: #262626; }
QTableWidget { gridline-color: #3a3a3a; }
QHeaderView::section { background: #2a2a2a; color: #ddd; padding: 3px; border: 0; }
QStatusBar QLabel { padding: 0 8px; }
"""


def apply_dark_theme(app: QApplication, point_size: int = 11) -> None:
    """Fusion style with a dark palette, as radiology workstations use."""
    app.setStyle("Fusion")
    pal = QPalette()
    base, window, text = QColor(24, 24, 24), QColor(36, 36, 36), QColor(225, 225, 225)
    pal.setColor(QPalette.ColorRole.Window, window)
    pal.setColor(QPalette.ColorRole.WindowText, text)
    pal.setColor(QPalette.ColorRole.Base, base)
    pal.setColor(QPalette.ColorRole.AlternateBase, window)
    pal.setColor(QPalette.ColorRole.Text, text)
    pal.setColor(QPalette.ColorRole.Button, QColor(48, 48, 48))
    pal.setColor(QPalette.ColorRole.ButtonText, text)
    pal.setColor(QPalette.ColorRole.Highlight, QColor(38, 110, 170))
    pal.setColor(QPalette.ColorRole.HighlightedText, QColor(255, 255, 255))
    pal.setColor(QPalette.ColorRole.ToolTipBase, QColor(43, 43, 43))
    pal.setColor(QPalette.ColorRole.ToolTipText, text)
    pal.setColor(QPalette.ColorRole.PlaceholderText, QColor(140, 140, 140))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText,
                 QPalette.ColorRole.WindowText):
        pal.setColor(QPalette.ColorGroup.Disabled, role, QColor(120, 120, 120))
    app.setPalette(pal)
    font = QFont(app.font())
    font.setPointSize(point_size)
    app.setFont(font)
    app.setStyleSheet(STYLE)
