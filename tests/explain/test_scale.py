"""Display normalisation: per image, and the common scale of Li et al. 2024."""

from __future__ import annotations

import json

import numpy as np
import pytest

from coloc_viewer.errors import InputError
from coloc_viewer.explain.scale import CommonScale, normalize_per_image


def test_per_image() -> None:
    m = np.array([[2.0, 4.0], [6.0, 10.0]])
    np.testing.assert_allclose(normalize_per_image(m), [[0, 0.25], [0.5, 1.0]])
    assert (normalize_per_image(np.full((3, 3), 5.0)) == 0).all()


def test_calibrate_percentiles_by_hand() -> None:
    # maxima 1..10, minima -10..-1 (one per map)
    maps = [np.array([[-(11 - i), float(i)]]) for i in range(1, 11)]
    scale = CommonScale.calibrate(maps)
    # 90th percentile of 1..10 (linear): position 0.9 * 9 = 8.1 -> 9 + 0.1 * (10 - 9)
    assert scale.high == pytest.approx(9.1)
    # 50th percentile of -10..-1: position 4.5 -> -6 + 0.5 * 1
    assert scale.low == pytest.approx(-5.5)
    assert scale.n_maps == 10
    out = scale.apply(np.array([-20.0, -5.5, 1.8, 9.1, 50.0]))
    np.testing.assert_allclose(out, [0.0, 0.0, (1.8 + 5.5) / 14.6, 1.0, 1.0], rtol=1e-6)


def test_save_load_roundtrip(tmp_path) -> None:
    scale = CommonScale.calibrate([np.arange(12.0).reshape(3, 4) * k for k in (1, 2, 3)])
    path = tmp_path / "scale.json"
    scale.save(path)
    data = json.loads(path.read_text())
    assert data["kind"] == "coloc_viewer.common_scale" and data["version"] == 1
    assert CommonScale.load(path) == scale
    (tmp_path / "bad.json").write_text('{"low": 1}')
    with pytest.raises(InputError, match="bad.json"):
        CommonScale.load(tmp_path / "bad.json")
    with pytest.raises(InputError, match="not found"):
        CommonScale.load(tmp_path / "missing.json")
