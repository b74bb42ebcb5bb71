"""The training script end to end in its tiny configuration: cards and weights that load."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open

from coloc_viewer.explain.engine import explain
from coloc_viewer.model.loading import load_model

SCRIPT = Path(__file__).resolve().parents[2] / "tools" / "train_demo_models.py"


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    spec = importlib.util.spec_from_file_location("train_demo_models", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses need the module registered
    spec.loader.exec_module(module)
    out = tmp_path_factory.mktemp("models")
    assert module.main(["--tiny", "--out", str(out), "--threads", "1"]) == 0
    return out


@pytest.mark.parametrize("name", ["demo-clean", "demo-shortcut"])
def test_tiny_training_writes_loadable_cards(trained, name):
    card_path = trained / f"{name}.json"
    card = json.loads(card_path.read_text())
    assert card["architecture"] == "resnet18" and card["in_channels"] == 1
    assert card["classes"] == ["no lesion", "lesion"] and card["positive_class"] == 1
    assert card["training"]["tiny"] is True and card["training"]["epochs"] == 1
    with safe_open(str(trained / card["weights"]), framework="pt") as f:
        dtypes = {f.get_tensor(k).dtype for k in f.keys()}  # noqa: SIM118
    assert torch.float16 in dtypes and torch.float32 not in dtypes

    model = load_model(card_path, device="cpu")
    rng = np.random.default_rng(0)
    ex = explain(model, rng.random((256, 256)).astype(np.float32) * 500, 0)
    probs = ex.prediction["probabilities"]
    assert len(probs) == 2 and abs(sum(probs) - 1) < 1e-4
    assert ex.top_map.shape == (256, 256)
