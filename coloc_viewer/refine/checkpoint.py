"""Per-epoch checkpoints of a refine run, written atomically into its output folder.

One file, ``checkpoint.pt``, replaced after every complete epoch: the model and optimiser
state, the data generator's and torch's RNG states, the epoch count, the seconds trained
so far, the torch thread count and the run's settings (a rerun with other settings or
another thread count refuses the folder rather than mixing two runs). Read back with
``weights_only=True`` (no pickled code runs).
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

import torch

from coloc_viewer.errors import InputError
from coloc_viewer.workspace.atomic import atomic_write_bytes

CHECKPOINT = "checkpoint.pt"


def settings_key(settings: dict[str, Any]) -> str:
    """A stable digest of the run settings that decide the weights."""
    text = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def save_checkpoint(out_dir: Path, *, epoch: int, seconds: float, settings: dict[str, Any],
                    module: torch.nn.Module, optimizer: torch.optim.Optimizer,
                    generator: torch.Generator, losses: list[dict[str, float]]) -> Path:
    """Write the state after ``epoch`` complete epochs (atomically: a kill leaves the
    previous checkpoint or this one, never half a file)."""
    state = {
        "epoch": int(epoch), "seconds": float(seconds), "key": settings_key(settings),
        "settings": json.dumps(settings, sort_keys=True, default=str),
        "losses": json.dumps(losses),
        "model": {k: v.detach().cpu() for k, v in module.state_dict().items()},
        "optimizer": optimizer.state_dict(),
        "generator": generator.get_state(),
        "torch_rng": torch.get_rng_state(),
        "threads": torch.get_num_threads(),  # a run repeats bit for bit at one count only
    }
    buf = io.BytesIO()
    torch.save(state, buf)
    path = out_dir / CHECKPOINT
    atomic_write_bytes(path, buf.getvalue())
    return path


def load_checkpoint(out_dir: Path, settings: dict[str, Any]) -> dict[str, Any] | None:
    """The checkpoint in ``out_dir`` (None when there is none); an unreadable one or one of
    other settings is an :class:`InputError` naming the file."""
    path = out_dir / CHECKPOINT
    if not path.is_file():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - one clear line whatever torch raises
        raise InputError(f"not a readable refine checkpoint ({type(err).__name__}); delete it "
                         "to start again", path) from None
    if not isinstance(state, dict) or state.get("key") != settings_key(settings):
        raise InputError("this folder holds a checkpoint of a refine run with other settings "
                         "(method, lambda, epochs, lr, seed, batch size, cases or model); "
                         "choose another --out or delete the checkpoint", path)
    threads = state.get("threads")
    if threads is not None and int(threads) != torch.get_num_threads():
        raise InputError(f"this checkpoint was written with {int(threads)} torch threads and "
                         f"this run has {torch.get_num_threads()}: resume with --threads "
                         f"{int(threads)} (a run repeats bit for bit at one thread count "
                         "only), or choose another --out", path)
    state["losses"] = json.loads(state.get("losses") or "[]")
    return state


def restore(state: dict[str, Any], module: torch.nn.Module, optimizer: torch.optim.Optimizer,
            generator: torch.Generator) -> None:
    """Put the run back where the checkpoint left it."""
    module.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    generator.set_state(state["generator"])
    torch.set_rng_state(state["torch_rng"])
