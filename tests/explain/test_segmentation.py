"""Segmentation targets (Seg-Grad-CAM): the class score is the class logit summed over the
pixels predicted as that class (all pixels when there are none), compared with
pytorch-grad-cam's SemanticSegmentationTarget on a MONAI UNet."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from monai.networks.nets import UNet
from pytorch_grad_cam import GradCAM
from pytorch_grad_cam.utils.model_targets import SemanticSegmentationTarget
from torch import nn

from coloc_viewer.errors import ModelError
from coloc_viewer.explain.cams import gradcam_weights, weighted_sum
from coloc_viewer.explain.capture import LayerCapture
from coloc_viewer.explain.engine import explain
from coloc_viewer.explain.layers import list_layers, resolve_layer
from coloc_viewer.explain.scorecam import scorecam_scores
from coloc_viewer.explain.targets import SegmentationTarget
from coloc_viewer.imaging.volume import Volume

BOTTLENECK = "model.1.submodule.1"


@pytest.fixture(scope="module")
def unet() -> nn.Module:
    torch.manual_seed(11)
    model = UNet(spatial_dims=2, in_channels=1, out_channels=3, channels=(8, 16, 32),
                 strides=(2, 2), num_res_units=0).eval()
    with torch.no_grad():
        model.get_submodule("model.2.conv").bias[2] = -1e3  # class 2 is never predicted
    return model


def _x(seed: int) -> torch.Tensor:
    return torch.randn(1, 1, 64, 64, generator=torch.Generator().manual_seed(seed))


def _pgc_raw(model: nn.Module, layer: str, x: torch.Tensor, c: int) -> np.ndarray:
    with torch.no_grad():
        labels = model(x)[0].argmax(0).numpy()
    mask = (labels == c).astype(np.float32)
    if not mask.any():
        mask[:] = 1.0
    targets = [SemanticSegmentationTarget(c, mask)]
    target_layer = model.get_submodule(layer)
    with GradCAM(model=model, target_layers=[target_layer]) as cam:
        cam(input_tensor=x, targets=targets)
        acts = cam.activations_and_grads.activations[0].cpu().numpy()
        grads = cam.activations_and_grads.gradients[0].cpu().numpy()
        return cam.get_cam_image(x, target_layer, targets, acts, grads, False)[0]


@pytest.mark.parametrize("layer", [BOTTLENECK, "model.1.submodule.0"])
@pytest.mark.parametrize("c", [0, 1, 2])
def test_gradcam_equals_semantic_segmentation_target(unet, layer, c) -> None:
    x = _x(1)
    seg = SegmentationTarget()
    info = resolve_layer(list_layers(unet, (1, 64, 64)), layer)
    cap = LayerCapture(unet, info, x, reader=seg).capture(x, c)
    ref = _pgc_raw(unet, layer, x, c)
    ours = weighted_sum(gradcam_weights(cap.grads), cap.acts).double().numpy()
    assert np.abs(ref).max() > 0
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-5 * np.abs(ref).max())
    with torch.no_grad():
        out = unet(x)[0]
    labels = out.argmax(0)
    assert (labels == 2).sum() == 0  # the empty-class case is exercised by c = 2
    region = (labels == c) if (labels == c).any() else torch.ones_like(labels, dtype=bool)
    assert float(cap.logits[c]) == pytest.approx(float(out[c][region].sum()), rel=1e-5)


def test_masks_stay_fixed_for_later_batches(unet) -> None:
    """Score-CAM's masked inputs are scored over the explained input's predicted pixels."""
    x = _x(2)
    seg = SegmentationTarget()
    info = resolve_layer(list_layers(unet, (1, 64, 64)), BOTTLENECK)
    cap = LayerCapture(unet, info, x, reader=seg).capture(x, 1)
    chans, scores = scorecam_scores(unet, x, cap.acts, 1, [0, 5, 7], reader=seg)
    region = (seg.labels == 1).float()
    with torch.no_grad():
        for k, s in zip(chans.tolist(), scores.tolist()):
            up = F.interpolate(cap.acts[k][None, None], size=(64, 64), mode="bilinear",
                               align_corners=True)[0, 0]
            m = (up - up.min()) / (up.max() - up.min() + 1e-8)
            ref = float((unet(x * m)[0, 1] * region).sum())
            assert s == pytest.approx(ref, rel=1e-4, abs=1e-4)


def test_explain_segmentation_reports_mask_and_pixel_shares(unet, loaded_model) -> None:
    lm = loaded_model(unet, (64, 64), classes=("background", "gland", "lesion"),
                      task="segmentation")
    rng = np.random.default_rng(3)
    vol = Volume(rng.normal(size=(3, 50, 40)).astype(np.float32), spacing=(3.0, 0.8, 1.0))
    e = explain(lm, vol, slice_index=1, methods=("gradcam", "scorecam:4"))
    assert e.task == "segmentation" and e.layer == BOTTLENECK
    shares = e.prediction["pixel_shares"]
    assert "probabilities" not in e.prediction and sum(shares) == pytest.approx(1.0)
    mask = e.predicted_mask()
    assert mask.shape == (50, 40) and mask.dtype == np.int16
    np.testing.assert_allclose(shares, np.bincount(mask.ravel(), minlength=3) / mask.size)
    assert e.output_mask.shape == (64, 64)
    fg = np.bincount(e.output_mask.ravel(), minlength=3)[1:]
    expected = int(np.argmax(fg)) + 1 if fg.max() > 0 else 0
    assert e.target == e.prediction["index"] == expected
    assert e.cam_map("gradcam").shape == (50, 40)


def test_classifier_output_with_segmentation_card_is_one_sentence(loaded_model) -> None:
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                          nn.Flatten(), nn.Linear(4, 2))
    lm = loaded_model(model, (32, 32), task="segmentation")
    with pytest.raises(ModelError, match=r"must output \[N, C, \(D,\) H, W\]"):
        explain(lm, np.zeros((32, 32), np.float32))


def test_3d_segmentation_keeps_the_mask_on_the_volume_grid(loaded_model) -> None:
    torch.manual_seed(12)
    net = UNet(spatial_dims=3, in_channels=1, out_channels=2, channels=(4, 8), strides=(2,),
               num_res_units=0)
    lm = loaded_model(net, (8, 16, 16), classes=("background", "lesion"), task="segmentation")
    vol = Volume(np.random.default_rng(4).normal(size=(6, 20, 18)).astype(np.float32),
                 spacing=(3.0, 0.9, 1.0))
    e = explain(lm, vol, methods=("gradcam", "layercam"))
    assert e.slice_index is None and e.spatial_dims == 3 and e.output_mask.shape == (8, 16, 16)
    mask = e.predicted_mask()
    assert mask.shape == vol.shape
    np.testing.assert_array_equal(e.predicted_mask(z=4), mask[4])
    np.testing.assert_allclose(e.prediction["pixel_shares"],
                               np.bincount(mask.ravel(), minlength=2) / mask.size)
    x, _ = lm.preprocess(vol.voxels, vol.spacing)
    with torch.no_grad():
        out = net(x)[0]
    labels = out.argmax(0)
    c = e.target
    region = (labels == c) if (labels == c).any() else torch.ones_like(labels, dtype=bool)
    assert e.decomposition["logit"] == pytest.approx(float(out[c][region].sum()), rel=1e-5)


@pytest.fixture(scope="module")
def sigmoid_unet() -> nn.Module:
    torch.manual_seed(13)
    return UNet(spatial_dims=2, in_channels=1, out_channels=1, channels=(8, 16, 32),
                strides=(2, 2), num_res_units=0).eval()


def test_single_channel_target_is_the_logit_over_positive_pixels(sigmoid_unet) -> None:
    """C == 1 (sigmoid): the class is predicted where the logit is > 0, and its score is
    the logit summed there -- equal to SemanticSegmentationTarget with that mask."""
    x = _x(4)
    with torch.no_grad():
        logit = sigmoid_unet(x)[0, 0]
    positive = logit > 0
    assert 0 < int(positive.sum()) < positive.numel()  # both sides exist: the rule matters
    seg = SegmentationTarget()
    info = resolve_layer(list_layers(sigmoid_unet, (1, 64, 64)), BOTTLENECK)
    cap = LayerCapture(sigmoid_unet, info, x, reader=seg).capture(x, None, seg.default_class)
    assert cap.target == 0 and seg.default_class() == 0
    assert float(cap.logits[0]) == pytest.approx(float(logit[positive].sum()), rel=1e-5)
    assert float(cap.logits[0]) != pytest.approx(float(logit.sum()), rel=1e-3)
    np.testing.assert_array_equal(seg.label_map(), positive.numpy().astype(np.int16))
    mask = positive.numpy().astype(np.float32)
    targets = [SemanticSegmentationTarget(0, mask)]
    layer = sigmoid_unet.get_submodule(BOTTLENECK)
    with GradCAM(model=sigmoid_unet, target_layers=[layer]) as cam:
        cam(input_tensor=x, targets=targets)
        acts = cam.activations_and_grads.activations[0].cpu().numpy()
        grads = cam.activations_and_grads.gradients[0].cpu().numpy()
        ref = cam.get_cam_image(x, layer, targets, acts, grads, False)[0]
    ours = weighted_sum(gradcam_weights(cap.grads), cap.acts).double().numpy()
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-5 * np.abs(ref).max())


def test_single_channel_with_no_positive_pixel_uses_every_pixel(sigmoid_unet) -> None:
    net = UNet(spatial_dims=2, in_channels=1, out_channels=1, channels=(8, 16),
               strides=(2,), num_res_units=0).eval()
    with torch.no_grad():
        net.get_submodule("model.2.conv").bias[0] = -1e3  # never positive
    x = _x(5)
    seg = SegmentationTarget()
    info = resolve_layer(list_layers(net, (1, 64, 64)), None, deepest=True)
    cap = LayerCapture(net, info, x, reader=seg).capture(x, 0)
    with torch.no_grad():
        logit = net(x)[0, 0]
    assert not (logit > 0).any()
    assert float(cap.logits[0]) == pytest.approx(float(logit.sum()), rel=1e-5)
    assert not seg.label_map().any()


def test_explain_single_channel_segmentation_shares_and_mask(sigmoid_unet, loaded_model):
    lm = loaded_model(sigmoid_unet, (64, 64), classes=("lesion",), task="segmentation")
    vol = Volume(np.random.default_rng(6).normal(size=(2, 64, 64)).astype(np.float32))
    e = explain(lm, vol, slice_index=0)
    x, _ = lm.preprocess(vol.voxels[0], vol.spacing[1:])
    with torch.no_grad():
        positive = (sigmoid_unet(x)[0, 0] > 0).numpy()
    np.testing.assert_array_equal(e.output_mask, positive.astype(np.int16))
    assert e.prediction["index"] == 0 and e.prediction["label"] == "lesion"
    assert e.prediction["pixel_shares"] == pytest.approx([positive.mean()])
