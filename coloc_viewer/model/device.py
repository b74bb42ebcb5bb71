"""Where models run and how many CPU threads torch may use."""

from __future__ import annotations

import os

import torch


def default_device() -> torch.device:
    """CUDA when a GPU is present, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def configure_threads(reserve: int = 1) -> int:
    """Let torch use all CPU cores but ``reserve`` (at least one thread), so the GUI keeps a
    core while a model runs. Returns the thread count set."""
    n = max(1, (os.cpu_count() or 1) - int(reserve))
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n
