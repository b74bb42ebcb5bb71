"""coloc_viewer: does an image classifier look where the clinician looks?

The public API (names kept stable for researchers' scripts) is imported lazily so that
``import coloc_viewer`` stays fast and does not pull in torch or Qt:

``load_volume``, ``load_roi``, ``save_roi``, ``load_model``, ``explain``, ``score``,
``Volume``, ``InputError``, ``ModelError``.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_API = {
    "Volume": "coloc_viewer.imaging.volume",
    "load_volume": "coloc_viewer.imaging.load",
    "load_roi": "coloc_viewer.imaging.roi_io",
    "save_roi": "coloc_viewer.imaging.roi_io",
    "score": "coloc_viewer.metrics.scores",
    "load_model": "coloc_viewer.model.loading",
    "explain": "coloc_viewer.explain.engine",
    "InputError": "coloc_viewer.errors",
    "ModelError": "coloc_viewer.errors",
    "ColocError": "coloc_viewer.errors",
}

__all__ = sorted(_API) + ["__version__"]


def __getattr__(name: str) -> Any:
    if name == "explain":  # the subpackage is callable (see coloc_viewer/explain/__init__.py)
        return importlib.import_module("coloc_viewer.explain")
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'coloc_viewer' has no attribute {name!r}")
