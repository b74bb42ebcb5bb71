"""Fixtures for explain tests: torchvision models with fixed random weights, small inputs."""

from __future__ import annotations

import copy

import pytest
import torch

from coloc_viewer.model.architectures import _replace_first_conv, build_torchvision


@pytest.fixture(autouse=True, scope="session")
def _two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


_MODELS: dict[tuple[str, int], torch.nn.Module] = {}


@pytest.fixture(scope="session")
def tv_model():
    """``tv_model(arch, in_channels) -> eval module`` (seeded, cached per session)."""

    def get(arch: str, in_channels: int, num_classes: int = 3) -> torch.nn.Module:
        key = (arch, in_channels)
        if key not in _MODELS:
            torch.manual_seed(7)
            if in_channels != 3:  # the card convention applied to the seeded 3-channel net
                model = copy.deepcopy(get(arch, 3, num_classes))
                _replace_first_conv(model, in_channels)
            else:
                model = build_torchvision(arch, num_classes, in_channels)
            _MODELS[key] = model.eval()
        return _MODELS[key]

    return get
