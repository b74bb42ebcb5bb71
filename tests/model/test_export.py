"""``"architecture": "export"`` cards: a torch.export program (.pt2) loads as a module tree
whose named submodules run forward hooks, and whose activations and input gradients equal
the original eager module's."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from model_cards_helper import analyze_json, write_card
from pt2_helper import SkipNet, export_pt2

import coloc_viewer
from coloc_viewer.errors import ModelError


def _capture(module: torch.nn.Module, layer: str, x: torch.Tensor, target: int
             ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(activations of ``layer``, d logit_target / d input, logits) with a forward hook."""
    seen: list[torch.Tensor] = []
    handle = dict(module.named_modules())[layer].register_forward_hook(
        lambda _m, _i, out: seen.append(out.detach().clone()))
    try:
        x = x.clone().requires_grad_(True)
        logits = module(x)
        logits[:, target].sum().backward()
    finally:
        handle.remove()
    assert len(seen) == 1
    return seen[0], x.grad, logits.detach()


def _check_equal(loaded: torch.nn.Module, eager: torch.nn.Module, layer: str,
                 x: torch.Tensor) -> None:
    a1, g1, y1 = _capture(loaded, layer, x, 1)
    a2, g2, y2 = _capture(eager.eval(), layer, x, 1)
    assert a1.shape == a2.shape and a1.abs().max() > 0 and g2.abs().max() > 0
    torch.testing.assert_close(a1, a2, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(g1, g2, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(y1, y2, rtol=1e-5, atol=1e-5)


@pytest.fixture(scope="module")
def skip_export(tmp_path_factory) -> tuple[Path, torch.nn.Module]:
    torch.manual_seed(0)
    net = SkipNet().eval()
    with torch.no_grad():  # non-trivial batch-norm statistics
        net.block[1].running_mean.uniform_(-0.5, 0.5)
        net.block[1].running_var.uniform_(0.5, 2.0)
    folder = tmp_path_factory.mktemp("skip")
    export_pt2(net, torch.randn(2, 1, 64, 64), folder / "skip.pt2")
    return write_card(folder, "skip", architecture="export", weights="skip.pt2",
                      target_layer="block", normalization={"mode": "zscore"}), net


def test_custom_skip_module_matches_eager(skip_export) -> None:
    card, net = skip_export
    lm = coloc_viewer.load_model(card)
    assert lm.card.is_export and not lm.module.training
    names = dict(lm.module.named_modules())
    assert {"stem", "block", "block.0", "block.1", "head"} <= names.keys()
    # submodules run FX-generated code, not torch.fx.Interpreter node by node (speed)
    assert not any(getattr(m, "_run_with_interpreter", False) for m in names.values())
    x = torch.randn(3, 1, 64, 64, generator=torch.Generator().manual_seed(5))
    _check_equal(lm.module, net, "block", x)
    _check_equal(lm.module, net, "stem", x[:1])


def test_export_card_analyze_cli(skip_export, tmp_path: Path, capsys) -> None:
    card, _ = skip_export
    res = analyze_json(tmp_path, card, capsys)
    assert res["model"] == "skip" and res["layer"] == "block" and res["slice"] == 1
    assert len(res["top_channels"]) == 8 and "cam" in res["scores"]


def test_static_batch_and_mismatched_cards_refused(tmp_path: Path) -> None:
    torch.manual_seed(0)
    export_pt2(SkipNet(), torch.randn(1, 1, 64, 64), tmp_path / "static.pt2",
               dynamic_batch=False)
    with pytest.raises(ModelError, match="fixed batch size.*dynamic_shapes"):
        coloc_viewer.load_model(write_card(tmp_path, "s", architecture="export",
                                           weights="static.pt2"))
    export_pt2(SkipNet(), torch.randn(2, 1, 64, 64), tmp_path / "dyn.pt2")
    for fields, needle in (({"input_size": [32, 32]}, r"takes input \['N', 1, 64, 64\]"),
                           ({"in_channels": 3, "normalization": {"mode": "zscore"}},
                            "in_channels, input_size"),
                           ({"classes": ["a", "b", "c"]}, "gives 2 outputs per row")):
        with pytest.raises(ModelError, match=needle):
            coloc_viewer.load_model(write_card(tmp_path, "m", architecture="export",
                                               weights="dyn.pt2", **fields))
    (tmp_path / "w.safetensors").write_bytes(b"")
    with pytest.raises(ModelError, match=r"needs a \.pt2 file"):
        coloc_viewer.load_model(write_card(tmp_path, "w", architecture="export",
                                           weights="w.safetensors"))
    with pytest.raises(ModelError, match="not a state dict"):
        coloc_viewer.load_model(write_card(tmp_path, "t", weights="dyn.pt2"))


@pytest.mark.slow
@pytest.mark.parametrize("dims, size, layer", [
    (2, (64, 64), "features.denseblock3"), (3, (32, 32, 32), "features.denseblock2")])
def test_monai_densenet121_export_matches_eager(tmp_path: Path, dims: int, size: tuple,
                                                layer: str) -> None:
    """torch.export of a MONAI DenseNet121 works in torch 2.14.1 (strict=False)."""
    from monai.networks.nets import DenseNet121

    torch.manual_seed(0)
    net = DenseNet121(spatial_dims=dims, in_channels=1, out_channels=2).eval()
    export_pt2(net, torch.randn(2, 1, *size), tmp_path / "dn.pt2")
    card = write_card(tmp_path, "dn", architecture="export", weights="dn.pt2",
                      spatial_dims=dims, input_size=list(size), target_layer=layer)
    lm = coloc_viewer.load_model(card)
    _check_equal(lm.module, net, layer, torch.randn(2, 1, *size))


def test_torchvision_resnet_with_shared_relu_runs_and_explains_like_eager(tmp_path: Path
                                                                           ) -> None:
    """ResNet calls one ``relu`` module several times per block: torch's fast unflatten
    path cannot run that (``getattr(self, "relu@1")``), so the loader falls back to the
    interpreter. Logits, layer activations, gradients and Grad-CAM equal the eager card's."""
    from safetensors.torch import save_file

    from coloc_viewer.model.architectures import build_torchvision

    torch.manual_seed(0)
    net = build_torchvision("resnet18", 2, 1).eval()
    export_pt2(net, torch.randn(2, 1, 64, 64), tmp_path / "r18.pt2")
    save_file({k: v.contiguous() for k, v in net.state_dict().items()},
              str(tmp_path / "r18.safetensors"))
    exported = write_card(tmp_path, "r18x", architecture="export", weights="r18.pt2",
                          target_layer="layer3")
    eager = write_card(tmp_path, "r18e", architecture="resnet18", weights="r18.safetensors",
                       target_layer="layer3")
    lm = coloc_viewer.load_model(exported)
    for layer in ("layer3", "layer4.1"):
        _check_equal(lm.module, net, layer, torch.randn(2, 1, 64, 64))
    image = np.random.default_rng(0).normal(100, 20, (64, 64)).astype(np.float32)
    a = coloc_viewer.explain(lm, image, layer="layer3")
    b = coloc_viewer.explain(coloc_viewer.load_model(eager), image, layer="layer3")
    np.testing.assert_allclose(a.cam_map("gradcam"), b.cam_map("gradcam"), rtol=1e-4,
                               atol=1e-6)
    assert list(a.order[:10]) == list(b.order[:10])
