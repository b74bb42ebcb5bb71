"""Safe model loading from cards: torchvision/timm/MONAI networks + weights, a
``torch.export`` program (``.pt2``), or TorchScript (prediction only).

Never unpickles arbitrary objects: ``.safetensors`` are plain tensors; ``.pt``/``.pth``/
``.bin`` state dicts go through ``torch.load(weights_only=True)``; ``.pt2`` archives are
pre-scanned (:mod:`coloc_viewer.model.pt2_scan`). A file that needs more is refused with a
:class:`ModelError` that says why; so is every other failure while reading weights.
"""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from coloc_viewer.errors import ModelError
from coloc_viewer.model.architectures import build_architecture
from coloc_viewer.model.card import ModelCard, card_from_dict, read_card
from coloc_viewer.model.device import configure_threads, parse_device
from coloc_viewer.model.export_loading import check_export_io, load_export
from coloc_viewer.model.preprocess import Preprocessor
from coloc_viewer.resources import models_dir

WEIGHT_SUFFIXES = (".safetensors", ".pt", ".pth", ".bin", ".ckpt")
TORCHSCRIPT_SUFFIXES = (".torchscript", ".ts", ".jit")
EXPORT_SUFFIXES = (".pt2",)
PREFERRED_DEFAULT = "demo-clean"


@dataclass(eq=False)
class LoadedModel:
    """A ready-to-run model: its card, the module (eval mode, on ``device``) and the
    card's :class:`Preprocessor`. ``cache`` holds per-model facts found by dry runs
    (layer lists, suffix plans) so they are computed once."""

    card: ModelCard
    module: nn.Module = field(repr=False)
    device: torch.device
    preprocess: Preprocessor = field(repr=False)
    cache: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def name(self) -> str:
        return self.card.name

    @property
    def classes(self) -> tuple[str, ...]:
        return self.card.classes


def list_bundled_models() -> list[str]:
    """Names of the bundled model cards (``resources/models/<name>.json``), sorted, with
    ``demo-clean`` first when present."""
    folder = models_dir()
    names = sorted(p.stem for p in folder.glob("*.json")) if folder.is_dir() else []
    if PREFERRED_DEFAULT in names:
        names.remove(PREFERRED_DEFAULT)
        names.insert(0, PREFERRED_DEFAULT)
    return names


def default_model_name() -> str:
    """The model used when none is named: the first of :func:`list_bundled_models`."""
    names = list_bundled_models()
    if not names:
        raise ModelError("no bundled model found; pass --model with a model card JSON",
                         models_dir())
    return names[0]


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return (text.splitlines()[0] if text else type(err).__name__)[:300]


def _first_few(keys: list[str], n: int = 4) -> str:
    shown = ", ".join(keys[:n])
    return shown + (f" and {len(keys) - n} more" if len(keys) > n else "")


