"""The organ ROI's "outside" on lesion-free slices, and the training options (flip,
adapting BatchNorm, weight decay): recorded in the card, repeatable bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from coloc_viewer.cohort.manifest import read_manifest
from coloc_viewer.errors import InputError
from coloc_viewer.imaging.load import load_volume
from coloc_viewer.imaging.roi_io import load_rois
from coloc_viewer.model.loading import load_model
from coloc_viewer.refine import refine
from coloc_viewer.refine.data import build_training_set
from coloc_viewer.refine.train import lr_at


def _case_masks(manifest, case):
    vol = load_volume(case.image)
    rois = load_rois(case.roi, like=vol)
    return {n: rois.mask(n) for n in ("lesion", "organ", "marker")}


def test_organ_roi_is_the_inside_of_lesion_free_slices(tiny_card, shortcut_manifest):
    model = load_model(str(tiny_card), device="cpu")
    cases = read_manifest(shortcut_manifest, [])
    plain = build_training_set(model, cases)
    organ = build_training_set(model, cases, organ_roi="organ", shortcut_roi="marker")
    assert plain.origin == organ.origin
    masks = {c.case_id: _case_masks(shortcut_manifest, c) for c in cases}
    seen = {"lesion": 0, "free": 0}
    for k, (case_id, z) in enumerate(organ.origin):
        m = masks[case_id]
        got, before = organ.outside[k, 0].numpy(), plain.outside[k, 0].numpy()
        marker = m["marker"][z]
        if m["lesion"][z].any():  # lesion slice: outside = not lesion (+ marker), unchanged
            np.testing.assert_array_equal(got, ~m["lesion"][z] | marker)
            np.testing.assert_array_equal(before, ~m["lesion"][z])
            seen["lesion"] += 1
        else:  # lesion-free: nothing before; now everything outside the organ (+ marker)
            assert not before.any()
            np.testing.assert_array_equal(got, ~m["organ"][z] | marker)
            assert 0.05 < got.mean() < 0.6
            seen["free"] += 1
    assert seen["lesion"] > 5 and seen["free"] > 5


def test_unknown_organ_roi_names_the_case(tiny_card, shortcut_manifest, tmp_path):
    with pytest.raises(InputError, match="no organ ROI named 'gland'.*lesion, marker, organ"):
        refine(str(tiny_card), shortcut_manifest, "actdiff", epochs=1, out_dir=tmp_path,
               organ_roi="gland", threads=1)


def test_options_repeat_bit_for_bit_and_are_recorded(tiny_card, shortcut_manifest, tmp_path):
    kw = dict(lam=0.1, epochs=1, lr=1e-3, seed=5, threads=1, organ_roi="organ",
              weight_decay=1e-2, flip=True, train_batchnorm=True, schedule="cosine")
    runs = [refine(str(tiny_card), shortcut_manifest, "actdiff", out_dir=tmp_path / f"r{k}",
                   **kw) for k in range(2)]
    w0, w1 = (load_file(str(r.weights_path)) for r in runs)
    assert all(torch.equal(w0[k], w1[k]) for k in w0)
    info = runs[0].card.refine
    assert (info["organ_roi"], info["weight_decay"], info["flip"], info["train_batchnorm"],
            info["schedule"]) == ("organ", 1e-2, True, True, "cosine")
    # adapting BatchNorm moves the running statistics; the default keeps them
    src = load_file(str(tiny_card.with_suffix(".safetensors")))
    stats = [k for k in src if k.endswith("running_mean")]
    assert stats and any(not torch.equal(w0[k], src[k]) for k in stats)
    frozen = refine(str(tiny_card), shortcut_manifest, "actdiff", out_dir=tmp_path / "frozen",
                    **{**kw, "train_batchnorm": False})
    wf = load_file(str(frozen.weights_path))
    assert all(torch.equal(wf[k], src[k]) for k in stats)
    # the flip draws from the run's generator: without it the weights differ
    noflip = refine(str(tiny_card), shortcut_manifest, "actdiff", out_dir=tmp_path / "noflip",
                    **{**kw, "flip": False})
    wn = load_file(str(noflip.weights_path))
    assert any(not torch.equal(wn[k], w0[k]) for k in w0)


def test_cosine_schedule_equals_torch_cosine_annealing_per_batch():
    steps, lr = 37, 2e-3
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    for step in range(steps):
        got = lr_at({"lr": lr, "schedule": "cosine"}, step, steps)
        assert got == pytest.approx(opt.param_groups[0]["lr"], rel=1e-9, abs=1e-15)
        assert lr_at({"lr": lr, "schedule": "constant"}, step, steps) == lr
        opt.step()
        sched.step()


def test_unknown_schedule_is_one_line(tiny_card, shortcut_manifest, tmp_path):
    with pytest.raises(InputError, match="unknown learning-rate schedule 'step'"):
        refine(str(tiny_card), shortcut_manifest, "none", epochs=1, out_dir=tmp_path,
               schedule="step")


def test_actdiff_layer_is_the_one_compared_and_recorded(tiny_card, shortcut_manifest,
                                                          tmp_path):
    from coloc_viewer.refine.train import activation_layer

    model = load_model(str(tiny_card), device="cpu")
    assert activation_layer(model) is model.module.layer3  # the card's target layer
    assert activation_layer(model, "layer4") is model.module.layer4
    kw = dict(lam=1.0, epochs=1, lr=1e-3, seed=2, threads=1, organ_roi="organ")
    deep = refine(str(tiny_card), shortcut_manifest, "actdiff", out_dir=tmp_path / "l4",
                  actdiff_layer="layer4", **kw)
    card = refine(str(tiny_card), shortcut_manifest, "actdiff", out_dir=tmp_path / "l3", **kw)
    assert deep.card.refine["actdiff_layer"] == "layer4"
    assert "actdiff_layer" not in card.card.refine  # the default is not written
    # a different layer is a different penalty: the losses and the weights differ
    assert deep.losses[0]["penalty"] != pytest.approx(card.losses[0]["penalty"])
    wd, wc = load_file(str(deep.weights_path)), load_file(str(card.weights_path))
    assert any(not torch.equal(wd[k], wc[k]) for k in wd)


@pytest.mark.parametrize(("method", "layer", "message"), [
    ("actdiff", "layer9", "no layer 'layer9'"),
    ("rrr", "layer4", "an ActDiff layer was given but the method is rrr"),
])
def test_bad_actdiff_layer_is_one_line(tiny_card, shortcut_manifest, tmp_path, method, layer,
                                       message):
    from coloc_viewer.errors import ColocError

    with pytest.raises(ColocError, match=message):
        refine(str(tiny_card), shortcut_manifest, method, epochs=1, out_dir=tmp_path,
               actdiff_layer=layer)
    assert not any(tmp_path.iterdir())  # refused before anything was written


def test_several_actdiff_layers_average_their_distances(tiny_card):
    """A comma-separated ActDiff layer list: the penalty is the mean of each layer's own
    ActDiff distance, computed here directly on the same two forward passes."""
    from coloc_viewer.refine import losses
    from coloc_viewer.refine.train import ActivationCapture, activation_layers, batch_loss

    model = load_model(str(tiny_card), device="cpu")
    module = model.module.eval()
    layers = activation_layers(model, " layer2, layer4 ")
    assert layers == [model.module.layer2, model.module.layer4]
    shape = (4, model.card.in_channels, *model.card.input_size)
    x = torch.randn(shape, generator=torch.Generator().manual_seed(0))
    y = torch.tensor([0, 1, 0, 1])
    outside = torch.ones((4, 1, *model.card.input_size), dtype=torch.bool)
    outside[:, :, 4:9, 4:9] = False
    outside[2] = False  # one sample without a constraint
    capture = ActivationCapture(layers)
    try:
        _, _, pen = batch_loss("actdiff", module, x, y, outside, 1.0, capture=capture,
                               generator=torch.Generator().manual_seed(5))
    finally:
        capture.close()
    shuffled = losses.shuffle_outside(x, outside, torch.Generator().manual_seed(5))
    direct = []
    for layer in layers:
        seen: list[torch.Tensor] = []
        handle = layer.register_forward_hook(lambda _m, _i, o, seen=seen: seen.append(o))
        with torch.no_grad():
            module(x)
            module(shuffled)
        handle.remove()
        d = (seen[0] - seen[1]).reshape(4, -1).norm(dim=1)  # no_grad: already detached
        direct.append(float(d[[0, 1, 3]].mean()))
    assert len(set(direct)) == 2 and min(direct) > 0
    assert pen == pytest.approx(sum(direct) / 2, rel=1e-4)
    with pytest.raises(Exception, match="no layer 'layer9'"):
        activation_layers(model, "layer2,layer9")
