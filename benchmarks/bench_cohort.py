"""Cohort throughput against the plain batched no-grad forward of the same model.

Builds a 200-slice cohort (20 generated cases x 10 slices, slices at the model's input
size so nothing is resampled), then times in the same run:

* reference: preprocessing + batched ``torch.no_grad`` forward of all 200 slices
  (batch 16, all cores);
* ``coloc-viewer cohort`` at its default settings (rank contribution, Grad-CAM, every
  score with the p-value; principal channels and report off; threads chosen by the
  cohort) with ``--workers 1`` (in-process, all cores) and ``--workers 2`` (this process
  plus one spawned process that joins when ready; its start-up included).

Prints JSON per round: seconds of each, the overhead ratios (cohort seconds / reference
seconds; target <= 1.3, and 2 workers no slower than 1) and the 1-minute load average
before and after the round (the build machine is shared: read the ratios with it).

Usage: python benchmarks/bench_cohort.py [--model NAME|CARD] [--cases 20] [--slices 10]
    [--rounds 1] [--no-explain-only]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np


def _card(folder: Path) -> str:
    import torch
    from safetensors.torch import save_file

    from coloc_viewer.model.architectures import build_torchvision

    torch.manual_seed(0)
    module = build_torchvision("resnet18", 2, 1)
    save_file(module.state_dict(), str(folder / "bench.safetensors"))
    card = {"name": "bench-resnet18", "architecture": "resnet18",
            "weights": "bench.safetensors", "in_channels": 1, "input_size": [224, 224],
            "normalization": {"mode": "zscore"}, "classes": ["no lesion", "lesion"],
            "positive_class": 1, "target_layer": "layer4"}
    path = folder / "bench.json"
    path.write_text(json.dumps(card))
    return str(path)


def _cohort(folder: Path, n_cases: int, n_slices: int, size: tuple[int, int]) -> Path:
    import SimpleITK as sitk

    rng = np.random.default_rng(0)
    rows = ["image,roi,case_id"]
    yy, xx = np.mgrid[: size[0], : size[1]]
    for i in range(n_cases):
        vol = rng.normal(100, 10, (n_slices, *size)).astype(np.float32)
        roi = np.zeros((n_slices, *size), np.uint8)
        cy, cx = rng.integers(40, size[0] - 40, 2)
        for z in range(n_slices):
            d = (yy - cy) ** 2 + (xx - cx) ** 2 <= (10 + z % 4) ** 2
            vol[z][d] += 60
            roi[z][d] = 1
        for arr, name in ((vol, f"c{i}_img.nii.gz"), (roi, f"c{i}_roi.nii.gz")):
            img = sitk.GetImageFromArray(arr)
            img.SetSpacing((0.7, 0.7, 3.0))
            sitk.WriteImage(img, str(folder / name))
        rows.append(f"c{i}_img.nii.gz,c{i}_roi.nii.gz,case{i:03d}")
    manifest = folder / "manifest.csv"
    manifest.write_text("\n".join(rows) + "\n")
    return manifest


def _reference(model_ref: str, manifest: Path, threads: int, batch: int = 16) -> float:
    """Seconds for load + preprocess + batched no-grad forward of every cohort slice."""
    import torch

    from coloc_viewer.cohort.manifest import read_manifest
    from coloc_viewer.imaging.load import load_volume
    from coloc_viewer.model.loading import load_model

    model = load_model(model_ref)
    torch.set_num_threads(threads)
    cases = read_manifest(manifest)
    t0 = time.perf_counter()
    xs = []
    for case in cases:
        vol = load_volume(case.image)
        for z in range(vol.shape[0]):
            x, _ = model.preprocess(vol.voxels[z], vol.spacing[1:], device=model.device)
            xs.append(x)
    with torch.no_grad():
        for i in range(0, len(xs), batch):
            model.module(torch.cat(xs[i:i + batch]))
    return time.perf_counter() - t0


def _explain_only(model_ref: str, manifest: Path, threads: int, batch: int = 16
                  ) -> tuple[float, float]:
    """(batched explain seconds, batched no-grad forward seconds) on preloaded volumes:
    how much of the cohort's overhead is the explanation itself."""
    import torch

    from coloc_viewer.cohort.batched import explain_slices
    from coloc_viewer.cohort.manifest import read_manifest
    from coloc_viewer.imaging.load import load_volume
    from coloc_viewer.model.loading import load_model

    model = load_model(model_ref)
    torch.set_num_threads(threads)
    vols = [load_volume(c.image) for c in read_manifest(manifest)]
    xs = torch.cat([model.preprocess(v.voxels[z], v.spacing[1:], device=model.device)[0]
                    for v in vols for z in range(v.shape[0])])
    explain_slices(model, vols[0], range(vols[0].shape[0]), batch_size=batch)  # warm-up
    t0 = time.perf_counter()
    for v in vols:
        explain_slices(model, v, range(v.shape[0]), methods=("gradcam",), batch_size=batch)
    explain_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    with torch.no_grad():
        for i in range(0, xs.shape[0], batch):
            model.module(xs[i:i + batch])
    return explain_s, time.perf_counter() - t0