def load_state_dict(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """Tensors of a ``.safetensors`` file or of a ``.pt`` state dict, floating point cast to
    float32, without unpickling arbitrary objects."""
    path = Path(path)
    if not path.is_file():
        raise ModelError("weights file not found", path)
    if path.suffix.lower() in EXPORT_SUFFIXES + TORCHSCRIPT_SUFFIXES:
        raise ModelError("this is a program, not a state dict: use architecture \"export\" "
                         "for .pt2 files or \"torchscript\"", path)
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            state = load_file(str(path), device="cpu")
        except Exception as err:  # noqa: BLE001 - SafetensorError, OSError, ...
            raise ModelError("not a readable .safetensors file "
                             f"({type(err).__name__}: {_first_line(err)})", path) from None
    else:
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as err:
            first = str(err).strip().splitlines()
            detail = next((ln for ln in first if "GLOBAL" in ln or "Unsupported" in ln),
                          first[0] if first else "")
            raise ModelError(
                "refused: loading this file would unpickle arbitrary Python objects, which "
                f"can run code ({detail.strip()}). Export the weights as a plain state_dict "
                "(torch.save(model.state_dict(), ...)) or as .safetensors", path) from None
        except Exception as err:  # noqa: BLE001 - whatever the reader raises, one line
            raise ModelError("not a readable PyTorch state dict "
                             f"({type(err).__name__}: {_first_line(err)})", path) from None
        if isinstance(state, dict):
            for key in ("state_dict", "model_state_dict", "model"):
                if isinstance(state.get(key), dict):
                    state = state[key]
                    break
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor)
                                              for v in state.values()):
        raise ModelError("the weights file is not a mapping of names to tensors (a state "
                         "dict); export model.state_dict() or .safetensors", path)
    if state and all(k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    return {k: v.float() if v.is_floating_point() else v for k, v in state.items()}


def _apply_state_dict(module: nn.Module, state: dict[str, torch.Tensor], path: Path) -> None:
    expected = module.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong = [f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}"
             for k, v in expected.items() if k in state and state[k].shape != v.shape]
    problems = []
    if missing:
        problems.append(f"missing keys: {_first_few(missing)}")
    if unexpected:
        problems.append(f"unexpected keys: {_first_few(unexpected)}")
    if wrong:
        problems.append(f"wrong shapes (file vs card): {_first_few(wrong, 3)}")
    if problems:
        raise ModelError("weights do not match the card's architecture, classes and "
                         f"in_channels; {'; '.join(problems)}", path)
    module.load_state_dict(state, strict=True)


def _dry_run_check(card: ModelCard) -> None:
    """Build the card's network on the meta device (no memory, no compute) and run zeros of
    ``(1, in_channels, *input_size)`` through it: a network that does not take the card's
    channels or does not give one output per class is a clear ModelError."""
    args = card.architecture_args
    for key, want, what in (("spatial_dims", card.spatial_dims, "spatial_dims"),
                            ("in_channels", card.in_channels, "in_channels"),
                            ("in_chans", card.in_channels, "in_channels"),
                            ("out_channels", len(card.classes), "len(classes)"),
                            ("num_classes", len(card.classes), "len(classes)")):
        if key in args and args[key] != want:
            raise ModelError(f"architecture_args {key}={args[key]!r} does not match the card "
                             f"({what} = {want})", card.path)
    try:
        with torch.device("meta"):
            probe = build_architecture(card.architecture, len(card.classes), card.in_channels,
                                       args).eval()
    except (NotImplementedError, ValueError):
        return  # the real build below reports the problem
    try:
        with torch.device("meta"):
            out = probe(torch.zeros(1, card.in_channels, *card.input_size))
    except NotImplementedError:
        return  # an operator without a meta kernel
    except Exception as err:  # noqa: BLE001 - a shape error from inside the network
        raise ModelError(
            f"{card.architecture} with architecture_args {card.architecture_args} cannot run "
            f"on in_channels={card.in_channels} at input_size {list(card.input_size)}; check "
            f"them against the card ({type(err).__name__}: {_first_line(err)})",
            card.path) from None
    _check_output(card, out)


def _check_output(card: ModelCard, out: Any) -> None:
    shape = tuple(out.shape) if isinstance(out, torch.Tensor) else None
    n = len(card.classes)
    if card.task == "segmentation":
        ok = shape is not None and len(shape) == card.spatial_dims + 2 and shape[1] == n
        want = f"[1, {n}, {', '.join('...' for _ in card.input_size)}]"
    else:
        ok = shape is not None and len(shape) == 2 and shape[1] == n
        want = f"[1, {n}]"
    if not ok:
        got = list(shape) if shape is not None else type(out).__name__
        raise ModelError(f"{card.architecture} gives output {got} for a {card.task} card "
                         f"with {n} classes (expected {want}); check architecture_args "
                         "(e.g. out_channels) against classes", card.path)


