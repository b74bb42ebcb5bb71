"""One training epoch of each refine method against one epoch of plain training.

Writes generated phantom cases (``coloc_viewer.demo.phantom``, the marker on 95 % of the
lesion slices and 3 % of the others, as in demo-shortcut's training data) with their
lesion / marker ROIs and a cohort manifest, loads them once through
``coloc_viewer.refine.data.build_training_set`` (the model's own preprocessing), then in
the same run times one epoch of ``none`` (plain fine-tuning: one forward + backward per
batch), ``masked``, ``actdiff`` (the image and its shuffled copy in one forward),
``gradmask`` and ``rrr`` (a forward, an input gradient with ``create_graph`` and a double
backward), each from the same start weights, same batches (seed 0), same threads, in
``--rounds`` rounds (the fastest epoch of each method counts). Data loading is timed apart.

Prints JSON: seconds per epoch and per batch of each method, the ratio to ``none``, the
thread count, and the 1-minute load average before and after (the build machine is shared:
read the ratios with it).

Usage: python benchmarks/bench_refine.py [--model demo-shortcut] [--cases 4]
    [--batch-size 16] [--threads N] [--rounds 2] [--methods none,masked,actdiff,gradmask,rrr]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import tempfile
import time
from pathlib import Path

import numpy as np


def _cohort(folder: Path, n_cases: int) -> Path:
    import SimpleITK as sitk

    from coloc_viewer.demo.phantom import PhantomConfig, generate_case
    from coloc_viewer.imaging.roi import RoiSet
    from coloc_viewer.imaging.roi_io import save_rois
    from coloc_viewer.imaging.sitk_io import to_sitk_image

    cfg = PhantomConfig(p_marker_lesion=0.95, p_marker_no_lesion=0.03)
    rows = ["image,roi,case_id"]
    for seed in range(5000, 5000 + n_cases):
        case = generate_case(seed, cfg, lesion=True)
        vol = case.to_volume()
        sitk.WriteImage(to_sitk_image(case.image.astype(np.float32), vol),
                        str(folder / f"c{seed}.nii.gz"))
        rois = RoiSet.for_volume(vol)
        for name, mask in case.rois().items():
            rois.add(name, mask, record=False)
        save_rois(rois, folder / f"c{seed}_rois.nii.gz", like=vol)
        rows.append(f"c{seed}.nii.gz,c{seed}_rois.nii.gz,case{seed}")
    manifest = folder / "manifest.csv"
    manifest.write_text("\n".join(rows) + "\n")
    return manifest


def _epoch(model, start: dict, data, method: str, batch_size: int) -> tuple[float, int]:
    """Seconds of one epoch of ``method`` from ``start`` weights (batches of seed 0)."""
    import torch

    from coloc_viewer.refine.train import (
        ActivationCapture,
        activation_layer,
        batch_loss,
        freeze_batchnorm,
    )

    module = model.module
    module.load_state_dict(start)
    freeze_batchnorm(module)
    gen = torch.Generator().manual_seed(0)
    opt = torch.optim.Adam(module.parameters(), lr=1e-4)
    capture = ActivationCapture(activation_layer(model)) if method == "actdiff" else None
    order = torch.randperm(len(data), generator=gen)
    n_batches = math.ceil(len(data) / batch_size)
    t0 = time.perf_counter()
    for b in range(n_batches):
        idx = order[b * batch_size:(b + 1) * batch_size]
        opt.zero_grad(set_to_none=True)
        loss, _, _ = batch_loss(method, module, data.x[idx].to(model.device),
                                data.y[idx].to(model.device),
                                data.outside[idx].to(model.device), 1.0,
                                capture=capture, generator=gen)
        loss.backward()
        opt.step()
    seconds = time.perf_counter() - t0
    if capture is not None:
        capture.close()
    module.eval()
    return seconds, n_batches


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="demo-shortcut")
    ap.add_argument("--cases", type=int, default=4)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--methods", default="none,masked,actdiff,gradmask,rrr")
    ap.add_argument("--rounds", type=int, default=2,
                    help="rounds over all methods (order reversed every other round); each "
                         "method's fastest epoch is reported")
    args = ap.parse_args()
    import torch

    from coloc_viewer.cohort.manifest import read_manifest
    from coloc_viewer.refine.data import build_training_set
    from coloc_viewer.refine.train import trainable_model

    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        manifest = _cohort(Path(tmp), args.cases)
        model = trainable_model(args.model, "cpu")
        torch.set_num_threads(args.threads)
        t0 = time.perf_counter()
        data = build_training_set(model, read_manifest(manifest), shortcut_roi="marker")
        data_s = time.perf_counter() - t0
    start = {k: v.clone() for k, v in model.module.state_dict().items()}
    methods = args.methods.split(",")
    _epoch(model, start, data, "none", args.batch_size)  # warm-up
    runs: dict[str, tuple[float, int]] = {}
    for k in range(max(1, args.rounds)):
        for m in (methods if k % 2 == 0 else methods[::-1]):
            got = _epoch(model, start, data, m, args.batch_size)
            runs[m] = min(runs.get(m, got), got)
    base = runs["none"][0] if "none" in runs else None
    result = {
        "benchmark": "refine", "model": args.model, "input_size": list(model.card.input_size),
        "slices": len(data), "lesion_slices": data.n_positive, "cases": args.cases,
        "batch_size": args.batch_size, "threads": args.threads, "rounds": args.rounds,
        "data_seconds": round(data_s, 2),
        "epoch_seconds": {m: round(s, 2) for m, (s, _) in runs.items()},
        "batch_seconds": {m: round(s / n, 3) for m, (s, n) in runs.items()},
        "ratio_to_none": None if base is None else {m: round(s / base, 2)
                                                    for m, (s, _) in runs.items()},
        "note": "gradmask and rrr: forward + input gradient with create_graph + double "
                "backward; actdiff: one forward of the image and its shuffled copy as one "
                "batch + backward",
        "load_average_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
