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


def _loaded_model(module: torch.nn.Module, input_size: tuple[int, ...], *,
                 in_channels: int = 1, classes: tuple[str, ...] = ("no", "yes"),
                 task: str = "classification", inputs: list[dict] | None = None,
                 target_layer: str | None = None, normalization: dict | None = None):
    """A LoadedModel around ``module`` with a card built in the test (2-D or 3-D, any task,
    optional ``inputs``); card fields the card module does not know yet are set directly."""
    import dataclasses

    from coloc_viewer.model.card import ModelCard, card_from_dict
    from coloc_viewer.model.loading import LoadedModel
    from coloc_viewer.model.preprocess import Preprocessor

    extra = {"spatial_dims": len(input_size), "task": task,
             "inputs": None if inputs is None else tuple(inputs)}
    known = {f.name for f in dataclasses.fields(ModelCard)}
    data = {"name": "test-model", "architecture": "module", "weights": "",
            "in_channels": in_channels, "input_size": list(input_size),
            "classes": list(classes), "target_layer": target_layer,
            "normalization": normalization or {"mode": "fixed", "mean": [0.0], "std": [1.0]}}
    data.update({k: (list(v) if isinstance(v, tuple) else v) for k, v in extra.items()
                 if k in known and v is not None})
    card = card_from_dict(data)
    for k, v in extra.items():
        if k not in known:
            object.__setattr__(card, k, v)
    module = module.eval()
    return LoadedModel(card, module, torch.device("cpu"),
                       Preprocessor(in_channels, input_size, card.normalization))


@pytest.fixture(scope="session")
def loaded_model():
    """``loaded_model(module, input_size, ...) -> LoadedModel`` (see ``_loaded_model``)."""
    return _loaded_model
