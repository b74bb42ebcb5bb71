"""ROI autosave cost on a 200 x 512 x 512 series, as ratios to references in the same run.

* ``changed_call_ms``: what one ``Autosaver.changed()`` costs the GUI thread (per brush dab);
  reference: one brush dab (``roi_edit.paint``) itself.
* ``edit_to_disk_s``: from an edit to its autosave being on disk (promise: < 2 s).
* ``write_s``: one autosave write (bit-packed, compressed, fsync'd, renamed); references:
  the explicit "Save ROI as" NIfTI write (``roi_io.save_rois``, .nii.gz) and a plain
  ``np.save`` of the boolean masks, of the same ROIs.
Prints JSON.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SHAPE = (200, 512, 512)


def main() -> None:
    from coloc_viewer.imaging.roi import RoiSet
    from coloc_viewer.imaging.roi_edit import paint
    from coloc_viewer.imaging.roi_io import save_rois
    from coloc_viewer.imaging.volume import Volume
    from coloc_viewer.workspace import Autosaver, Workspace

    tmp = Path(tempfile.mkdtemp(prefix="bench-autosave-"))
    os.environ["COLOC_VIEWER_DATA_DIR"] = str(tmp / "data")
    vol = Volume(np.zeros(SHAPE, np.float32), spacing=(1.5, 0.7, 0.7),
                 metadata={"series_uid": "2.25.424242"}, source=str(tmp / "series"))
    rois = RoiSet.for_volume(vol)
    rois.add("prostate")
    rois.add("lesion")
    rng = np.random.default_rng(0)
    for z in range(60, 140):  # a realistic gland outline over 80 slices
        paint(rois, "prostate", z, (256, 256), 20.0)
    ws = Workspace.for_volume(vol)
    ws.begin_session()
    saver = Autosaver(ws)

    dab_ms, call_ms = [], []
    for _ in range(300):
        z, y, x = int(rng.integers(90, 110)), *rng.integers(220, 290, 2)
        t0 = time.perf_counter()
        paint(rois, "lesion", z, (float(y), float(x)), 3.0)
        t1 = time.perf_counter()
        saver.changed(rois)
        t2 = time.perf_counter()
        dab_ms.append((t1 - t0) * 1e3)
        call_ms.append((t2 - t1) * 1e3)
        time.sleep(0.004)  # ~250 dabs/s, faster than a hand
    saver.flush()

    latencies = []
    for _ in range(5):
        paint(rois, "lesion", 100, (250.0, 250.0), 4.0)
        t0 = time.perf_counter()
        gen = saver.changed(rois)
        while saver.saved_generation < gen:
            time.sleep(0.002)
        latencies.append(time.perf_counter() - t0)

    from coloc_viewer.workspace.roi_snapshot import snapshot_of

    writes, nifti, npsave = [], [], []
    for _ in range(3):
        snap = snapshot_of(rois)
        t0 = time.perf_counter()
        ws.save_rois(snap)
        writes.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        save_rois(rois, tmp / "explicit.nii.gz", vol)
        nifti.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        with open(tmp / "plain.npy", "wb") as fh:
            np.save(fh, np.stack([r.mask for r in rois]))
            fh.flush()
            os.fsync(fh.fileno())
        npsave.append(time.perf_counter() - t0)
    saver.close()

    write_s, nifti_s, np_s = (statistics.median(v) for v in (writes, nifti, npsave))
    print(json.dumps({
        "benchmark": "autosave",
        "shape": list(SHAPE), "rois": 2,
        "changed_call_ms": {"median": round(statistics.median(call_ms), 4),
                            "max": round(max(call_ms), 3)},
        "brush_dab_ms": {"median": round(statistics.median(dab_ms), 4),
                         "max": round(max(dab_ms), 3)},
        "changed_vs_dab_ratio": round(statistics.median(call_ms) / statistics.median(dab_ms), 4),
        "edit_to_disk_s": {"median": round(statistics.median(latencies), 3),
                           "max": round(max(latencies), 3), "target": 2.0},
        "write_s": round(write_s, 3), "file_mb": round(ws.rois_path.stat().st_size / 1e6, 3),
        "nifti_save_rois_s": round(nifti_s, 3), "np_save_s": round(np_s, 3),
        "write_vs_nifti_ratio": round(write_s / nifti_s, 3),
        "write_vs_np_save_ratio": round(write_s / np_s, 3),
    }))


if __name__ == "__main__":
    main()