def _build(card: ModelCard, device: torch.device) -> nn.Module:
    library = card.library
    if library == "module":
        raise ModelError("architecture \"module\" is for modules wrapped in code "
                         "(wrap_module); a card file needs a library name or \"export\"",
                         card.path)
    wpath = card.weights_path()
    if card.is_torchscript:
        try:
            module = torch.jit.load(str(wpath), map_location="cpu")
        except Exception as err:  # noqa: BLE001 - one clear line whatever torch raises
            raise ModelError(f"not a loadable TorchScript archive ({_first_line(err)})",
                             wpath) from None
        return module.eval().to(device)
    if card.is_export:
        module = load_export(wpath)
        check_export_io(module, card)
        return module.to(device)
    _dry_run_check(card)
    try:
        module = build_architecture(card.architecture, len(card.classes), card.in_channels,
                                    card.architecture_args)
    except ValueError as err:
        raise ModelError(str(err), card.path) from None
    _apply_state_dict(module, load_state_dict(wpath), wpath)
    return module.eval().to(device)


def resolve_card(name_or_card: str | os.PathLike[str] | ModelCard | dict) -> ModelCard:
    """The card of a bundled name, card path, card or dict, read without building the
    model (bad input raises ModelError)."""
    if isinstance(name_or_card, ModelCard):
        return name_or_card
    if isinstance(name_or_card, dict):
        return card_from_dict(name_or_card)
    text = os.fspath(name_or_card)
    path = Path(text)
    if path.suffix.lower() in WEIGHT_SUFFIXES + TORCHSCRIPT_SUFFIXES + EXPORT_SUFFIXES:
        raise ModelError(
            "this is a weights/program file, not a model card. Write a card JSON next to "
            "it with name, architecture (torchvision:NAME, timm:NAME, monai:CLASS, \"export\" "
            "or \"torchscript\"), weights "
            f"(\"{path.name}\"), in_channels, input_size [h, w], normalization, classes, "
            "positive_class and target_layer, and pass the card", path)
    if path.suffix.lower() == ".json" or path.exists():
        return read_card(path)
    bundled = models_dir() / f"{text}.json"
    if bundled.is_file():
        return read_card(bundled)
    known = ", ".join(list_bundled_models()) or "none"
    raise ModelError(f"no such model card or bundled model (bundled: {known})", text)


def load_model(name_or_card: str | os.PathLike[str] | ModelCard | dict,
               device: str | torch.device | None = None) -> LoadedModel:
    """Load a bundled model by name, a card JSON path, or a card (dict/:class:`ModelCard`).

    The module is in eval mode on ``device`` (CUDA when present, else CPU); torch threads
    are set to leave a core free (:func:`configure_threads`).
    """
    card = resolve_card(name_or_card)
    dev = parse_device(device)
    configure_threads()
    module = _build(card, dev)
    return LoadedModel(card, module, dev, Preprocessor(card.in_channels, card.input_size,
                                                       card.normalization))


def wrap_module(module: nn.Module, *, in_channels: int, input_size: tuple[int, ...],
                classes: list[str] | tuple[str, ...] | None = None,
                normalization: dict[str, Any] | None = None, target_layer: str | None = None,
                name: str = "custom", device: str | torch.device | None = None,
                task: str = "classification") -> LoadedModel:
    """A :class:`LoadedModel` around a module built in code (no card file, no weights file).
    ``input_size`` is ``(h, w)`` or ``(d, h, w)``; ``classes`` defaults to ``class 0 ..
    class n-1`` from one dry run (the output's dimension 1)."""
    dev = torch.device(device) if device is not None else next(
        (p.device for p in module.parameters()), torch.device("cpu"))
    module = module.eval().to(dev)
    if classes is None:
        with torch.no_grad():
            n = module(torch.zeros(1, in_channels, *input_size, device=dev)).shape[1]
        classes = [f"class {i}" for i in range(n)]
    card = card_from_dict({
        "name": name, "architecture": "module", "weights": "", "in_channels": in_channels,
        "input_size": list(input_size), "spatial_dims": len(input_size),
        "task": task, "classes": list(classes),
        "normalization": normalization or {"mode": "zscore"}, "target_layer": target_layer})
    return LoadedModel(card, module, dev, Preprocessor(in_channels, input_size,
                                                       card.normalization))
