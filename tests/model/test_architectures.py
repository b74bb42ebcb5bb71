"""build_torchvision: the adaptation convention the demo models are trained with."""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn

from coloc_viewer.model.architectures import build_torchvision


def _first_conv(model: nn.Module) -> tuple[str, nn.Conv2d]:
    return next((n, m) for n, m in model.named_modules() if isinstance(m, nn.Conv2d))


@pytest.mark.parametrize("arch", ["resnet18", "densenet121", "efficientnet_b0"])
def test_first_conv_replaced_with_same_settings(arch: str) -> None:
    ref = torchvision.models.get_model(arch, weights=None, num_classes=3)
    got = build_torchvision(arch, 3, in_channels=1)
    (ref_name, ref_conv), (name, conv) = _first_conv(ref), _first_conv(got)
    assert name == ref_name
    assert conv.in_channels == 1 and ref_conv.in_channels == 3
    for attr in ("out_channels", "kernel_size", "stride", "padding", "dilation", "groups",
                 "padding_mode"):
        assert getattr(conv, attr) == getattr(ref_conv, attr)
    assert (conv.bias is None) == (ref_conv.bias is None)
    # everything else has the same parameter shapes as the unmodified architecture
    ref_shapes = {k: v.shape for k, v in ref.state_dict().items()}
    got_shapes = {k: v.shape for k, v in got.state_dict().items()}
    assert ref_shapes.keys() == got_shapes.keys()
    diff = [k for k in ref_shapes if ref_shapes[k] != got_shapes[k]]
    assert diff == [f"{name}.weight"]
    with torch.no_grad():
        assert got.eval()(torch.zeros(1, 1, 64, 64)).shape == (1, 3)


def test_three_channels_is_torchvision_unchanged() -> None:
    torch.manual_seed(1)
    a = build_torchvision("resnet18", 4, 3)
    torch.manual_seed(1)
    b = torchvision.models.resnet18(weights=None, num_classes=4)
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb and torch.equal(va, vb)


def test_unknown_architecture() -> None:
    with pytest.raises(ValueError, match="unknown torchvision"):
        build_torchvision("resnet9000", 2, 1)
