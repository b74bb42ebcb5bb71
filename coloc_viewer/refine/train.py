"""``refine()``: fine-tune a 2-D slice classifier with an attribution penalty.

Loss per batch: ``cross_entropy(logits, y) + lam * penalty`` (see
:mod:`coloc_viewer.refine.losses` for the penalties and their reductions; ``none`` and
``masked`` have no penalty). AdamW (``weight_decay`` 0: Adam) at a constant ``lr``, or
with ``schedule="cosine"`` annealed per batch from ``lr`` to 0 over the run. By
default BatchNorm statistics stay frozen (the layers run in eval mode, their affine weights
train), so the shuffled and masked copies never leak into the running statistics;
``train_batchnorm`` lets them adapt (ActDiff then normalises the image and its shuffled
copy as one batch). ``flip`` mirrors a batch left-right with probability 1/2. One
``torch.Generator`` seeded with ``seed`` draws the batch order, the flips and the ActDiff
shuffles; with the same seed, thread count
and device a run is repeatable bit for bit, and a run resumed from its last checkpoint
ends with the same weights as one never interrupted.
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from coloc_viewer.cohort.manifest import read_manifest
from coloc_viewer.errors import ColocError, InputError, ModelError
from coloc_viewer.explain.layers import list_layers, resolve_layer
from coloc_viewer.model.card import ModelCard
from coloc_viewer.model.loading import LoadedModel, load_model, resolve_card
from coloc_viewer.refine import checkpoint as ckpt
from coloc_viewer.refine import losses
from coloc_viewer.refine.data import TrainingSet, build_training_set
from coloc_viewer.refine.output import existing_result, refuse_to_overwrite, write_refined

METHODS = ("actdiff", "gradmask", "rrr", "masked", "none")
SCHEDULES = ("constant", "cosine")
Progress = Callable[[int, int, float], None]
Cancel = Callable[[], bool] | threading.Event


class RefineCancelled(ColocError):
    """The run was cancelled; the last complete epoch's checkpoint stays in ``out_dir``."""


@dataclass
class RefineResult:
    """What a finished run wrote and measured."""

    card_path: Path
    weights_path: Path
    card: ModelCard
    method: str
    epochs: int
    resumed_from: int  # complete epochs found in the checkpoint (0: a fresh run)
    train_seconds: float
    n_slices: int
    n_positive: int
    losses: list[dict[str, float]] = field(default_factory=list)  # per epoch: loss, ce, penalty
    lesion_roi: str | None = None  # the lesion ROI name used (of the first case)


def _cancelled(cancel: Cancel | None) -> bool:
    if cancel is None:
        return False
    if isinstance(cancel, threading.Event):
        return cancel.is_set()
    return bool(cancel())


def trainable_model(model_ref: Any, device: str | torch.device | None) -> LoadedModel:
    """Load ``model_ref`` (bundled name, card path, card or a LoadedModel, whose card is
    reloaded so the caller's module is left alone) and check that refine can train it."""
    card_ref = model_ref.card if isinstance(model_ref, LoadedModel) else model_ref
    card = resolve_card(card_ref)
    problem = untrainable_reason(card)
    if problem:
        raise ModelError(problem, card.path)
    return load_model(card, device=device)


def untrainable_reason(card: Any) -> str | None:
    """Why refine cannot train the model of ``card`` (one sentence), or None when it can;
    read from the card alone, before any weights are loaded or files written."""
    if card.is_torchscript or card.is_export:
        kind = "TorchScript" if card.is_torchscript else "torch.export"
        return (f"refine cannot train a {kind} model (its graph is frozen); give the card of "
                "a state_dict with a torchvision:, timm: or monai: architecture")
    if card.task != "classification" or card.spatial_dims != 2:
        return (f"refine trains 2-D slice classifiers only (this card is {card.spatial_dims}-D "
                f"{card.task})")
    if len(card.classes) < 2:
        return "refine needs a classifier with at least two classes"
    return None


def freeze_batchnorm(module: nn.Module, frozen: bool = True) -> None:
    """Training mode, with the BatchNorm layers in eval mode when ``frozen``."""
    module.train()
    if not frozen:
        return
    for m in module.modules():
        if isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d | nn.BatchNorm3d | nn.SyncBatchNorm):
            m.eval()


