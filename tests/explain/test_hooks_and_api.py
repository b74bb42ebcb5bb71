"""explain(): no hook leaks over 1,000 calls, picklable results, inputs, errors."""

from __future__ import annotations

import gc
import pickle
import warnings

import numpy as np
import pytest
import torch
from torch import nn

from coloc_viewer.errors import InputError, ModelError
from coloc_viewer.explain.engine import explain, parse_method
from coloc_viewer.explain.layers import list_layers, resolve_layer
from coloc_viewer.imaging.volume import Volume
from coloc_viewer.model.loading import wrap_module


class Residual(nn.Module):
    """Not a chain (a skip connection in forward), so capture uses the hook plan."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 3, padding=1)
        self.conv2 = nn.Conv2d(6, 6, 3, padding=1)
        self.relu = nn.ReLU(inplace=True)
        self.fc = nn.Linear(6, 2)

    def forward(self, x):
        a = self.relu(self.conv1(x))
        b = self.relu(self.conv2(a)) + a
        return self.fc(b.mean(dim=(2, 3)))


def _hook_count(model: nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks)
               for m in model.modules())


def _rss_kb() -> int:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * 4


def _live_tensors() -> int:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sum(1 for o in gc.get_objects() if isinstance(o, torch.Tensor))


def test_thousand_calls_leak_no_hooks_and_no_memory() -> None:
    torch.manual_seed(0)
    lm = wrap_module(Residual(), in_channels=1, input_size=(16, 16))
    img = np.random.default_rng(0).normal(size=(16, 16)).astype(np.float32)

    def call(i: int):
        heavy = i % 10 == 0  # every 10th call also re-runs the suffix (ablation, Score-CAM)
        return explain(lm, img, 0, layer="conv2" if i % 2 else "relu",
                       rank="ablation" if heavy else "contribution",
                       methods=("gradcam", "scorecam:2") if heavy else ("gradcam",))

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: threads only add overhead
    try:
        assert call(1).plan == "hook"
        for i in range(50):
            call(i)
        gc.collect()
        rss0, tensors0 = _rss_kb(), _live_tensors()
        for i in range(1000):
            e = call(i)
            assert _hook_count(lm.module) == 0
        gc.collect()
    finally:
        torch.set_num_threads(threads)
    assert _live_tensors() <= tensors0
    assert _rss_kb() - rss0 < 20_000  # kB; a leak of one 16x16 map per call stays far below
    assert np.isfinite(e.importance).all()


def test_hooks_removed_when_the_forward_raises() -> None:
    class Boom(Residual):
        def forward(self, x):
            super().forward(x)
            raise RuntimeError("boom")

    model = Boom()
    info = resolve_layer(list_layers(Residual().eval(), (1, 8, 8)), "conv2")
    from coloc_viewer.explain.capture import LayerCapture

    cap = LayerCapture(model, info, torch.zeros(1, 1, 8, 8))
    with pytest.raises(ModelError, match="boom"):
        cap.capture(torch.zeros(1, 1, 8, 8))
    assert _hook_count(model) == 0 and torch.is_grad_enabled()


def test_explanation_pickles_and_holds_numpy_only(tv_model) -> None:
    lm = wrap_module(tv_model("resnet18", 1), in_channels=1, input_size=(64, 64),
                     classes=["a", "b", "c"], name="r18")
    vol = Volume(np.random.default_rng(1).normal(size=(3, 50, 70)).astype(np.float32),
                 spacing=(4.0, 0.9, 0.9))
    e = explain(lm, vol, 2, methods=("gradcam", "layercam"), top_k=5)
    back = pickle.loads(pickle.dumps(e))
    assert back.model_name == "r18" and back.slice_index == 2 and back.layer == "layer4"
    assert len(back.top_channels) == 5 and back.top_channels[0][0] == back.top_channel
    for value in vars(back).values():
        assert not isinstance(value, torch.Tensor)
    np.testing.assert_array_equal(back.top_map, e.top_map)
    assert back.top_map.shape == (50, 70) and back.cam_map("layercam").shape == (50, 70)
    assert back.channel_map(3, grid="layer").shape == e.activations.shape[1:]
    assert back.prediction["label"] in ("a", "b", "c")
    assert sum(back.prediction["probabilities"]) == pytest.approx(1.0)
    assert back.target == back.prediction["index"]  # default target = predicted class
    s = back.summary()
    assert s["top_channels"][0] == {"channel": e.top_channel, "importance": e.importance[
        e.top_channel]}
    # the same slice as a bare 2-D array (1 mm pixels) and as a 3-D array
    e2 = explain(lm, vol.voxels[2], 2, methods=())
    e3 = explain(lm, vol.voxels, 2, methods=())
    np.testing.assert_allclose(e2.activations, e3.activations)
    assert e2.slice_index == 2 and e2.transform.pixel_spacing == (1.0, 1.0)
    with pytest.raises(KeyError, match="not computed"):
        e2.cam_map("gradcam")


def test_target_by_label_and_errors(tv_model) -> None:
    lm = wrap_module(tv_model("resnet18", 1), in_channels=1, input_size=(32, 32),
                     classes=["a", "b", "c"])
    img = np.zeros((32, 32), np.float32)
    assert explain(lm, img, target="c", methods=()).target == 2
    with pytest.raises(ModelError, match="out of range"):
        explain(lm, img, target=7, methods=())
    with pytest.raises(InputError, match="unknown target"):
        explain(lm, img, target="zz", methods=())
    with pytest.raises(ModelError, match="no layer 'layer9'"):
        explain(lm, img, layer="layer9", methods=())
    with pytest.raises(InputError, match="out of range"):
        explain(lm, np.zeros((2, 32, 32)), 5, methods=())
    with pytest.raises(InputError, match="unknown ranking"):
        explain(lm, img, rank="best", methods=())
    with pytest.raises(InputError, match="unknown method"):
        explain(lm, img, methods=("gradcam+++",))


def test_parse_method() -> None:
    assert parse_method("GradCAM") == ("gradcam", None)
    assert parse_method("grad-cam++") == ("gradcam++", None)
    assert parse_method("scorecam:64") == ("scorecam", 64)
    for bad in ("gradcam:3", "scorecam:x", "scorecam:0"):
        with pytest.raises(InputError):
            parse_method(bad)


@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_torchscript_capture_is_refused_with_advice() -> None:
    traced = torch.jit.script(Residual().eval())
    lm = wrap_module(traced, in_channels=1, input_size=(8, 8), classes=["a", "b"])
    with pytest.raises(ModelError, match="TorchScript.*state_dict"):
        explain(lm, np.zeros((8, 8), np.float32), methods=())


def test_public_api_names(tv_model) -> None:
    import coloc_viewer
    import coloc_viewer.explain.engine  # binds the subpackage to the name `explain`
    from coloc_viewer.model.loading import load_model

    lm = wrap_module(tv_model("resnet18", 1), in_channels=1, input_size=(64, 64))
    e = coloc_viewer.explain(lm, np.zeros((64, 64), np.float32), 0, layer=None, target=None,
                             rank="max")
    assert type(e).__name__ == "Explanation" and e.rank == "max" and e.layer == "layer4"
    assert coloc_viewer.load_model is load_model
