"""Child process for the crash tests: edits ROIs through the Autosaver until it is killed.

``python child_editor.py edit DATA_DIR UID`` paints one pixel every 20 ms and prints
``<index> <wall time>`` after each ``changed()`` call returns.
``python child_editor.py churn DATA_DIR UID`` rewrites large ROI/state files back to back.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np

from coloc_viewer.workspace import Autosaver, RoiSnapshot, Workspace

SHAPE = (4, 64, 64)
CHURN_SHAPE = (32, 512, 512)
_BASE: list[np.ndarray] = []


def pixel(k: int) -> tuple[int, int, int]:
    """Where edit ``k`` paints (distinct for k < 4 * 64 * 64)."""
    return np.unravel_index(k, SHAPE)  # type: ignore[return-value]


def churn_mask(generation: int) -> np.ndarray:
    """Incompressible content derived from the generation, so a reader can verify it."""
    if not _BASE:
        _BASE.append(np.random.default_rng(0).random(CHURN_SHAPE) < 0.5)
    return np.roll(_BASE[0], generation, axis=2)


def edit(uid: str) -> None:
    ws = Workspace.for_source("/data/study", series_uid=uid)
    assert ws.begin_session()
    saver = Autosaver(ws)
    mask = np.zeros(SHAPE, bool)
    k = 0
    while True:
        mask[pixel(k)] = True
        saver.changed({"lesion": mask})
        print(k, repr(time.time()), flush=True)
        k += 1
        time.sleep(0.02)


def churn(uid: str) -> None:
    ws = Workspace.for_source("/data/study", series_uid=uid)
    assert ws.begin_session()
    generation = 0
    while True:
        generation += 1
        ws.save_rois(RoiSnapshot({"lesion": churn_mask(generation)}, generation=generation))
        ws.save_state({"slice": generation, "padding": "x" * 2_000_000})
        if generation == 1:
            print("ready", flush=True)


if __name__ == "__main__":
    os.environ["COLOC_VIEWER_DATA_DIR"] = sys.argv[2]
    {"edit": edit, "churn": churn}[sys.argv[1]](sys.argv[3])