@contextlib.contextmanager
def _deterministic(threads: int | None) -> Iterator[None]:
    """Deterministic kernels (where torch has them) and a fixed thread count, restored after."""
    was_det = torch.are_deterministic_algorithms_enabled()
    was_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    was_threads = torch.get_num_threads()
    cudnn = torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    if threads:
        torch.set_num_threads(int(threads))
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(was_det, warn_only=was_warn)
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = cudnn
        torch.set_num_threads(was_threads)


class ActivationCapture:
    """Forward hooks that keep the last output of each ActDiff layer (in ``outs``, one
    tensor per layer, in the order given)."""

    def __init__(self, layers: nn.Module | list[nn.Module]):
        layers = [layers] if isinstance(layers, nn.Module) else list(layers)
        self.outs: list[torch.Tensor | None] = [None] * len(layers)
        self.handles = [layer.register_forward_hook(self._hook_for(k))
                        for k, layer in enumerate(layers)]

    def _hook_for(self, k: int) -> Callable[[nn.Module, Any, Any], None]:
        def hook(_module: nn.Module, _inp: Any, out: Any) -> None:
            self.outs[k] = out if isinstance(out, torch.Tensor) else out[0]
        return hook

    def close(self) -> None:
        for handle in self.handles:
            handle.remove()


def activation_layers(model: LoadedModel, names: str | None = None) -> list[nn.Module]:
    """The layers whose activations ActDiff compares: ``names`` (one layer or several,
    comma-separated), else the card's target layer (else the last spatial layer). An
    unknown name is a :class:`ModelError` listing near names."""
    card = model.card
    layers = list_layers(model.module, (card.in_channels, *card.input_size), model.device)
    wanted = [n.strip() for n in (names or "").split(",") if n.strip()] or [None]
    return [model.module.get_submodule(resolve_layer(layers, n, card.target_layer).name)
            for n in wanted]


def activation_layer(model: LoadedModel, name: str | None = None) -> nn.Module:
    """The one layer whose activations ActDiff compares (see :func:`activation_layers`)."""
    return activation_layers(model, name)[0]


def batch_loss(method: str, module: nn.Module, x: torch.Tensor, y: torch.Tensor,
               outside: torch.Tensor, lam: float, *, positive: int = 1,
               capture: ActivationCapture | None = None, generator: torch.Generator | None = None
               ) -> tuple[torch.Tensor, float, float]:
    """(total loss, cross-entropy, penalty) of one batch for ``method``."""
    penalty = torch.zeros((), device=x.device)
    if method == "masked":
        logits = module(losses.masked_input(x, outside))
    elif method in ("gradmask", "rrr"):
        x = x.detach().clone().requires_grad_(True)
        logits = module(x)
        penalty = (losses.gradmask_loss(x, logits, outside, positive) if method == "gradmask"
                   else losses.rrr_loss(x, logits, outside))
    elif method == "actdiff":
        assert capture is not None
        n = x.shape[0]  # one pass over the image and its shuffled copy
        logits = module(torch.cat([x, losses.shuffle_outside(x, outside, generator)]))[:n]
        dists = [losses.actdiff_loss(a[:n], a[n:], outside) for a in capture.outs
                 if a is not None]
        assert len(dists) == len(capture.outs)
        penalty = torch.stack(dists).mean()  # several layers: the mean of their distances
    else:
        logits = module(x)
    ce = F.cross_entropy(logits, y)
    total = ce + lam * penalty if method in ("actdiff", "gradmask", "rrr") else ce
    return total, float(ce.detach()), float(penalty.detach())


def _settings(model: LoadedModel, cases: TrainingSet, method: str, lam: float, epochs: int,
              lr: float, seed: int, batch_size: int, rois: dict[str, str | None],
              options: dict[str, Any], source_sha: str) -> dict[str, Any]:
    return {"model": model.card.name, "sha256": source_sha, "method": method,
            "lambda": float(lam), "epochs": int(epochs), "lr": float(lr), "seed": int(seed),
            "batch_size": int(batch_size), **rois, **options, "slices": len(cases),
            "cases": sorted({c for c, _ in cases.origin})}


