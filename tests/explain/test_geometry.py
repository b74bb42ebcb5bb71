"""Maps land on the right pixels: transform exactness on non-square, anisotropic, padded
slices, with synthetic models whose response is a known spatial pattern."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from coloc_viewer.explain.engine import explain
from coloc_viewer.imaging.volume import Volume
from coloc_viewer.model.loading import wrap_module
from coloc_viewer.model.preprocess import Preprocessor
from coloc_viewer.model.transform import SliceTransform

FIXED = {"mode": "fixed", "mean": [0.0], "std": [1.0]}


class PoolProbe(nn.Module):
    """Layer ``pool`` = the input average-pooled by ``k`` (1 channel): its map is a known
    function of the input; the head is GAP + linear."""

    def __init__(self, k: int = 4):
        super().__init__()
        self.pool = nn.AvgPool2d(k)
        self.fc = nn.Linear(1, 2)
        with torch.no_grad():
            self.fc.weight.copy_(torch.tensor([[1.0], [-1.0]]))
            self.fc.bias.zero_()

    def forward(self, x):
        return self.fc(self.pool(x).mean(dim=(2, 3)))


CASES = [  # (H, W), spacing (sy, sx), input_size
    ((60, 100), (2.0, 0.8), (64, 64)),   # wide, anisotropic: padded rows
    ((90, 40), (0.7, 1.3), (48, 64)),    # tall, anisotropic, non-square input: padded cols
    ((50, 70), (1.0, 1.0), (96, 80)),    # upsampled, padded
]


@pytest.mark.parametrize("shape, spacing, size", CASES)
def test_linear_ramp_comes_back_exactly(shape, spacing, size) -> None:
    """Linear interpolation reproduces linear functions exactly, so a ramp in physical mm
    must come back unchanged wherever no padding or edge clamp is involved; a half-pixel
    or aspect error would show up as a shift of the ramp."""
    H, W = shape
    yy, xx = np.meshgrid(np.arange(H) * spacing[0], np.arange(W) * spacing[1], indexing="ij")
    ramp = (0.9 * yy - 0.6 * xx + 5.0).astype(np.float64)
    vol = Volume(ramp[None].astype(np.float32), spacing=(3.0, *spacing))
    lm = wrap_module(PoolProbe(4), in_channels=1, input_size=size, normalization=FIXED)
    e = explain(lm, vol, 0, layer="pool", rank="mean", methods=())
    back = e.channel_map(0)
    assert back.shape == shape
    # interior: far enough from the content's border that no cell touches padding
    tf = e.transform
    cell_mm = 4 * spacing[0] / tf.scale[0]  # one layer cell, in mm
    my = int(np.ceil(2.5 * cell_mm / spacing[0])) + 1
    mx = int(np.ceil(2.5 * cell_mm / spacing[1])) + 1
    inner = (slice(my, H - my), slice(mx, W - mx))
    assert back[inner].size > 50
    np.testing.assert_allclose(back[inner], ramp[inner], rtol=0, atol=2e-4)


@pytest.mark.parametrize("shape, spacing, size", CASES)
def test_bright_patch_is_found_on_its_pixels(shape, spacing, size) -> None:
    H, W = shape
    img = np.zeros(shape, np.float32)
    r0, c0 = H // 3, W // 2
    img[r0:r0 + H // 5, c0:c0 + W // 5] = 100.0
    lm = wrap_module(PoolProbe(2), in_channels=1, input_size=size, normalization=FIXED)
    e = explain(lm, Volume(img[None], spacing=(1.0, *spacing)), 0, layer="pool",
                methods=("gradcam",))
    patch = img > 0
    for m in (e.top_map, e.cam_map("gradcam")):
        peak = np.unravel_index(np.argmax(m), m.shape)
        assert patch[peak]
        w = np.clip(m, 0, None)
        cy, cx = (np.indices(shape) * w).sum(axis=(1, 2)) / w.sum()
        ty, tx = np.argwhere(patch).mean(axis=0)
        assert abs(cy - ty) < 1.0 and abs(cx - tx) < 1.0
    seed = e.seed_map > 0
    assert seed[patch].mean() == 1.0          # nearest-upsampled cells cover the patch
    assert seed.sum() < 4 * patch.sum()       # and stay near it


def test_identity_slice_is_not_resampled_and_matches_torch_interpolate() -> None:
    img = np.random.default_rng(0).normal(size=(32, 48)).astype(np.float32)
    pre = Preprocessor(3, (32, 48), {"mode": "zscore"})
    x, tf = pre(img, (0.5, 0.5))
    assert tf.is_identity
    z = (img - img.mean()) / img.std()
    np.testing.assert_allclose(x[0].numpy(), np.repeat(z[None], 3, 0), rtol=1e-5, atol=1e-5)
    layer_map = np.random.default_rng(1).normal(size=(4, 6)).astype(np.float32)
    ref = F.interpolate(torch.from_numpy(layer_map)[None, None], size=(32, 48),
                        mode="bilinear", align_corners=False)[0, 0].numpy()
    np.testing.assert_allclose(tf.to_image_grid(layer_map), ref, rtol=1e-5, atol=1e-6)
    ref_n = F.interpolate(torch.from_numpy(layer_map)[None, None], size=(32, 48),
                          mode="nearest-exact")[0, 0].numpy()
    np.testing.assert_array_equal(tf.to_image_grid(layer_map, mode="nearest"), ref_n)


def test_shrinking_averages_the_linear_interpolant_over_each_footprint() -> None:
    """The shrink filter equals a brute-force average of np.interp's linear interpolant
    (edge values held) over each input pixel's footprint (separable: rows, then columns)."""
    img = np.random.default_rng(2).normal(size=(64, 96))
    tf = SliceTransform.fit((64, 96), (20, 30), (1.0, 1.0))
    assert tf.offset == (0.0, 0.0)
    fine = (np.arange(400) + 0.5) / 400

    def footprint(i: int, axis: int) -> np.ndarray:
        return (i + fine) / tf.scale[axis] - 0.5  # image coordinates inside input pixel i

    yavg = np.array([[np.interp(footprint(i, 0), np.arange(64), img[:, c]).mean()
                      for c in range(96)] for i in range(20)])
    ref = np.array([[np.interp(footprint(j, 1), np.arange(96), row).mean()
                     for j in range(30)] for row in yavg])
    np.testing.assert_allclose(tf.to_input_grid(img), ref, rtol=0, atol=1e-4)


