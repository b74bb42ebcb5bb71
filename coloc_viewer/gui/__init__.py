"""The PySide6 + pyqtgraph viewer: the only package that imports Qt."""

from coloc_viewer.gui.qt_compat import guard_signal_refcounts

guard_signal_refcounts()
