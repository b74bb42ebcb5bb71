"""Live score panel: one row per ROI with every score, the verdict, and volume aggregates."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHeaderView,
    QLabel,
    QScrollArea,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from coloc_viewer.gui.wrapped_label import WrappedLabel
from coloc_viewer.metrics.definitions import SHORT_LABELS, format_score
from coloc_viewer.viewer.domain import target_note
from coloc_viewer.viewer.live_scores import SCORE_HELP, SCORE_KEYS, verdict
from coloc_viewer.viewer.state import ViewerState

WIDEST_VALUE = "< 0.001"  # format_score's widest text
COMPACT_ROWS = 4  # a compact table shows up to this many ROI rows, then scrolls
SECTION_PADDING = 14  # the header's margins and sort-free frame, px


def _table() -> QTableWidget:
    table = QTableWidget(0, len(SCORE_KEYS))
    for j, key in enumerate(SCORE_KEYS):
        item = QTableWidgetItem(SHORT_LABELS[key])
        item.setToolTip(f"{key}: {SCORE_HELP[key]}")
        table.setHorizontalHeaderItem(j, item)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
    # never narrower than the longest label or value: a narrow pane scrolls sideways
    # instead of cutting "IoU top-N" or "< 0.001" to "I…" or "<…"
    widest = max(header.fontMetrics().horizontalAdvance(text)
                 for text in [*(SHORT_LABELS[k] for k in SCORE_KEYS), WIDEST_VALUE])
    header.setMinimumSectionSize(widest + SECTION_PADDING)
    table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    return table


def _rows_height(table: QTableWidget) -> int:
    """The height of its header, its rows (one at least, :data:`COMPACT_ROWS` at most) and
    the sideways scrollbar."""
    shown = min(table.rowCount(), COMPACT_ROWS)
    row_heights = sum(table.rowHeight(i) for i in range(shown)) if shown else \
        table.verticalHeader().defaultSectionSize()  # room for the first row
    return (table.horizontalHeader().sizeHint().height() + row_heights
            + table.horizontalScrollBar().sizeHint().height() + 2 * table.frameWidth())


class ScorePanel(QWidget):
    """Observes ``state.events.scores`` and shows the values the Scorer returned.
    ``compact``: the tables are as tall as their rows (a compare pane, where the image needs
    the room), not stretched over the panel (the main window's dock)."""

    def __init__(self, state: ViewerState, parent: QWidget | None = None,
                 compact: bool = False) -> None:
        super().__init__(parent)
        self.state = state
        self.compact = compact
        self.verdict = WrappedLabel("Analyse a slice and draw an ROI to see the scores.")
        self.verdict.setObjectName("verdict")
        self.note = WrappedLabel("")  # "Explaining class 'no lesion', the model's prediction."
        self.note.setObjectName("target-note")
        self.note.setStyleSheet("color: #ffb347;")
        self.note.setVisible(False)
        self.table = _table()
        self.volume_label = QLabel("Volume (pooled over analysed slices)")
        self.volume_table = _table()
        layout = QVBoxLayout(self)
        layout.addWidget(self.note)
        layout.addWidget(self.verdict)
        stretch = 0 if compact else 1
        layout.addWidget(self.table, stretch)
        layout.addWidget(self.volume_label)
        layout.addWidget(self.volume_table, stretch)
        state.events.scores.connect(self.refresh)
        self.refresh()

    def refresh(self, _value: object = None) -> None:
        scores = self.state.scores
        self._fill(self.table, scores)
        self._fill(self.volume_table, self.state.volume_scores)
        for table in (self.table, self.volume_table):
            if self.compact:  # exactly its rows: no blank table area taking the image's room
                table.setFixedHeight(_rows_height(table))
            else:  # at least its rows: a long verdict or a small window cannot hide them
                table.setMinimumHeight(_rows_height(table))
        has_volume = bool(self.state.volume_scores)
        whole = getattr(self.state.explanation, "volume_explanation", None)
        self.volume_label.setText("Volume (3-D model: its map of the whole volume)"
                                  if whole is not None else
                                  "Volume (pooled over analysed slices)")
        self.volume_label.setVisible(has_volume)
        self.volume_table.setVisible(has_volume)
        if self.state.explanation is None:
            text = "No map on this slice yet: press Analyse (F5)."
        elif self.state.stroke_in_progress:
            return  # no p-values mid-stroke: keep the verdict until the stroke ends
        else:
            text = verdict(scores, self.state.outside)
        note = target_note(self.state.explanation, self.state.card)
        if self.note.text() != note:
            self.note.setText(note)
            self.note.setVisible(bool(note))
        if self.verdict.text() != text:
            self.verdict.setText(text)

    @staticmethod
    def _fill(table: QTableWidget, scores: dict) -> None:
        names = list(scores)
        if table.rowCount() != len(names):
            table.setRowCount(len(names))
        for i, name in enumerate(names):
            header = table.verticalHeaderItem(i)
            if header is None or header.text() != name:
                table.setVerticalHeaderItem(i, QTableWidgetItem(name))
            for j, key in enumerate(SCORE_KEYS):
                text = format_score(key, scores[name].get(key))
                item = table.item(i, j)
                if item is None:
                    item = QTableWidgetItem(text)
                    item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                    item.setToolTip(SCORE_HELP[key])
                    table.setItem(i, j, item)
                elif item.text() != text:
                    item.setText(text)

    def value(self, roi: str, key: str) -> str:
        """The text shown for ``key`` of ROI ``roi`` (tests read the screen through this)."""
        for i in range(self.table.rowCount()):
            if self.table.verticalHeaderItem(i).text() == roi:
                return self.table.item(i, SCORE_KEYS.index(key)).text()
        raise KeyError(roi)


def scrolling(panel: QWidget) -> QScrollArea:
    """``panel`` in a vertical scroll area: where the dock is short (a small window, a long
    verdict) the panel scrolls and its tables keep their rows, instead of squeezing them."""
    area = QScrollArea()
    area.setWidget(panel)
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    return area
