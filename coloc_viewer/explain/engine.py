"""``explain``: one input through a model -> ranked feature maps and CAMs (numpy only).

One call for every model: 2-D models explain one slice, 3-D models (card ``spatial_dims``
3) the whole volume; classifiers and segmentation networks (card ``task``); one series or
several (card ``inputs``: ``{role: Volume}``, resampled onto the first role's grid and
stacked as channels). The result, :class:`Explanation`, holds raw values and the transform
that maps any layer-grid map back onto the image grid; no tensors, so it pickles and
crosses threads.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from coloc_viewer.errors import InputError, ModelError
from coloc_viewer.explain.cams import METHODS, CamInputs, cam_method, compute_cam, gradcam_weights
from coloc_viewer.explain.capture import LayerCapture, as_logits
from coloc_viewer.explain.layers import list_layers, resolve_layer
from coloc_viewer.explain.ranking import CRITERIA, decomposition, importance, order_of
from coloc_viewer.explain.result import ALIASES, Explanation
from coloc_viewer.explain.targets import SegmentationTarget
from coloc_viewer.imaging.volume import Volume
from coloc_viewer.model.input_stack import ModelInput, gather_inputs
from coloc_viewer.model.loading import LoadedModel, load_model
from coloc_viewer.model.preprocess import Preprocessor

TASKS = ("classification", "segmentation")
VolumeInput = Volume | np.ndarray | Mapping[str, Volume | np.ndarray]


def _np(t: torch.Tensor, dtype: type) -> np.ndarray:
    """A numpy copy that owns its memory (no tensor kept alive as its base)."""
    return np.array(t.detach().cpu().numpy(), dtype=dtype, copy=True)


def model_spatial_dims(card: Any) -> int:
    """The card's ``spatial_dims`` (2 or 3; from ``input_size`` when the card has none)."""
    dims = getattr(card, "spatial_dims", None) or len(tuple(card.input_size))
    if int(dims) not in (2, 3) or len(tuple(card.input_size)) != int(dims):
        raise ModelError(f"model {card.name!r}: spatial_dims {dims} does not match "
                         f"input_size {list(card.input_size)}")
    return int(dims)


def model_task(card: Any) -> str:
    task = getattr(card, "task", None) or "classification"
    if task not in TASKS:
        raise ModelError(f"model {card.name!r}: task must be one of {', '.join(TASKS)}")
    return str(task)


def parse_method(method: str) -> tuple[str, int | None]:
    """``"gradcam"`` -> ("gradcam", None); ``"scorecam:64"`` -> ("scorecam", 64)."""
    name, _, k = method.strip().lower().partition(":")
    name = ALIASES.get(name, name)
    if name not in METHODS:
        raise InputError(f"unknown method {method!r}; choose from {', '.join(METHODS)} "
                         "(scorecam:K for the top-K channels)")
    if k and not cam_method(name).needs_forward:
        raise InputError(f"only a method that re-runs the model (scorecam) takes a channel "
                         f"count, not {method!r}")
    try:
        topk = int(k) if k else None
    except ValueError:
        raise InputError(f"bad channel count in {method!r}") from None
    if topk is not None and topk < 1:
        raise InputError(f"the channel count in {method!r} must be >= 1")
    return name, topk


def _target_index(target: int | str | None, classes: Sequence[str]) -> int | None:
    if target is None or isinstance(target, int | np.integer):
        return None if target is None else int(target)
    if target in classes:
        return list(classes).index(target)
    try:
        return int(target)
    except ValueError:
        raise InputError(f"unknown target class {target!r} (classes: "
                         f"{', '.join(classes)})") from None


def _preprocessor(model: LoadedModel) -> Preprocessor:
    card, pre = model.card, model.preprocess
    if isinstance(pre, Preprocessor) and pre.input_size == tuple(card.input_size):
        return pre
    return Preprocessor(card.in_channels, card.input_size, card.normalization)


def _model_input(model: LoadedModel, inp: ModelInput, dims: int,
                 slice_index: int | None) -> tuple[torch.Tensor, Any, int | None]:
    """(input tensor, transform, recorded slice index) for a 2-D or 3-D model."""
    card = model.card
    if dims == 3:
        if inp.shape[0] < 2:
            raise InputError(f"model {card.name!r} is a 3-D model and needs a volume of at "
                             f"least 2 slices; this series has {inp.shape[0]}")
        images, spacing, recorded = inp.channels, inp.spacing, None
    else:
        k = 0 if slice_index is None else int(slice_index)
        if inp.plain_2d:  # a bare 2-D slice: slice_index is only recorded
            images, recorded = [c[0] for c in inp.channels], k
        else:
            n = inp.shape[0]
            if not -n <= k < n:
                raise InputError(f"slice {k} is out of range (the volume has {n} slices)")
            images, recorded = [c[k] for c in inp.channels], k
        spacing = inp.spacing[1:]
    x, tf = _preprocessor(model)(images if len(images) > 1 else images[0], spacing,
                                 device=model.device)
    return x, tf, recorded


