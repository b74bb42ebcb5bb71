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


class _Explain:
    """``coloc_viewer.explain(...)`` is :func:`coloc_viewer.explain.engine.explain`; other
    attributes are the ``coloc_viewer.explain`` subpackage's (``coloc_viewer.explain.engine``).

    The subpackage is imported first (it is light: no torch until its modules load), so the
    import system never rebinds ``coloc_viewer.explain`` to the module afterwards."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return importlib.import_module(_API["explain"]).explain(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(importlib.import_module("coloc_viewer.explain"), name)

    def __repr__(self) -> str:
        return "<function coloc_viewer.explain (coloc_viewer.explain.engine.explain)>"


importlib.import_module("coloc_viewer.explain")
explain = _Explain()


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'coloc_viewer' has no attribute {name!r}")
