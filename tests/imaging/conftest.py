"""Fixtures of the imaging tests: generated DICOM series and pydicom test-file helpers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from imaging_helpers import OBLIQUE

from coloc_viewer.imaging.dicom_write import write_dicom_series


@pytest.fixture
def phantom() -> np.ndarray:
    """A small (6, 24, 20) volume with a distinct value per slice and a gradient in-plane."""
    z, y, x = np.mgrid[0:6, 0:24, 0:20]
    return (100 * z + 3 * y + x).astype(np.float64)


@pytest.fixture
def series_dir(tmp_path: Path, phantom: np.ndarray) -> Path:
    """The phantom written as an oblique series with shuffled names and misleading numbers."""
    rng = np.random.default_rng(7)
    names = [f"IMG{n:05d}" for n in rng.permutation(1000)[: phantom.shape[0]]]
    numbers = list(rng.permutation(phantom.shape[0]) + 1)
    write_dicom_series(phantom, tmp_path / "series", spacing=(2.5, 0.8, 0.6),
                       origin=(-10.0, 20.0, 5.0), direction=OBLIQUE, file_names=names,
                       instance_numbers=numbers)
    return tmp_path / "series"


@pytest.fixture(scope="session")
def pydicom_data_store() -> Path:
    """The folder of pydicom-data's files (the ``pydicom-data`` package of the test extra)."""
    import importlib.util

    spec = importlib.util.find_spec("data_store")
    if spec is None or spec.origin is None:
        pytest.skip("pydicom-data is not installed (pip install pydicom-data)")
    return Path(spec.origin).parent / "data"
