"""Generated series: sorting by position, splitting, rescale, warnings, zip, enhanced MR."""

from __future__ import annotations

import os
import shutil
import zipfile

import highdicom as hd
import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from imaging_helpers import OBLIQUE

from coloc_viewer.errors import InputError
from coloc_viewer.imaging.dicom_write import write_dicom_series
from coloc_viewer.imaging.load import load_volume
from coloc_viewer.imaging.progressive import open_series


def test_shuffled_names_and_misleading_numbers_sort_by_position(series_dir, phantom):
    vol = load_volume(series_dir)
    np.testing.assert_array_equal(vol.voxels, phantom)
    np.testing.assert_allclose(vol.spacing, (2.5, 0.8, 0.6), atol=1e-6)
    np.testing.assert_allclose(vol.origin, (-10.0, 20.0, 5.0), atol=1e-6)
    np.testing.assert_allclose(vol.direction, OBLIQUE, atol=1e-6)
    assert vol.metadata["warnings"] == []
    # Differential: SimpleITK's GDCM-sorted reader agrees on voxels and geometry.
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(series_dir)))
    img = reader.Execute()
    np.testing.assert_array_equal(sitk.GetArrayFromImage(img), vol.voxels)
    np.testing.assert_allclose(img.GetOrigin(), vol.origin, atol=1e-5)
    np.testing.assert_allclose(np.reshape(img.GetDirection(), (3, 3)), vol.direction, atol=1e-6)
    # Volume.files lists the source of each slice in slice order.
    along = [np.asarray(pydicom.dcmread(f).ImagePositionPatient, float) @ OBLIQUE[:, 2]
             for f in vol.files]
    np.testing.assert_allclose(np.diff(along), 2.5, atol=1e-4)
    assert vol.private["patient_name"] == "ANON^DEMO"
    assert "ANON" not in repr(vol) and "ANON" not in str(vol.metadata)


def test_two_interleaved_series_come_apart(tmp_path, phantom):
    a = write_dicom_series(phantom, tmp_path / "a", series_description="T2 ax",
                           file_names=[f"x{2 * k:03d}.dcm" for k in range(6)])
    b = write_dicom_series(phantom[:4] + 5000, tmp_path / "b", series_description="DWI",
                           spacing=(4.0, 1.0, 1.0),
                           file_names=[f"x{2 * k + 1:03d}.dcm" for k in range(4)])
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    for p in a + b:
        shutil.move(p, mixed / p.name)
    vol = load_volume(mixed)
    np.testing.assert_array_equal(vol.voxels, phantom)
    assert vol.metadata["description"] == "T2 ax"
    assert any("2 image series found" in w for w in vol.metadata["warnings"])
    uid_b = pydicom.dcmread(mixed / "x001.dcm").SeriesInstanceUID
    vol_b = load_volume(mixed, series=uid_b)
    np.testing.assert_array_equal(vol_b.voxels, phantom[:4] + 5000)
    assert vol_b.spacing[0] == pytest.approx(4.0)
    with pytest.raises(InputError, match="not found"):
        load_volume(mixed, series="1.2.3.4")


def test_echo_times_sharing_a_series_uid_are_split(tmp_path, phantom):
    uid = pydicom.uid.generate_uid()
    write_dicom_series(phantom, tmp_path / "s", series_uid=uid, extra={"EchoTime": "20"},
                       file_names=[f"e1_{k}.dcm" for k in range(6)])
    write_dicom_series(phantom + 1, tmp_path / "s", series_uid=uid, extra={"EchoTime": "90"},
                       file_names=[f"e2_{k}.dcm" for k in range(6)])
    first = load_volume(tmp_path / "s", series=uid)
    second = load_volume(tmp_path / "s", series=f"{uid}#2")
    assert {first.metadata["echo_time"], second.metadata["echo_time"]} == {20.0, 90.0}
    assert first.shape == second.shape == phantom.shape
    assert any("split into 2 stacks" in w for w in first.metadata["warnings"])


