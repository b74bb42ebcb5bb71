"""Principal channels (Li et al. 2024) and the principal-channel CAM.

Over correctly classified samples, each channel's contribution IM_k (= sum over x, y of
w_k A_k, with w_k the Grad-CAM weight) is averaged per class and overall; the channels
with the largest |class mean - overall mean| form the class's principal set. The
principal-channel CAM is ReLU(sum over the set of w_k A_k).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from coloc_viewer.errors import InputError

MIN_RATIO, MAX_RATIO = 0.05, 0.25


@dataclass
class ChannelSet:
    """Principal channels of one model layer, per class index (best first)."""

    model: str
    layer: str
    ratio: float
    n_channels: int
    classes: dict[int, list[int]]
    n_samples: dict[int, int] = field(default_factory=dict)
    criterion: str = "abs(class mean - overall mean) of contributions, correct samples"

    def channels_for(self, class_index: int) -> list[int]:
        try:
            return self.classes[int(class_index)]
        except KeyError:
            raise InputError(f"the channel set has no channels for class {class_index} "
                             f"(it has {sorted(self.classes)})") from None

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write JSON atomically (temp file, then rename)."""
        path = Path(path)
        data = asdict(self)
        data["classes"] = {str(k): v for k, v in self.classes.items()}
        data["n_samples"] = {str(k): v for k, v in self.n_samples.items()}
        data["format"] = "coloc_viewer.channel_set/1"
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> ChannelSet:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            return cls(model=str(data["model"]), layer=str(data["layer"]),
                       ratio=float(data["ratio"]), n_channels=int(data["n_channels"]),
                       classes={int(k): [int(c) for c in v]
                                for k, v in data["classes"].items()},
                       n_samples={int(k): int(v)
                                  for k, v in data.get("n_samples", {}).items()},
                       criterion=str(data.get("criterion", "")))
        except OSError as err:
            raise InputError(f"cannot read the channel set ({err.__class__.__name__})",
                             path) from None
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            raise InputError(f"not a channel-set JSON ({err.__class__.__name__}: {err})",
                             path) from None


def rank_principal(contributions: np.ndarray, classes: np.ndarray,
                   correct: np.ndarray | None = None) -> dict[int, np.ndarray]:
    """Channel order per class by |class mean - overall mean| of ``contributions``
    (N samples x C channels), over the samples where ``correct`` is true.

    Ties keep the lower channel index first. When the correct samples hold a single
    class the difference is zero, so channels are ordered by |class mean| instead.
    """
    im = np.asarray(contributions, dtype=np.float64)
    cls = np.asarray(classes)
    keep = np.ones(len(cls), bool) if correct is None else np.asarray(correct, bool)
    im, cls = im[keep], cls[keep]
    if im.shape[0] == 0:
        return {}
    overall = im.mean(axis=0)
    labels = sorted(int(c) for c in np.unique(cls))
    out: dict[int, np.ndarray] = {}
    for c in labels:
        mean_c = im[cls == c].mean(axis=0)
        key = np.abs(mean_c) if len(labels) == 1 else np.abs(mean_c - overall)
        out[c] = np.argsort(-key, kind="stable")
    return out


def principal_channels(contributions: np.ndarray, classes: np.ndarray,
                       correct: np.ndarray | None, ratio: float, *, model: str = "",
                       layer: str = "") -> ChannelSet:
    """The top ``ratio`` (0.05-0.25) of channels per class as a :class:`ChannelSet`."""
    if not MIN_RATIO <= ratio <= MAX_RATIO:
        raise InputError(f"principal-channel ratio must lie in [{MIN_RATIO}, {MAX_RATIO}], "
                         f"got {ratio}")
    im = np.asarray(contributions)
    n_ch = int(im.shape[1]) if im.ndim == 2 else 0
    k = max(1, math.ceil(ratio * n_ch))
    order = rank_principal(im, classes, correct)
    cls = np.asarray(classes)
    ok = np.ones(len(cls), bool) if correct is None else np.asarray(correct, bool)
    single = len(order) == 1
    return ChannelSet(
        model=model, layer=layer, ratio=float(ratio), n_channels=n_ch,
        classes={c: [int(i) for i in o[:k]] for c, o in order.items()},
        n_samples={c: int(np.sum(ok & (cls == c))) for c in order},
        criterion=("abs(class mean) of contributions, correct samples (single class)"
                   if single else ChannelSet.criterion))


def gradient_weights(explanation: Any) -> np.ndarray:
    """Per-channel Grad-CAM weights w_k of an Explanation.

    Uses ``explanation.gradient_weights`` (or ``weights``) when present; otherwise recovers
    them from contribution importances: IM_k = w_k * sum A_k, so w_k = IM_k / sum A_k.
    """
    w = getattr(explanation, "gradient_weights", getattr(explanation, "weights", None))
    if w is not None:
        return np.asarray(w, dtype=np.float64)
    if getattr(explanation, "rank", "contribution") != "contribution":
        raise ValueError("the explanation has no weights; explain with rank='contribution'")
    acts = np.asarray(explanation.activations, dtype=np.float64)
    sums = acts.reshape(acts.shape[0], -1).sum(axis=1)
    imp = np.asarray(explanation.importance, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where(sums != 0, imp / sums, 0.0)
    return w


def principal_cam(activations: np.ndarray, weights: np.ndarray,
                  channels: list[int] | np.ndarray) -> np.ndarray:
    """ReLU(sum over ``channels`` of w_k A_k) on the layer's grid (h, w), float32."""
    acts = np.asarray(activations)
    idx = np.asarray(channels, dtype=int)
    cam = np.tensordot(np.asarray(weights, dtype=np.float64)[idx], acts[idx].astype(np.float64),
                       axes=(0, 0))
    return np.maximum(cam, 0.0).astype(np.float32)
