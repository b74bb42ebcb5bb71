"""Where models run and how many CPU threads torch may use."""

from __future__ import annotations

import os

import torch

from coloc_viewer.errors import InputError


def default_device() -> torch.device:
    """CUDA when a GPU is present, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def parse_device(value: str | torch.device | None) -> torch.device:
    """``value`` as a device the model can run on (None: :func:`default_device`). "cpu",
    "cuda" or "cuda:N"; anything else, or CUDA on a machine without a GPU, is an
    :class:`InputError` in one line."""
    if value is None or isinstance(value, torch.device):
        return value if value is not None else default_device()
    text = str(value).strip().lower()
    kind, _, index = text.partition(":")
    if kind not in ("cpu", "cuda") or (index and (kind == "cpu" or not index.isdigit())):
        raise InputError(f"unknown device {value!r}: choose cpu, cuda or cuda:N")
    if kind == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise InputError(f"device {value!r}: this machine has no CUDA GPU; use cpu")
        if index and int(index) >= count:
            raise InputError(f"device {value!r}: this machine has {count} CUDA GPU(s) "
                             f"(cuda:0 to cuda:{count - 1})")
    return torch.device(text)


def configure_threads(reserve: int = 1) -> int:
    """Let torch use all CPU cores but ``reserve`` (at least one thread), so the GUI keeps a
    core while a model runs. Returns the thread count set."""
    n = max(1, (os.cpu_count() or 1) - int(reserve))
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n
