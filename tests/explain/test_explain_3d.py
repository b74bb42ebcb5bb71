"""3-D models: Grad-CAM against pytorch-grad-cam, the other CAMs and the rankings against
plain 5-D references written here, the exact decomposition on a 3-D DenseNet121, and the
whole ``explain`` call on an anisotropic volume."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from monai.networks.nets import DenseNet121
from pytorch_grad_cam import GradCAM
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
from torch import nn

from coloc_viewer.errors import InputError
from coloc_viewer.explain.cams import gradcam_weights, gradient_cam, weighted_sum
from coloc_viewer.explain.capture import LayerCapture
from coloc_viewer.explain.engine import explain
from coloc_viewer.explain.layers import list_layers, resolve_layer
from coloc_viewer.explain.ranking import importance
from coloc_viewer.explain.scorecam import scorecam
from coloc_viewer.imaging.volume import Volume

SIZE3 = (32, 64, 64)  # DenseNet121's four pools need a depth of at least 32


@pytest.fixture(scope="module")
def dense3d() -> nn.Module:
    torch.manual_seed(3)
    return DenseNet121(spatial_dims=3, in_channels=1, out_channels=3).eval()


@pytest.fixture(scope="module")
def small3d() -> nn.Module:
    torch.manual_seed(4)
    return nn.Sequential(
        nn.Conv3d(1, 6, 3, padding=1), nn.ReLU(), nn.Conv3d(6, 12, 3, stride=2, padding=1),
        nn.ReLU(), nn.AdaptiveAvgPool3d(1), nn.Flatten(), nn.Linear(12, 3)).eval()


def _x(shape: tuple[int, ...], seed: int) -> torch.Tensor:
    return torch.randn(1, 1, *shape, generator=torch.Generator().manual_seed(seed))


def _capture(model: nn.Module, x: torch.Tensor, layer: str | None, target: int):
    info = resolve_layer(list_layers(model, tuple(x.shape[1:])), layer)
    return LayerCapture(model, info, x).capture(x, target)


def _reference_acts_grads(model: nn.Module, x: torch.Tensor, layer: str, target: int):
    """A and dy_c/dA from one ordinary forward + backward of the whole network."""
    store: dict[str, torch.Tensor] = {}

    def hook(_m, _i, out):
        out = out.clone()
        out.retain_grad()
        store["a"] = out
        return out

    handle = model.get_submodule(layer).register_forward_hook(hook)
    try:
        model(x)[0, target].backward()
    finally:
        handle.remove()
        model.zero_grad(set_to_none=True)
    return store["a"].detach()[0].double().numpy(), store["a"].grad[0].double().numpy()


def _close(got, ref, rtol: float = 1e-5) -> None:
    got = np.asarray(got.detach().double().numpy() if isinstance(got, torch.Tensor) else got)
    ref = np.asarray(ref, dtype=np.float64)
    assert got.shape == ref.shape and np.abs(ref).max() > 0
    np.testing.assert_allclose(got, ref, rtol=rtol, atol=rtol * np.abs(ref).max())


def _pgc_gradcam(model, layer, x, target) -> np.ndarray:
    """pytorch-grad-cam's per-layer map before its ReLU and min-max scaling."""
    with GradCAM(model=model, target_layers=[model.get_submodule(layer)]) as cam:
        targets = [ClassifierOutputTarget(target)]
        cam(input_tensor=x, targets=targets)
        acts = cam.activations_and_grads.activations[0].cpu().numpy()
        grads = cam.activations_and_grads.gradients[0].cpu().numpy()
        raw = cam.get_cam_image(x, model.get_submodule(layer), targets, acts, grads, False)
    return raw[0]


def _check_gradcam(cap, ref: np.ndarray) -> None:
    """Our Grad-CAM is ReLU of pytorch-grad-cam's raw sum; the sum itself is compared too
    (so a map that happens to be all negative still tests something)."""
    _close(weighted_sum(gradcam_weights(cap.grads), cap.acts), ref)
    np.testing.assert_allclose(gradient_cam("gradcam", cap.acts, cap.grads).double().numpy(),
                               np.maximum(ref, 0), rtol=1e-5, atol=1e-5 * np.abs(ref).max())


