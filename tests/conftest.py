"""Test setup shared by every test: Qt offscreen, paths to real third-party test data."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("COLOC_VIEWER_NO_SETTINGS", "1")
# The test run's logs stay out of the user's log folder (GUI test mode, set above, already
# gives every window a throw-away settings file and autosave folder).
# Removed when the test run ends (as the settings and autosave folders of test mode are).
_LOG_DIR = tempfile.TemporaryDirectory(prefix="coloc-viewer-test-log-")
os.environ.setdefault("COLOC_VIEWER_LOG_DIR", _LOG_DIR.name)

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "artifacts"


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def pydicom_data() -> Path:
    """pydicom's bundled test files (on disk; never fetched from the network)."""
    import pydicom

    return Path(pydicom.__file__).parent / "data" / "test_files"


@pytest.fixture(scope="session")
def nibabel_data() -> Path:
    import nibabel

    return Path(nibabel.__file__).parent / "tests" / "data"
