"""Model cards, safe loading and bundled models (torch, no Qt).

* ``card``          -- :class:`ModelCard`, ``read_card``/``card_from_dict`` (validation)
* ``architectures`` -- ``build_torchvision(architecture, num_classes, in_channels)``
* ``loading``       -- ``load_model``, :class:`LoadedModel`, ``list_bundled_models``,
  ``load_state_dict`` (never unpickles arbitrary objects), ``wrap_module``
* ``preprocess``    -- :class:`Preprocessor`: slice in physical units -> input tensor
* ``transform``     -- :class:`SliceTransform`: slice grid <-> input grid <-> layer grid
* ``device``        -- ``default_device``, ``configure_threads``
"""
