"""Compare window responsiveness, offscreen: the longest event-loop stall while 4 panes are
analysed in the worker (ResNet18, 1 channel, 256 x 256 slices), as a ratio to the stall the
same work causes when run on the GUI thread (the reference, measured in the same run), and
beside the idle timer jitter and the machine's load average (the stalls left with a worker
are the GIL and the CPU being shared). Target: under 50 ms. ``BENCH_THREADS`` overrides torch's
thread count (default: all cores but one, as the app sets it). Prints JSON.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402


class StallProbe:
    """A 2 ms timer; the longest gap between ticks is the longest event-loop stall (ms)."""

    def __init__(self) -> None:
        from PySide6.QtCore import QElapsedTimer, QTimer

        self.clock, self.timer, self.gaps = QElapsedTimer(), QTimer(), []
        self.timer.setInterval(2)
        self.timer.timeout.connect(lambda: self.gaps.append(self.clock.restart()))

    def start(self) -> None:
        self.gaps.clear()
        self.clock.start()
        self.timer.start()

    def stop(self) -> float:
        self.timer.stop()
        self.gaps.append(self.clock.elapsed())
        return float(max(self.gaps))


def main() -> None:
    import torch
    import torchvision
    from PySide6.QtWidgets import QApplication

    from coloc_viewer.gui.compare_window import CompareWindow
    from coloc_viewer.imaging.volume import Volume
    from coloc_viewer.model.device import configure_threads
    from coloc_viewer.model.loading import wrap_module
    from coloc_viewer.viewer.compare import ModelRegistry, PaneSpec, Study, compute_pane

    configure_threads()  # as the app does: all cores but one
    if os.environ.get("BENCH_THREADS"):
        torch.set_num_threads(int(os.environ["BENCH_THREADS"]))
    app = QApplication.instance() or QApplication([])
    torch.manual_seed(0)
    net = torchvision.models.resnet18(num_classes=2)
    net.conv1 = torch.nn.Conv2d(1, 64, 7, 2, 3, bias=False)
    model = wrap_module(net, in_channels=1, input_size=(256, 256), classes=["no", "yes"],
                        name="resnet18", target_layer="layer4", device="cpu")
    rng = np.random.default_rng(0)
    vol = Volume(rng.normal(100, 20, (8, 256, 256)).astype(np.float32),
                 metadata={"series_uid": "2.25.9"}, source="/bench/study")
    roi = np.zeros(vol.shape, bool)
    roi[4, 100:140, 120:170] = True
    study = Study(vol, roi)
    specs = [PaneSpec("m"), PaneSpec("m", map_choice="gradcam"),
             PaneSpec("m", layer="layer3", map_choice="layercam"),
             PaneSpec("m", map_choice="gradcam++", rank="max")]
    registry = ModelRegistry({"m": model})
    win = CompareWindow(study, registry, n_panes=4, specs=specs)
    win.resize(1200, 900)
    win.show()
    app.processEvents()
    compute_pane(registry, study, 4, specs[0])  # warm-up (layer listing, allocator)

    probe = StallProbe()
    probe.start()
    t0 = time.perf_counter()
    end = t0 + 0.5
    while time.perf_counter() < end:
        app.processEvents()
    idle = probe.stop()

    probe.start()
    t0 = time.perf_counter()
    win.analyse()
    while win._pending and time.perf_counter() - t0 < 300:
        app.processEvents()
        time.sleep(0.001)
    worker_s = time.perf_counter() - t0
    worker_stall = probe.stop()

    probe.start()  # reference: the same four panes on the GUI thread (no cache)
    app.processEvents()
    for spec in specs:
        compute_pane(registry, study, 4, spec)
    app.processEvents()
    blocking_stall = probe.stop()
    win.close()
    print(json.dumps({
        "benchmark": "compare_window",
        "panes": 4, "model": "resnet18 1ch 256x256", "threads": torch.get_num_threads(),
        "analysis_s": round(worker_s, 3),
        "max_stall_ms_worker": worker_stall,
        "max_stall_ms_blocking_reference": blocking_stall,
        "max_stall_ms_idle": idle,
        "stall_ratio_worker_vs_blocking": round(worker_stall / max(blocking_stall, 1.0), 4),
        "target_ms": 50,
        "load_average_1min": round(os.getloadavg()[0], 2),
    }))


if __name__ == "__main__":
    main()
