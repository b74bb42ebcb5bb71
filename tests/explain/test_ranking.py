"""The five rankings: the original `max` method, exact decomposition, ablation by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torchvision.models.feature_extraction import create_feature_extractor

from coloc_viewer.explain.capture import LayerCapture
from coloc_viewer.explain.engine import explain
from coloc_viewer.explain.layers import list_layers, resolve_layer
from coloc_viewer.explain.ranking import importance
from coloc_viewer.model.loading import wrap_module

FIXED = {"mode": "fixed", "mean": [0.0], "std": [1.0]}


def _slice(h: int, w: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(h, w)).astype(np.float32)


def test_max_on_resnet50_512_reproduces_the_original_method(tv_model) -> None:
    model = tv_model("resnet50", 3)
    img = _slice(512, 512, 0)
    e = explain(wrap_module(model, in_channels=3, input_size=(512, 512), normalization=FIXED),
                img, 0, rank="max", methods=())
    assert e.transform.is_identity and e.layer == "layer4"
    assert e.activations.shape == (2048, 16, 16)
    # the original method, computed independently with torchvision's feature extractor
    extractor = create_feature_extractor(model, {"layer4": "feat"})
    x = torch.from_numpy(img)[None, None].repeat(1, 3, 1, 1)
    with torch.no_grad():
        feat = extractor(x)["feat"][0]
    per_channel_max = feat.amax(dim=(1, 2)).double().numpy()
    assert e.top_channel == int(np.argmax(per_channel_max))
    np.testing.assert_allclose(e.importance, per_channel_max, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(e.activations, feat.numpy(), rtol=1e-5, atol=1e-5)
    assert [c for c, _ in e.top_channels] == list(np.argsort(-per_channel_max,
                                                             kind="stable")[:10])


@pytest.mark.parametrize("arch", ["resnet18", "resnet50"])
def test_contributions_decompose_the_logit(tv_model, arch: str) -> None:
    model = tv_model(arch, 1)
    img = _slice(80, 96, 1)
    lm = wrap_module(model, in_channels=1, input_size=(96, 96), normalization=FIXED)
    e = explain(lm, img, 0, rank="contribution", target=1, methods=("cam", "gradcam"))
    x, _ = lm.preprocess(img)
    with torch.no_grad():
        logit = float(model(x)[0, 1])
    d = e.decomposition
    assert d["exact"] and abs(d["residual"]) < 1e-5 * max(1.0, abs(logit))
    assert d["logit"] == pytest.approx(logit, rel=1e-5, abs=1e-6)
    assert d["bias"] == pytest.approx(float(model.fc.bias[1].detach()), abs=1e-6)
    assert d["sum_contributions"] + d["bias"] == pytest.approx(logit, rel=1e-5, abs=1e-5)
    # IM_k = W_ck * mean(A_k) for the GAP + linear head, from the fc weights directly
    by_hand = model.fc.weight[1].double().detach().numpy() * e.activations.mean(axis=(1, 2))
    np.testing.assert_allclose(e.importance, by_hand, rtol=1e-4, atol=1e-7)
    # CAM with the fc weights, and Grad-CAM is its ReLU divided by h*w
    h, w = e.activations.shape[1:]
    cam = np.einsum("c,chw->hw", model.fc.weight[1].detach().numpy(), e.activations)
    np.testing.assert_allclose(e.cams["cam"], cam, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(e.cams["gradcam"], np.maximum(cam, 0) / (h * w), rtol=1e-4,
                               atol=1e-6)


def _drop_by_hand(model, x, layer: str, channel: int, target: int) -> float:
    def zero(_m, _i, out):
        out = out.clone()
        out[:, channel] = 0
        return out

    with torch.no_grad():
        full = float(model(x)[0, target])
        handle = model.get_submodule(layer).register_forward_hook(zero)
        try:
            ablated = float(model(x)[0, target])
        finally:
            handle.remove()
    return full - ablated


@pytest.mark.parametrize("arch, layer", [("resnet18", "layer4"),
                                         ("densenet121", "features.denseblock4"),
                                         ("resnet18", "layer3.1.conv2")])
def test_ablation_equals_zeroing_by_hand(tv_model, arch: str, layer: str) -> None:
    model = tv_model(arch, 1)
    img = _slice(64, 64, 2)
    lm = wrap_module(model, in_channels=1, input_size=(64, 64), normalization=FIXED)
    e = explain(lm, img, 0, layer=layer, rank="ablation", target=0, methods=())
    x, _ = lm.preprocess(img)
    for k in (int(e.order[0]), int(e.order[len(e.order) // 2]), int(e.order[-1])):
        assert e.importance[k] == pytest.approx(_drop_by_hand(model, x, layer, k, 0),
                                                rel=1e-4, abs=1e-5)


@pytest.mark.parametrize("layer", ["layer4", "layer3"])
def test_chain_and_hook_plans_agree(tv_model, layer: str) -> None:
    model = tv_model("resnet18", 1)
    x = torch.randn(1, 1, 64, 64, generator=torch.Generator().manual_seed(4))
    info = resolve_layer(list_layers(model, (1, 64, 64)), layer)
    chain = LayerCapture(model, info, x)
    hook = LayerCapture(model, info, x)
    hook.plan = None
    assert chain.plan_name == "chain" and hook.plan_name == "hook"
    a, b = chain.capture(x, 1), hook.capture(x, 1)
    for name in ("acts", "grads", "logits", "zero_logits"):
        torch.testing.assert_close(getattr(a, name), getattr(b, name), rtol=1e-5, atol=1e-6)
    batch = a.acts[None].repeat(3, 1, 1, 1)
    batch[1] *= 0.5
    torch.testing.assert_close(chain.run_suffix(x, batch), hook.run_suffix(x, batch),
                               rtol=1e-5, atol=1e-6)


def test_max_mean_gradient_by_definition() -> None:
    g = torch.Generator().manual_seed(5)
    acts, grads = torch.randn(6, 4, 5, generator=g), torch.randn(6, 4, 5, generator=g)
    a, gr = acts.double().numpy(), grads.double().numpy()
    np.testing.assert_allclose(importance("max", acts, grads), a.max(axis=(1, 2)), rtol=1e-6)
    np.testing.assert_allclose(importance("mean", acts, grads), a.mean(axis=(1, 2)),
                               rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(importance("gradient", acts, grads),
                               gr.mean(axis=(1, 2)) * a.mean(axis=(1, 2)), rtol=1e-4,
                               atol=1e-7)
    np.testing.assert_allclose(importance("contribution", acts, grads),
                               (gr.mean(axis=(1, 2))[:, None, None] * a).sum(axis=(1, 2)),
                               rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError, match="unknown ranking"):
        importance("median", acts, grads)
