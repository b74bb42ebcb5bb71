"""What a refine run reports while it trains and when it ends (Qt-free): progress with an
ETA, and a warning when the refined model fits its training slices worse than before."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["ProgressClock", "RefineProgress", "format_seconds", "training_warning"]


@dataclass
class RefineProgress:
    """One progress report: epoch and batch (1-based) of the plan, loss, ETA."""

    epoch: int
    epochs: int
    batch: int
    batches: int
    loss: float
    done: int  # batches done in this run
    total: int  # batches this run will do
    eta_s: float | None
    first_epoch: int = 1  # > 1: resumed from the checkpoint of the epoch before

    def text(self) -> str:
        eta = "" if self.eta_s is None else f", ETA {format_seconds(self.eta_s)}"
        resumed = (f" (resumed after epoch {self.first_epoch - 1})"
                   if self.first_epoch > 1 else "")
        return (f"epoch {self.epoch}/{self.epochs}{resumed}, batch {self.batch}/"
                f"{self.batches}, loss {self.loss:.4g}{eta}")


def training_warning(losses: list[dict[str, float]], n_classes: int) -> str | None:
    """A sentence when the run's classification loss says the refined model fits its own
    training slices worse than at the start, or no better than chance; else None."""
    ce = [float(e["ce"]) for e in losses if e.get("ce") is not None]
    if not ce:
        return None
    chance = math.log(max(2, n_classes))
    if ce[-1] > ce[0] * 1.5 or ce[-1] >= chance:
        return (f"Its classification loss ended at {ce[-1]:.3g} (first epoch {ce[0]:.3g}, "
                f"chance {chance:.2f}): it may classify worse than the original. Compare "
                "them before using it (fewer epochs, a smaller learning rate or lambda).")
    return None


def format_seconds(seconds: float) -> str:
    """``42 s``, ``3 min 05 s``, ``1 h 02 min``."""
    s = int(round(max(0.0, seconds)))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {(s % 3600) // 60:02d} min"


class ProgressClock:
    """Turns refine's ``on_plan`` and ``progress`` callbacks into :class:`RefineProgress`
    reports (the ETA: mean time per batch so far times the batches left)."""

    def __init__(self, report: Callable[[RefineProgress], None],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.report, self.clock = report, clock
        self.epochs = self.batches = self.total = 0
        self.first = 1
        self.started = 0.0

    def on_plan(self, epochs: int, batches: int, first_epoch: int) -> None:
        self.epochs, self.batches, self.first = epochs, batches, first_epoch
        self.total = max(0, (epochs - first_epoch + 1) * batches)
        self.started = self.clock()

    def progress(self, epoch: int, batch: int, loss: float) -> None:
        done = (epoch - self.first) * self.batches + batch
        spent = self.clock() - self.started
        eta = spent / done * (self.total - done) if done > 0 else None
        self.report(RefineProgress(epoch, self.epochs, batch, self.batches, float(loss), done,
                                   self.total, eta, self.first))
