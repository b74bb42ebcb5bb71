"""Fixtures for model tests: tiny cards + weights written into tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from model_cards_helper import write_card
from safetensors.torch import save_file

from coloc_viewer.model.architectures import build_torchvision


@pytest.fixture(scope="session")
def card_writer():
    """``card_writer(folder, name="tiny", **fields) -> Path`` of a card JSON."""
    return write_card


@pytest.fixture(scope="session")
def resnet18_1ch() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_torchvision("resnet18", 2, 1).eval()


@pytest.fixture
def tiny_card(tmp_path: Path, resnet18_1ch: torch.nn.Module) -> Path:
    """A resnet18 (1 channel, 2 classes) card with float16 .safetensors weights."""
    state = {k: (v.half() if v.is_floating_point() else v)
             for k, v in resnet18_1ch.state_dict().items()}
    save_file(state, str(tmp_path / "tiny.safetensors"))
    return write_card(tmp_path)
