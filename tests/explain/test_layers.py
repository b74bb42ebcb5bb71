"""Layer discovery from one dry run."""

from __future__ import annotations

import pytest

from coloc_viewer.errors import ModelError
from coloc_viewer.explain.layers import list_layers, resolve_layer


def test_resnet18_layers(tv_model) -> None:
    layers = list_layers(tv_model("resnet18", 1), (1, 64, 80))
    by_name = {i.name: i for i in layers}
    assert by_name["layer4"].out_shape == (512, 2, 3) and by_name["layer4"].type == "Sequential"
    assert by_name["conv1"].out_shape == (64, 32, 40)
    assert by_name["layer1.0.relu"].calls == 2  # a block's ReLU runs twice per forward
    assert by_name["avgpool"].out_shape == (512, 1, 1)
    assert "fc" not in by_name  # 2-D output
    names = [i.name for i in layers]
    assert names.index("layer4.1") < names.index("layer4") < names.index("avgpool")
    assert resolve_layer(layers, None).name == "layer4"  # the global pool is skipped
    assert resolve_layer(layers, None, card_default="layer3").name == "layer3"
    assert resolve_layer(layers, "layer2.1", card_default="layer3").name == "layer2.1"
    with pytest.raises(ModelError, match="no layer 'layer5'.*layer4"):
        resolve_layer(layers, "layer5")


def test_densenet_default_is_features(tv_model) -> None:
    layers = list_layers(tv_model("densenet121", 1), (1, 64, 64))
    assert resolve_layer(layers, None).name == "features"
    assert {i.name: i for i in layers}["features"].out_shape == (1024, 2, 2)
