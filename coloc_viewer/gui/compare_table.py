"""The compare window's summary table: one column per pane (prediction, shown channel and
the scores of the active ROI); each pane shows every ROI's rows and the verdict itself."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHeaderView, QTableWidget, QTableWidgetItem

from coloc_viewer.metrics.definitions import BY_KEY, SCORE_KEYS, format_score

EXTRA_ROWS = ("prediction", "channel")


class CompareTable(QTableWidget):
    """Rows: prediction, channel, the score keys; columns: the panes A-D."""

    def __init__(self) -> None:
        super().__init__(len(EXTRA_ROWS) + len(SCORE_KEYS), 0)
        self.setVerticalHeaderLabels(["Prediction", "Channel"]
                                     + [BY_KEY[k].label for k in SCORE_KEYS])
        for i, key in enumerate(SCORE_KEYS):
            self.verticalHeaderItem(len(EXTRA_ROWS) + i).setToolTip(BY_KEY[key].definition)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)

    def set_panes(self, letters: Sequence[str]) -> None:
        self.setColumnCount(len(letters))
        self.setHorizontalHeaderLabels(list(letters))
        self.setMinimumWidth(110 + 50 * len(letters))  # every pane's column readable

    def fill(self, panes: Sequence[Any], errors: dict[int, str],
             columns: Sequence[int] | None = None) -> None:
        for col, pane in enumerate(panes):
            if columns is not None and col not in columns:
                continue
            res = pane.result if pane.result is not None and \
                pane.result.slice_index == pane.slice_index else None
            self.setHorizontalHeaderItem(col, QTableWidgetItem(pane.letter))
            self.horizontalHeaderItem(col).setToolTip(pane.describe())
            if res is None:
                values = ["error" if errors.get(col) else ""] + [""] * (self.rowCount() - 1)
            else:
                pred = res.explanation.prediction if res.explanation is not None else {}
                values = [str(pred.get("label", "")),
                          "" if res.channel is None else str(res.channel)]
                values += [format_score(k, res.scores.get(k)) for k in SCORE_KEYS]
            for row, text in enumerate(values):
                item = QTableWidgetItem(text)
                item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
                if row == 0 and res is None and errors.get(col):
                    item.setToolTip(errors[col])
                self.setItem(row, col, item)

    def values(self) -> list[dict[str, str]]:
        """The table as text, one dict per pane column (for tests and scripts)."""
        keys = [*EXTRA_ROWS, *SCORE_KEYS]
        return [{k: (self.item(r, c).text() if self.item(r, c) else "")
                 for r, k in enumerate(keys)} for c in range(self.columnCount())]