def test_rescale_slope_and_intercept_are_applied_per_slice(tmp_path, phantom):
    write_dicom_series(phantom, tmp_path / "neg", rescale_slope=-0.5, rescale_intercept=1000.0,
                       dtype="int16")
    np.testing.assert_array_equal(load_volume(tmp_path / "neg").voxels, phantom)
    ds = pydicom.dcmread(sorted((tmp_path / "neg").iterdir())[1])
    assert int(ds.pixel_array[0, 0]) == (1000 - phantom[1, 0, 0]) / 0.5  # stored != physical

    def per_slice(ds, k):  # a different slope on every slice (as some scanners write)
        slope = 1.0 + k
        stored = np.rint(phantom[k] / slope).astype(np.uint16)
        ds.RescaleSlope = str(slope)
        ds.PixelData = stored.tobytes()

    write_dicom_series(phantom, tmp_path / "var", extra=per_slice)
    expected = np.stack([np.rint(phantom[k] / (1.0 + k)) * (1.0 + k) for k in range(6)])
    vol = load_volume(tmp_path / "var")
    np.testing.assert_allclose(vol.voxels, expected, rtol=1e-6)
    assert any("differ between slices" in w for w in vol.metadata["warnings"])


def test_missing_and_duplicate_slices_are_warned_about(tmp_path, phantom):
    paths = write_dicom_series(phantom, tmp_path / "gap")
    os.remove(paths[3])
    vol = load_volume(tmp_path / "gap")
    assert vol.shape[0] == 5 and vol.spacing[0] == pytest.approx(1.0)
    assert any("1 slice(s) missing" in w for w in vol.metadata["warnings"])

    paths = write_dicom_series(phantom, tmp_path / "dup")
    ds = pydicom.dcmread(paths[2])
    ds.SOPInstanceUID = pydicom.uid.generate_uid()
    ds.InstanceNumber = 99
    ds.save_as(tmp_path / "dup" / "copy.dcm")
    vol = load_volume(tmp_path / "dup")
    assert vol.shape == phantom.shape
    np.testing.assert_array_equal(vol.voxels, phantom)
    assert any("duplicate slice position" in w for w in vol.metadata["warnings"])


def test_zip_loads_like_the_folder(series_dir, tmp_path, phantom):
    archive = tmp_path / "study.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for p in series_dir.iterdir():
            zf.write(p, f"study/{p.name}")
        zf.writestr("study/notes.txt", "not dicom")
    vol = load_volume(archive)
    np.testing.assert_array_equal(vol.voxels, phantom)
    assert any("notes.txt" in w and "not a DICOM file" in w for w in vol.metadata["warnings"])


def test_folder_with_a_bad_file_still_loads_the_series(series_dir, tmp_path, phantom, pydicom_data):
    shutil.copy(pydicom_data / "MR_truncated.dcm", series_dir / "broken.dcm")
    (series_dir / "empty.dcm").write_bytes(b"")
    vol = load_volume(series_dir)
    np.testing.assert_array_equal(vol.voxels, phantom)
    text = " ".join(vol.metadata["warnings"])
    assert "broken.dcm: truncated" in text and "empty.dcm: empty file" in text


def test_enhanced_multiframe_mr_matches_the_legacy_series(series_dir, phantom):
    legacy = [pydicom.dcmread(p) for p in sorted(series_dir.iterdir())]
    enhanced = hd.legacy.LegacyConvertedEnhancedMRImage(
        legacy, series_instance_uid=hd.UID(), series_number=2, sop_instance_uid=hd.UID(),
        instance_number=1)
    path = series_dir.parent / "enhanced.dcm"
    enhanced.save_as(path)
    assert int(pydicom.dcmread(path).NumberOfFrames) == 6
    ref = load_volume(series_dir)
    vol = load_volume(path)
    np.testing.assert_array_equal(vol.voxels, ref.voxels)
    np.testing.assert_allclose(vol.spacing, ref.spacing, atol=1e-6)
    np.testing.assert_allclose(vol.origin, ref.origin, atol=1e-5)
    np.testing.assert_allclose(vol.direction, ref.direction, atol=1e-6)
    assert vol.files == (str(path),) * 6


def test_progressive_loader_gives_the_same_volume(series_dir):
    loader = open_series(series_dir)
    full = load_volume(series_dir)
    np.testing.assert_array_equal(loader.middle_slice, full.voxels[3])
    seen = [i for i, _ in loader.iter_slices()]
    assert seen[0] == 3 and sorted(seen) == list(range(6))
    assert loader.progress == (6, 6)
    np.testing.assert_array_equal(loader.volume.voxels, full.voxels)
    assert loader.volume.metadata == full.metadata
    assert loader.volume.files == full.files


def test_progressive_loader_can_be_cancelled(series_dir):
    loader = open_series(series_dir)
    it = loader.iter_slices()
    next(it)
    loader.cancel()
    list(it)
    assert loader.volume is None and loader.cancelled
    with pytest.raises(InputError, match="cancelled"):
        loader.result()
