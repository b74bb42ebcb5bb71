"""The bundled models (resources/models/*.json) load, match their weights and explain."""

from __future__ import annotations

import numpy as np
import pytest

from coloc_viewer.explain.engine import explain
from coloc_viewer.model.loading import list_bundled_models, load_model

BUNDLED = list_bundled_models()


@pytest.mark.skipif(not BUNDLED, reason="no bundled model in resources/models yet")
@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_model_loads_and_explains(name: str) -> None:
    lm = load_model(name)
    card = lm.card
    assert card.name == name and card.target_layer and card.positive_class is not None
    rng = np.random.default_rng(0)
    shape = tuple(card.input_size)  # (h, w), or (d, h, w) for a 3-D model
    roles = [i["role"] for i in card.inputs or ()]
    img = rng.normal(size=shape).astype(np.float32)
    given = {r: rng.normal(size=shape).astype(np.float32) for r in roles} if roles else img
    e = explain(lm, given, 0 if card.spatial_dims == 2 else None, methods=("gradcam",))
    assert e.layer == card.target_layer and e.spatial_dims == card.spatial_dims
    assert e.top_map.shape == shape and np.isfinite(e.cams["gradcam"]).all()
    assert len(e.prediction["probabilities"]) == len(card.classes)