def _prediction(card: Any, logits: torch.Tensor, seg: SegmentationTarget | None,
                tf: Any) -> tuple[dict[str, Any], np.ndarray | None]:
    def label(i: int) -> str:
        return card.classes[i] if i < len(card.classes) else str(i)

    if seg is None:
        lg = logits.double().cpu()
        probs = torch.sigmoid(lg) if lg.numel() == 1 else torch.softmax(lg, 0)
        pred = int(lg.argmax())
        return {"index": pred, "label": label(pred), "probabilities": probs.tolist()}, None
    mask = seg.label_map()
    on_image = tf.to_image_grid(mask, mode="nearest").astype(np.int64)
    n = int(logits.numel())
    counts = np.bincount(on_image.ravel(), minlength=max(n, 2))
    counts = counts[1:2] if n == 1 else counts  # sigmoid: label 1 is its class (index 0)
    pred = seg.default_class()
    return {"index": pred, "label": label(pred),
            "pixel_shares": (counts / max(1, on_image.size)).tolist()}, mask


def explain(model: LoadedModel | str | os.PathLike[str], volume: VolumeInput,
            slice_index: int | None = None, layer: str | None = None,
            target: int | str | None = None, rank: str = "contribution",
            methods: Sequence[str] = ("gradcam",), top_k: int = 10) -> Explanation:
    """Explain ``volume`` with ``model``.

    ``volume``: a :class:`Volume`, a (z, y, x) array, a plain 2-D slice (1 mm pixels), or
    ``{role: volume}`` for a card with ``inputs`` (each role resampled onto the first
    role's grid and stacked as channels in the card's order). ``slice_index``: the slice a
    2-D model explains (default 0); ignored by 3-D models, which take the whole volume
    (their maps are (z, y, x) and ``slice_index`` is None in the result).

    ``model``: a :class:`LoadedModel`, a bundled model name or a card path. ``layer``:
    default the card's ``target_layer``, else the last layer with a spatial output (for
    segmentation the deepest one). ``target``: class index or label; default the predicted
    class (segmentation: the foreground class with the most pixels). ``rank``: one of
    ``max, mean, gradient, contribution, ablation``. ``methods``: any of ``cam, gradcam,
    gradcam++, layercam, scorecam`` (``scorecam:K`` scores only the top-K ranked channels).
    A model that cannot run on the input raises one :class:`InputError`/:class:`ModelError`.
    """
    if not isinstance(model, LoadedModel):
        model = load_model(model)
    if rank not in CRITERIA:
        raise InputError(f"unknown ranking {rank!r}; choose from {', '.join(CRITERIA)}")
    parsed = [parse_method(m) for m in methods]
    card, module = model.card, model.module
    dims, task = model_spatial_dims(card), model_task(card)
    inp = gather_inputs(card, volume)
    x, tf, recorded = _model_input(model, inp, dims, slice_index)
    layers = list_layers(module, (card.in_channels, *card.input_size), model.device)
    info = resolve_layer(layers, layer, card.target_layer, deepest=task == "segmentation")
    seg = SegmentationTarget() if task == "segmentation" else None
    reader = seg if seg is not None else as_logits
    cap_tool = LayerCapture(module, info, x, reader=reader)
    cap = cap_tool.capture(x, _target_index(target, card.classes),
                           None if seg is None else seg.default_class)
    acts, grads, c = cap.acts, cap.grads, cap.target
    logit = float(cap.logits[c])

    imp = importance(rank, acts, grads, target=c, logit=logit,
                     run_suffix=lambda batch: cap_tool.run_suffix(x, batch))
    order = order_of(imp)
    cams: dict[str, np.ndarray] = {}
    for name, k in parsed:  # any registered CAM method (explain.cams)
        chans = None if k is None else order[:k].tolist()
        inputs = CamInputs(acts, grads, module, x, c, chans, reader)
        cams[name if k is None else f"{name}:{k}"] = _np(compute_cam(name, inputs), np.float32)

    prediction, out_mask = _prediction(card, cap.logits, seg, tf)
    return Explanation(
        model_name=card.name, layer=info.name, slice_index=recorded,
        prediction=prediction, target=c,
        target_label=card.classes[c] if c < len(card.classes) else str(c),
        rank=rank, importance=imp, order=order,
        top_channels=[(int(i), float(imp[i])) for i in order[:max(0, int(top_k))]],
        activations=_np(acts, np.float32),
        gradient_weights=_np(gradcam_weights(grads), np.float64),
        transform=tf, cams=cams,
        decomposition=decomposition(acts, grads, logit, float(cap.zero_logits[c])),
        plan=cap.plan, spatial_dims=dims, task=task, output_mask=out_mask,
        inputs=list(inp.roles),
    )


__all__ = ["Explanation", "explain", "parse_method", "ModelError", "model_spatial_dims",
           "model_task"]
