"""pydicom's bundled files: transfer syntaxes, modality LUT, DICOMDIR, header reader."""

from __future__ import annotations

import dataclasses
import shutil
from collections import Counter

import numpy as np
import pydicom
import pytest
from imaging_helpers import reference_pixels
from pydicom.uid import JPEGLSNearLossless

from coloc_viewer.errors import InputError
from coloc_viewer.imaging import dicom_headers
from coloc_viewer.imaging.dicom_headers import FrameHeader, read_headers
from coloc_viewer.imaging.inspect import scan
from coloc_viewer.imaging.load import load_volume
from coloc_viewer.imaging.sources import FileRef

LOSSLESS_MR = ["MR_small_RLE.dcm", "MR_small_bigendian.dcm", "MR_small_expb.dcm",
               "MR_small_implicit.dcm", "MR_small_jp2klossless.dcm",
               "MR_small_jpeg_ls_lossless.dcm", "MR_small_padded.dcm"]


@pytest.mark.parametrize("name", LOSSLESS_MR)
def test_lossless_mr_small_variants_equal_the_uncompressed_file(pydicom_data, name):
    reference = load_volume(pydicom_data / "MR_small.dcm")
    vol = load_volume(pydicom_data / name)
    assert vol.shape == reference.shape == (1, 64, 64)
    np.testing.assert_array_equal(vol.voxels, reference.voxels)
    assert vol.spacing == reference.spacing and vol.origin == reference.origin
    np.testing.assert_array_equal(vol.voxels[0], pydicom.dcmread(
        pydicom_data / "MR_small.dcm").pixel_array)


def test_deflated_file_matches_pydicom(pydicom_data):
    path = pydicom_data / "image_dfl.dcm"
    np.testing.assert_array_equal(load_volume(path).voxels[0], reference_pixels(path))


def test_lossy_jpeg_ls_within_its_error_bound(pydicom_data, tmp_path):
    """Near-lossless JPEG-LS with NEAR = 3: every voxel within 3 of the original."""
    pytest.importorskip("jpeg_ls", reason="pyjpegls (JPEG-LS encoder) is in the test extra")
    ds = pydicom.dcmread(pydicom_data / "MR_small.dcm")
    original = ds.pixel_array.astype(np.float32)
    ds.compress(JPEGLSNearLossless, jls_error=3)
    ds.save_as(tmp_path / "lossy.dcm")
    vol = load_volume(tmp_path / "lossy.dcm")
    diff = np.abs(vol.voxels[0] - original)
    assert diff.max() <= 3 and diff.max() > 0  # lossy, but within the bound


def test_ct_small_is_in_hounsfield_units(pydicom_data):
    path = pydicom_data / "CT_small.dcm"
    vol = load_volume(path)
    ds = pydicom.dcmread(path)
    assert float(ds.RescaleIntercept) != 0  # the LUT really does something here
    np.testing.assert_array_equal(vol.voxels[0], reference_pixels(path))
    assert vol.metadata["modality"] == "CT" and vol.metadata["units"] == "HU"
    assert "WindowCenter" not in ds and vol.metadata["window_source"] == "percentile"
    lo, hi = np.percentile(vol.voxels, [0.5, 99.5])
    np.testing.assert_allclose(vol.metadata["window"], [(lo + hi) / 2, hi - lo], rtol=1e-6)
    assert "Lung" in vol.metadata["presets"]


GRAYSCALE_SINGLE_FRAME = ["CT_small.dcm", "MR_small.dcm", "JPEG2000.dcm", "JPGExtended.dcm",
                          "JPEGLSNearLossless_16.dcm", "693_J2KI.dcm", "examples_overlay.dcm",
                          "MR_small_bigendian.dcm", "MR_small_implicit.dcm"]


@pytest.mark.parametrize("name", GRAYSCALE_SINGLE_FRAME)
def test_decoding_matches_pydicom(pydicom_data, name):
    """Differential test: our decode paths (direct read or pydicom) vs pydicom + modality LUT."""
    path = pydicom_data / name
    np.testing.assert_array_equal(load_volume(path).voxels[0], reference_pixels(path))


