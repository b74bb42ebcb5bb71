"""PACS retrieval: WADO-RS and C-GET from a local Orthanc vs reading the same files from disk.

Generates (once, in a temporary folder) a 200-slice 512 x 512 uint16 MR series with
``write_dicom_series``, starts a throw-away Orthanc on free localhost ports
(``coloc_viewer.pacs.orthanc_local``; Debian packages ``orthanc orthanc-dicomweb``), stores
the series in it, then in the same run times (median of ``--repeats``, a fresh cache each):

* ``disk``: ``load_volume(folder)`` of the original files (scan, sort, decode, rescale);
* ``wado`` / ``cget`` / ``cget_pynetdicom``: ``retrieve_series`` into an empty cache
  (``cget`` receives through DCMTK's getscu when it is installed, ``cget_receiver`` says
  which; ``cget_pynetdicom`` through pynetdicom) (every instance written,
  the completeness marker committed), and the same plus ``load_volume`` of the cached
  folder (``*_then_load``: the whole series in memory, what the viewer needs);
* ``cget_relay`` / ``cget_without_quick_ack``: ``cget`` with ``COLOC_VIEWER_QUICK_ACK`` at
  ``relay`` / ``off`` (``pacs.quick_ack``; ``cget`` itself borrows getscu's socket where the
  system allows it: ``quick_ack_mode``);
* ``cget_server_nodelay``: ``cget`` from a second Orthanc started with DCMTK's
  ``TCP_NODELAY=1`` (Nagle's algorithm off on the server's side; Debian's build leaves it
  on, and Orthanc's C-STORE of each instance then waits on TCP acknowledgements);
* ``retrieve_volume``: ``pacs.retrieve.retrieve_volume`` into an empty cache: the volume
  decoded while the instances stream in (``pacs.assemble``), returned before the instances
  are written to the cache (``on_cached``), what the viewer uses; ``volume_then_cached``
  until the series is in the cache too;
* ``small_series_40x128x128``: ``retrieve_volume`` of a 40 x 128 x 128 series (32 kB per
  instance, where a delayed ACK weighs most) per receiver, against ``load_volume``;
* ``first_slice``: from the call (pressing Retrieve) until the first instance is on disk
  and decoded to the 8-bit preview (``gui.pacs_preview.preview_slice``);
* ``main_window`` (with ``--gui``, offscreen Qt): from the Retrieve click in File > Open
  from PACS… until the main window painted the first retrieved slice (target <= 1 s) and
  until the complete series is shown (``study_loaded``), against File > Open of the same
  files from disk (``disk_series_shown_s``).

Each timing starts from the same state: the previous timing's cache folder is deleted and
``os.sync()`` has written back what it dirtied (otherwise the kernel writes ~100 MB back to
disk during the next timing).

Ratios are to ``disk`` (target for the whole series: <= 2 at loopback speed): of the
medians, and ``paired_*`` the median of each timing over the disk read just before it (more
stable when the machine's load changes during the run). Prints one
JSON object. Run: ``nice -n 10 .venv/bin/python benchmarks/bench_pacs.py [--repeats 2]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from coloc_viewer.imaging.dicom_write import write_dicom_series
from coloc_viewer.imaging.load import load_volume
from coloc_viewer.pacs.cache import StudyCache
from coloc_viewer.pacs.orthanc_local import ORTHANC_PACKAGES, LocalOrthanc, find_orthanc
from coloc_viewer.pacs.quick_ack import ENV_QUICK_ACK, quick_ack_mode
from coloc_viewer.pacs.retrieve import Progress, connect, retrieve_series, retrieve_volume
from coloc_viewer.pacs.servers import ServerConfig

AET = "COLOCBENCH"


def _stream(server: ServerConfig, study: str, series: str, n: int, root: Path
            ) -> dict[str, float]:
    cache = StudyCache(root, limit_bytes=10 * 1024**3)
    cached = threading.Event()
    errors: list[BaseException | None] = []

    def on_cached(error: BaseException | None) -> None:
        errors.append(error)
        cached.set()

    t0 = time.perf_counter()
    _folder, volume = retrieve_volume(connect(server), cache, study, series, total=n,
                                      on_cached=on_cached)
    whole = time.perf_counter() - t0
    assert cached.wait(120) and errors == [None]
    in_cache = time.perf_counter() - t0
    assert volume.shape[0] == n
    return {"retrieve_volume_s": whole, "volume_then_cached_s": in_cache}


def _retrieve(server: ServerConfig, study: str, series: str, n: int, root: Path
              ) -> dict[str, float]:
    from coloc_viewer.gui.pacs_preview import preview_slice

    cache = StudyCache(root, limit_bytes=10 * 1024**3)
    first: list[float] = []
    t0 = time.perf_counter()

    def progress(p: Progress) -> None:
        if p.path is not None and not first:
            assert preview_slice(p.path) is not None
            first.append(time.perf_counter() - t0)

    folder = retrieve_series(connect(server), cache, study, series, progress, total=n)
    retrieved = time.perf_counter() - t0
    volume = load_volume(folder)
    whole = time.perf_counter() - t0
    assert volume.shape[0] == n
    return {"first_slice_s": first[0], "retrieve_s": retrieved, "then_load_s": whole}


def _quick_ack(name: str | None) -> None:
    """The quick-ACK mode a timing named ``name`` asks for (None: the default, auto)."""
    os.environ.pop(ENV_QUICK_ACK, None)
    if name == "cget_relay":
        os.environ[ENV_QUICK_ACK] = "relay"
    elif name == "cget_without_quick_ack":
        os.environ[ENV_QUICK_ACK] = "off"


def _small_series(root: Path, servers: dict[str, ServerConfig], uploads: list[LocalOrthanc],
                  repeats: int) -> dict[str, float]:
    """40 instances of 128 x 128 (32 kB each, where a delayed ACK costs most): medians of
    ``retrieve_volume`` per receiver, and of ``load_volume`` of the same files."""
    vox = np.random.default_rng(1).integers(0, 4000, size=(40, 128, 128)).astype(np.float32)
    paths = write_dicom_series(vox, root / "small", spacing=(3.0, 1.0, 1.0),
                               patient_id="BENCH-02", patient_name="BENCH^SMALL")
    for server in uploads:
        server.upload(paths)
    import pydicom

    ds = pydicom.dcmread(paths[0], stop_before_pixels=True)
    study, series = str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID)
    times: dict[str, list[float]] = {"disk": [], **{name: [] for name in servers}}
    for k in range(repeats):
        for name, server in servers.items():
            _quick_ack(name)
            t = time.perf_counter()
            load_volume(root / "small")
            times["disk"].append(time.perf_counter() - t)
            times[name].append(_stream(server, study, series, len(paths),
                                       root / f"cache-small-{name}-{k}")["retrieve_volume_s"])
            _quick_ack(None)
    out = {f"{name}_s": round(statistics.median(v), 4) for name, v in times.items()}
    for name in servers:
        out[f"{name}_ratio_to_disk"] = round(out[f"{name}_s"] / out["disk_s"], 2)
    return out


def _wait(app: object, until: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not until():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError("the GUI did not get there in time")
        app.processEvents()  # type: ignore[attr-defined]
        time.sleep(0.001)


def _new_window() -> object:
    """A shown main window that does not ask before closing."""
    from coloc_viewer.gui.main_window import MainWindow

    window = MainWindow()
    window.ask_before_quit = False
    window.resize(1200, 800)
    window.show()
    return window


def _close_window(app: object, window: object) -> None:
    """Close ``window``, stop its worker threads and let Qt delete it."""
    window.close()  # type: ignore[attr-defined]
    window.runner.shutdown(10000)  # type: ignore[attr-defined]
    window.deleteLater()  # type: ignore[attr-defined]
    app.processEvents()  # type: ignore[attr-defined]


def _gui_once(app: object, index: int, server: ServerConfig, patient_id: str, n: int
              ) -> tuple[float, float]:
    from coloc_viewer.gui.pacs_open import open_from_pacs
    window = _new_window()
    dialog = open_from_pacs(window)
    dialog.server_box.setCurrentIndex(index)
    dialog.patient_id.setText(patient_id)
    dialog.search_button.click()
    _wait(app, lambda: dialog.study_table.rowCount() == 1, 30)
    dialog.study_table.selectRow(0)
    _wait(app, lambda: dialog.series_table.rowCount() == 1, 30)
    dialog.series_table.selectRow(0)
    painted: list[float] = []
    loaded: list[float] = []
    window.pacs_preview.painted.connect(painted.append)
    window.study_loaded.connect(lambda: loaded.append(time.perf_counter()))
    t0 = time.perf_counter()
    dialog.retrieve_button.click()
    _wait(app, lambda: bool(loaded), 120)
    assert window.state.volume is not None and window.state.volume.shape[0] == n
    _close_window(app, window)
    return painted[0] - t0, loaded[0] - t0


def _gui_disk(app: object, folder: Path, n: int) -> float:
    """File > Open of the same series from disk: call to the series shown (study_loaded)."""
    window = _new_window()
    loaded: list[float] = []
    window.study_loaded.connect(lambda: loaded.append(time.perf_counter()))
    t0 = time.perf_counter()
    window.open_path(folder)
    _wait(app, lambda: bool(loaded), 120)
    assert window.state.volume is not None and window.state.volume.shape[0] == n
    _close_window(app, window)
    return loaded[0] - t0


def _gui(servers: list[ServerConfig], patient_id: str, n: int, root: Path, repeats: int
         ) -> dict[str, list[float]]:
    """File > Open from PACS… in a real (offscreen) main window: Retrieve click to the first
    slice painted over the main canvas, and to the complete series shown (study_loaded)."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ["COLOC_VIEWER_CONFIG_DIR"] = str(root / "config")
    os.environ["COLOC_VIEWER_NO_SETTINGS"] = "1"  # the user's settings and ROIs untouched
    os.environ["COLOC_VIEWER_DATA_DIR"] = str(root / "data")
    from PySide6.QtWidgets import QApplication

    from coloc_viewer.pacs.servers import save_servers

    save_servers(servers)
    app = QApplication.instance() or QApplication([])
    out: dict[str, list[float]] = {}
    _gui_disk(app, root / "series", n)  # warm-up: first window, imports
    for _ in range(repeats):
        os.sync()
        out.setdefault("disk_series_shown_s", []).append(_gui_disk(app, root / "series", n))
    for i, server in enumerate(servers):
        for k in range(repeats):
            for old in root.glob("gui-cache-*"):
                shutil.rmtree(old, ignore_errors=True)
            os.sync()
            os.environ["COLOC_VIEWER_CACHE_DIR"] = str(root / f"gui-cache-{i}-{k}")
            first, shown = _gui_once(app, i, server, patient_id, n)
            out.setdefault(f"{server.name}_first_paint_s", []).append(first)
            out.setdefault(f"{server.name}_series_shown_s", []).append(shown)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--slices", type=int, default=200)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--gui", action="store_true",
                    help="also time the main window (offscreen Qt): first paint, series shown")
    args = ap.parse_args()
    if find_orthanc() is None:
        print(json.dumps({"skipped": f"Orthanc is not installed ({ORTHANC_PACKAGES})"}))
        return
    with tempfile.TemporaryDirectory(prefix="bench-pacs-") as tmp:
        tmp_path = Path(tmp)
        rng = np.random.default_rng(0)
        vox = rng.integers(0, 4000, size=(args.slices, args.size, args.size)).astype(np.float32)
        paths = write_dicom_series(vox, tmp_path / "series", spacing=(1.5, 0.5, 0.5),
                                   patient_id="BENCH-01", patient_name="BENCH^PACS")
        del vox
        import pydicom

        ds = pydicom.dcmread(paths[0], stop_before_pixels=True)
        study, series = str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID)
        size_mb = sum(p.stat().st_size for p in paths) / 1e6
        with LocalOrthanc(tmp_path / "orthanc", modalities={AET: 104}) as pacs, \
                LocalOrthanc(tmp_path / "orthanc-nodelay", modalities={AET: 104},
                             nodelay=True) as tuned:
            t = time.perf_counter()
            pacs.upload(paths)
            upload_s = time.perf_counter() - t
            tuned.upload(paths)
            web = ServerConfig("bench-web", url=pacs.dicomweb_url, timeout=120)
            dimse = ServerConfig("bench-dimse", protocol="dimse", host="127.0.0.1",
                                 port=pacs.dicom_port, called_aet=pacs.aet, calling_aet=AET,
                                 timeout=120)  # C-GET through getscu when DCMTK is there
            pynet = ServerConfig(**{**dimse.to_json(), "name": "bench-pynetdicom",
                                    "dimse_backend": "pynetdicom"})
            nodelay = ServerConfig(**{**dimse.to_json(), "name": "bench-dimse-nodelay",
                                      "port": tuned.dicom_port})
            def settle() -> None:
                """Remove the timed caches and wait for the kernel to write back."""
                for old in tmp_path.glob("cache-*"):
                    shutil.rmtree(old, ignore_errors=True)
                os.sync()

            load_volume(tmp_path / "series")  # warm-up (imports, page cache)
            load_before = [round(x, 2) for x in os.getloadavg()]
            runs: dict[str, list[dict[str, float]]] = {
                "wado": [], "cget": [], "cget_relay": [], "cget_without_quick_ack": [],
                "cget_pynetdicom": [],
                "cget_server_nodelay": []}
            disk: list[float] = []

            def disk_read() -> float:
                settle()
                t = time.perf_counter()
                load_volume(tmp_path / "series")
                disk.append(time.perf_counter() - t)
                return disk[-1]

            for k in range(args.repeats):
                for name, server in (("wado", web), ("cget", dimse),
                                     ("cget_relay", dimse),
                                     ("cget_without_quick_ack", dimse),
                                     ("cget_pynetdicom", pynet),
                                     ("cget_server_nodelay", nodelay)):
                    # each timing paired with a disk read just before it: the load of the
                    # machine changes within a run, a ratio to the same moment's read less
                    _quick_ack(name)
                    before = disk_read()
                    run = _retrieve(server, study, series, len(paths),
                                    tmp_path / f"cache-{name}-{k}")
                    run["paired_whole"] = run["then_load_s"] / before
                    before = disk_read()  # settles first
                    run.update(_stream(server, study, series, len(paths),
                                       tmp_path / f"cache-{name}-stream-{k}"))
                    run["paired_volume"] = run["retrieve_volume_s"] / before
                    _quick_ack(None)
                    runs[name].append(run)
            small = _small_series(tmp_path, {
                "wado": web, "cget": dimse, "cget_relay": dimse,
                "cget_without_quick_ack": dimse,
                "cget_pynetdicom": pynet, "cget_server_nodelay": nodelay}, [pacs, tuned],
                args.repeats)
            gui = _gui([web, dimse, nodelay], "BENCH-01", len(paths), tmp_path,
                       args.repeats) \
                if args.gui else {}
        disk_s = statistics.median(disk)
        out: dict[str, object] = {
            "benchmark": "pacs_retrieve", "series": [args.slices, args.size, args.size],
            "series_mb": round(size_mb, 1), "repeats": args.repeats,
            "orthanc_upload_s": round(upload_s, 2), "disk_load_s": round(disk_s, 3),
            "platform": platform.platform(), "cpus": os.cpu_count(),
            "load_average_before": load_before,
            "load_average": [round(x, 2) for x in os.getloadavg()],
            "quick_ack_mode": quick_ack_mode(),
            "cget_receiver": "getscu" if connect(dimse).retrieves_into_folder()
            else "pynetdicom",
        }
        for name, rs in runs.items():
            med = {key: statistics.median(r[key] for r in rs) for key in rs[0]}
            out[name] = {
                "first_slice_s": round(med["first_slice_s"], 3),
                "retrieve_s": round(med["retrieve_s"], 3),
                "retrieve_then_load_s": round(med["then_load_s"], 3),
                "mb_per_s": round(size_mb / med["retrieve_s"], 1),
                "ratio_retrieve_to_disk": round(med["retrieve_s"] / disk_s, 2),
                "ratio_whole_to_disk": round(med["then_load_s"] / disk_s, 2),
                "retrieve_volume_s": round(med["retrieve_volume_s"], 3),
                "ratio_retrieve_volume_to_disk": round(med["retrieve_volume_s"] / disk_s, 2),
                "volume_then_cached_s": round(med["volume_then_cached_s"], 3),
                "paired_ratio_whole_to_disk": round(med["paired_whole"], 2),
                "paired_ratio_retrieve_volume_to_disk": round(med["paired_volume"], 2),
                "first_slice_target_met": med["first_slice_s"] <= 1.0,
                "whole_series_target_met": med["paired_volume"] <= 2.0,
            }
        out["small_series_40x128x128"] = small
        if gui:
            shown = {key: round(statistics.median(v), 3) for key, v in gui.items()}
            for key in [k for k in shown if k.endswith("_series_shown_s") and "disk" not in k]:
                name = key.removesuffix("_series_shown_s")
                shown[f"{name}_series_ratio_to_disk"] = round(
                    shown[key] / shown["disk_series_shown_s"], 2)
            out["main_window"] = shown
        print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
