"""Pixel details: MONOCHROME1, Modality LUT Sequence, BitsStored < BitsAllocated, SEG on
enhanced multi-frame sources, and the public API names."""

from __future__ import annotations

import highdicom as hd
import numpy as np
import pydicom
import pytest
from imaging_helpers import reference_pixels
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

import coloc_viewer
from coloc_viewer.imaging import roi_edit
from coloc_viewer.imaging.dicom_write import write_dicom_series
from coloc_viewer.imaging.load import load_volume
from coloc_viewer.imaging.roi import RoiSet


def test_monochrome1_is_flagged_and_voxels_stay_physical(tmp_path, phantom):
    write_dicom_series(phantom, tmp_path, extra={"PhotometricInterpretation": "MONOCHROME1"})
    vol = load_volume(tmp_path)
    np.testing.assert_array_equal(vol.voxels, phantom)
    assert vol.metadata["monochrome1"] is True


def test_modality_lut_sequence_is_applied(tmp_path, phantom):
    def add_lut(ds, k):
        item = Dataset()
        item.LUTDescriptor = [1024, 0, 16]
        item.ModalityLUTType = "US"
        item.LUTData = [int(v) for v in (np.arange(1024) * 3 + 7)]
        item["LUTData"].VR = "US"
        ds.ModalityLUTSequence = Sequence([item])
        del ds.RescaleSlope, ds.RescaleIntercept, ds.RescaleType

    paths = write_dicom_series(phantom, tmp_path, extra=add_lut)
    vol = load_volume(tmp_path)
    np.testing.assert_array_equal(vol.voxels, phantom * 3 + 7)
    np.testing.assert_array_equal(vol.voxels[0], reference_pixels(paths[0]))


@pytest.mark.parametrize("signed", [False, True])
def test_unused_high_bits_are_ignored_like_pydicom(tmp_path, signed):
    rng = np.random.default_rng(3)
    stored = rng.integers(-2048 if signed else 0, 2048 if signed else 4096, (2, 16, 16))
    garbage = rng.integers(0, 16, stored.shape) << 12  # overlay bits above BitsStored

    def twelve_bits(ds, k):
        raw = (stored[k].astype(np.int64) & 0xFFF) | garbage[k]
        ds.BitsStored, ds.HighBit = 12, 11
        ds.PixelData = raw.astype(np.uint16).tobytes()

    paths = write_dicom_series(np.zeros(stored.shape), tmp_path, extra=twelve_bits,
                               dtype="int16" if signed else "uint16")
    vol = load_volume(tmp_path)
    np.testing.assert_array_equal(vol.voxels, stored)
    for k, p in enumerate(paths):
        np.testing.assert_array_equal(vol.voxels[k], reference_pixels(p))


def test_dicom_seg_on_an_enhanced_multiframe_source(series_dir, tmp_path):
    legacy = [pydicom.dcmread(p) for p in sorted(series_dir.iterdir())]
    enhanced = hd.legacy.LegacyConvertedEnhancedMRImage(
        legacy, series_instance_uid=hd.UID(), series_number=2, sop_instance_uid=hd.UID(),
        instance_number=1)
    src = tmp_path / "enhanced.dcm"
    enhanced.save_as(src)
    vol = load_volume(src)
    rois = RoiSet.for_volume(vol)
    rois.add("lesion")
    roi_edit.paint(rois, "lesion", 1, (10, 10), 3.0)
    roi_edit.paint(rois, "lesion", 4, (5, 12), 2.0)
    coloc_viewer.save_roi(rois["lesion"].mask, tmp_path / "seg.dcm", like=vol)
    back = coloc_viewer.load_roi(tmp_path / "seg.dcm", like=vol)
    np.testing.assert_array_equal(back, rois["lesion"].mask)
    # highdicom maps the segmentation frames to the source frames by position.
    seg = hd.seg.segread(tmp_path / "seg.dcm")
    frames = seg.get_pixels_by_source_frame(
        source_sop_instance_uid=str(enhanced.SOPInstanceUID),
        source_frame_numbers=list(range(1, 7)), segment_numbers=[1])[..., 0]
    positions = [float(np.asarray(f.PlanePositionSequence[0].ImagePositionPatient, float)
                       @ vol.direction[:, 2]) for f in enhanced.PerFrameFunctionalGroupsSequence]
    order = np.argsort(positions)
    np.testing.assert_array_equal(frames[order] > 0, rois["lesion"].mask)


def test_public_api_names(series_dir, tmp_path):
    vol = coloc_viewer.load_volume(series_dir)
    assert isinstance(vol, coloc_viewer.Volume)
    mask = np.zeros(vol.shape, bool)
    mask[2, 3:6, 4:9] = True
    coloc_viewer.save_roi(mask, tmp_path / "m.nii.gz", like=vol)
    np.testing.assert_array_equal(coloc_viewer.load_roi(tmp_path / "m.nii.gz", like=vol), mask)
    with pytest.raises(coloc_viewer.InputError):
        coloc_viewer.load_volume(tmp_path / "missing")
