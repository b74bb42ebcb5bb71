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
    h, w = card.input_size
    img = np.random.default_rng(0).normal(size=(h, w)).astype(np.float32)
    e = explain(lm, img, 0, methods=("gradcam",))
    assert e.layer == card.target_layer
    assert e.top_map.shape == (h, w) and np.isfinite(e.cams["gradcam"]).all()
    assert len(e.prediction["probabilities"]) == len(card.classes)
