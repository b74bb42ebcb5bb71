"""NIfTI / MHA / NRRD through SimpleITK, compared with nibabel (documented axis mapping)."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk

from coloc_viewer.errors import InputError
from coloc_viewer.imaging.inspect import scan
from coloc_viewer.imaging.load import load_volume

LPS_FROM_RAS = np.diag([-1.0, -1.0, 1.0])


def _check_against_nibabel(vol, img):
    data = np.asarray(img.dataobj, dtype=np.float64)
    if data.ndim == 4:
        data = data[..., 0]
    # Axis mapping: Volume.voxels[k, j, i] == nibabel data[i, j, k].
    np.testing.assert_allclose(vol.voxels, np.transpose(data, (2, 1, 0)), rtol=1e-6)
    np.testing.assert_allclose(vol.spacing, img.header.get_zooms()[:3][::-1], rtol=1e-5)
    # Geometry: LPS origin/direction are nibabel's RAS affine with x and y negated.
    affine = img.affine
    np.testing.assert_allclose(vol.origin, LPS_FROM_RAS @ affine[:3, 3], atol=1e-3)
    cols = affine[:3, :3] / np.asarray(img.header.get_zooms()[:3])
    np.testing.assert_allclose(vol.direction, LPS_FROM_RAS @ cols, atol=1e-4)
    # index_to_lps agrees with nibabel's affine for a corner voxel.
    ijk = np.array([3, 2, 1])
    ras = affine[:3, :3] @ ijk + affine[:3, 3]
    np.testing.assert_allclose(vol.index_to_lps(ijk[::-1]), LPS_FROM_RAS @ ras, atol=1e-3)


def test_anatomical_nii_matches_nibabel(nibabel_data):
    path = nibabel_data / "anatomical.nii"
    vol = load_volume(path)
    _check_against_nibabel(vol, nib.load(path))
    assert vol.metadata["warnings"] == []


def test_example4d_loads_first_volume_with_a_warning(nibabel_data):
    path = nibabel_data / "example4d.nii.gz"
    vol = load_volume(path)
    img = nib.load(path)
    assert img.ndim == 4 and vol.shape == img.shape[:3][::-1]
    _check_against_nibabel(vol, img)
    assert any("4-D image" in w and "first" in w for w in vol.metadata["warnings"])
    info = scan(path)[0]
    assert info.shape == list(vol.shape) and "4-D" in info.warnings[0]


@pytest.mark.parametrize("suffix", [".mha", ".nrrd", ".nii.gz"])
def test_sitk_formats_round_trip(tmp_path, suffix):
    rng = np.random.default_rng(1)
    arr = rng.normal(size=(5, 7, 9)).astype(np.float32)
    img = sitk.GetImageFromArray(arr)
    img.SetSpacing((0.5, 0.7, 3.0))
    img.SetOrigin((1.0, -2.0, 3.0))
    img.SetDirection((0.0, 1.0, 0.0, 0.0, 0.0, -1.0, -1.0, 0.0, 0.0))
    sitk.WriteImage(img, str(tmp_path / f"v{suffix}"))
    vol = load_volume(tmp_path / f"v{suffix}")
    np.testing.assert_array_equal(vol.voxels, arr)
    np.testing.assert_allclose(vol.spacing, (3.0, 0.7, 0.5), rtol=1e-6)
    np.testing.assert_allclose(vol.origin, (1.0, -2.0, 3.0), atol=1e-5)
    np.testing.assert_allclose(vol.direction.reshape(-1), img.GetDirection(), atol=1e-6)


def test_nan_in_nifti_is_an_input_error(tmp_path):
    data = np.ones((4, 4, 3), dtype=np.float32)
    data[1, 2, 0] = np.nan
    nib.save(nib.Nifti1Image(data, np.eye(4)), tmp_path / "nan.nii.gz")
    with pytest.raises(InputError, match="NaN") as err:
        load_volume(tmp_path / "nan.nii.gz")
    assert str(err.value).startswith(str(tmp_path / "nan.nii.gz"))
