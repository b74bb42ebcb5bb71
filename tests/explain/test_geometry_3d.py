"""VolumeTransform: the exact 3-D placement of a volume on a model input and back."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from coloc_viewer.model.preprocess import Preprocessor
from coloc_viewer.model.transform import SliceTransform, VolumeTransform

SHAPE, SPACING, INPUT = (10, 40, 30), (3.0, 0.5, 0.7), (16, 32, 32)


def test_in_plane_is_the_slice_transform_and_z_fills_the_depth() -> None:
    tf = VolumeTransform.fit((16, 40, 30), INPUT, SPACING)
    plane = SliceTransform.fit((40, 30), INPUT[1:], SPACING[1:])
    assert tf.scale[1:] == plane.scale and tf.offset[1:] == plane.offset
    assert tf.scale[0] == 1.0 and tf.offset[0] == 0.0
    vol = np.random.default_rng(0).normal(size=(16, 40, 30))
    placed = tf.to_input_grid(vol, pad_value=-5.0)
    for k in (0, 7, 15):  # depth already equal: each slice is placed exactly as in 2-D
        np.testing.assert_allclose(placed[k], plane.to_input_grid(vol[k], pad_value=-5.0),
                                   rtol=1e-12, atol=1e-12)


def test_linear_ramp_in_mm_is_exact_both_ways() -> None:
    """A linear function of physical position goes to the input grid with square in-plane
    pixels of p mm (centred) and z steps of D*sz/d mm, and comes back unchanged."""
    tf = VolumeTransform.fit(SHAPE, INPUT, SPACING)
    slopes = np.array([0.3, -1.2, 0.8])  # per mm along z, y, x
    idx = np.meshgrid(*[np.arange(n) for n in SHAPE], indexing="ij")
    ramp = sum(s * i * sp for s, i, sp in zip(slopes, idx, SPACING))
    placed = tf.to_input_grid(ramp, pad_value=np.nan)
    p = max(40 * 0.5 / 32, 30 * 0.7 / 32)
    pz = 10 * 3.0 / 16
    content = tf.content_mask()
    inner = content.copy()  # away from the edges (the anti-aliasing footprint is clamped)
    inner[:2], inner[-2:], inner[:, :2], inner[:, -2:] = False, False, False, False
    inner[:, :, :2], inner[:, :, -2:] = False, False
    inner &= np.roll(content, 2, 1) & np.roll(content, -2, 1)
    inner &= np.roll(content, 2, 2) & np.roll(content, -2, 2)
    assert inner.sum() > 1000
    dz, dy, dx = (np.diff(placed, axis=a) for a in range(3))
    np.testing.assert_allclose(dz[inner[1:]], slopes[0] * pz, atol=1e-9)
    np.testing.assert_allclose(dy[inner[:, 1:]], slopes[1] * p, atol=1e-9)
    np.testing.assert_allclose(dx[inner[:, :, 1:]], slopes[2] * p, atol=1e-9)
    centre = [(n - 1) / 2 * s for n, s in zip(SHAPE, SPACING)]
    i0 = [np.flatnonzero(content.any(axis=tuple(b for b in range(3) if b != a)))
          for a in range(3)]
    mid = tuple(int(round((ix[0] + ix[-1]) / 2)) for ix in i0)
    # the content box is centred: its middle input voxel sits at the volume's centre
    want = float(slopes @ centre)
    got = placed[mid]
    assert got == pytest.approx(want, abs=max(abs(slopes[0]) * pz, abs(slopes[1:]).max() * p))
    back = tf.to_image_grid(np.where(content, placed, 0.0).astype(np.float64))
    sl = (slice(2, -2), slice(3, -3), slice(3, -3))
    np.testing.assert_allclose(back[sl], ramp[sl], rtol=0, atol=1e-4)


def test_back_mapping_equals_torch_trilinear_without_padding() -> None:
    tf = VolumeTransform.fit((16, 32, 32), (16, 32, 32), (2.5, 1.0, 1.0))
    assert tf.is_identity
    m = np.random.default_rng(1).normal(size=(4, 8, 8))
    ref = F.interpolate(torch.from_numpy(m)[None, None], size=(16, 32, 32), mode="trilinear",
                        align_corners=False)[0, 0].numpy()
    np.testing.assert_allclose(tf.to_image_grid(m), ref, rtol=1e-6, atol=1e-6)
    near = F.interpolate(torch.from_numpy(m)[None, None], size=(16, 32, 32),
                         mode="nearest")[0, 0].numpy()
    np.testing.assert_array_equal(tf.to_image_grid(m, mode="nearest"), near.astype(np.float32))
    for z in (0, 5, 15):
        np.testing.assert_array_equal(tf.to_image_grid(m, z=z), tf.to_image_grid(m)[z])


def test_volume_preprocessor_normalises_over_the_volume_not_the_padding() -> None:
    pre = Preprocessor(2, INPUT, {"mode": "zscore"})
    vol = np.random.default_rng(2).normal(5.0, 3.0, size=SHAPE).astype(np.float32)
    x, tf = pre(vol, SPACING)
    assert isinstance(tf, VolumeTransform) and x.shape == (1, 2, *INPUT)
    placed = tf.to_input_grid(vol, pad_value=float(vol.min()))
    ref = (placed - vol.mean()) / vol.std()
    np.testing.assert_allclose(x[0, 0].numpy(), ref, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(x[0, 0].numpy(), x[0, 1].numpy())
