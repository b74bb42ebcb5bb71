"""``explain``: one slice through a model -> ranked feature maps and CAMs (numpy only).

The result, :class:`Explanation`, holds raw values (no display normalisation) and the
:class:`~coloc_viewer.model.transform.SliceTransform` that maps any layer-grid map back
onto the slice's pixel grid. It holds no tensors, so it pickles and crosses threads.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from coloc_viewer.errors import InputError, ModelError
from coloc_viewer.explain.cams import GRADIENT_METHODS, METHODS, gradcam_weights, gradient_cam
from coloc_viewer.explain.capture import LayerCapture
from coloc_viewer.explain.layers import list_layers, resolve_layer
from coloc_viewer.explain.ranking import CRITERIA, decomposition, importance, order_of
from coloc_viewer.explain.scorecam import scorecam
from coloc_viewer.imaging.volume import Volume
from coloc_viewer.model.loading import LoadedModel, load_model
from coloc_viewer.model.transform import SliceTransform

ALIASES = {"grad-cam": "gradcam", "gradcampp": "gradcam++", "grad-cam++": "gradcam++",
           "layer-cam": "layercam", "score-cam": "scorecam"}


@dataclass(eq=False)
class Explanation:
    """Everything computed for one slice. Maps are float32 numpy arrays of raw values.

    ``importance``/``order`` cover all C channels of ``layer`` under criterion ``rank``;
    ``top_channels`` lists the best ``top_k`` as (channel, importance); ``activations`` is
    the raw layer output (C, h, w); ``gradient_weights`` the Grad-CAM alphas (C,);
    ``cams`` maps a method name to its raw (h, w) map on the layer grid;
    ``decomposition`` = {logit, sum_contributions, bias, residual, exact}.
    """

    model_name: str
    layer: str
    slice_index: int
    prediction: dict[str, Any]
    target: int
    target_label: str
    rank: str
    importance: np.ndarray
    order: np.ndarray
    top_channels: list[tuple[int, float]]
    activations: np.ndarray
    gradient_weights: np.ndarray
    transform: SliceTransform
    cams: dict[str, np.ndarray] = field(default_factory=dict)
    decomposition: dict[str, float | bool] = field(default_factory=dict)
    plan: str = ""

    @property
    def top_channel(self) -> int:
        return int(self.order[0])

    def channel_map(self, k: int, grid: str = "image", mode: str = "bilinear") -> np.ndarray:
        """Channel ``k``'s raw map on the slice's pixel grid (``grid="image"``) or on the
        layer grid (``grid="layer"``)."""
        m = self.activations[int(k)]
        return self._on_grid(m, grid, mode)

    def cam_map(self, method: str = "gradcam", grid: str = "image",
                mode: str = "bilinear") -> np.ndarray:
        """The raw map of a computed CAM ``method`` on the image or layer grid."""
        key = ALIASES.get(method, method)
        if key not in self.cams:
            raise KeyError(f"CAM {method!r} was not computed (have: {', '.join(self.cams)})")
        return self._on_grid(self.cams[key], grid, mode)

    @property
    def top_map(self) -> np.ndarray:
        """The top-ranked channel, bilinear on the image grid."""
        return self.channel_map(self.top_channel)

    @property
    def seed_map(self) -> np.ndarray:
        """The top-ranked channel nearest-upsampled onto the image grid (for the
        ``seed_overlap`` score: the original method's test)."""
        return self.channel_map(self.top_channel, mode="nearest")

    def _on_grid(self, m: np.ndarray, grid: str, mode: str) -> np.ndarray:
        if grid == "layer":
            return np.asarray(m, dtype=np.float32).copy()
        if grid != "image":
            raise ValueError(f"grid must be 'image' or 'layer', not {grid!r}")
        return self.transform.to_image_grid(m, mode=mode)

    def summary(self) -> dict[str, Any]:
        """JSON-ready fields (no arrays): model, layer, slice, prediction, target, rank,
        top_channels [{channel, importance}], decomposition."""
        return {
            "model": self.model_name, "layer": self.layer, "slice": self.slice_index,
            "prediction": self.prediction, "target": self.target, "rank": self.rank,
            "top_channels": [{"channel": c, "importance": v} for c, v in self.top_channels],
            "decomposition": self.decomposition,
        }


def _np(t: torch.Tensor, dtype: type) -> np.ndarray:
    """A numpy copy that owns its memory (no tensor kept alive as its base)."""
    return np.array(t.detach().cpu().numpy(), dtype=dtype, copy=True)


def _slice_of(volume: Volume | np.ndarray, slice_index: int) -> tuple[np.ndarray,
                                                                      tuple[float, float]]:
    if isinstance(volume, Volume):
        vox, spacing = volume.voxels, (volume.spacing[1], volume.spacing[2])
    else:
        vox, spacing = np.asarray(volume), (1.0, 1.0)
        if vox.ndim == 2:  # a single slice: slice_index is only recorded
            return vox, spacing
        if vox.ndim != 3:
            raise InputError(f"expected a Volume, a 2-D slice or a 3-D array, got shape "
                             f"{vox.shape}")
    if not -vox.shape[0] <= slice_index < vox.shape[0]:
        raise InputError(f"slice {slice_index} is out of range (the volume has "
                         f"{vox.shape[0]} slices)")
    return vox[slice_index], spacing


def parse_method(method: str) -> tuple[str, int | None]:
    """``"gradcam"`` -> ("gradcam", None); ``"scorecam:64"`` -> ("scorecam", 64)."""
    name, _, k = method.strip().lower().partition(":")
    name = ALIASES.get(name, name)
    if name not in METHODS:
        raise InputError(f"unknown method {method!r}; choose from {', '.join(METHODS)} "
                         "(scorecam:K for the top-K channels)")
    if k and name != "scorecam":
        raise InputError(f"only scorecam takes a channel count, not {method!r}")
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


def explain(model: LoadedModel | str | os.PathLike[str], volume: Volume | np.ndarray,
            slice_index: int = 0, layer: str | None = None, target: int | str | None = None,
            rank: str = "contribution", methods: Sequence[str] = ("gradcam",),
            top_k: int = 10) -> Explanation:
    """Explain slice ``slice_index`` of ``volume`` (a :class:`Volume`; a 3-D (z, y, x)
    array; or a plain 2-D numpy slice with 1 mm square pixels, for which ``slice_index``
    is only recorded in the result).

    ``model``: a :class:`LoadedModel`, a bundled model name or a card path. ``layer``:
    default the card's ``target_layer``, else the last layer with a spatial output.
    ``target``: class index or label, default the predicted class. ``rank``: one of
    ``max, mean, gradient, contribution, ablation``. ``methods``: any of ``cam, gradcam,
    gradcam++, layercam, scorecam`` (``scorecam:K`` scores only the top-K ranked channels).
    """
    if not isinstance(model, LoadedModel):
        model = load_model(model)
    if rank not in CRITERIA:
        raise InputError(f"unknown ranking {rank!r}; choose from {', '.join(CRITERIA)}")
    parsed = [parse_method(m) for m in methods]
    image, spacing = _slice_of(volume, int(slice_index))
    card, module = model.card, model.module
    x, tf = model.preprocess(image, spacing, device=model.device)
    layers = list_layers(module, (card.in_channels, *card.input_size), model.device)
    info = resolve_layer(layers, layer, card.target_layer)
    cap_tool = LayerCapture(module, info, x)
    cap = cap_tool.capture(x, _target_index(target, card.classes))
    acts, grads, c = cap.acts, cap.grads, cap.target
    logit = float(cap.logits[c])

    imp = importance(rank, acts, grads, target=c, logit=logit,
                     run_suffix=lambda batch: cap_tool.run_suffix(x, batch))
    order = order_of(imp)
    cams: dict[str, np.ndarray] = {}
    for name, k in parsed:
        if name in GRADIENT_METHODS:
            cams[name] = _np(gradient_cam(name, acts, grads), np.float32)
        else:
            chans = None if k is None else order[:k].tolist()
            key = "scorecam" if k is None else f"scorecam:{k}"
            cams[key] = _np(scorecam(module, x, acts, c, chans), np.float32)

    logits = cap.logits.double().cpu()
    probs = (torch.sigmoid(logits) if logits.numel() == 1 else torch.softmax(logits, 0))
    pred = int(logits.argmax())
    label = card.classes[pred] if pred < len(card.classes) else str(pred)
    return Explanation(
        model_name=card.name, layer=info.name, slice_index=int(slice_index),
        prediction={"index": pred, "label": label, "probabilities": probs.tolist()},
        target=c, target_label=card.classes[c] if c < len(card.classes) else str(c),
        rank=rank, importance=imp, order=order,
        top_channels=[(int(i), float(imp[i])) for i in order[:max(0, int(top_k))]],
        activations=_np(acts, np.float32),
        gradient_weights=_np(gradcam_weights(grads), np.float64),
        transform=tf, cams=cams,
        decomposition=decomposition(acts, grads, logit, float(cap.zero_logits[c])),
        plan=cap.plan,
    )


__all__ = ["Explanation", "explain", "parse_method", "ModelError"]
