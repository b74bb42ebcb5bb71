"""Small modules to export and a zip rewriter for crafting hostile .pt2 archives (tests)."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn


class SkipNet(nn.Module):
    """A custom classifier with a skip connection around ``block``."""

    def __init__(self, in_channels: int = 1, classes: int = 2):
        super().__init__()
        self.stem = nn.Conv2d(in_channels, 8, 3, padding=1)
        self.block = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
        self.head = nn.Linear(8, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = torch.relu(self.stem(x))
        b = self.block(a) + a
        return self.head(b.mean((2, 3)))


def export_pt2(module: nn.Module, example: torch.Tensor, path: Path,
               dynamic_batch: bool = True) -> Path:
    """``torch.export`` ``module`` (eval mode) with a dynamic batch dimension and save it."""
    module = module.eval()
    dyn = ({0: torch.export.Dim("batch", min=1, max=4096)},) if dynamic_batch else None
    program = torch.export.export(module, (example,), dynamic_shapes=dyn, strict=False)
    torch.export.save(program, str(path))
    return path


class Evil:
    """Unpickling this runs open(marker, 'w'): the file appears if code ran."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def rewrite_pt2(src: Path, dst: Path, edit: Callable[[str, bytes], bytes | None] | None = None,
                add: dict[str, bytes] | None = None) -> Path:
    """Copy the archive entry by entry; ``edit(relative_name, data)`` returns new bytes or
    ``None`` to drop the entry; ``add`` appends entries (names relative to the root)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as zout:
        root = zin.namelist()[0].split("/", 1)[0] + "/"
        for info in zin.infolist():
            rel = info.filename[len(root):]
            data = zin.read(info)
            if edit is not None:
                data = edit(rel, data)
            if data is not None:
                zout.writestr(info.filename, data)
        for rel, data in (add or {}).items():
            zout.writestr(root + rel, data)
    return dst


def edit_json(rel_name: str, change: Callable[[dict], None]) -> Callable[[str, bytes], bytes]:
    """An ``edit`` that applies ``change`` to the JSON entry ``rel_name``."""
    def edit(rel: str, data: bytes) -> bytes:
        if rel != rel_name:
            return data
        obj = json.loads(data)
        change(obj)
        return json.dumps(obj).encode()
    return edit