def test_gradcam_equals_pytorch_grad_cam_on_monai_densenet_2d() -> None:
    torch.manual_seed(5)
    model = DenseNet121(spatial_dims=2, in_channels=1, out_channels=3).eval()
    x = _x((96, 96), 1)
    cap = _capture(model, x, "features.denseblock4", 2)
    assert cap.acts.shape == (1024, 3, 3)
    _check_gradcam(cap, _pgc_gradcam(model, "features.denseblock4", x, 2))


@pytest.mark.parametrize("layer", ["features.denseblock3", "features.denseblock4"])
def test_gradcam_equals_pytorch_grad_cam_on_monai_densenet_3d(dense3d, layer) -> None:
    x = _x(SIZE3, 2)
    cap = _capture(dense3d, x, layer, 1)
    assert cap.acts.ndim == 4
    ref = _pgc_gradcam(dense3d, layer, x, 1)
    _check_gradcam(cap, ref)


def test_gradcampp_layercam_and_rankings_equal_5d_references(dense3d) -> None:
    x, layer, c = _x(SIZE3, 3), "features.denseblock3", 0
    cap = _capture(dense3d, x, layer, c)
    A, G = _reference_acts_grads(dense3d, x, layer, c)
    _close(cap.acts, A)
    _close(cap.grads, G, 1e-4)
    axes = (1, 2, 3)
    g2, g3 = G ** 2, G ** 3
    denom = 2 * g2 + A.sum(axis=axes, keepdims=True) * g3 + 1e-6
    aij = np.where(G != 0, g2 / np.where(G != 0, denom, 1.0), 0.0)
    beta = (np.maximum(G, 0) * aij).sum(axis=axes)
    _close(gradient_cam("gradcam++", cap.acts, cap.grads),
           np.maximum(np.einsum("k,kdhw->dhw", beta, A), 0), 1e-4)
    _close(gradient_cam("layercam", cap.acts, cap.grads),
           np.maximum((np.maximum(G, 0) * A).sum(axis=0), 0), 1e-4)
    alpha = G.mean(axis=axes)
    refs = {"max": A.max(axis=axes), "mean": A.mean(axis=axes),
            "gradient": alpha * A.mean(axis=axes), "contribution": alpha * A.sum(axis=axes)}
    for crit, ref in refs.items():
        _close(importance(crit, cap.acts, cap.grads), ref, 1e-4)


def test_ablation_on_3d_equals_zeroing_channels_by_hand(small3d) -> None:
    x, layer, c = _x((8, 12, 12), 4), "2", 1
    info = resolve_layer(list_layers(small3d, (1, 8, 12, 12)), layer)
    tool = LayerCapture(small3d, info, x)
    cap = tool.capture(x, c)
    drops = importance("ablation", cap.acts, cap.grads, target=c,
                       logit=float(cap.logits[c]), run_suffix=lambda b: tool.run_suffix(x, b))
    with torch.no_grad():
        full = float(small3d(x)[0, c])
        for k in range(12):
            h = small3d.get_submodule(layer).register_forward_hook(
                lambda _m, _i, o, k=k: o.index_fill(1, torch.tensor([k]), 0.0))
            try:
                ref = full - float(small3d(x)[0, c])
            finally:
                h.remove()
            assert drops[k] == pytest.approx(ref, rel=1e-4, abs=1e-6)


def _scorecam_reference(model, x, A: np.ndarray, target: int, chans) -> np.ndarray:
    scores = []
    with torch.no_grad():
        for k in chans:
            up = F.interpolate(torch.from_numpy(A[k]).float()[None, None], size=x.shape[2:],
                               mode="trilinear", align_corners=True)[0, 0]
            m = (up - up.min()) / (up.max() - up.min() + 1e-8)
            scores.append(float(model(x * m)[0, target]))
    w = np.exp(np.array(scores) - max(scores))
    w /= w.sum()
    return np.maximum(np.einsum("k,kdhw->dhw", w, A[list(chans)]), 0)


def test_scorecam_3d_equals_reference(small3d) -> None:
    x = _x((8, 12, 12), 5)
    cap = _capture(small3d, x, "3", 2)
    A = cap.acts.double().numpy()
    _close(scorecam(small3d, x, cap.acts, 2, batch_size=5), _scorecam_reference(
        small3d, x, A, 2, range(12)), 1e-4)


