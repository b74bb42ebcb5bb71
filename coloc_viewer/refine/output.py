"""The refined model's files: ``<name>.safetensors`` and the ``<name>.json`` card.

The card is the source card with a new ``name``, ``weights`` and ``description``, plus
``refined_from`` = ``{name, sha256}`` (the source card's name and the SHA-256 of its
weights file) and ``refine`` = ``{method, lambda, epochs, lr, seed, batch_size,
lesion_roi, shortcut_roi, organ_roi, weight_decay, flip, train_batchnorm, schedule,
actdiff_layer (when not the target layer), cases,
slices, train_seconds, threads, device, losses, settings_key}``. Both files are written
atomically, the weights first; the checkpoint is removed once the card is in place. A
finished model is never overwritten by a run of other settings (``refuse_to_overwrite``).
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save as st_save

from coloc_viewer.errors import InputError
from coloc_viewer.model.card import ModelCard, read_card
from coloc_viewer.refine.checkpoint import CHECKPOINT, settings_key
from coloc_viewer.workspace.atomic import atomic_write_bytes, atomic_write_json


def epochs_text(n: int) -> str:
    """"1 epoch", "4 epochs"."""
    return f"{n} epoch{'' if n == 1 else 's'}"


def card_dict(source: ModelCard, name: str, settings: dict[str, Any], seconds: float,
              history: list[dict[str, float]], device: str) -> dict[str, Any]:
    """The refined card as a JSON-ready dict."""
    d = source.to_dict()
    d.update(name=name, weights=f"{name}.safetensors")
    d["description"] = (f"{source.name} fine-tuned by coloc-viewer refine ({settings['method']}, "
                        f"lambda {settings['lambda']:g}, {epochs_text(settings['epochs'])} on "
                        f"{settings['slices']} slices of {len(settings['cases'])} cases).")
    d["refined_from"] = {"name": source.name, "sha256": settings["sha256"]}
    d["refine"] = {
        "method": settings["method"], "lambda": settings["lambda"],
        "epochs": settings["epochs"], "lr": settings["lr"], "seed": settings["seed"],
        "batch_size": settings["batch_size"], "lesion_roi": settings["lesion_roi"],
        "shortcut_roi": settings["shortcut_roi"], "organ_roi": settings.get("organ_roi"),
        "weight_decay": settings.get("weight_decay", 0.0), "flip": settings.get("flip", False),
        "train_batchnorm": settings.get("train_batchnorm", False),
        "schedule": settings.get("schedule", "constant"),
        **({"actdiff_layer": settings["actdiff_layer"]} if settings.get("actdiff_layer")
           else {}),
        "cases": len(settings["cases"]),
        "slices": settings["slices"], "train_seconds": round(float(seconds), 3),
        "threads": torch.get_num_threads(), "device": device,
        "losses": [{k: round(float(v), 6) for k, v in h.items()} for h in history],
        "settings_key": settings_key(settings),
    }
    return {k: v for k, v in d.items() if v is not None}


def write_refined(out: Path, name: str, model: Any, settings: dict[str, Any],
                  seconds: float, n_slices: int, history: list[dict[str, float]]
                  ) -> dict[str, Any]:
    """Write weights and card; return ``card_path``, ``weights_path`` and ``card``."""
    del n_slices  # in settings already
    weights = out / f"{name}.safetensors"
    state = {k: v.detach().cpu().contiguous() for k, v in model.module.state_dict().items()}
    atomic_write_bytes(weights, st_save(state, metadata={"refined_from": model.card.name}))
    card_path = out / f"{name}.json"
    atomic_write_json(card_path, card_dict(model.card, name, settings, seconds, history,
                                           str(model.device)))
    with contextlib.suppress(OSError):
        (out / CHECKPOINT).unlink()
    return {"card_path": card_path, "weights_path": weights, "card": read_card(card_path)}


def existing_result(out: Path, name: str, settings: dict[str, Any]) -> dict[str, Any] | None:
    """The finished run already in ``out`` with these settings (its card and weights
    present), as :class:`RefineResult` fields; else None."""
    card_path, weights = out / f"{name}.json", out / f"{name}.safetensors"
    if not card_path.is_file() or not weights.is_file() or (out / CHECKPOINT).exists():
        return None
    try:
        data = json.loads(card_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    info = data.get("refine") if isinstance(data, dict) else None
    if not isinstance(info, dict) or info.get("settings_key") != settings_key(settings):
        return None
    return {"card_path": card_path, "weights_path": weights, "card": read_card(card_path),
            "method": settings["method"], "epochs": settings["epochs"],
            "resumed_from": settings["epochs"],
            "train_seconds": float(info.get("train_seconds", 0.0)),
            "losses": list(info.get("losses", []))}


def refuse_to_overwrite(out: Path, name: str) -> None:
    """An :class:`InputError` when ``out`` holds a finished refined model of this name made
    with other settings (no checkpoint of a run under way): a new run would overwrite the
    model that viewers, reports and cohorts may already use under that card."""
    card_path = out / f"{name}.json"
    if card_path.is_file() and not (out / CHECKPOINT).exists():
        raise InputError("this folder already holds a refined model made with other "
                         "settings; choose another output folder (or delete that model) so "
                         "that it is not overwritten", card_path)