def _cohort_run(model_ref: str, manifest: Path, out: Path, workers: int) -> float:
    from coloc_viewer.cohort.runner import CohortOptions, run_cohort

    opts = CohortOptions(models=(model_ref,), workers=workers, principal_ratio=None,
                         report=False)
    t0 = time.perf_counter()
    run_cohort(manifest, out, opts, stream=io.StringIO())
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="bundled model name or card (default: a resnet18 card)")
    ap.add_argument("--cases", type=int, default=20)
    ap.add_argument("--slices", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=1,
                    help="rounds of (reference, 1 worker, 2 workers), the order of the two "
                    "cohort runs alternating; each round has its own reference")
    ap.add_argument("--no-explain-only", action="store_true")
    args = ap.parse_args()
    cores = os.cpu_count() or 1
    rounds = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        model_ref = args.model or _card(folder)
        from coloc_viewer.model.loading import load_model

        size = tuple(load_model(model_ref).card.input_size)
        manifest = _cohort(folder, args.cases, args.slices, size)
        n = args.cases * args.slices
        _reference(model_ref, manifest, cores)  # warm-up (imports, allocator, file cache)
        for k in range(args.rounds):
            load = os.getloadavg()[0]
            ref = _reference(model_ref, manifest, cores)
            runs = {}
            for w in ((1, 2) if k % 2 == 0 else (2, 1)):
                runs[w] = _cohort_run(model_ref, manifest, folder / f"out{k}_{w}", w)
            ref_after = _reference(model_ref, manifest, cores)
            ref_s = min(ref, ref_after)
            rounds.append({
                "reference_s": [round(ref, 3), round(ref_after, 3)],
                "one_worker_s": round(runs[1], 3), "two_workers_s": round(runs[2], 3),
                "ratio_1_worker": round(runs[1] / ref_s, 2),
                "ratio_2_workers": round(runs[2] / ref_s, 2),
                "two_vs_one": round(runs[2] / runs[1], 2),
                "load_average_1min": [round(load, 2), round(os.getloadavg()[0], 2)]})
        explain = None if args.no_explain_only else _explain_only(model_ref, manifest, cores)
    result = {
        "benchmark": "cohort", "slices": n, "cases": args.cases, "cores": cores,
        "model": model_ref if args.model else "resnet18 (1 channel, random weights)",
        "input_size": list(size),
        "reference": "load + preprocess + batched no-grad forward (batch 16), all cores; "
                     "min of the runs before and after the round's cohort runs",
        "rounds": rounds,
        "target": "ratio <= 1.3 at default settings; two workers never slower than one",
        "options": "cohort defaults: rank contribution, gradcam, all scores incl. p-value; "
                   "principal channels and report off",
    }
    if explain is not None:
        result["explain_only"] = {
            "what": "batched explain (contribution + Grad-CAM) vs batched no-grad forward, "
                    "volumes preloaded", "explain_seconds": round(explain[0], 3),
            "forward_seconds": round(explain[1], 3),
            "ratio": round(explain[0] / explain[1], 2)}
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
