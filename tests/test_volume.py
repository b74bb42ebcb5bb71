"""The Volume type: geometry helpers agree with SimpleITK's index-to-point mapping."""

import numpy as np
import SimpleITK as sitk

from coloc_viewer.imaging.volume import Volume


def test_index_to_lps_matches_simpleitk():
    rng = np.random.default_rng(1)
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    img = sitk.Image(7, 5, 3, sitk.sitkFloat32)  # x, y, z sizes
    img.SetSpacing((0.7, 0.9, 3.0))
    img.SetOrigin((-12.0, 30.5, 4.0))
    img.SetDirection(tuple(q.ravel()))
    vol = Volume(np.zeros((3, 5, 7), np.float32), spacing=(3.0, 0.9, 0.7),
                 origin=img.GetOrigin(), direction=np.array(img.GetDirection()))
    for zyx in [(0, 0, 0), (2, 4, 6), (1, 3, 2)]:
        expected = img.TransformIndexToPhysicalPoint(tuple(int(i) for i in zyx[::-1]))
        np.testing.assert_allclose(vol.index_to_lps(zyx), expected, atol=1e-9)
    assert vol.shape == (3, 5, 7)
    assert "patient" not in repr(vol).lower()


def test_two_d_array_becomes_one_slice():
    vol = Volume(np.ones((4, 6)))
    assert vol.shape == (1, 4, 6)
