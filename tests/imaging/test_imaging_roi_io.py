"""ROI files: lossless round trips, independent readers (highdicom, nibabel), geometry checks."""

from __future__ import annotations

import gzip
import json

import highdicom as hd
import nibabel as nib
import numpy as np
import pydicom
import pytest
import SimpleITK as sitk

from coloc_viewer.errors import InputError
from coloc_viewer.imaging import roi_edit, roi_io
from coloc_viewer.imaging.load import load_volume
from coloc_viewer.imaging.roi import RoiSet


@pytest.fixture
def volume(series_dir):
    return load_volume(series_dir)


@pytest.fixture
def rois(volume):
    """Three ROIs; the lesion lies inside the prostate (overlap), the marker elsewhere."""
    rs = RoiSet.for_volume(volume)
    rs.add("lesion")
    rs.add("prostate")
    rs.add("marker", color=(0, 200, 255))
    for z in (2, 3, 4):
        roi_edit.paint(rs, "prostate", z, (12, 10), 5.0)
        roi_edit.paint(rs, "lesion", z, (12, 11), 1.5)
    roi_edit.paint(rs, "marker", 0, (2, 2), 1.0)
    assert rs.overlaps()
    return rs


def _same(a: RoiSet, b: RoiSet) -> None:
    assert a.names == b.names
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.mask, y.mask)
        assert x.code == y.code and tuple(x.color) == tuple(y.color)


@pytest.mark.parametrize("name", ["rois.nii.gz", "rois.nii", "rois.nrrd", "rois.seg.nrrd",
                                  "rois.dcm"])
def test_multi_roi_round_trip_is_lossless(volume, rois, tmp_path, name):
    path = roi_io.save_rois(rois, tmp_path / name, volume)
    back = roi_io.load_rois(path, volume)
    _same(rois, back)
    leftovers = [p.name for p in tmp_path.iterdir() if ".tmp" in p.name]
    assert leftovers == []
    for roi_name in rois.names:
        np.testing.assert_array_equal(roi_io.load_roi(path, volume, name=roi_name),
                                      rois[roi_name].mask)


def test_dicom_seg_is_read_back_by_highdicom(volume, rois, tmp_path):
    path = roi_io.save_rois(rois, tmp_path / "rois.dcm", volume)
    seg = hd.seg.segread(path)
    labels = [s.SegmentLabel for s in seg.SegmentSequence]
    assert labels == ["lesion", "prostate", "marker"]
    lesion = seg.SegmentSequence[0].SegmentedPropertyTypeCodeSequence[0]
    assert (lesion.CodingSchemeDesignator, lesion.CodeValue, lesion.CodeMeaning) == (
        "SCT", "108369006", "Neoplasm")
    prostate = seg.SegmentSequence[1].SegmentedPropertyTypeCodeSequence[0]
    assert prostate.CodeMeaning == "Prostate"
    uids = [pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID for f in volume.files]
    pixels = seg.get_pixels_by_source_instance(uids, segment_numbers=[1, 2, 3])
    for k, roi in enumerate(rois):
        np.testing.assert_array_equal(pixels[..., k] > 0, roi.mask)
    assert "ANON" not in str(seg.get("SeriesDescription", ""))


def test_nifti_label_map_agrees_with_nibabel_and_sidecar(volume, rois, tmp_path):
    path = roi_io.save_rois(rois, tmp_path / "rois.nii.gz", volume)
    side = json.loads(roi_io.sidecar_path(path).read_text())
    by_name = {r["name"]: r for r in side["rois"]}
    assert by_name["lesion"]["code"]["meaning"] == "Neoplasm"
    assert by_name["lesion"]["layer"] != by_name["prostate"]["layer"]  # they overlap
    data = np.asarray(nib.load(path).dataobj)  # (x, y, z, 1, layers): NIfTI vector image
    data = data.reshape(data.shape[0], data.shape[1], data.shape[2], -1)
    for roi in rois:
        d = by_name[roi.name]
        layer = np.transpose(data[..., d["layer"]], (2, 1, 0))
        np.testing.assert_array_equal(layer == d["label"], roi.mask)


def test_seg_nrrd_carries_slicer_segment_keys(volume, rois, tmp_path):
    path = roi_io.save_rois(rois, tmp_path / "rois.seg.nrrd", volume)
    raw = path.read_bytes()
    header = raw[: raw.index(b"\n\n")].decode("latin-1")
    assert "Segment0_Name:=lesion" in header and "Segment2_Name:=marker" in header
    assert "Segment1_Terminology:=" in header and "41216001" in header
    assert not roi_io.sidecar_path(path).exists()


def test_single_mask_files_load_as_one_roi(volume, tmp_path):
    mask = np.zeros(volume.shape, dtype=np.uint8)
    mask[2:4, 5:9, 6:12] = 1
    img = sitk.GetImageFromArray(mask)
    img.SetSpacing(volume.spacing[::-1])
    img.SetOrigin(volume.origin)
    img.SetDirection(volume.direction.reshape(-1))
    sitk.WriteImage(img, str(tmp_path / "old_mask.nii.gz"))
    rois = roi_io.load_rois(tmp_path / "old_mask.nii.gz", volume)
    assert rois.names == ["ROI 1"]
    np.testing.assert_array_equal(rois["ROI 1"].mask, mask.astype(bool))
    np.testing.assert_array_equal(roi_io.load_roi(tmp_path / "old_mask.nii.gz", volume),
                                  mask.astype(bool))
    roi_io.save_roi(mask.astype(bool), tmp_path / "m.nrrd", volume)
    np.testing.assert_array_equal(roi_io.load_roi(tmp_path / "m.nrrd", volume), mask > 0)


def test_geometry_mismatch_is_a_clear_error(volume, rois, tmp_path):
    path = roi_io.save_rois(rois, tmp_path / "rois.nrrd", volume)
    img = sitk.ReadImage(str(path))
    img.SetOrigin([o + 5.0 for o in img.GetOrigin()])
    sitk.WriteImage(img, str(tmp_path / "shifted.nrrd"))
    with pytest.raises(InputError, match="geometry.*origin"):
        roi_io.load_rois(tmp_path / "shifted.nrrd", volume)
    small = sitk.GetImageFromArray(np.zeros((2, 3, 4), np.uint8))
    sitk.WriteImage(small, str(tmp_path / "small.nii.gz"))
    with pytest.raises(InputError, match="shape"):
        roi_io.load_roi(tmp_path / "small.nii.gz", volume)
    with pytest.raises(InputError, match="no ROI named"):
        roi_io.load_roi(path, volume, name="liver")


def test_dicom_seg_of_another_series_is_refused(volume, rois, tmp_path, phantom):
    from coloc_viewer.imaging.dicom_write import write_dicom_series

    path = roi_io.save_rois(rois, tmp_path / "rois.dcm", volume)
    write_dicom_series(phantom, tmp_path / "other")
    other = load_volume(tmp_path / "other")
    with pytest.raises(InputError, match="does not reference"):
        roi_io.load_rois(path, other)


def test_failed_write_keeps_the_old_file(volume, rois, tmp_path, monkeypatch):
    path = roi_io.save_rois(rois, tmp_path / "rois.nii.gz", volume)
    before = gzip.decompress(path.read_bytes())

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(sitk, "WriteImage", boom)
    with pytest.raises(RuntimeError):
        roi_io.save_rois(RoiSet.for_volume(volume), path, volume)
    assert gzip.decompress(path.read_bytes()) == before
    assert [p.name for p in tmp_path.iterdir() if ".tmp" in p.name] == []
