"""Series browser: the series found under the opened path; double-click opens one."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHeaderView, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

COLUMNS = ("Description", "Modality", "Slices", "Size", "Spacing (mm)")


class SeriesBrowser(QWidget):
    """Lists ``SeriesInfo`` records (from ``coloc_viewer.imaging.load.scan``)."""

    series_activated = Signal(str, object)  # path, series uid

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(list(COLUMNS))
        self.tree.setRootIsDecorated(False)
        self.tree.setToolTip("Double-click a series to open it")
        # the short columns always whole; the description takes the rest, its end elided
        # when the dock is narrow (the whole text in its tooltip)
        self.tree.setTextElideMode(Qt.TextElideMode.ElideRight)
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for col in range(1, len(COLUMNS)):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.itemDoubleClicked.connect(self._activated)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.tree)
        self.path = ""

    def set_series(self, path: str, infos: list[Any]) -> None:
        self.path = path
        self.tree.clear()
        for info in infos:
            shape = list(getattr(info, "shape", []) or [])
            spacing = list(getattr(info, "spacing", []) or [])
            kind = getattr(info, "kind", "image")
            # patient identifiers removed: screenshots grab this panel (issue 14)
            description = str(getattr(info, "safe_description", None)
                              or getattr(info, "description", "") or "(no description)")
            item = QTreeWidgetItem([
                description if kind == "image" else f"{description} [{kind}]",
                str(getattr(info, "modality", "") or ""),
                str(shape[0] if shape else getattr(info, "n_files", "")),
                "×".join(str(s) for s in shape[1:]),
                "×".join(f"{s:.2f}" for s in spacing),
            ])
            key = getattr(info, "series_key", None) or getattr(info, "series_uid", None)
            item.setData(0, Qt.ItemDataRole.UserRole, key if kind == "image" else None)
            if kind != "image":
                item.setDisabled(True)
            warnings = list(getattr(info, "warnings", []) or [])
            item.setToolTip(0, "\n".join([item.text(0), *(str(w) for w in warnings)]))
            self.tree.addTopLevelItem(item)

    def _activated(self, item: QTreeWidgetItem, _column: int) -> None:
        key = item.data(0, Qt.ItemDataRole.UserRole)
        if key is not None:
            self.series_activated.emit(self.path, key)
