"""Cards naming MONAI and timm networks load with their safetensors weights and compute
exactly what the original module computes; bad names and inconsistent cards are refused."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from model_cards_helper import analyze_json, write_card
from safetensors.torch import save_file

import coloc_viewer
from coloc_viewer.errors import ModelError
from coloc_viewer.model.architectures import build_architecture, monai_class


def _save(module: torch.nn.Module, folder: Path, name: str) -> str:
    save_file({k: v.contiguous() for k, v in module.state_dict().items()},
              str(folder / f"{name}.safetensors"))
    return f"{name}.safetensors"


def _same_outputs(a: torch.nn.Module, b: torch.nn.Module, x: torch.Tensor) -> None:
    with torch.no_grad():
        ya, yb = a.eval()(x), b.eval()(x)
    assert ya.shape == yb.shape
    torch.testing.assert_close(ya, yb, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dims, size", [(2, [64, 64]), (3, [32, 32, 32])])
def test_monai_densenet121_card(tmp_path: Path, dims: int, size: list[int]) -> None:
    from monai.networks.nets import DenseNet121

    torch.manual_seed(0)
    ref = DenseNet121(spatial_dims=dims, in_channels=1, out_channels=2).eval()
    w = _save(ref, tmp_path, "dn")
    card = write_card(tmp_path, "dn", architecture="monai:DenseNet121", weights=w,
                      architecture_args={"spatial_dims": dims, "in_channels": 1,
                                         "out_channels": 2},
                      spatial_dims=dims, input_size=size, target_layer="features.denseblock3")
    lm = coloc_viewer.load_model(card)  # the public API
    assert type(lm.module) is DenseNet121 and lm.card.input_size == tuple(size)
    assert dict(lm.module.named_modules())["features.denseblock3"] is not None
    x = torch.randn(2, 1, *size, generator=torch.Generator().manual_seed(1))
    _same_outputs(lm.module, ref, x)


def test_timm_efficientnet_b0_one_channel(tmp_path: Path) -> None:
    import timm

    torch.manual_seed(0)
    ref = timm.create_model("efficientnet_b0", pretrained=False, num_classes=2, in_chans=1)
    card = write_card(tmp_path, "eff", architecture="timm:efficientnet_b0",
                      weights=_save(ref, tmp_path, "eff"), target_layer="blocks.5")
    lm = coloc_viewer.load_model(card)
    assert lm.module.conv_stem.in_channels == 1 and lm.module.classifier.out_features == 2
    _same_outputs(lm.module, ref, torch.randn(2, 1, 64, 64))


def test_timm_args_override_card_defaults() -> None:
    m = build_architecture("timm:resnet18", 2, 1, {"num_classes": 5, "drop_rate": 0.1})
    assert m.fc.out_features == 5 and m.conv1.in_channels == 1


def test_torchvision_prefix_equals_bare_name() -> None:
    torch.manual_seed(3)
    a = build_architecture("torchvision:resnet18", 2, 1)
    torch.manual_seed(3)
    b = build_architecture("resnet18", 2, 1)
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb and torch.equal(va, vb)


@pytest.mark.parametrize("arch, needle", [
    ("timm:not_a_model", "unknown timm"), ("monai:NotANet", "unknown monai"),
    ("monai:get_pretrained_resnet_medicalnet", "not an nn.Module class"),
    ("monai:MedNeXtS", "not an nn.Module class"),  # a factory function, not a class
    ("torchvision:resnet9000", "unknown torchvision")])
def test_unknown_names_refused(tmp_path: Path, arch: str, needle: str) -> None:
    card = write_card(tmp_path, "u", architecture=arch, weights="u.safetensors")
    (tmp_path / "u.safetensors").write_bytes(b"")
    with pytest.raises(ModelError, match=needle):
        coloc_viewer.load_model(card)


def test_monai_lookup_never_leaves_the_module(monkeypatch) -> None:
    import monai.networks.nets as nets

    assert monai_class("DenseNet121") is nets.DenseNet121
    for name in ("os", "torch", "nn", "annotations", "__builtins__", "_private"):
        with pytest.raises(ValueError):
            monai_class(name)


@pytest.mark.parametrize("args, card_fields, needle", [
    ({"spatial_dims": 2, "in_channels": 3, "out_channels": 2}, {},
     r"in_channels=3 does not match the card \(in_channels = 1\)"),
    ({"spatial_dims": 2, "in_channels": 1, "out_channels": 4}, {}, r"len\(classes\) = 2"),
    ({"spatial_dims": 3, "in_channels": 1, "out_channels": 2}, {}, "spatial_dims"),
    ({"spatial_dims": 2, "in_channels": 1, "out_channels": 2}, {"input_size": [16, 16]},
     r"cannot run on in_channels=1 at input_size \[16, 16\]"),
    ({"spatial_dims": 2, "in_channels": 1, "out_channels": 3}, {"classes": ["a", "b", "c"],
                                                                "task": "segmentation"},
     r"gives output \[1, 3\] for a segmentation card"),
    ({"spatial_dims": 2, "in_channels": 1, "out_channels": 2, "no_such_arg": 1}, {},
     "rejects architecture_args"),
])
def test_monai_card_inconsistent_with_args(tmp_path: Path, args: dict, card_fields: dict,
                                           needle: str) -> None:
    (tmp_path / "x.safetensors").write_bytes(b"")
    card = write_card(tmp_path, "x", architecture="monai:DenseNet121", weights="x.safetensors",
                      architecture_args=args, **card_fields)
    with pytest.raises(ModelError, match=needle) as info:
        coloc_viewer.load_model(card)
    assert "x.json" in str(info.value) and "\n" not in str(info.value)


def test_monai_unet_segmentation_card(tmp_path: Path) -> None:
    from monai.networks.nets import UNet

    args = {"spatial_dims": 2, "in_channels": 1, "out_channels": 2, "channels": [4, 8, 16],
            "strides": [2, 2]}
    torch.manual_seed(0)
    ref = UNet(**args).eval()
    card = write_card(tmp_path, "seg", architecture="monai:UNet", task="segmentation",
                      architecture_args=args, weights=_save(ref, tmp_path, "seg"))
    lm = coloc_viewer.load_model(card)
    assert lm.card.task == "segmentation"
    _same_outputs(lm.module, ref, torch.randn(1, 1, 64, 64))
    bad = write_card(tmp_path, "seg3", architecture="monai:UNet", task="segmentation",
                     architecture_args=args, weights="seg.safetensors", classes=["a", "b", "c"])
    with pytest.raises(ModelError, match=r"out_channels=2 does not match .*len\(classes\) = 3"):
        coloc_viewer.load_model(bad)


def test_3d_input_too_small_for_the_network(tmp_path: Path) -> None:
    (tmp_path / "s.safetensors").write_bytes(b"")
    card = write_card(tmp_path, "s", architecture="monai:DenseNet121", weights="s.safetensors",
                      architecture_args={"spatial_dims": 3, "in_channels": 1,
                                         "out_channels": 2},
                      spatial_dims=3, input_size=[16, 32, 32])
    with pytest.raises(ModelError, match="smaller than kernel size"):
        coloc_viewer.load_model(card)


def test_torchvision_args_override_num_classes() -> None:
    assert build_architecture("resnet18", 2, 1, {"num_classes": 7}).fc.out_features == 7


@pytest.mark.parametrize("arch, args, layer", [
    ("timm:efficientnet_b0", {}, "blocks.5"),
    ("monai:DenseNet121", {"spatial_dims": 2, "in_channels": 1, "out_channels": 2},
     "features.denseblock3")])
def test_analyze_cli_with_timm_and_monai_cards(tmp_path: Path, capsys, arch: str, args: dict,
                                               layer: str) -> None:
    torch.manual_seed(0)
    ref = build_architecture(arch, 2, 1, args)
    card = write_card(tmp_path, "m", architecture=arch, architecture_args=args,
                      weights=_save(ref, tmp_path, "m"), target_layer=layer)
    res = analyze_json(tmp_path, card, capsys)
    assert res["layer"] == layer and len(res["prediction"]["probabilities"]) == 2
    assert res["top_channels"] and res["scores"]["cam"]
