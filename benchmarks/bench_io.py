"""Series load time: ``load_volume`` vs SimpleITK's ImageSeriesReader on the same series.

Generates (once, in a temporary folder) a 200-slice 512 x 512 uint16 MR series with
``write_dicom_series`` (file names shuffled), then in the same run times:

* ``load_volume(folder)`` -- scan, group, sort, decode, rescale to float32;
* SimpleITK: ``ImageSeriesReader.GetGDCMSeriesFileNames(folder)`` + ``Execute()`` +
  ``GetArrayFromImage`` (the usual way to get a numpy volume);
* ``open_series(folder)``: time until the middle slice is available (progressive loader).

One warm-up run each, then the median of ``--repeats`` runs, alternating the two readers.
Also times ROI brush dabs (5 mm disk, 0.5 x 0.7 mm pixels, 512 x 512 slice, 500 dabs in one
undoable stroke), reported against the 1 ms target, with the stroke's end and undo times.
Prints one JSON object; ``ratio`` = load_volume / SimpleITK (target <= 1.0).

Run: ``.venv/bin/python benchmarks/bench_io.py [--repeats 3] [--slices 200]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from coloc_viewer.imaging.dicom_write import write_dicom_series
from coloc_viewer.imaging.load import load_volume
from coloc_viewer.imaging.progressive import open_series


def make_series(folder: Path, n: int, size: int) -> None:
    rng = np.random.default_rng(0)
    zz, yy, xx = np.mgrid[0:n, 0:size, 0:size].astype(np.float32)
    body = ((yy - size / 2) ** 2 + (xx - size / 2) ** 2 < (0.4 * size) ** 2)
    vol = 400 + 600 * body + 50 * np.sin(zz / 7.0) + rng.normal(0, 20, (n, size, size))
    names = [f"IM{k:05d}" for k in rng.permutation(n)]
    write_dicom_series(np.clip(vol, 0, 4000), folder, spacing=(1.5, 0.5, 0.5),
                       origin=(-128.0, -128.0, -150.0), file_names=names,
                       series_description="bench T2")


def time_sitk(folder: Path) -> tuple[float, np.ndarray]:
    t0 = time.perf_counter()
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder)))
    arr = sitk.GetArrayFromImage(reader.Execute())
    return time.perf_counter() - t0, arr


def time_load(folder: Path) -> tuple[float, np.ndarray]:
    t0 = time.perf_counter()
    vol = load_volume(folder)
    return time.perf_counter() - t0, vol.voxels


def time_first_slice(folder: Path) -> float:
    t0 = time.perf_counter()
    loader = open_series(folder)
    _ = loader.middle_slice
    elapsed = time.perf_counter() - t0
    loader.cancel()
    return elapsed


def time_brush(n: int = 500) -> dict[str, float]:
    from coloc_viewer.imaging import roi_edit
    from coloc_viewer.imaging.roi import RoiSet

    rois = RoiSet((3, 512, 512), spacing=(3.0, 0.5, 0.7))
    rois.add("lesion")
    centers = [(200 + 0.3 * k, 150 + 0.4 * k) for k in range(n)]
    rois.history.begin_stroke("paint")
    times = []
    for c in centers:
        t0 = time.perf_counter()
        roi_edit.paint(rois, "lesion", 1, c, 5.0)
        times.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    rois.history.end_stroke()
    end_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    rois.history.undo()
    undo_s = time.perf_counter() - t0
    dab = statistics.median(times)
    return {"brush_dab_ms": round(dab * 1e3, 4), "brush_dab_target_ms": 1.0,
            "brush_dab_ratio_to_target": round(dab / 1e-3, 4),
            "brush_end_stroke_ms": round(end_s * 1e3, 3), "brush_undo_ms": round(undo_s * 1e3, 3),
            "brush_history_bytes": rois.history.nbytes()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--slices", type=int, default=200)
    ap.add_argument("--size", type=int, default=512)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="coloc_bench_io_") as tmp:
        folder = Path(tmp) / "series"
        t0 = time.perf_counter()
        make_series(folder, args.slices, args.size)
        generate_s = time.perf_counter() - t0
        # Warm-up (file cache, imports) and a correctness check of the compared outputs.
        _, ref = time_sitk(folder)
        _, ours = time_load(folder)
        if not np.array_equal(ref, ours):
            raise SystemExit("load_volume and SimpleITK disagree on the voxels")
        time_first_slice(folder)
        sitk_times, load_times, first_times = [], [], []
        for _ in range(args.repeats):
            sitk_times.append(time_sitk(folder)[0])
            load_times.append(time_load(folder)[0])
            first_times.append(time_first_slice(folder))
    sitk_s, load_s = statistics.median(sitk_times), statistics.median(load_times)
    print(json.dumps({
        "benchmark": "series load",
        "series": [args.slices, args.size, args.size],
        "load_volume_s": round(load_s, 4),
        "simpleitk_series_reader_s": round(sitk_s, 4),
        "ratio": round(load_s / sitk_s, 3),
        "target_ratio": 1.0,
        "first_slice_s": round(statistics.median(first_times), 4),
        "first_slice_vs_full_load": round(statistics.median(first_times) / load_s, 3),
        **time_brush(),
        "repeats": args.repeats,
        "load_volume_runs_s": [round(t, 4) for t in load_times],
        "simpleitk_runs_s": [round(t, 4) for t in sitk_times],
        "generate_series_s": round(generate_s, 2),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "simpleitk": sitk.Version_VersionString(),
    }))


if __name__ == "__main__":
    main()
