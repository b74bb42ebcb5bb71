"""Write small model cards for tests (imported by tests/model)."""

from __future__ import annotations

import json
from pathlib import Path


def write_card(folder: Path, name: str = "tiny", **fields) -> Path:
    card = {"name": name, "architecture": "resnet18", "weights": f"{name}.safetensors",
            "in_channels": 1, "input_size": [64, 64],
            "normalization": {"mode": "fixed", "mean": [0.0], "std": [1.0]},
            "classes": ["no lesion", "lesion"], "positive_class": 1, "target_layer": "layer4"}
    card.update(fields)
    path = folder / f"{name}.json"
    path.write_text(json.dumps(card))
    return path
