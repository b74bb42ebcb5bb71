"""Issue 14, failure 6: impossible geometry is an InputError at load, or a documented repair
with a warning (never a later ValueError from ``explain`` or a SimpleITK error)."""

from __future__ import annotations

import io

import nibabel as nib
import numpy as np
import pytest

from coloc_viewer.errors import InputError
from coloc_viewer.imaging.dicom_write import write_dicom_series
from coloc_viewer.imaging.inspect import scan
from coloc_viewer.imaging.load import load_volume

pytestmark = pytest.mark.filterwarnings("ignore:Invalid value for VR DS")


def _series(tmp_path, n=3, **extra):
    folder = tmp_path / "s"
    write_dicom_series(np.arange(n * 64, dtype=float).reshape(n, 8, 8), folder,
                       spacing=(2.0, 0.5, 0.5), extra=extra or None)
    return folder


@pytest.mark.parametrize("spacing", [["-0.5", "0.5"], ["0", "0.5"], ["nan", "0.5"],
                                     ["0.5", "inf"]])
def test_bad_pixel_spacing_is_refused(tmp_path, spacing):
    folder = _series(tmp_path, PixelSpacing=spacing)
    for reader in (load_volume, scan):
        with pytest.raises(InputError, match="PixelSpacing"):
            reader(folder)


def test_zero_pixel_spacing_means_unknown(tmp_path):
    """0\\0 (seen in real CR files) is "unknown": 1 mm assumed, with the missing warning."""
    vol = load_volume(_series(tmp_path, PixelSpacing=["0", "0"]))
    assert vol.spacing[1:] == (1.0, 1.0)
    assert any("no PixelSpacing" in w for w in vol.metadata["warnings"])


@pytest.mark.parametrize("orientation", [[0] * 6, [1, 0, 0, 1, 0, 0], [2, 0, 0, 0, 2, 0],
                                         [1, 0, 0, 0, "nan", 0]])
def test_bad_orientation_is_refused(tmp_path, orientation):
    folder = _series(tmp_path, ImageOrientationPatient=[str(v) for v in orientation])
    with pytest.raises(InputError, match="ImageOrientationPatient"):
        load_volume(folder)


def test_non_finite_position_is_refused(tmp_path):
    folder = _series(tmp_path, ImagePositionPatient=["0", "nan", "0"])
    with pytest.raises(InputError, match="ImagePositionPatient"):
        load_volume(folder)


def test_negative_slice_thickness_single_slice_is_repaired(tmp_path):
    def bad(ds, _k):
        ds.SliceThickness = "-3"
        del ds.SpacingBetweenSlices

    folder = tmp_path / "one"
    write_dicom_series(np.ones((1, 8, 8)), folder, spacing=(3.0, 1.0, 1.0), extra=bad)
    vol = load_volume(folder)
    assert vol.spacing[0] == 3.0
    assert any("SliceThickness -3 is not positive" in w for w in vol.metadata["warnings"])


def test_negative_slice_thickness_uses_the_positions(tmp_path):
    vol = load_volume(_series(tmp_path, n=4, SliceThickness="-5"))
    assert vol.spacing[0] == pytest.approx(2.0)
    assert any("computed from the slice positions" in w for w in vol.metadata["warnings"])


def _nifti(tmp_path, name, **fields):
    """A small NIfTI file whose header fields are then overwritten raw (nibabel itself
    refuses to make such affines)."""
    data = np.arange(4 * 5 * 6, dtype=np.float32).reshape(4, 5, 6)
    img = nib.Nifti1Image(data, np.eye(4))
    img.set_sform(np.eye(4), code=1)
    hdr = nib.Nifti1Header.from_fileobj(io.BytesIO(img.header.binaryblock + b"\0" * 4))
    hdr["vox_offset"] = 352
    for key, (index, value) in fields.items():
        arr = np.array(hdr[key])
        if index is None:
            arr = value
        else:
            arr[index] = value
        hdr[key] = arr
    path = tmp_path / name
    path.write_bytes(hdr.binaryblock + b"\0" * 4 + data.tobytes(order="F"))
    return path


@pytest.mark.parametrize("fields,match", [
    ({"srow_x": (0, np.nan)}, "sform"),
    ({"srow_z": (3, np.inf)}, "sform"),
    ({"sform_code": (None, 0), "qform_code": (None, 1), "quatern_b": (None, np.nan)}, "qform"),
    ({"pixdim": (1, np.nan)}, "pixdim"),
])
def test_bad_nifti_geometry_is_refused(tmp_path, fields, match):
    path = _nifti(tmp_path, "bad.nii", **fields)
    with pytest.raises(InputError, match=match):
        load_volume(path)


def test_good_nifti_from_the_same_writer_loads(tmp_path):
    vol = load_volume(_nifti(tmp_path, "ok.nii"))
    assert vol.shape == (6, 5, 4) and vol.spacing == (1.0, 1.0, 1.0)


@pytest.mark.parametrize("fields,match", [
    ({"vox_offset": (None, 0)}, "vox_offset"),
    ({"datatype": (None, 4)}, "datatype"),
    ({"scl_slope": (None, 1e-20), "scl_inter": (None, 0.0)}, "scl_slope"),
    ({"scl_slope": (None, 2.0), "scl_inter": (None, np.inf)}, "scl_inter"),
])
def test_nifti_header_inconsistencies_found_by_the_fuzzer(tmp_path, fields, match):
    """vox_offset inside the header, datatype not matching bitpix, a slope ITK ignores."""
    with pytest.raises(InputError, match=match):
        load_volume(_nifti(tmp_path, "bad.nii", **fields))
