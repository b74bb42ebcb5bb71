"""Class scores of a segmentation output (Seg-Grad-CAM, Vinogradova et al. 2020).

For an output [N, K, (D,) H, W] the score of class c is the sum of the class-c logit over
the pixels M_c that the model assigns to c (argmax over classes) on the explained input,
or over all pixels when M_c is empty -- pytorch-grad-cam's ``SemanticSegmentationTarget``
with the argmax mask. A single-channel output (K = 1, a sigmoid network) has no argmax: its
one class is predicted where the logit is > 0 (sigmoid > 0.5), and its label map is 1 there
and 0 elsewhere (background). The masks are fixed by the first output read (the explained input)
and reused for every later batch (ablated activations, Score-CAM's masked inputs), so all
scores refer to the same pixels.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from coloc_viewer.errors import ModelError
from coloc_viewer.explain.capture import output_tensor


class SegmentationTarget:
    """Reader ``output -> (B, K)`` class scores; ``labels`` is the argmax mask of the first
    output read (on the model's output grid)."""

    def __init__(self) -> None:
        self.labels: torch.Tensor | None = None
        self._masks: torch.Tensor | None = None

    def __call__(self, out: object) -> torch.Tensor:
        t = output_tensor(out)
        if t.ndim < 3:
            raise ModelError(f"a segmentation model must output [N, C, (D,) H, W]; this one "
                             f"gives shape {tuple(t.shape)} (is the card's task right?)")
        if self._masks is None:
            if t.shape[1] == 1:  # sigmoid output: foreground where the logit is > 0
                labels = (t[0, 0].detach() > 0).long()
                masks = labels[None].to(t.dtype)
            else:
                labels = t[0].detach().argmax(0)
                masks = F.one_hot(labels, t.shape[1]).movedim(-1, 0).to(t.dtype)
            masks[masks.flatten(1).sum(1) == 0] = 1  # empty class: every pixel
            self.labels, self._masks = labels, masks
        return (t * self._masks[None]).flatten(2).sum(2)

    def default_class(self, _scores: torch.Tensor | None = None) -> int:
        """The foreground class (index >= 1) with the most pixels; 0 when none has any (a
        single-channel output has only class 0, the sigmoid's foreground)."""
        if self.labels is None:
            raise RuntimeError("no output read yet")
        if self._masks is not None and self._masks.shape[0] == 1:
            return 0
        counts = torch.bincount(self.labels.flatten().cpu())
        fg = counts[1:]
        return int(fg.argmax()) + 1 if fg.numel() and int(fg.max()) > 0 else 0

    def label_map(self) -> np.ndarray:
        """The argmax mask (single channel: 1 where the logit is > 0) as an int16 numpy
        array (an owned copy)."""
        if self.labels is None:
            raise RuntimeError("no output read yet")
        return np.array(self.labels.cpu().numpy(), dtype=np.int16, copy=True)