def test_padding_and_content_mask() -> None:
    tf = SliceTransform.fit((30, 60), (40, 40), (1.0, 1.0))
    assert tf.scale == (40 / 60, 40 / 60) and tf.offset == (10.0, 0.0)
    mask = tf.content_mask()
    assert mask[10:30].all() and not mask[:10].any() and not mask[30:].any()
    placed = tf.to_input_grid(np.ones((30, 60)), pad_value=-7.0)
    assert (placed[~mask] == -7.0).all() and np.allclose(placed[mask], 1.0)


@pytest.mark.parametrize("mode, low, high", [("minmax", 0, 100), ("percentile", 10, 90)])
def test_intensity_modes(mode: str, low: float, high: float) -> None:
    img = np.linspace(0, 100, 101 * 3).reshape(3, 101)
    norm = {"mode": mode, "low": low, "high": high}
    x, _ = Preprocessor(2, (3, 101), norm)(img)
    lo, hi = np.percentile(img, low), np.percentile(img, high)
    expect = (np.clip(img, lo, hi) - lo) / (hi - lo)
    np.testing.assert_allclose(x[0, 1].numpy(), expect, atol=1e-6)
    fixed = {"mode": "fixed", "mean": [1.0, 2.0], "std": [2.0, 4.0]}
    x, _ = Preprocessor(2, (3, 101), fixed)(img)
    np.testing.assert_allclose(x[0, 1].numpy(), (img - 2.0) / 4.0, rtol=1e-6, atol=1e-6)
