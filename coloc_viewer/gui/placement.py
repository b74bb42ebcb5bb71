"""Where small tool dialogs go: into a corner of the main window, away from the image, so
the slice a reader is looking at (a PACS preview, the ROI just drawn) stays in view."""

from __future__ import annotations

from PySide6.QtWidgets import QWidget

__all__ = ["MARGIN", "move_to_corner"]

MARGIN = 12  # pixels between the dialog and the corner


def move_to_corner(dialog: QWidget, host: QWidget, margin: int = MARGIN) -> None:
    """Put ``dialog`` (a top-level window) inside ``host``'s bottom-right corner; the main
    window's corner holds the score and channel panels, not the canvas."""
    corner = host.mapToGlobal(host.rect().bottomRight())
    frame = dialog.frameGeometry()
    dialog.move(max(0, corner.x() - frame.width() - margin),
                max(0, corner.y() - frame.height() - margin))
