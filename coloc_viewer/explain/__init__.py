"""Feature-map capture, channel ranking, CAMs and common intensity scales (torch, no Qt).

* ``engine``   -- ``explain(model, volume, slice_index, ...)`` -> :class:`Explanation`
* ``layers``   -- ``list_layers`` (one dry run), ``resolve_layer``, :class:`LayerInfo`
* ``capture``  -- :class:`LayerCapture`: activations + gradients, graph after the layer only
* ``ranking``  -- the five criteria (max, mean, gradient, contribution, ablation),
  ``decomposition``
* ``cams``     -- CAM, Grad-CAM, Grad-CAM++, Layer-CAM on raw values
* ``scorecam`` -- batched Score-CAM with a top-k variant
* ``scale``    -- ``normalize_per_image``, :class:`CommonScale`

See docs/explain.md.
"""

from __future__ import annotations

import sys
import types
from typing import Any


class _CallableModule(types.ModuleType):
    """The public API name ``coloc_viewer.explain`` is both this subpackage and the function
    :func:`coloc_viewer.explain.engine.explain`; once the subpackage is imported Python binds
    the name to the module, so the module forwards calls to the function."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from coloc_viewer.explain.engine import explain

        return explain(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
