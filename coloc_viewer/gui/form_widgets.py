"""Small form rows the dialogs share: a line edit with a button beside it, and a file path
with Browse…."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QLineEdit, QPushButton, QWidget


def with_button(edit: QLineEdit, text: str, slot: Any) -> QWidget:
    """A line edit with a push button beside it (e.g. Browse…)."""
    row = QWidget()
    box = QHBoxLayout(row)
    box.setContentsMargins(0, 0, 0, 0)
    box.addWidget(edit, 1)
    button = QPushButton(text)
    button.clicked.connect(slot)
    box.addWidget(button)
    return row


def file_row(edit: QLineEdit, title: str, name_filter: str) -> QWidget:
    """``edit`` holds a file path; Browse… picks one."""
    def pick() -> None:
        path, _ = QFileDialog.getOpenFileName(edit.window(), title, edit.text(), name_filter)
        if path:
            edit.setText(path)

    return with_button(edit, "Browse…", pick)
