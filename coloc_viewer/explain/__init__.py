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