def refine(model_ref: Any, manifest: str | os.PathLike[str], method: str, *,
           lam: float = 1.0, epochs: int = 3, lr: float = 1e-4, seed: int = 0,
           out_dir: str | os.PathLike[str], shortcut_roi: str | None = None,
           lesion_roi: str | None = None, progress: Progress | None = None,
           cancel: Cancel | None = None, batch_size: int = 16, threads: int | None = None,
           device: str | torch.device | None = None, name: str | None = None,
           on_plan: Callable[[int, int, int], None] | None = None,
           organ_roi: str | None = None, weight_decay: float = 0.0, flip: bool = False,
           train_batchnorm: bool = False, schedule: str = "constant",
           actdiff_layer: str | None = None) -> RefineResult:
    """Fine-tune ``model_ref`` on the cases of ``manifest`` with ``method`` and write
    ``out_dir/<name>.json`` + ``<name>.safetensors`` (``name`` default
    ``<source>-<method>``). ``progress(epoch, batch, loss)`` (1-based) runs after each
    batch; ``cancel`` (a callable or ``threading.Event``) is checked before each batch and
    raises :class:`RefineCancelled`; ``on_plan(epochs, batches_per_epoch, first_epoch)``
    runs once before training. ``organ_roi``: on lesion-free slices the model must look
    inside this ROI (see :mod:`coloc_viewer.refine.data`). ``actdiff_layer``: the layer
    whose activations ActDiff compares, or several comma-separated (their distances are
    averaged); default the card's target layer. The paper's text compares the encoder's
    output (``layer4`` of a ResNet), its code every stage of the encoder. A rerun into the same
    ``out_dir`` resumes from the last complete epoch (or returns the finished result).
    Bad input: :class:`ColocError`."""
    if method not in METHODS:
        raise InputError(f"unknown refine method {method!r} (choose {', '.join(METHODS)})")
    if schedule not in SCHEDULES:
        raise InputError(f"unknown learning-rate schedule {schedule!r} (choose "
                         f"{', '.join(SCHEDULES)})")
    _check_numbers(epochs=epochs, batch_size=batch_size, lr=lr, lam=lam,
                   weight_decay=weight_decay, threads=threads)
    out = Path(out_dir)
    with _deterministic(threads):
        model = trainable_model(model_ref, device)
        if actdiff_layer:
            if method != "actdiff":
                raise InputError(f"an ActDiff layer was given but the method is {method}")
            activation_layers(model, actdiff_layer)  # an unknown layer fails before reading
        cases = read_manifest(manifest, [str(r["role"]) for r in model.card.inputs or ()])
        if threads:
            torch.set_num_threads(int(threads))  # load_model set its own default
        source_sha = _sha256(model.card.weights_path())
        data = build_training_set(model, cases, lesion_roi=lesion_roi,
                                  shortcut_roi=shortcut_roi, organ_roi=organ_roi,
                                  cancel=lambda: _cancelled(cancel))
        if data is None:
            raise RefineCancelled("refine cancelled while reading the cases")
        if data.y.unique().numel() < 2:
            raise InputError(f"all {len(data)} training slices are "
                             f"{model.classes[int(data.y[0])]!r}: a classifier fine-tuned on "
                             "one class learns to always answer it; add slices or cases of "
                             "the other class", manifest)
        rois = {"shortcut_roi": shortcut_roi, "lesion_roi": lesion_roi,
                "organ_roi": organ_roi}
        options = {"weight_decay": float(weight_decay), "flip": bool(flip),
                   "train_batchnorm": bool(train_batchnorm), "schedule": schedule}
        if actdiff_layer:
            options["actdiff_layer"] = actdiff_layer
        settings = _settings(model, data, method, lam, epochs, lr, seed, batch_size, rois,
                             options, source_sha)
        name = name or f"{model.card.name}-{method}"
        done = existing_result(out, name, settings)
        if done is not None:
            return RefineResult(**done, n_slices=len(data), n_positive=data.n_positive,
                                lesion_roi=data.lesion_names[0])
        refuse_to_overwrite(out, name)
        return _train(model, data, method, settings, out, name, progress, cancel, on_plan)


def _check_numbers(*, epochs: int, batch_size: int, lr: float, lam: float,
                   weight_decay: float, threads: int | None) -> None:
    """One line naming the first number out of its range (the CLI's option names)."""
    checks = (("--epochs", epochs, epochs >= 1, "at least 1"),
              ("--batch-size", batch_size, batch_size >= 1, "at least 1"),
              ("--lr", lr, lr > 0 and math.isfinite(lr), "a positive number"),
              ("--lambda", lam, lam >= 0 and math.isfinite(lam), "0 or more"),
              ("--weight-decay", weight_decay,
               weight_decay >= 0 and math.isfinite(weight_decay), "0 or more"),
              ("--threads", threads, threads is None or threads >= 1, "at least 1"))
    for option, value, ok, wanted in checks:
        if not ok:
            raise InputError(f"{option} must be {wanted}, got {value:g}")


