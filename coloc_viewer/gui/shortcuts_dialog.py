"""Help > Keyboard shortcuts: every action's keys (read from the actions themselves, so the
list cannot go stale) and the mouse gestures, in a table that fits the screen."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

MOUSE = [("Wheel", "Next / previous slice"), ("Ctrl+wheel, right-drag", "Zoom"),
         ("Middle-drag", "Pan"), ("Shift+left-drag", "Window / level"),
         ("Shift+wheel", "Brush radius"), ("Left-drag", "The active tool")]


def _dedicated(seq: QKeySequence) -> bool:
    """F13-F35 or a dedicated key (Open, Save, Undo, Exit, media keys): Qt's standard
    shortcuts list them for keyboards that have them; a reader's keyboard has not."""
    key = seq[0].key().value if seq.count() else 0
    return Qt.Key.Key_F13.value <= key <= Qt.Key.Key_F35.value or key >= Qt.Key.Key_Back.value


def action_keys(action: QAction) -> str:
    """The action's shortcuts as the platform writes them, without dedicated keys."""
    return ", ".join(k.toString(QKeySequence.SequenceFormat.NativeText)
                     for k in action.shortcuts() if not k.isEmpty() and not _dedicated(k))


def shortcut_rows(actions: dict[str, QAction]) -> list[tuple[str, str, str]]:
    """(keys, action, what it does) of every action with a shortcut, then the mouse."""
    rows = []
    for name, act in actions.items():
        keys = action_keys(act)
        if keys:
            tip = act.toolTip()
            rows.append((keys, name, "" if tip.replace("&", "") == name else tip))
    return rows + [(keys, what, "mouse") for keys, what in MOUSE]


class ShortcutsDialog(QDialog):
    """A non-modal table of the window's shortcuts; Esc or Close closes it."""

    def __init__(self, actions: dict[str, QAction], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        rows = shortcut_rows(actions)
        self.table = QTableWidget(len(rows), 3)
        self.table.setHorizontalHeaderLabels(["Keys", "Action", "What it does"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(True)  # a long "What it does" wraps instead of ending in "…"
        for i, row in enumerate(rows):
            for j, text in enumerate(row):
                self.table.setItem(i, j, QTableWidgetItem(text))
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.table.verticalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.ResizeToContents)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        self._fit(parent)

    def _fit(self, parent: Any) -> None:
        """At most 80 % of the screen's height (the table scrolls), wide enough to read."""
        screen = (parent.screen() if parent is not None else None) or \
            QGuiApplication.primaryScreen()
        room = screen.availableGeometry()
        rows = self.table.verticalHeader().length() + self.table.horizontalHeader().height()
        self.resize(min(900, int(room.width() * 0.9)), min(rows + 90, int(room.height() * 0.8)))
