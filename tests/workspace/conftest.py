"""Fixtures for the workspace tests: a private data directory per test."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture()
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "userdata"
    monkeypatch.setenv("COLOC_VIEWER_DATA_DIR", str(folder))
    return folder
