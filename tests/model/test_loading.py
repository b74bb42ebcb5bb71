"""Safe loading from cards: safetensors/state dicts/TorchScript, refusals, mismatches."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pytest
import torch
from model_cards_helper import write_card

from coloc_viewer.errors import ModelError
from coloc_viewer.model import loading
from coloc_viewer.model.card import read_card
from coloc_viewer.model.device import configure_threads
from coloc_viewer.model.loading import (
    list_bundled_models,
    load_model,
    load_state_dict,
)


def _logits(module: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return module(x)


def test_safetensors_float16_card_loads_as_float32(tiny_card: Path, resnet18_1ch) -> None:
    lm = load_model(tiny_card)
    assert lm.name == "tiny" and lm.classes == ("no lesion", "lesion")
    assert lm.device.type in ("cpu", "cuda") and not lm.module.training
    assert all(p.dtype == torch.float32 for p in lm.module.parameters())
    x = torch.randn(1, 1, 64, 64, generator=torch.Generator().manual_seed(3))
    # reference: the original weights rounded through float16, loaded by torch itself
    rounded = {k: (v.half().float() if v.is_floating_point() else v)
               for k, v in resnet18_1ch.state_dict().items()}
    ref_model = copy.deepcopy(resnet18_1ch)
    ref_model.load_state_dict(rounded)
    torch.testing.assert_close(_logits(lm.module, x), _logits(ref_model.eval(), x))


def test_pt_state_dict_and_nested_state_dict(tmp_path: Path, resnet18_1ch) -> None:
    torch.save(resnet18_1ch.state_dict(), tmp_path / "a.pt")
    torch.save({"state_dict": resnet18_1ch.state_dict(), "epoch": 3}, tmp_path / "b.pth")
    x = torch.randn(1, 1, 64, 64)
    for name, weights in (("a", "a.pt"), ("b", "b.pth")):
        lm = load_model(write_card(tmp_path, name, weights=weights))
        torch.testing.assert_close(_logits(lm.module, x), _logits(resnet18_1ch, x))


class _Evil:
    """Unpickling this runs open(marker, 'w'): the file appears if code ran."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_malicious_pickle_refused_without_running(tmp_path: Path) -> None:
    marker = tmp_path / "PWNED"
    torch.save({"conv1.weight": torch.zeros(1), "payload": _Evil(marker)}, tmp_path / "evil.pt")
    card = write_card(tmp_path, "evil", weights="evil.pt")
    with pytest.raises(ModelError) as info:
        load_model(card)
    msg = str(info.value)
    assert "evil.pt" in msg and "unpickle" in msg and "safetensors" in msg
    assert "state_dict" in msg and "\n" not in msg
    assert not marker.exists()
    with pytest.raises(ModelError):
        load_state_dict(tmp_path / "evil.pt")
    assert not marker.exists()


def test_whole_pickled_module_refused(tmp_path: Path, resnet18_1ch) -> None:
    torch.save(resnet18_1ch, tmp_path / "whole.pt")  # a pickled nn.Module, not a state dict
    with pytest.raises(ModelError, match="unpickle"):
        load_model(write_card(tmp_path, "whole", weights="whole.pt"))


def test_mismatched_classes_lists_keys_and_shapes(tmp_path: Path, tiny_card: Path) -> None:
    card = write_card(tmp_path, "three", weights="tiny.safetensors",
                      classes=["a", "b", "c"])
    with pytest.raises(ModelError) as info:
        load_model(card)
    msg = str(info.value)
    assert "wrong shapes" in msg and "fc.weight" in msg and "(2, 512) vs (3, 512)" in msg


def test_mismatched_architecture_lists_missing_keys(tmp_path: Path, tiny_card: Path) -> None:
    card = write_card(tmp_path, "r34", weights="tiny.safetensors", architecture="resnet34")
    with pytest.raises(ModelError, match=r"missing keys: layer1\.2\.") as info:
        load_model(card)
    assert "tiny.safetensors" in str(info.value)


