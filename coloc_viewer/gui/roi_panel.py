"""ROI list: add, rename, recolour, show/hide, lock, delete, and choose the active ROI."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QColorDialog,
    QHBoxLayout,
    QInputDialog,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from coloc_viewer.viewer.state import ViewerState


def _swatch(color: tuple[int, int, int]) -> QIcon:
    pix = QPixmap(16, 16)
    pix.fill(QColor(*color))
    return QIcon(pix)


class RoiPanel(QWidget):
    """The study's ROIs; the check box shows/hides, the selected row is the active ROI."""

    def __init__(self, state: ViewerState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.list = QListWidget()
        self.list.setToolTip("Check to show, select to draw on it, double-click to rename")
        self.list.itemChanged.connect(self._item_changed)
        self.list.currentRowChanged.connect(self._row_changed)
        self.list.itemDoubleClicked.connect(lambda _item: self.rename())
        buttons = QHBoxLayout()
        for text, tip, slot in (
            ("Add", "Add a new ROI (Ctrl+N)", self.add),
            ("Rename", "Rename the active ROI", self.rename),
            ("Colour", "Change the active ROI's colour", self.recolour),
            ("Lock", "Lock/unlock the active ROI against edits", self.toggle_lock),
            ("Delete", "Delete the active ROI", self.delete),
        ):
            button = QPushButton(text)
            button.setToolTip(tip)
            button.clicked.connect(slot)
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.list, 1)
        layout.addLayout(buttons)
        self._updating = False
        state.events.roi_list.connect(self.refresh)

    def refresh(self, _value: object = None) -> None:
        rois = self.state.rois
        self._updating = True
        try:
            self.list.clear()
            if rois is None:
                return
            active = rois.active
            for i, roi in enumerate(rois):
                label = roi.name + ("  [locked]" if roi.locked else "")
                item = QListWidgetItem(_swatch(tuple(roi.color)), label)
                item.setData(Qt.ItemDataRole.UserRole, roi.name)
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                item.setCheckState(Qt.CheckState.Checked if roi.visible
                                   else Qt.CheckState.Unchecked)
                self.list.addItem(item)
                if roi.name == active:
                    self.list.setCurrentRow(i)
        finally:
            self._updating = False

    def _item_changed(self, item: QListWidgetItem) -> None:
        if self._updating:
            return
        name = item.data(Qt.ItemDataRole.UserRole)
        visible = item.checkState() == Qt.CheckState.Checked
        if self.state.rois[name].visible != visible:
            self.state.rois.set_property(name, "visible", visible)
            self.state.rois_changed()

    def _row_changed(self, row: int) -> None:
        if self._updating or row < 0:
            return
        self.state.rois.active = self.list.item(row).data(Qt.ItemDataRole.UserRole)

    def _active(self):
        return self.state.active_roi()

    def add(self, name: str | None = None) -> None:
        if self.state.rois is None:
            return
        if not name:
            name, ok = QInputDialog.getText(self, "Add ROI", "Name:",
                                            text=f"ROI {len(self.state.rois) + 1}")
            if not ok or not name.strip():
                return
        roi = self.state.rois.add(name.strip())
        self.state.rois.active = roi.name
        self.state.rois_changed()

    def rename(self, name: str | None = None) -> None:
        roi = self._active()
        if roi is None:
            return
        if not name:
            name, ok = QInputDialog.getText(self, "Rename ROI", "Name:", text=roi.name)
            if not ok or not name.strip():
                return
        try:
            self.state.rois.rename(roi.name, name.strip())
        except ValueError as err:  # the name is taken
            QMessageBox.warning(self, "Rename ROI", str(err))
            return
        self.state.rois_changed()

    def recolour(self, color: tuple[int, int, int] | None = None) -> None:
        roi = self._active()
        if roi is None:
            return
        if color is None:
            chosen = QColorDialog.getColor(QColor(*roi.color), self, "ROI colour")
            if not chosen.isValid():
                return
            color = (chosen.red(), chosen.green(), chosen.blue())
        self.state.rois.set_property(roi.name, "color", tuple(int(c) for c in color))
        self.state.rois_changed()

    def toggle_lock(self) -> None:
        roi = self._active()
        if roi is not None:
            self.state.rois.set_property(roi.name, "locked", not roi.locked)
            self.state.rois_changed()

    def delete(self) -> None:
        roi = self._active()
        if roi is not None and len(self.state.rois) > 1:
            self.state.rois.remove(roi.name)
            self.state.rois_changed()
