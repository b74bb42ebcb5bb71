"""Raw CAMs equal the independent implementations (pytorch-grad-cam, captum, torchcam)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from captum.attr import LayerGradCam
from pytorch_grad_cam import GradCAM, GradCAMPlusPlus, LayerCAM, ScoreCAM
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
from torch import nn
from torchcam.methods import GradCAM as TorchcamGradCAM

from coloc_viewer.explain.cams import gradient_cam
from coloc_viewer.explain.capture import LayerCapture
from coloc_viewer.explain.layers import list_layers, resolve_layer
from coloc_viewer.explain.scorecam import scorecam

# densenet: denseblock4 (its output is not changed in place afterwards; the libraries keep
# the activation tensor by reference, and densenet's forward applies an in-place ReLU after
# `features`, which would silently alter their copy).
LAYERS = {"resnet18": "layer4", "densenet121": "features.denseblock4"}
SIZE = 96


def _ours(model: nn.Module, x: torch.Tensor, layer: str, target: int):
    info = resolve_layer(list_layers(model, tuple(x.shape[1:])), layer)
    return LayerCapture(model, info, x).capture(x, target)


def _pgc_raw(cls, model, layer_name, x, target):
    """pytorch-grad-cam's raw per-layer map: get_cam_image (+ its ReLU), no min-max."""
    layer = model.get_submodule(layer_name)
    targets = [ClassifierOutputTarget(target)]
    with cls(model=model, target_layers=[layer]) as cam:
        cam(input_tensor=x, targets=targets)
        acts = cam.activations_and_grads.activations[0].cpu().numpy()
        grads = (cam.activations_and_grads.gradients[0].cpu().numpy()
                 if cam.activations_and_grads.gradients else None)
        raw = cam.get_cam_image(x, layer, targets, acts, grads, False)
    return np.maximum(raw, 0)[0]


def _close(ours: torch.Tensor, ref) -> None:
    ref = np.asarray(ref, dtype=np.float64)
    got = ours.detach().double().numpy()
    assert got.shape == ref.shape
    assert ref.max() > 0  # a non-trivial map
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5 * np.abs(ref).max())


@pytest.mark.parametrize("arch", ["resnet18", "densenet121"])
@pytest.mark.parametrize("in_channels", [1, 3])
def test_gradcam_equals_three_libraries(tv_model, arch: str, in_channels: int) -> None:
    model = tv_model(arch, in_channels)
    x = torch.randn(1, in_channels, SIZE, SIZE, generator=torch.Generator().manual_seed(1))
    target = 2
    cap = _ours(model, x, LAYERS[arch], target)
    ours = gradient_cam("gradcam", cap.acts, cap.grads)

    _close(ours, _pgc_raw(GradCAM, model, LAYERS[arch], x, target))

    layer = model.get_submodule(LAYERS[arch])
    captum_map = LayerGradCam(model, layer).attribute(x, target=target, relu_attributions=True)
    _close(ours, captum_map[0, 0].detach().numpy())

    with TorchcamGradCAM(model, target_layer=LAYERS[arch],
                         input_shape=(in_channels, SIZE, SIZE)) as extractor:
        out = model(x)
        tc = extractor(target, out, normalized=False)[0]
    _close(ours, tc[0].detach().numpy())


@pytest.mark.parametrize("method, cls", [("gradcam++", GradCAMPlusPlus),
                                         ("layercam", LayerCAM)])
@pytest.mark.parametrize("arch", ["resnet18", "densenet121"])
def test_gradcampp_and_layercam_equal_pytorch_grad_cam(tv_model, method, cls, arch) -> None:
    model = tv_model(arch, 1)
    x = torch.randn(1, 1, SIZE, SIZE, generator=torch.Generator().manual_seed(2))
    cap = _ours(model, x, LAYERS[arch], 0)
    _close(gradient_cam(method, cap.acts, cap.grads),
           _pgc_raw(cls, model, LAYERS[arch], x, 0))


class SmallNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(),
                                      nn.Conv2d(8, 12, 3, stride=2, padding=1), nn.ReLU())
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(12, 3)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.features(x)), 1))


def test_scorecam_equals_pytorch_grad_cam() -> None:
    torch.manual_seed(3)
    model = SmallNet().eval()
    x = torch.randn(1, 1, 24, 20, generator=torch.Generator().manual_seed(4))
    target = 1
    cap = _ours(model, x, "features", target)
    ours = scorecam(model, x, cap.acts, target, batch_size=5)
    with ScoreCAM(model=model, target_layers=[model.features]) as cam:
        cam.batch_size = 16
        cam(input_tensor=x, targets=[ClassifierOutputTarget(target)])
        acts = cam.activations_and_grads.activations[0].cpu().numpy()
        ref = cam.get_cam_image(x, model.features, [ClassifierOutputTarget(target)], acts,
                                None, False)
    _close(ours, np.maximum(ref, 0)[0])


def test_scorecam_top_k_is_softmax_over_those_channels() -> None:
    torch.manual_seed(5)
    model = SmallNet().eval()
    x = torch.randn(1, 1, 16, 16, generator=torch.Generator().manual_seed(6))
    cap = _ours(model, x, "features", 0)
    full = scorecam(model, x, cap.acts, 0)
    _close(scorecam(model, x, cap.acts, 0, channels=range(12), batch_size=4), full.numpy())
    chans = [7, 2, 9]
    # by hand: mask each channel's map, score it, softmax over the three scores
    scores = []
    for k in chans:
        up = torch.nn.functional.interpolate(cap.acts[k][None, None], size=x.shape[-2:],
                                             mode="bilinear", align_corners=True)[0, 0]
        mask = (up - up.min()) / (up.max() - up.min() + 1e-8)
        with torch.no_grad():
            scores.append(float(model(x * mask)[0, 0]))
    w = torch.softmax(torch.tensor(scores), 0)
    manual = torch.relu(sum(w[i] * cap.acts[k] for i, k in enumerate(chans)))
    _close(scorecam(model, x, cap.acts, 0, channels=chans), manual.numpy())
