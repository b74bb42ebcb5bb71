"""The PySide6 + pyqtgraph viewer: the only package that imports Qt."""