@pytest.mark.parametrize("name", ["ExplVR_BigEnd.dcm", "SC_rgb_rle_2frame.dcm"])
def test_colour_images_load_as_luminance(pydicom_data, name):
    rgb = pydicom.dcmread(pydicom_data / name).pixel_array.astype(np.float64)
    rgb = rgb if rgb.ndim == 4 else rgb[np.newaxis]
    luma = rgb @ np.array([0.299, 0.587, 0.114])
    vol = load_volume(pydicom_data / name)
    np.testing.assert_allclose(vol.voxels, luma, rtol=1e-5)
    assert any("luminance" in w for w in vol.metadata["warnings"])


def _comparable(h: FrameHeader) -> dict:
    out = dataclasses.asdict(h)
    for key in ("ref",):
        out.pop(key)
    for key in ("position", "orientation"):
        out[key] = None if out[key] is None else tuple(np.round(out[key], 9))
    return out


@pytest.mark.parametrize("name", ["MR_small.dcm", "MR_small_implicit.dcm", "CT_small.dcm",
                                  "MR_small_RLE.dcm", "JPEG2000.dcm", "693_J2KI.dcm",
                                  "examples_overlay.dcm", "MR_small_padded.dcm"])
def test_fast_header_reader_agrees_with_pydicom(pydicom_data, monkeypatch, name):
    ref = FileRef(str(pydicom_data / name))
    fast = read_headers(ref)
    monkeypatch.setattr(dicom_headers, "parse_fast_header", lambda raw: None)
    slow = read_headers(ref)
    assert [_comparable(h) for h in fast] == [_comparable(h) for h in slow]


@pytest.mark.parametrize("name", ["rtplan.dcm", "rtstruct.dcm", "rtdose.dcm", "test-SR.dcm",
                                  "waveform_ecg.dcm", "liver_1frame.dcm"])
def test_non_image_objects_are_listed_not_loaded(pydicom_data, name):
    infos = scan(pydicom_data / name)
    assert len(infos) == 1 and infos[0].kind != "image" and infos[0].shape is None
    with pytest.raises(InputError, match="no image series"):
        load_volume(pydicom_data / name)


def test_dicomdir_series_match_directory_records(pydicom_data, tmp_path):
    root = tmp_path / "media"
    shutil.copytree(pydicom_data / "dicomdirtests", root)
    dicomdir = pydicom.dcmread(root / "DICOMDIR")
    expected: Counter[str] = Counter()
    series_uid = None
    for rec in dicomdir.DirectoryRecordSequence:
        if rec.DirectoryRecordType == "SERIES":
            series_uid = rec.SeriesInstanceUID
        elif rec.DirectoryRecordType == "IMAGE":
            expected[series_uid] += 1
    infos = scan(root / "DICOMDIR")
    found: Counter[str] = Counter()
    for info in infos:
        assert info.kind == "image"
        found[info.series_uid] += info.shape[0]
    assert found == expected
    # The DICOMDIR only references its own files: a stray file next to it is not picked up.
    shutil.copy(pydicom_data / "MR_small.dcm", root / "stray.dcm")
    assert {i.series_uid for i in scan(root / "DICOMDIR")} == set(expected)
    largest = max(infos, key=lambda i: i.shape[0])
    vol = load_volume(root / "DICOMDIR")
    assert vol.metadata["series_key"] == largest.series_key
    assert any("image series found" in w for w in vol.metadata["warnings"])


@pytest.mark.parametrize("syntax", ["1.2.840.10008.1.2", "1.2.840.10008.1.2.1"])
def test_fast_header_reader_agrees_on_generated_series(tmp_path, monkeypatch, phantom, syntax):
    from coloc_viewer.imaging.dicom_write import write_dicom_series

    paths = write_dicom_series(phantom, tmp_path, transfer_syntax=syntax, rescale_slope=0.5,
                               extra={"SeriesDescription": "Tête T2 ñ"})
    fast = [_comparable(h) for p in paths for h in read_headers(FileRef(str(p)))]
    monkeypatch.setattr(dicom_headers, "parse_fast_header", lambda raw: None)
    slow = [_comparable(h) for p in paths for h in read_headers(FileRef(str(p)))]
    assert fast == slow
    assert fast[0]["pixel_offset"] is not None and fast[0]["description"] == "Tête T2 ñ"
