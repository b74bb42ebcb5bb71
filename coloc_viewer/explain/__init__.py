"""Feature-map capture, channel ranking, CAMs and common intensity scales (torch, no Qt).

``coloc_viewer.explain(model, volume, slice_index, ...)`` (the public API) is
:func:`coloc_viewer.explain.engine.explain`; ``coloc_viewer/__init__.py`` binds that name
(see there). This package imports nothing heavy: torch loads with its modules.

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
