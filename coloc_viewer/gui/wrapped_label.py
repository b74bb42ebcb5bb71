"""A word-wrapped message label that always shows every line, and error text that can wrap.

Qt's layouts do not always ask a word-wrapped QLabel for its height at its width (a form
row, a pane under other windows): its second line was cut off. :class:`WrappedLabel` keeps
its minimum height at what its lines need for its current width. :func:`error_html` makes
an error sentence red, escaped, and breakable inside long paths (which have no spaces).
"""

from __future__ import annotations

import html

from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QLabel, QWidget

__all__ = ["ERROR_COLOUR", "MIN_LABEL_WIDTH", "WrappedLabel", "breakable", "error_html"]

ERROR_COLOUR = "#d04040"
MIN_LABEL_WIDTH = 80  # px: narrower, a label is not laid out yet (one word per line)
_BREAK_AFTER = "/\\_."  # a zero-width space after these lets a path wrap
_ZWSP = "\u200b"


def breakable(text: str) -> str:
    """``text`` with break opportunities inside long words (paths, UIDs)."""
    words = []
    for word in text.split(" "):
        if len(word) > 24:
            for ch in _BREAK_AFTER:
                word = word.replace(ch, ch + _ZWSP)
        words.append(word)
    return " ".join(words)


def error_html(text: str) -> str:
    """A one-line error as the dialogs show it: a sentence, red, escaped, wrappable."""
    sentence = text[:1].upper() + text[1:]
    return f"<span style='color:{ERROR_COLOUR}'>{html.escape(breakable(sentence))}</span>"


class WrappedLabel(QLabel):
    """A word-wrapped QLabel as tall as its lines at its width (see the module)."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        self.setWordWrap(True)

    def setText(self, text: str) -> None:  # noqa: N802 - Qt override
        super().setText(text)
        self.fit()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self.fit()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        self.fit()

    def fit(self) -> None:
        """Minimum height = the wrapped lines' height (0 while not laid out)."""
        width = self.width()
        laid_out = self.isVisible() and width >= MIN_LABEL_WIDTH and bool(self.text())
        needed = self.heightForWidth(width) if laid_out else 0
        if self.minimumHeight() != needed:
            self.setMinimumHeight(needed)
