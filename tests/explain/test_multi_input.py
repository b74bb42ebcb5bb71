"""Several series as input channels: each role resampled onto the first role's grid exactly
as SimpleITK's resampler does it (done by hand here), stacked in the card's order."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
import torch
from torch import nn

from coloc_viewer.errors import InputError
from coloc_viewer.explain.engine import explain
from coloc_viewer.imaging.resample import resample_to
from coloc_viewer.imaging.volume import Volume
from coloc_viewer.model.input_stack import gather_inputs

ROLES = [{"role": "T2", "series": "(?i)t2"}, {"role": "ADC", "series": "(?i)adc"},
         {"role": "DWI", "series": "(?i)dwi"}]


def _rotation(ax: float, ay: float) -> np.ndarray:
    cx, sx, cy, sy = np.cos(ax), np.sin(ax), np.cos(ay), np.sin(ay)
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    return rx @ ry


def _smooth(shape: tuple[int, int, int], seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    z, y, x = np.meshgrid(*[np.linspace(0, 3, n) for n in shape], indexing="ij")
    return (np.sin(z + rng.uniform()) * np.cos(1.3 * y) + 0.5 * x * rng.uniform()
            + rng.normal(scale=0.1, size=shape)).astype(np.float32) * 100 + 500


@pytest.fixture(scope="module")
def series() -> dict[str, Volume]:
    t2 = Volume(_smooth((12, 64, 64), 0), spacing=(3.0, 0.5, 0.5), origin=(-16.0, -14.0, -18.0),
                direction=_rotation(0.35, -0.2))
    adc = Volume(_smooth((10, 20, 20), 1), spacing=(4.0, 2.0, 2.0), origin=(-20.0, -19.0, -22.0),
                 direction=_rotation(0.1, 0.25))
    dwi = Volume(_smooth((9, 16, 16), 2), spacing=(4.5, 2.5, 2.5), origin=(-21.0, -20.0, -20.0),
                 direction=np.eye(3))
    return {"T2": t2, "ADC": adc, "DWI": dwi}


def _sitk_image(vol: Volume) -> sitk.Image:
    img = sitk.GetImageFromArray(np.asarray(vol.voxels, dtype=np.float32))
    img.SetSpacing([vol.spacing[2], vol.spacing[1], vol.spacing[0]])
    img.SetOrigin(list(vol.origin))
    img.SetDirection(np.asarray(vol.direction).ravel().tolist())
    return img


def _by_hand(moving: Volume, reference: Volume) -> np.ndarray:
    out = sitk.Resample(_sitk_image(moving), _sitk_image(reference), sitk.Transform(),
                        sitk.sitkLinear, 0.0, sitk.sitkFloat32)
    return sitk.GetArrayFromImage(out)


class _Card:
    name, in_channels, inputs = "mp", 3, ROLES


def test_stacked_channels_equal_simpleitk_by_hand(series) -> None:
    scrambled = {"DWI": series["DWI"], "T2": series["T2"], "ADC": series["ADC"]}
    inp = gather_inputs(_Card(), scrambled)
    assert inp.roles == ["T2", "ADC", "DWI"] and inp.shape == (12, 64, 64)
    np.testing.assert_array_equal(inp.channels[0], series["T2"].voxels)
    for k, role in enumerate(ROLES[1:], start=1):
        ref = _by_hand(series[role["role"]], series["T2"])
        assert np.count_nonzero(ref) > 0.3 * ref.size  # the grids overlap substantially
        np.testing.assert_allclose(inp.channels[k], ref, rtol=1e-6, atol=1e-3)


def test_resampled_voxels_sit_at_their_physical_positions(series) -> None:
    """A linear function of LPS position, sampled on the 2 mm ADC grid, reads the same
    function at the 0.5 mm T2 voxel centres (where they fall inside the ADC volume)."""
    adc, t2 = series["ADC"], series["T2"]
    a, b = np.array([0.7, -1.1, 0.4]), 3.0
    idx = np.stack(np.meshgrid(*[np.arange(n) for n in adc.shape], indexing="ij"), -1)
    ramp = Volume((adc.index_to_lps(idx) @ a + b).astype(np.float64), spacing=adc.spacing,
                  origin=adc.origin, direction=adc.direction)
    out = resample_to(ramp, t2).voxels
    tidx = np.stack(np.meshgrid(*[np.arange(n) for n in t2.shape], indexing="ij"), -1)
    pos = t2.index_to_lps(tidx)
    cont = (pos - np.asarray(adc.origin)) @ adc.direction / np.asarray(adc.spacing)[::-1]
    inside = np.all((cont >= 0) & (cont <= np.asarray(adc.shape)[::-1] - 1), axis=-1)
    assert inside.sum() > 1000
    np.testing.assert_allclose(out[inside], (pos @ a + b)[inside], rtol=0, atol=2e-3)


def _recording_net(in_channels: int, dims: int) -> tuple[nn.Module, list[torch.Tensor]]:
    conv = nn.Conv3d if dims == 3 else nn.Conv2d
    pool = nn.AdaptiveAvgPool3d if dims == 3 else nn.AdaptiveAvgPool2d
    net = nn.Sequential(conv(in_channels, 4, 3, padding=1), nn.ReLU(), pool(1), nn.Flatten(),
                        nn.Linear(4, 2))
    seen: list[torch.Tensor] = []
    # the first layer sees the model input last in the capture run (dry runs come first)
    net[0].register_forward_pre_hook(lambda _m, args: seen.append(args[0].detach().clone()))
    return net, seen


@pytest.mark.parametrize("dims", [3, 2])
def test_explain_feeds_the_stack_in_card_order(series, loaded_model, dims) -> None:
    net, seen = _recording_net(3, dims)
    size = (12, 64, 64) if dims == 3 else (64, 64)
    lm = loaded_model(net, size, in_channels=3, inputs=ROLES,
                      normalization={"mode": "fixed", "mean": [0, 0, 0], "std": [1, 2, 4]})
    e = explain(lm, {"ADC": series["ADC"], "DWI": series["DWI"], "T2": series["T2"]},
                slice_index=5, layer="1")
    assert e.inputs == ["T2", "ADC", "DWI"]
    assert e.slice_index == (None if dims == 3 else 5)
    x = seen[-1][0].double().numpy()
    t2 = series["T2"]
    stack = [t2.voxels, _by_hand(series["ADC"], t2), _by_hand(series["DWI"], t2)]
    for k, (vol, std) in enumerate(zip(stack, (1, 2, 4))):
        ref = vol / std if dims == 3 else vol[5] / std
        np.testing.assert_allclose(x[k], ref, rtol=1e-5, atol=1e-3)


def test_wrong_series_are_one_sentence(series, loaded_model) -> None:
    net, _ = _recording_net(3, 3)
    lm = loaded_model(net, (12, 64, 64), in_channels=3, inputs=ROLES)
    with pytest.raises(InputError, match=r"takes 3 series as input channels \(T2, ADC, DWI\)"):
        explain(lm, series["T2"])
    with pytest.raises(InputError, match="missing: DWI"):
        explain(lm, {"T2": series["T2"], "ADC": series["ADC"]})
    with pytest.raises(InputError, match="has no input role PD"):
        explain(lm, {**series, "PD": series["T2"]})
    single, _ = _recording_net(1, 3)
    lm1 = loaded_model(single, (12, 64, 64))
    with pytest.raises(InputError, match="takes one series; got 2"):
        explain(lm1, {"T2": series["T2"], "ADC": series["ADC"]})
    e = explain(lm1, {"T2": series["T2"]}, layer="1")
    assert e.inputs == [] and e.activations.shape == (4, 12, 64, 64)
