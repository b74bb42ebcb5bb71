"""Co-localization scores of an :class:`Explanation` against an ROI, 2-D or 3-D alike.

For a 2-D model the slice's maps are scored with :func:`coloc_viewer.metrics.scores.score`
(the ROI may be the slice's 2-D mask or the whole (z, y, x) mask); for a 3-D model the
(z, y, x) maps are volume scores, :func:`coloc_viewer.metrics.volume.score_volume` with
``shifts="3d"`` (pooled over the whole volume, p-value over 3-D translations).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from coloc_viewer.errors import InputError
from coloc_viewer.explain.result import Explanation
from coloc_viewer.metrics.scores import score
from coloc_viewer.metrics.volume import score_volume


def score_explanation(expl: Explanation, roi: np.ndarray, method: str = "gradcam",
                      **options: Any) -> dict[str, dict[str, Any]]:
    """``{"top_map": scores, "cam": scores}`` (DESIGN §4 keys) for the top-ranked channel
    (with its nearest-upsampled map as ``seed_map``) and for CAM ``method``. ``options`` go
    to the metrics function (``threshold``, ``upsample``, ``body_mask``, ``p_value``). For
    a 3-D model each value is the volume's ``aggregate`` plus its per-slice ``slices``."""
    mask = np.asarray(roi)
    if expl.spatial_dims == 3:
        if mask.shape != expl.image_shape:
            raise InputError(f"the ROI has shape {mask.shape}; this 3-D explanation is on "
                             f"the volume grid {expl.image_shape}")

        def vol(m: np.ndarray, seed: np.ndarray | None = None) -> dict[str, Any]:
            res = score_volume(m, mask, seed_map=seed, shifts="3d", **options)
            return {**res["aggregate"], "slices": res["slices"]}

        return {"top_map": vol(expl.top_map, expl.seed_map), "cam": vol(expl.cam_map(method))}
    if mask.ndim == 3:
        if expl.slice_index is None or not 0 <= expl.slice_index < mask.shape[0]:
            raise InputError(f"the ROI has {mask.shape[0]} slices; slice {expl.slice_index} "
                             "is not among them")
        mask = mask[expl.slice_index]
    return {"top_map": score(expl.top_map, mask, seed_map=expl.seed_map, **options),
            "cam": score(expl.cam_map(method), mask, **options)}