def test_scorecam_topk_3d_on_densenet(dense3d) -> None:
    x = _x(SIZE3, 6)
    cap = _capture(dense3d, x, "features.denseblock4", 1)
    order = np.argsort(-importance("contribution", cap.acts, cap.grads), kind="stable")[:3]
    _close(scorecam(dense3d, x, cap.acts, 1, order.tolist()),
           _scorecam_reference(dense3d, x, cap.acts.double().numpy(), 1, order.tolist()), 1e-4)


def test_decomposition_is_exact_on_3d_densenet(dense3d, loaded_model) -> None:
    lm = loaded_model(dense3d, SIZE3, classes=("a", "b", "c"))
    vol = Volume(np.random.default_rng(0).normal(size=SIZE3).astype(np.float32))
    e = explain(lm, vol, target=2, methods=("cam", "gradcam"))
    assert e.layer == "class_layers.relu" and e.plan == "chain"
    assert e.slice_index is None and e.spatial_dims == 3 and e.activations.ndim == 4
    x, _ = lm.preprocess(vol.voxels, vol.spacing)
    with torch.no_grad():
        logit = float(dense3d(x)[0, 2])
    d = e.decomposition
    assert d["exact"] and d["logit"] == pytest.approx(logit, rel=1e-5, abs=1e-6)
    assert d["bias"] == pytest.approx(float(dense3d.class_layers.out.bias[2].detach()), abs=1e-6)
    assert d["sum_contributions"] + d["bias"] == pytest.approx(logit, rel=1e-5, abs=1e-5)
    w = dense3d.class_layers.out.weight[2].double().detach().numpy()
    np.testing.assert_allclose(e.importance, w * e.activations.mean(axis=(1, 2, 3)),
                               rtol=1e-4, atol=1e-7)
    cam = np.einsum("k,kdhw->dhw", w, e.activations.astype(np.float64))
    _close(e.cam_map("cam", grid="layer"), cam, 1e-4)


def test_explain_3d_anisotropic_volume_all_rankings_and_cams(small3d, loaded_model) -> None:
    lm = loaded_model(small3d, (8, 16, 16), classes=("a", "b", "c"))
    rng = np.random.default_rng(1)
    vol = Volume(rng.normal(size=(11, 30, 24)).astype(np.float32), spacing=(3.0, 0.5, 0.7))
    results = {rank: explain(lm, vol, slice_index=4, rank=rank, layer="3",
                             methods=("cam", "gradcam", "gradcam++", "layercam", "scorecam",
                                      "scorecam:4"))
               for rank in ("max", "mean", "gradient", "contribution", "ablation")}
    e = results["contribution"]
    assert e.slice_index is None and e.summary()["slice"] is None
    assert e.activations.shape == (12, 4, 8, 8)
    for key in ("cam", "gradcam", "gradcam++", "layercam", "scorecam", "scorecam:4"):
        full = e.cam_map(key)
        assert full.shape == vol.shape and full.dtype == np.float32
        # the same values to float32 precision: the one-slice and whole-volume resampling
        # may round a last bit differently (SIMD paths; seen once in a loaded full run)
        np.testing.assert_allclose(e.cam_map(key, z=7), full[7], rtol=1e-6, atol=1e-9)
    assert e.top_map.shape == e.seed_map.shape == vol.shape
    np.testing.assert_array_equal(e.channel_map(3, mode="nearest", z=2),
                                  e.channel_map(3, mode="nearest")[2])
    assert results["max"].importance.shape == (12,)
    back = pickle.loads(pickle.dumps(e))  # numpy only: crosses threads and processes
    np.testing.assert_array_equal(back.cam_map("gradcam++", z=3), e.cam_map("gradcam++", z=3))
    np.testing.assert_allclose(results["ablation"].importance,
                               results["contribution"].importance, rtol=1e-3, atol=1e-6)


def test_3d_model_refuses_a_single_slice(small3d, loaded_model) -> None:
    lm = loaded_model(small3d, (8, 16, 16), classes=("a", "b", "c"))
    with pytest.raises(InputError, match="3-D model and needs a volume of at least 2 "
                                         "slices; this series has 1"):
        explain(lm, np.zeros((40, 40), np.float32))
    with pytest.raises(InputError, match="at least 2 slices"):
        explain(lm, Volume(np.zeros((1, 40, 40), np.float32)))
