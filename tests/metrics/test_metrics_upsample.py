"""upsample() against torch.nn.functional.interpolate (the reference it must reproduce)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from coloc_viewer.errors import InputError
from coloc_viewer.metrics.upsample import upsample

torch.set_num_threads(1)

SIZES = [
    ((16, 16), (512, 512)),  # ResNet50 stride 32 at 512 px
    ((7, 7), (224, 224)),  # non-integer factor 32
    ((5, 7), (13, 29)),  # odd sizes, different factors per axis
    ((3, 3), (9, 9)),
    ((24, 10), (294, 37)),  # a case where float32 and float64 nearest indices differ
    ((1, 1), (4, 5)),
    ((1, 6), (3, 17)),
    ((9, 6), (9, 31)),  # one axis unchanged
    ((8, 8), (16, 16)),  # factor 2 shortcut of torch's nearest
    ((12, 12), (12, 12)),  # identity
    ((20, 30), (7, 11)),  # down-sizing works like torch without antialias
]


def torch_resize(a: np.ndarray, shape, mode: str) -> np.ndarray:
    kw = {"align_corners": False} if mode == "bilinear" else {}
    t = torch.from_numpy(np.ascontiguousarray(a))[None, None]
    return F.interpolate(t, size=tuple(int(n) for n in shape), mode=mode, **kw)[0, 0].numpy()


@pytest.mark.parametrize(("src", "dst"), SIZES)
def test_bilinear_equals_torch_float64_and_float32(src, dst):
    a = np.random.default_rng(sum(src) + sum(dst)).standard_normal(src)
    ours = upsample(a, dst, "bilinear")
    assert ours.shape == dst and ours.dtype == np.float64
    np.testing.assert_allclose(ours, torch_resize(a, dst, "bilinear"), rtol=0, atol=1e-12)
    # torch float32 computes the source positions in float32: agree to float32 precision.
    a32 = a.astype(np.float32)
    tol = 1e-5 * (1 + np.abs(a32).max())
    np.testing.assert_allclose(
        upsample(a32, dst, "bilinear"), torch_resize(a32, dst, "bilinear"), rtol=0, atol=tol
    )


@pytest.mark.parametrize(("src", "dst"), SIZES)
def test_nearest_picks_the_same_pixels_as_torch(src, dst):
    # Distinct values per pixel, so equality means the same source pixel was chosen.
    a = np.arange(np.prod(src), dtype=np.float32).reshape(src)
    np.testing.assert_array_equal(upsample(a, dst, "nearest"), torch_resize(a, dst, "nearest"))


@settings(max_examples=60, deadline=None)
@given(
    h=st.integers(1, 40),
    w=st.integers(1, 40),
    out_h=st.integers(1, 400),
    out_w=st.integers(1, 400),
    seed=st.integers(0, 2**32 - 1),
)
def test_random_sizes_match_torch(h, w, out_h, out_w, seed):
    a = np.random.default_rng(seed).standard_normal((h, w)).astype(np.float32)
    labels = np.arange(h * w, dtype=np.float32).reshape(h, w)
    np.testing.assert_array_equal(
        upsample(labels, (out_h, out_w), "nearest"), torch_resize(labels, (out_h, out_w), "nearest")
    )
    np.testing.assert_allclose(
        upsample(a.astype(np.float64), (out_h, out_w)),
        torch_resize(a.astype(np.float64), (out_h, out_w), "bilinear"),
        rtol=0,
        atol=1e-12,
    )


def test_bilinear_reproduces_a_linear_ramp_inside_the_border():
    # Interpolation is exact for an affine function away from the clamped border.
    a = np.add.outer(np.arange(8.0), 2 * np.arange(8.0))
    up = upsample(a, (32, 32))
    centres = (np.arange(32) + 0.5) / 4 - 0.5
    inner = slice(2, 30)
    expected = np.add.outer(centres, 2 * centres)
    np.testing.assert_allclose(up[inner, inner], expected[inner, inner], atol=1e-12)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        ((np.zeros(5), (4, 4)), "2-D"),
        ((np.zeros((2, 2)), (4, 4), "bicubic"), "unknown upsample mode"),
        ((np.zeros((2, 2)), (0, 4)), "positive"),
        ((np.zeros((2, 2)), (4,)), "two integers"),
    ],
)
def test_bad_arguments_raise_input_error(args, fragment):
    with pytest.raises(InputError, match=fragment):
        upsample(*args)
