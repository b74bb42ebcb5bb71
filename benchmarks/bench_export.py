"""A ``torch.export`` program (``.pt2`` card) against the same network as an eager module.

ResNet50 (1 channel, 2 classes, fixed random weights) at 512 x 512, loaded twice through
``load_model``: from a safetensors card (eager torchvision module) and from a ``.pt2`` card
exported the documented way (docs/models/bring-your-own.md: eval mode, dynamic batch,
``strict=False``). In the same run, alternating, it times the plain no-grad forward and
``explain`` (capture, contribution ranking of all channels, Grad-CAM) of each. Prints JSON
with the medians and the ratios .pt2 / eager (target: explain <= 1.1x).

Usage: python benchmarks/bench_export.py [--size 512] [--repeats 5] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def _cards(folder: Path, size: int) -> tuple[str, str]:
    from safetensors.torch import save_file

    from coloc_viewer.model.architectures import build_torchvision

    torch.manual_seed(0)
    module = build_torchvision("resnet50", 2, 1).eval()
    save_file({k: v.contiguous() for k, v in module.state_dict().items()},
              str(folder / "r50.safetensors"))
    base = {"in_channels": 1, "input_size": [size, size], "normalization": {"mode": "zscore"},
            "classes": ["no lesion", "lesion"], "positive_class": 1, "target_layer": "layer4"}
    (folder / "eager.json").write_text(json.dumps(
        {**base, "name": "r50-eager", "architecture": "resnet50",
         "weights": "r50.safetensors"}))
    batch = torch.export.Dim("batch", min=1, max=4096)
    program = torch.export.export(module, (torch.randn(2, 1, size, size),),
                                  dynamic_shapes=({0: batch},), strict=False)
    torch.export.save(program, str(folder / "r50.pt2"))
    (folder / "export.json").write_text(json.dumps(
        {**base, "name": "r50-export", "architecture": "export", "weights": "r50.pt2"}))
    return str(folder / "eager.json"), str(folder / "export.json")


def _forward(model, x: torch.Tensor) -> float:
    start = time.perf_counter()
    with torch.no_grad():
        model.module(x)
    return time.perf_counter() - start


def _explain(model, image: np.ndarray) -> float:
    from coloc_viewer.explain.engine import explain

    start = time.perf_counter()
    explain(model, image, rank="contribution", methods=("gradcam",))
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from coloc_viewer.model.loading import load_model

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        eager_card, export_card = _cards(Path(tmp), args.size)
        export_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        models = {"eager": load_model(eager_card), "export": load_model(export_card)}
        load_s = time.perf_counter() - t0
        for m in models.values():
            torch.set_num_threads(args.threads)  # load_model sets its own default
            m.module.eval()
        rng = np.random.default_rng(0)
        image = rng.normal(100, 20, (args.size, args.size)).astype(np.float32)
        x = torch.from_numpy(((image - image.mean()) / image.std())[None, None])
        times: dict[str, dict[str, list[float]]] = {k: {"forward": [], "explain": []}
                                                   for k in models}
        for m in models.values():  # warm-up
            _forward(m, x)
            _explain(m, image)
        for _ in range(args.repeats):
            for name, m in models.items():
                times[name]["forward"].append(_forward(m, x))
                times[name]["explain"].append(_explain(m, image))
    med = {k: {s: statistics.median(v) for s, v in d.items()} for k, d in times.items()}
    print(json.dumps({
        "benchmark": "export", "size": args.size, "threads": torch.get_num_threads(),
        "load_average": os.getloadavg()[0], "export_seconds": round(export_s, 2),
        "load_both_seconds": round(load_s, 2), "median_seconds": med,
        "ratio_export_over_eager": {
            s: round(med["export"][s] / med["eager"][s], 3) for s in ("forward", "explain")},
        "target_explain_ratio": 1.1}, indent=1))


if __name__ == "__main__":
    main()
