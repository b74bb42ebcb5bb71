"""write_dicom_series produces files that SimpleITK and pydicom read back exactly."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from imaging_helpers import OBLIQUE
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ImplicitVRLittleEndian,
    JPEGLSLossless,
    RLELossless,
)

from coloc_viewer.imaging.dicom_write import write_dicom_series


@pytest.mark.parametrize("ts", [ImplicitVRLittleEndian, DeflatedExplicitVRLittleEndian,
                                ExplicitVRBigEndian, RLELossless, JPEGLSLossless])
def test_written_series_reads_back_in_simpleitk(tmp_path, phantom, ts):
    if ts == JPEGLSLossless:
        pytest.importorskip("jpeg_ls", reason="pyjpegls (JPEG-LS encoder) is in the test extra")
    paths = write_dicom_series(phantom - 300, tmp_path, spacing=(2.5, 0.8, 0.6),
                               origin=(1.0, 2.0, 3.0), direction=OBLIQUE, dtype="int16",
                               rescale_slope=2.0, rescale_intercept=-300.0, transfer_syntax=ts)
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(tmp_path)))
    img = reader.Execute()
    expected = np.rint(phantom / 2.0) * 2.0 - 300  # stored values are rounded
    np.testing.assert_array_equal(sitk.GetArrayFromImage(img), expected)
    np.testing.assert_allclose(img.GetSpacing(), (0.6, 0.8, 2.5), atol=1e-6)
    np.testing.assert_allclose(img.GetOrigin(), (1.0, 2.0, 3.0), atol=1e-6)
    np.testing.assert_allclose(np.reshape(img.GetDirection(), (3, 3)), OBLIQUE, atol=1e-6)
    ds = pydicom.dcmread(paths[0])
    assert ds.file_meta.TransferSyntaxUID == ts
    assert str(ds.PatientName) == "ANON^DEMO" and ds.PatientBirthDate == ""


def test_values_that_do_not_fit_are_refused(tmp_path):
    with pytest.raises(ValueError, match="do not fit"):
        write_dicom_series(np.full((1, 4, 4), -5.0), tmp_path)
