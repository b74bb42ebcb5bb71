"""Driving the main window and the refine dialog with real Qt events in the tests."""

from __future__ import annotations


def open_demo(qtbot, window, demo, images_only_in=None) -> None:
    """The demo case with its ROIs; with ``images_only_in`` (a folder), a copy of its images
    alone (the bundled case itself always comes with its ROIs)."""
    image = demo.image
    if images_only_in is not None:
        import shutil

        image = shutil.copytree(demo.image, images_only_in / "dicom")
    with qtbot.waitSignal(window.study_loaded, timeout=30000):
        window.open_path(image)


def open_refine_from_menu(qtbot, window):
    """Model → Refine with these ROIs… (the entry of the window's Model menu)."""
    menus = {a.text().replace("&", ""): a.menu() for a in window.menuBar().actions()}
    entry = next(a for a in menus["Model"].actions() if a.text() == "Refine with these ROIs…")
    entry.trigger()
    from PySide6.QtWidgets import QApplication

    dialog = window.refine_dialog
    qtbot.waitExposed(dialog)
    # the dialog takes the keyboard as it does on screen (else the slice view's arrow-key
    # shortcuts would match keys meant for its boxes)
    qtbot.waitUntil(lambda: QApplication.activeWindow() is dialog, timeout=5000)
    return dialog


def type_into(qtbot, widget, text: str) -> None:
    """Select all of a line edit or spin box and type ``text`` (real key events)."""
    from PySide6.QtCore import Qt

    widget.setFocus()
    qtbot.keyClick(widget, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(widget, text)


def choose(qtbot, combo, data) -> None:
    """Pick the item whose data (or text) is ``data`` with the keyboard."""
    from PySide6.QtCore import Qt

    target = combo.findData(data)
    if target < 0:
        target = combo.findText(str(data))
    assert target >= 0, (data, [combo.itemText(i) for i in range(combo.count())])
    combo.setFocus()
    step = Qt.Key.Key_Down if target > combo.currentIndex() else Qt.Key.Key_Up
    for _ in range(abs(target - combo.currentIndex())):
        qtbot.keyClick(combo, step)
    assert combo.currentIndex() == target


def wheel(view, steps: int) -> None:
    """One wheel event over the middle of the slice view."""
    from PySide6.QtCore import QPoint, QPointF, Qt
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    port = view.graphics.viewport()
    p = QPointF(port.width() / 2, port.height() / 2)
    event = QWheelEvent(p, QPointF(port.mapToGlobal(p.toPoint())), QPoint(0, 0),
                        QPoint(0, 120 * steps), Qt.MouseButton.NoButton,
                        Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(port, event)
