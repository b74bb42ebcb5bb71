"""Issue 14, failure 1: readers check byte counts against the header (no made-up voxels).

NIfTI (plain and gzip), NRRD and MetaImage files cut short or grown are an InputError naming
the file, from both ``load_volume`` and ``scan`` (``coloc-viewer inspect``).
"""

from __future__ import annotations

import gzip
import shutil

import numpy as np
import pytest
import SimpleITK as sitk

from coloc_viewer.errors import InputError
from coloc_viewer.imaging.inspect import scan
from coloc_viewer.imaging.load import load_volume

ANATOMICAL_CUTS = [100, 348, 400, 15_369, 34_001, 67_995, 68_001]


def _refused(path, match="truncated|longer|ends early|cannot read"):
    for reader in (load_volume, scan):
        with pytest.raises(InputError, match=match) as err:
            reader(path)
        assert str(path) in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("cut", ANATOMICAL_CUTS)
def test_truncated_nifti_is_refused(nibabel_data, tmp_path, cut):
    data = (nibabel_data / "anatomical.nii").read_bytes()
    assert len(data) == 68_002
    path = tmp_path / f"cut{cut}.nii"
    path.write_bytes(data[:cut])
    _refused(path)


def test_anatomical_cut_at_15369_names_the_byte_counts(nibabel_data, tmp_path):
    path = tmp_path / "anatomical.nii"
    path.write_bytes((nibabel_data / "anatomical.nii").read_bytes()[:15_369])
    with pytest.raises(InputError, match="holds 15017 bytes, the header declares 67650"):
        load_volume(path)


def test_overlong_nifti_is_refused(nibabel_data, tmp_path):
    path = tmp_path / "long.nii"
    path.write_bytes((nibabel_data / "anatomical.nii").read_bytes() + b"\0" * 5)
    _refused(path, "longer")


@pytest.mark.parametrize("fraction", [0.01, 0.5, 0.999])
def test_cut_gzip_stream_is_refused(nibabel_data, tmp_path, fraction):
    data = (nibabel_data / "example4d.nii.gz").read_bytes()
    path = tmp_path / "cut.nii.gz"
    path.write_bytes(data[:int(len(data) * fraction)])
    _refused(path)


@pytest.mark.parametrize("cut", [400, 15_369, 67_000])
def test_complete_gzip_of_a_truncated_nifti_is_refused(nibabel_data, tmp_path, cut):
    """The gzip stream is intact; what it holds is short."""
    data = (nibabel_data / "anatomical.nii").read_bytes()[:cut]
    path = tmp_path / "short.nii.gz"
    path.write_bytes(gzip.compress(data))
    _refused(path)


def test_intact_files_still_load(nibabel_data, tmp_path):
    assert load_volume(nibabel_data / "anatomical.nii").shape == (25, 41, 33)
    assert load_volume(nibabel_data / "example4d.nii.gz").shape[0] > 0
    shutil.copy(nibabel_data / "anatomical.nii", tmp_path / "a.nii")
    (tmp_path / "a.nii.gz").write_bytes(gzip.compress((tmp_path / "a.nii").read_bytes()))
    np.testing.assert_array_equal(load_volume(tmp_path / "a.nii.gz").voxels,
                                  load_volume(tmp_path / "a.nii").voxels)


@pytest.mark.parametrize("suffix,compress", [(".nrrd", False), (".nrrd", True),
                                             (".mha", False), (".mha", True)])
def test_attached_nrrd_and_metaimage_byte_counts(tmp_path, suffix, compress):
    voxels = (np.arange(6 * 7 * 8) % 251).reshape(6, 7, 8).astype(np.int16)
    good = tmp_path / f"good{suffix}"
    sitk.WriteImage(sitk.GetImageFromArray(voxels), str(good), useCompression=compress)
    np.testing.assert_array_equal(load_volume(good).voxels, voxels)
    data = good.read_bytes()
    for i, blob in enumerate([data[:-1], data[:-40], data[:len(data) // 2],
                              data + b"\1\2\3"]):
        path = tmp_path / f"bad{i}{suffix}"
        path.write_bytes(blob)
        _refused(path)


@pytest.mark.parametrize("suffix,data_suffix", [(".nhdr", ".raw"), (".mhd", ".raw")])
def test_detached_data_files_are_checked(tmp_path, suffix, data_suffix):
    voxels = np.ones((3, 4, 5), np.uint16)
    header = tmp_path / f"img{suffix}"
    sitk.WriteImage(sitk.GetImageFromArray(voxels), str(header))
    data_file = next(p for p in tmp_path.iterdir() if p != header)
    assert load_volume(header).shape == (3, 4, 5)
    data_file.write_bytes(data_file.read_bytes()[:-2])
    _refused(header)
