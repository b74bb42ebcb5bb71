"""Feature-map capture, channel ranking, CAMs and common intensity scales (torch, no Qt).

The package itself is callable: ``coloc_viewer.explain(model, volume, slice_index, ...)`` is
:func:`coloc_viewer.explain.engine.explain`. The public API name and the subpackage share a
name, and Python sets the package attribute when any ``coloc_viewer.explain.*`` module is
imported; a callable module keeps ``coloc_viewer.explain(...)`` working either way.

* ``engine``   -- ``explain(model, volume_or_{role: volume}, slice_index, ...)`` ->
  :class:`Explanation` (2-D and 3-D models, classification and segmentation)
* ``result``   -- :class:`Explanation`: numpy maps, back-mapping onto the image grid
* ``layers``   -- ``list_layers`` (one dry run), ``resolve_layer``, :class:`LayerInfo`
* ``capture``  -- :class:`LayerCapture`: activations + gradients, graph after the layer only
* ``targets``  -- :class:`SegmentationTarget`: class scores of a segmentation output
* ``ranking``  -- the five criteria (max, mean, gradient, contribution, ablation),
  ``decomposition``
* ``cams``     -- CAM, Grad-CAM, Grad-CAM++, Layer-CAM on raw values (4-D or 5-D)
* ``scorecam`` -- batched Score-CAM with a top-k variant
* ``scoring``  -- ``score_explanation``: slice scores (2-D) or volume scores (3-D)
* ``scale``    -- ``normalize_per_image``, :class:`CommonScale`

See docs/explain.md.
"""

from __future__ import annotations

import sys
import types
from typing import Any


class _CallablePackage(types.ModuleType):
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from coloc_viewer.explain.engine import explain

        return explain(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
