"""The presets' full range: ``nan_range`` equals numpy's nanmin/nanmax (NaNs ignored, NaN
when every value is), and presets given a precomputed range equal those computing it."""

from __future__ import annotations

import warnings

import numpy as np

from coloc_viewer.imaging.display import nan_range, window_presets


def test_nan_range_equals_nanmin_nanmax() -> None:
    rng = np.random.default_rng(3)
    vol = rng.normal(100, 40, size=(7, 33, 29)).astype(np.float32)
    vol[2, 5, 7] = np.nan
    vol[4] = np.nan
    assert nan_range(vol) == (float(np.nanmin(vol)), float(np.nanmax(vol)))
    # planes combined with fmin/fmax, as a decoder does slice by slice
    lo, hi = nan_range(vol[0])
    for plane in vol[1:]:
        p_lo, p_hi = nan_range(plane)
        lo, hi = float(np.fmin(lo, p_lo)), float(np.fmax(hi, p_hi))
    assert (lo, hi) == nan_range(vol)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "All-NaN slice" warning
        assert all(np.isnan(nan_range(np.full((3, 3), np.nan, np.float32))))


def test_presets_with_a_known_range_are_the_same() -> None:
    vol = np.random.default_rng(4).integers(-1000, 3000, size=(5, 40, 40)).astype(np.float32)
    for modality in ("MR", "CT"):
        assert window_presets(modality, vol, value_range=nan_range(vol)) == \
            window_presets(modality, vol)
    lo, hi = float(vol.min()), float(vol.max())
    assert window_presets("MR", vol)["Full range"] == ((lo + hi) / 2.0, hi - lo)
