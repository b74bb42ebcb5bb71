"""Driving the main window in GUI tests: open, load a model, analyse, and synthetic mouse
and wheel events on the slice view."""

from __future__ import annotations


def send_mouse(widget, kind: str, pos, button, buttons, modifiers=None) -> None:
    """Deliver one QMouseEvent (press/move/release) to ``widget`` at viewport ``pos``."""
    from PySide6.QtCore import QEvent, QPointF, Qt
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QApplication

    types = {"press": QEvent.Type.MouseButtonPress, "move": QEvent.Type.MouseMove,
             "release": QEvent.Type.MouseButtonRelease,
             "double": QEvent.Type.MouseButtonDblClick}
    local = QPointF(pos)
    glob = QPointF(widget.mapToGlobal(local.toPoint()))
    event = QMouseEvent(types[kind], local, glob, button, buttons,
                        modifiers or Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, event)


def drag(view, points_rc, *, button=None, modifiers=None) -> None:
    """Press at the first image point (row, col), move through the rest, release."""
    from PySide6.QtCore import Qt

    button = button or Qt.MouseButton.LeftButton
    port = view.graphics.viewport()
    pts = [view.index_to_viewport(r, c) for r, c in points_rc]
    send_mouse(port, "press", pts[0], button, button, modifiers)
    for p in pts[1:]:
        send_mouse(port, "move", p, Qt.MouseButton.NoButton, button, modifiers)
    send_mouse(port, "release", pts[-1], button, Qt.MouseButton.NoButton, modifiers)


def click(view, row: float, col: float, *, double: bool = False) -> None:
    from PySide6.QtCore import Qt

    port = view.graphics.viewport()
    p = view.index_to_viewport(row, col)
    left, none = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton
    send_mouse(port, "press", p, left, left)
    send_mouse(port, "release", p, left, none)
    if double:
        send_mouse(port, "double", p, left, left)
        send_mouse(port, "release", p, left, none)


def wheel(view, row: float, col: float, steps: int, modifiers=None) -> None:
    from PySide6.QtCore import QPoint, QPointF, Qt
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    port = view.graphics.viewport()
    p = QPointF(view.index_to_viewport(row, col))
    event = QWheelEvent(p, QPointF(port.mapToGlobal(p.toPoint())), QPoint(0, 0),
                        QPoint(0, 120 * steps), Qt.MouseButton.NoButton,
                        modifiers or Qt.KeyboardModifier.NoModifier,
                        Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(port, event)


def open_study(qtbot, window, path) -> None:
    with qtbot.waitSignal(window.study_loaded, timeout=30000):
        window.open_path(path)


def load_model(qtbot, window, card) -> None:
    with qtbot.waitSignal(window.model_ready, timeout=60000):
        window.select_model(str(card))


def analyse(qtbot, window) -> None:
    with qtbot.waitSignal(window.analysis_done, timeout=60000):
        window.analyse_current()
