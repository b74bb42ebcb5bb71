"""The smoke test's building blocks, on real data: codec checks, compressed round trips,
score comparison, the ROI polygon and the blank-screenshot check."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from pydicom.uid import JPEG2000Lossless, JPEGLSLossless

from coloc_viewer.imaging.load import load_volume
from coloc_viewer.imaging.volume import Volume
from coloc_viewer.selftest import checks as st


def _volume(voxels: np.ndarray) -> Volume:
    return Volume(voxels=voxels, spacing=(2.5, 0.8, 0.7), origin=(-40.0, -30.0, 12.0),
                  direction=np.eye(3), metadata={"modality": "MR"})


def test_codec_check_finds_the_pylibjpeg_decoders():
    found = st.check_codecs()
    assert {"JPEG 2000 Image Compression (Lossless Only)", "JPEG-LS Lossless Image Compression",
            "RLE Lossless"} <= set(found)
    assert all("pylibjpeg" in plugins for plugins in found.values())


@pytest.mark.parametrize(("voxels", "dtype", "exact"), [
    (np.arange(0, 4000, dtype=np.float64), "uint16", True),
    (np.arange(-1024, 3000, dtype=np.float64), "int16", True),
    (np.linspace(-3.2, 7.9, 5000), "uint16", False),
])
def test_storage_params_cover_the_range(voxels, dtype, exact):
    slope, intercept, kind = st.storage_params(voxels)
    assert kind == dtype
    stored = np.rint((voxels - intercept) / slope)
    info = np.iinfo(kind)
    assert stored.min() >= info.min and stored.max() <= info.max
    back = stored * slope + intercept
    assert np.max(np.abs(back - voxels)) <= (0 if exact else slope / 2 + 1e-12)


@pytest.mark.parametrize("syntax", [JPEG2000Lossless, JPEGLSLossless])
def test_compressed_series_decodes_to_the_written_voxels(tmp_path, syntax):
    rng = np.random.default_rng(7)
    vox = np.round(rng.normal(300, 80, size=(9, 40, 36)).clip(0, 1000))
    vox[:, 10:20, 12:22] += 400.0  # a bright block, so lossy coding would show
    volume = _volume(vox)
    written, tol = st.write_compressed_series(volume, tmp_path / "s", syntax, n_slices=4)
    np.testing.assert_array_equal(written, vox[2:6])
    st.check_transfer_syntax(tmp_path / "s", syntax)
    loaded = load_volume(str(tmp_path / "s"))
    assert st.compare_voxels(loaded.voxels, written, tol, "round trip") == 0.0
    # the written slices sit where they sat in the source volume
    np.testing.assert_allclose(loaded.origin, np.array(volume.origin) + 2 * 2.5 * np.eye(3)[:, 2])
    ds = pydicom.dcmread(sorted((tmp_path / "s").glob("*.dcm"))[0])
    assert str(ds.PatientName) == st.TEST_PATIENT_NAME


def test_compare_voxels_and_transfer_syntax_report_mismatches(tmp_path):
    with pytest.raises(st.SmokeFailure, match="differ by up to 2"):
        st.compare_voxels(np.zeros((2, 3)), np.full((2, 3), 2.0), 0.5, "x")
    with pytest.raises(st.SmokeFailure, match="shape"):
        st.compare_voxels(np.zeros((2, 3)), np.zeros((3, 2)), 0.5, "x")
    st.write_compressed_series(_volume(np.ones((2, 32, 32)) * 5), tmp_path, JPEG2000Lossless)
    with pytest.raises(st.SmokeFailure, match="expected 1.2.840.10008.1.2.4.80"):
        st.check_transfer_syntax(tmp_path, JPEGLSLossless)


def test_compare_scores_flags_each_differing_key():
    from coloc_viewer.metrics.scores import score

    rng = np.random.default_rng(3)
    sal = rng.random((48, 48))
    roi = np.zeros((48, 48), bool)
    roi[10:20, 14:30] = True
    ref = score(sal, roi)
    assert st.compare_scores(dict(ref), ref) == []
    changed = dict(ref, relevance_mass=ref["relevance_mass"] + 1e-6, pointing_game=None)
    bad = st.compare_scores(changed, ref)
    assert [b.split(":")[0] for b in bad] == ["relevance_mass", "pointing_game"]


@pytest.mark.parametrize("peak", [(0, 0), (63, 40), (30, 20)])
def test_polygon_is_centred_on_the_peak_and_stays_inside(peak):
    sal = np.zeros((64, 41))
    sal[peak] = 1.0
    poly = st.polygon_around(sal)
    assert poly.shape == (4, 2)
    assert poly[:, 0].min() >= 0 and poly[:, 0].max() <= 63
    assert poly[:, 1].min() >= 0 and poly[:, 1].max() <= 40
    r0, r1 = poly[:, 0].min(), poly[:, 0].max()
    c0, c1 = poly[:, 1].min(), poly[:, 1].max()
    if peak == (30, 20):
        assert (r0 + r1) / 2 == 30 and (c0 + c1) / 2 == 20


def test_blank_screenshots_are_refused(qapp, tmp_path):
    from PySide6.QtGui import QColor, QImage

    blank = QImage(400, 300, QImage.Format.Format_RGB32)
    blank.fill(QColor(20, 20, 20))
    blank.save(str(tmp_path / "blank.png"))
    with pytest.raises(st.SmokeFailure, match="looks blank"):
        st.image_is_not_blank(tmp_path / "blank.png")
    rng = np.random.default_rng(0)
    arr = np.ascontiguousarray(rng.integers(0, 255, (300, 400, 4), dtype=np.uint8))
    arr[..., 3] = 255
    busy = QImage(arr.data, 400, 300, 400 * 4, QImage.Format.Format_RGB32)
    busy.save(str(tmp_path / "busy.png"))
    w, h, colours = st.image_is_not_blank(tmp_path / "busy.png")
    assert (w, h) == (400, 300) and colours > 1000
