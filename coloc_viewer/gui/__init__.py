"""The PySide6 + pyqtgraph views over :mod:`coloc_viewer.viewer`: the only package (with the
self test) that imports Qt."""

from coloc_viewer.gui.qt_compat import check_binding

check_binding()
