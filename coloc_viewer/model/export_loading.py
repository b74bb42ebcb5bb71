"""Load a ``torch.export`` program (``.pt2``) as a module with named submodules.

The archive is pre-scanned (:func:`coloc_viewer.model.pt2_scan.scan_pt2`) so that nothing
in it can run code, then read with ``torch.export.load`` and turned back into a module
tree with ``torch.export.unflatten``: submodules keep their names (``features.denseblock3``,
``layer4``), so forward hooks and autograd work as on the original module.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import re
from pathlib import Path
from typing import Any

import torch
from torch import nn

from coloc_viewer.errors import ModelError
from coloc_viewer.model.pt2_scan import scan_pt2

log = logging.getLogger(__name__)


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return (text.splitlines()[0] if text else type(err).__name__)[:300]


def _generated_code() -> contextlib.AbstractContextManager[None]:
    """Unflattened submodules run the code FX generated from the (scanned) graph instead of
    ``torch.fx.Interpreter`` node by node: the same operations, 2-3x less Python overhead
    (DenseNet121 at 128 px: 130 ms -> ~55 ms, eager 53 ms). Hooks still fire on every
    named submodule. Falls back to the interpreter if torch drops the private switch."""
    # torch.export.unflatten is a function; the module of the same name is in sys.modules
    switch = getattr(importlib.import_module("torch.export.unflatten"),
                     "_disable_interpreter", None)
    return switch() if switch is not None else contextlib.nullcontext()


_GETATTR_SELF = re.compile(r"getattr\(self, [\"']([^\"']+)[\"']\)")


def _calls_resolve(module: nn.Module) -> bool:
    """Every submodule the generated code calls exists. The fast path cannot run a module
    that is called more than once (ResNet's shared ``relu``): torch's code then calls
    ``getattr(self, "relu@1")``, an attribute it never creates; the interpreter can."""
    for sub in module.modules():
        # the code that runs is graph_module's, with ``self`` = the submodule
        code = getattr(getattr(sub, "graph_module", None), "code", None)
        if not isinstance(code, str):
            continue
        if any(not hasattr(sub, name) for name in _GETATTR_SELF.findall(code)):
            return False
    return True


def load_export(path: str | os.PathLike[str]) -> nn.Module:
    """The unflattened module of the exported program at ``path`` (on the CPU, eval mode).

    Every failure is a :class:`ModelError` naming the file."""
    path = Path(path)
    if path.suffix.lower() != ".pt2":
        raise ModelError("an \"export\" card needs a .pt2 file written by torch.export.save",
                         path)
    scan_pt2(path)
    torch_log = logging.getLogger("torch.export")
    level = torch_log.level
    torch_log.setLevel(logging.ERROR)  # torch logs, then swallows, some load errors
    try:
        program = torch.export.load(str(path))
        with _generated_code():
            module = torch.export.unflatten(program)
        if not _calls_resolve(module):  # e.g. a module called twice (ResNet's shared relu)
            module = torch.export.unflatten(program)
    except Exception as err:  # noqa: BLE001 - whatever torch raises, one clear line
        raise ModelError(f"not a loadable torch.export program ({type(err).__name__}: "
                         f"{_first_line(err)})", path) from None
    finally:
        torch_log.setLevel(level)
    return module.eval()


def _dims(val: object) -> list[int | None] | None:
    """Static sizes of a fake tensor's shape (``None`` for a symbolic dimension)."""
    shape = getattr(val, "shape", None)
    if shape is None:
        return None
    return [d if isinstance(d, int) else None for d in shape]


def check_export_io(module: nn.Module, card: Any) -> None:
    """The program takes one tensor ``(N, in_channels, *input_size)`` with a dynamic batch
    dimension ``N`` (the explanations batch extra rows) and gives one tensor with one
    output per class; else a :class:`ModelError` saying how to re-export."""
    graph = getattr(module, "graph", None)
    if graph is None:
        return
    wpath = card.weights_path()
    inputs = [n for n in graph.nodes if n.op == "placeholder"]
    want = [card.in_channels, *card.input_size]
    if len(inputs) != 1:
        raise ModelError(f"the exported program takes {len(inputs)} inputs; coloc_viewer "
                         "feeds one tensor (series are stacked as channels)", wpath)
    dims = _dims(inputs[0].meta.get("val"))
    if dims is not None:
        shown = ["N" if d is None else d for d in dims]
        if len(dims) != len(want) + 1 or any(d is not None and d != w
                                             for d, w in zip(dims[1:], want)):
            raise ModelError(f"the exported program takes input {shown}, the card says "
                             f"[N, {', '.join(map(str, want))}] (in_channels, input_size)",
                             wpath)
        if dims[0] is not None:
            raise ModelError(
                f"the exported program has a fixed batch size ({dims[0]}); explanations "
                "run several rows at once. Re-export with a dynamic batch: "
                "torch.export.export(model, (x,), dynamic_shapes=({0: "
                "torch.export.Dim(\"batch\", min=1, max=4096)},)) with x of batch size 2",
                wpath)
    outputs = [n for n in graph.nodes if n.op == "output"]
    args = outputs[0].args[0] if outputs and outputs[0].args else None
    if isinstance(args, tuple | list):
        if len(args) != 1:
            raise ModelError(f"the exported program returns {len(args)} outputs; one tensor "
                             "of logits is expected", wpath)
        args = args[0]
    out = _dims(getattr(args, "meta", {}).get("val"))
    if out is not None and len(out) >= 2 and out[1] is not None \
            and out[1] != len(card.classes):
        raise ModelError(f"the exported program gives {out[1]} outputs per row, the card "
                         f"lists {len(card.classes)} classes", wpath)
