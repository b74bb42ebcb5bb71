""":class:`Explanation`: everything computed for one input, as numpy arrays (no tensors).

Maps are kept on the layer grid; the stored transform (:class:`SliceTransform` for 2-D
models, :class:`VolumeTransform` for 3-D) maps any of them onto the image grid on demand,
so showing another channel, CAM or (3-D) slice never runs the model again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from coloc_viewer.model.transform import SliceTransform, VolumeTransform

ALIASES = {"grad-cam": "gradcam", "gradcampp": "gradcam++", "grad-cam++": "gradcam++",
           "layer-cam": "layercam", "score-cam": "scorecam"}


@dataclass(eq=False)
class Explanation:
    """Raw float32 maps and the facts of one explanation.

    ``importance``/``order`` cover all C channels of ``layer`` under criterion ``rank``;
    ``top_channels`` lists the best ``top_k`` as (channel, importance); ``activations`` is
    the raw layer output (C, h, w), or (C, d, h, w) for a 3-D model; ``gradient_weights``
    the Grad-CAM alphas (C,); ``cams`` maps a method name to its raw map on the layer grid;
    ``decomposition`` = {logit, sum_contributions, bias, residual, exact}.

    ``slice_index`` is the explained slice, None for a 3-D model (the whole volume is the
    input; its maps are (z, y, x) on the volume grid). ``task`` is ``classification`` or
    ``segmentation``; for segmentation ``output_mask`` is the predicted label map on the
    model's output grid (see :meth:`predicted_mask`) and ``prediction`` holds
    ``pixel_shares`` (per class, over the image grid) instead of ``probabilities``.
    ``inputs`` names the series roles stacked as channels (``[]``: one series).
    """

    model_name: str
    layer: str
    slice_index: int | None
    prediction: dict[str, Any]
    target: int
    target_label: str
    rank: str
    importance: np.ndarray
    order: np.ndarray
    top_channels: list[tuple[int, float]]
    activations: np.ndarray
    gradient_weights: np.ndarray
    transform: SliceTransform | VolumeTransform
    cams: dict[str, np.ndarray] = field(default_factory=dict)
    decomposition: dict[str, float | bool] = field(default_factory=dict)
    plan: str = ""
    spatial_dims: int = 2
    task: str = "classification"
    output_mask: np.ndarray | None = None
    inputs: list[str] = field(default_factory=list)

    @property
    def top_channel(self) -> int:
        return int(self.order[0])

    @property
    def image_shape(self) -> tuple[int, ...]:
        """The image grid: (H, W) of the slice, or (Z, Y, X) of the volume (3-D)."""
        return tuple(self.transform.image_shape)

    def channel_map(self, k: int, grid: str = "image", mode: str = "bilinear",
                    z: int | None = None) -> np.ndarray:
        """Channel ``k``'s raw map on the image grid (``grid="image"``) or on the layer grid
        (``grid="layer"``). For a 3-D model ``z`` selects one slice of the volume grid."""
        return self._on_grid(self.activations[int(k)], grid, mode, z)

    def cam_map(self, method: str = "gradcam", grid: str = "image", mode: str = "bilinear",
                z: int | None = None) -> np.ndarray:
        """The raw map of a computed CAM ``method`` on the image or layer grid (``z``: one
        slice of a 3-D model's volume grid)."""
        key = ALIASES.get(method, method)
        if key not in self.cams:
            raise KeyError(f"CAM {method!r} was not computed (have: {', '.join(self.cams)})")
        return self._on_grid(self.cams[key], grid, mode, z)

    @property
    def top_map(self) -> np.ndarray:
        """The top-ranked channel, bilinear on the image grid."""
        return self.channel_map(self.top_channel)

    @property
    def seed_map(self) -> np.ndarray:
        """The top-ranked channel nearest-upsampled onto the image grid (for the
        ``seed_overlap`` score: the original method's test)."""
        return self.channel_map(self.top_channel, mode="nearest")

    def predicted_mask(self, grid: str = "image", z: int | None = None) -> np.ndarray | None:
        """A segmentation model's predicted labels (int16) on the image grid (nearest) or on
        the model's output grid (``grid="layer"``); None for classifiers."""
        if self.output_mask is None:
            return None
        return self._on_grid(self.output_mask, grid, "nearest", z).astype(np.int16)

    def _on_grid(self, m: np.ndarray, grid: str, mode: str, z: int | None) -> np.ndarray:
        if grid == "layer":
            if z is not None:
                raise ValueError("z selects a slice of the image grid, not of the layer grid")
            return np.asarray(m, dtype=np.float32).copy()
        if grid != "image":
            raise ValueError(f"grid must be 'image' or 'layer', not {grid!r}")
        if isinstance(self.transform, VolumeTransform):
            return self.transform.to_image_grid(m, mode=mode, z=z)
        if z is not None and z != self.slice_index:
            raise ValueError(f"this explanation is of slice {self.slice_index}, not {z}")
        return self.transform.to_image_grid(m, mode=mode)

    def summary(self) -> dict[str, Any]:
        """JSON-ready fields (no arrays): model, layer, slice (None for 3-D), prediction,
        target, rank, top_channels [{channel, importance}], decomposition, spatial_dims,
        task, inputs."""
        return {
            "model": self.model_name, "layer": self.layer, "slice": self.slice_index,
            "prediction": self.prediction, "target": self.target, "rank": self.rank,
            "top_channels": [{"channel": c, "importance": v} for c, v in self.top_channels],
            "decomposition": self.decomposition, "spatial_dims": self.spatial_dims,
            "task": self.task, "inputs": list(self.inputs),
        }