def test_mismatched_in_channels(tmp_path: Path, tiny_card: Path) -> None:
    card = write_card(tmp_path, "rgb", weights="tiny.safetensors", in_channels=3,
                      normalization={"mode": "zscore"})
    with pytest.raises(ModelError, match=r"conv1\.weight \(64, 1, 7, 7\) vs \(64, 3, 7, 7\)"):
        load_model(card)


@pytest.mark.parametrize("change, pattern", [
    ({"normalization": {"mode": "robust"}}, "normalization.mode"),
    ({"input_size": [64]}, "input_size"),
    ({"positive_class": 5}, "positive_class"),
    ({"normalization": {"mode": "fixed", "mean": [0, 0], "std": [1]}}, "normalization.mean"),
    ({"architecture": "notanet"}, "unknown torchvision"),
    ({"weights": "nowhere.safetensors"}, "weights file not found"),
])
def test_bad_cards(tmp_path: Path, tiny_card: Path, change: dict, pattern: str) -> None:
    with pytest.raises(ModelError, match=pattern):
        load_model(write_card(tmp_path, "bad", **{**{"weights": "tiny.safetensors"}, **change}))


def test_card_missing_fields_and_bad_json(tmp_path: Path) -> None:
    (tmp_path / "m.json").write_text(json.dumps({"name": "m", "architecture": "resnet18"}))
    with pytest.raises(ModelError, match="lacks weights, in_channels"):
        read_card(tmp_path / "m.json")
    (tmp_path / "j.json").write_text("{not json")
    with pytest.raises(ModelError, match="JSON"):
        load_model(tmp_path / "j.json")


def test_bare_weights_path_asks_for_a_card(tmp_path: Path, tiny_card: Path) -> None:
    with pytest.raises(ModelError) as info:
        load_model(tmp_path / "tiny.safetensors")
    msg = str(info.value)
    assert "not a model card" in msg and "in_channels" in msg and "target_layer" in msg


@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_torchscript_card(tmp_path: Path, resnet18_1ch) -> None:
    x = torch.randn(1, 1, 64, 64)
    traced = torch.jit.trace(resnet18_1ch, x)
    traced.save(str(tmp_path / "ts.pt"))
    lm = load_model(write_card(tmp_path, "ts", architecture="torchscript", weights="ts.pt"))
    torch.testing.assert_close(_logits(lm.module, x), _logits(resnet18_1ch, x))
    (tmp_path / "junk.pt").write_bytes(b"not a zip")
    with pytest.raises(ModelError, match="TorchScript"):
        load_model(write_card(tmp_path, "junk", architecture="torchscript", weights="junk.pt"))


def test_bundled_names(tmp_path: Path, tiny_card: Path, monkeypatch) -> None:
    models = tmp_path / "res" / "models"
    models.mkdir(parents=True)
    for name in ("zeta", "demo-clean", "alpha"):
        write_card(models, name, weights="../../tiny.safetensors")
    monkeypatch.setenv("COLOC_VIEWER_RESOURCES", str(tmp_path / "res"))
    # the weights sit outside the cards' folder: allowed once that folder is configured
    monkeypatch.setenv("COLOC_VIEWER_MODELS_PATH", str(tmp_path))
    assert list_bundled_models() == ["demo-clean", "alpha", "zeta"]
    assert loading.default_model_name() == "demo-clean"
    assert load_model("alpha").name == "alpha"
    with pytest.raises(ModelError, match="bundled: demo-clean, alpha, zeta"):
        load_model("nosuchmodel")
    monkeypatch.setenv("COLOC_VIEWER_RESOURCES", str(tmp_path / "empty"))
    assert list_bundled_models() == []
    with pytest.raises(ModelError, match="no bundled model"):
        loading.default_model_name()


def test_threads_leave_a_core() -> None:
    before = torch.get_num_threads()
    try:
        n = configure_threads()
        assert n == max(1, (os.cpu_count() or 1) - 1) == torch.get_num_threads()
    finally:
        torch.set_num_threads(before)