def lr_at(settings: dict[str, Any], step: int, steps: int) -> float:
    """The learning rate of batch ``step`` (0-based) of ``steps``: constant, or cosine
    annealing from ``lr`` to 0 (torch's CosineAnnealingLR stepped once per batch)."""
    if settings.get("schedule", "constant") == "cosine":
        return settings["lr"] * 0.5 * (1.0 + math.cos(math.pi * step / steps))
    return settings["lr"]


def _sha256(path: Path) -> str:
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _train(model: LoadedModel, data: TrainingSet, method: str, settings: dict[str, Any],
           out: Path, name: str, progress: Progress | None, cancel: Cancel | None,
           on_plan: Callable[[int, int, int], None] | None) -> RefineResult:
    out.mkdir(parents=True, exist_ok=True)
    module, dev = model.module, model.device
    card = model.card
    positive = card.positive_class if card.positive_class is not None else 1
    torch.manual_seed(settings["seed"])
    gen = torch.Generator().manual_seed(settings["seed"])
    optimizer = torch.optim.AdamW(module.parameters(), lr=settings["lr"],
                                  weight_decay=settings["weight_decay"])
    state = ckpt.load_checkpoint(out, settings)
    first, seconds, history = 0, 0.0, []
    if state is not None:
        ckpt.restore(state, module, optimizer, gen)
        first, seconds, history = int(state["epoch"]), float(state["seconds"]), state["losses"]
    capture = (ActivationCapture(activation_layers(model, settings.get("actdiff_layer")))
               if method == "actdiff" else None)
    bs, n = settings["batch_size"], len(data)
    n_batches = math.ceil(n / bs)
    if on_plan is not None:
        on_plan(settings["epochs"], n_batches, first + 1)
    try:
        for epoch in range(first + 1, settings["epochs"] + 1):
            started = time.monotonic()
            freeze_batchnorm(module, frozen=not settings["train_batchnorm"])
            order = torch.randperm(n, generator=gen)
            sums = [0.0, 0.0, 0.0]
            for b in range(n_batches):
                if _cancelled(cancel):
                    raise RefineCancelled(f"refine cancelled in epoch {epoch}; rerun with the "
                                          f"same output folder to resume after epoch "
                                          f"{epoch - 1}")
                idx = order[b * bs:(b + 1) * bs]
                x, y = data.x[idx].to(dev), data.y[idx].to(dev)
                outside = data.outside[idx].to(dev)
                if settings["flip"] and bool(torch.rand((), generator=gen) < 0.5):
                    x, outside = x.flip(-1), outside.flip(-1)
                for group in optimizer.param_groups:
                    group["lr"] = lr_at(settings, (epoch - 1) * n_batches + b,
                                        settings["epochs"] * n_batches)
                optimizer.zero_grad(set_to_none=True)
                loss, ce, pen = batch_loss(method, module, x, y, outside,
                                           settings["lambda"], positive=positive,
                                           capture=capture, generator=gen)
                loss.backward()
                optimizer.step()
                value = float(loss.detach())
                for k, v in enumerate((value, ce, pen)):
                    sums[k] += v * len(idx)
                if progress is not None:
                    progress(epoch, b + 1, value)
            seconds += time.monotonic() - started
            history.append({"epoch": epoch, "loss": sums[0] / n, "ce": sums[1] / n,
                            "penalty": sums[2] / n})
            ckpt.save_checkpoint(out, epoch=epoch, seconds=seconds, settings=settings,
                                 module=module, optimizer=optimizer, generator=gen,
                                 losses=history)
    finally:
        if capture is not None:
            capture.close()
        module.eval()
    paths = write_refined(out, name, model, settings, seconds, len(data), history)
    return RefineResult(**paths, method=method, epochs=settings["epochs"], resumed_from=first,
                        train_seconds=seconds, n_slices=len(data), n_positive=data.n_positive,
                        losses=history, lesion_roi=data.lesion_names[0])
