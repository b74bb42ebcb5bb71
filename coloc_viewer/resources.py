"""Where bundled resources (demo cases, demo models, icons) live.

Looked up in this order: ``$COLOC_VIEWER_RESOURCES``; ``resources/`` inside a PyInstaller
bundle (``sys._MEIPASS``); ``resources/`` next to the package (a source checkout or an
editable install).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def resources_dir() -> Path:
    """The folder that holds ``demo/``, ``models/`` and ``icons/``."""
    env = os.environ.get("COLOC_VIEWER_RESOURCES")
    if env:
        return Path(env)
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle and (Path(bundle) / "resources").is_dir():
        return Path(bundle) / "resources"
    return Path(__file__).resolve().parent.parent / "resources"


def models_dir() -> Path:
    """Bundled model cards and weights (``<name>.json`` + weights)."""
    return resources_dir() / "models"


def demo_dir() -> Path:
    """Bundled demo cases."""
    return resources_dir() / "demo"
