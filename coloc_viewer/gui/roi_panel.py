"""ROI list: add, rename, recolour, show/hide, lock, delete, and choose the active ROI."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QColorDialog,
    QDoubleSpinBox,
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
    """The ROI's colour in a light frame: a blue ROI stays visible on a selected (blue) row."""
    pix = QPixmap(16, 16)
    pix.fill(QColor(235, 235, 235))
    painter = QPainter(pix)
    painter.fillRect(2, 2, 12, 12, QColor(*color))
    painter.end()
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
        layout.addLayout(self._threshold_row())
        self._updating = False
        state.events.roi_list.connect(self.refresh)
        state.events.window.connect(self._show_window_range)

    # -- the threshold brush's range (viewer.tools "threshold") ----------------------------
    def _threshold_row(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.threshold_from_window = QCheckBox("Threshold = window")
        self.threshold_from_window.setToolTip(
            "Threshold brush (T) paints only pixels in this range: the window's range "
            "(level -/+ width/2) when checked, else the values typed here")
        self.threshold_from_window.setChecked(True)
        self.threshold_low, self.threshold_high = QDoubleSpinBox(), QDoubleSpinBox()
        for box, tip in ((self.threshold_low, "lowest value painted"),
                         (self.threshold_high, "highest value painted")):
            box.setRange(-1e7, 1e7)
            box.setDecimals(1)
            box.setToolTip(f"Threshold brush: {tip}")
            box.setEnabled(False)
            box.valueChanged.connect(self._typed_range)
        self.threshold_from_window.toggled.connect(self._threshold_mode)
        row.addWidget(self.threshold_from_window)
        row.addWidget(self.threshold_low)
        row.addWidget(self.threshold_high)
        return row

    def _threshold_mode(self, from_window: bool) -> None:
        for box in (self.threshold_low, self.threshold_high):
            box.setEnabled(not from_window)
        if from_window:
            self.state.tools.threshold_range = None
            self._show_window_range()
        else:
            self._typed_range()

    def _typed_range(self, _value: object = None) -> None:
        if not self.threshold_from_window.isChecked():
            self.state.tools.threshold_range = (self.threshold_low.value(),
                                                self.threshold_high.value())

    def set_threshold_range(self, low: float | None, high: float | None = None) -> None:
        """Type a range in (``low=None``: back to the window's range)."""
        if low is None:
            self.threshold_from_window.setChecked(True)
            return
        self.threshold_from_window.setChecked(False)
        self.threshold_low.setValue(float(low))
        self.threshold_high.setValue(float(high if high is not None else low))

    def _show_window_range(self, _value: object = None) -> None:
        if self.threshold_from_window.isChecked():
            low, high = self.state.threshold_range()
            for box, v in ((self.threshold_low, low), (self.threshold_high, high)):
                box.blockSignals(True)
                box.setValue(v)
                box.blockSignals(False)

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
        """Delete the active ROI; the only ROI stays (there is always one to draw on), so
        Delete offers to erase its outline instead (undoable like any edit)."""
        roi = self._active()
        if roi is None:
            return
        if len(self.state.rois) > 1:
            self.state.rois.remove(roi.name)
            self.state.rois_changed()
            return
        if not roi.mask.any():
            self.state.events.notice.emit(f"{roi.name} is the only ROI and has nothing drawn")
            return
        if roi.locked:
            self.state.events.notice.emit(f"{roi.name} is locked: unlock it to erase it")
            return
        answer = QMessageBox.question(
            self, "Delete ROI",
            f"{roi.name} is the only ROI, and the viewer keeps one to draw on.\n\n"
            "Erase its outline on every slice instead? Undo (Ctrl+Z) brings it back.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel)
        if answer == QMessageBox.StandardButton.Yes and self.state.erase_active_roi():
            self.state.events.notice.emit(f"Erased {roi.name} on every slice (Ctrl+Z to undo)")
