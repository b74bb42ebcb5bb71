"""``retrieve_volume(on_cached=...)``, what the viewer uses: the volume is returned once it is
decoded, the instances are written to the cache after it, and the cache rules still hold
(a failed write keeps nothing; a cancel after the volume was returned drops nothing; a new
retrieval of the same series waits for the writes and then finds it cached). Real Orthanc,
over WADO-RS and C-GET (pynetdicom; getscu writes its files itself)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
from pacs_helpers import demo_study_uid, series_uid_of

from coloc_viewer.imaging.load import load_volume
from coloc_viewer.pacs.cache import SeriesWriter, StudyCache
from coloc_viewer.pacs.retrieve import Progress, connect, retrieve_series, retrieve_volume
from coloc_viewer.pacs.servers import ServerConfig
from coloc_viewer.resources import demo_dir

CASE2_T2 = demo_dir() / "case-02" / "dicom"
N = 20


@pytest.fixture(params=["web", "get"])
def server(request: pytest.FixtureRequest, web_server: ServerConfig,
           dimse_server: ServerConfig) -> ServerConfig:
    return web_server if request.param == "web" else dimse_server


class Outcome:
    """What ``on_cached`` reported, and when."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.error: BaseException | None = None
        self.at = 0.0

    def __call__(self, error: BaseException | None) -> None:
        self.error, self.at = error, time.perf_counter()
        self.done.set()


def slow_writes(monkeypatch: pytest.MonkeyPatch, fail_at: int | None = None) -> list[float]:
    """Each cache write takes 30 ms (a slow disk); ``fail_at``: that write fails (disk full)."""
    times: list[float] = []
    original = SeriesWriter.write

    def write(self, key, data):
        time.sleep(0.03)
        if fail_at is not None and self.count + 1 == fail_at:
            raise OSError(28, "No space left on device")
        times.append(time.perf_counter())
        return original(self, key, data)

    monkeypatch.setattr(SeriesWriter, "write", write)
    return times


def test_volume_first_then_the_cache(server: ServerConfig, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    writes = slow_writes(monkeypatch)
    cache, outcome, seen = StudyCache(tmp_path / "c"), Outcome(), []
    study, series = demo_study_uid(), series_uid_of(CASE2_T2)
    folder, volume = retrieve_volume(connect(server), cache, study, series, seen.append,
                                     total=N, on_cached=outcome)
    returned = time.perf_counter()
    np.testing.assert_array_equal(volume.voxels, load_volume(CASE2_T2).voxels)
    assert [p.done for p in seen] == list(range(1, N + 1))  # per instance received
    assert seen[0].path is not None and seen[0].path.is_file()  # the preview reads it
    assert not cache.series_complete(server.address, study, series)  # still writing
    assert len(writes) < N
    assert outcome.done.wait(30) and outcome.error is None
    assert outcome.at > returned and max(writes) > returned
    assert cache.series_complete(server.address, study, series)
    np.testing.assert_array_equal(load_volume(folder).voxels, volume.voxels)


def test_a_failed_write_keeps_nothing_but_the_volume(server: ServerConfig, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    slow_writes(monkeypatch, fail_at=5)
    cache, outcome = StudyCache(tmp_path / "c"), Outcome()
    study, series = demo_study_uid(), series_uid_of(CASE2_T2)
    folder, volume = retrieve_volume(connect(server), cache, study, series, total=N,
                                     on_cached=outcome)
    assert volume.shape[0] == N
    assert outcome.done.wait(30)
    assert isinstance(outcome.error, OSError) and "No space left" in str(outcome.error)
    assert not cache.series_complete(server.address, study, series)
    assert not folder.exists()


def test_cancel_after_the_volume_drops_nothing(web_server: ServerConfig, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    slow_writes(monkeypatch)
    cache, outcome, cancel = StudyCache(tmp_path / "c"), Outcome(), threading.Event()
    study, series = demo_study_uid(), series_uid_of(CASE2_T2)
    retrieve_volume(connect(web_server), cache, study, series, cancel=cancel, total=N,
                    on_cached=outcome)
    cancel.set()  # the dialog closes once the series is shown
    assert outcome.done.wait(30) and outcome.error is None
    assert cache.series_complete(web_server.address, study, series)


def test_the_same_series_again_waits_for_the_writes(web_server: ServerConfig, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    slow_writes(monkeypatch)
    cache, outcome = StudyCache(tmp_path / "c"), Outcome()
    study, series = demo_study_uid(), series_uid_of(CASE2_T2)
    folder, _volume = retrieve_volume(connect(web_server), cache, study, series, total=N,
                                      on_cached=outcome)
    again: list[Progress] = []
    assert retrieve_series(connect(web_server), cache, study, series, again.append,
                           total=N) == folder
    assert outcome.done.is_set() and outcome.error is None
    assert [p.cached for p in again] == [True]  # not downloaded a second time


def test_a_seg_saved_at_once_waits_for_the_source_files(server: ServerConfig, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    """The SEG references the source images: saved while they are still being written, it
    waits for them instead of failing on a missing file."""
    import highdicom as hd

    from coloc_viewer.imaging.roi import RoiSet
    from coloc_viewer.viewer.study import save_rois_to

    slow_writes(monkeypatch)
    cache, outcome = StudyCache(tmp_path / "c"), Outcome()
    _folder, volume = retrieve_volume(connect(server), cache, demo_study_uid(),
                                      series_uid_of(CASE2_T2), total=N, on_cached=outcome)
    assert not outcome.done.is_set()
    rois = RoiSet.for_volume(volume)
    mask = np.zeros(volume.shape, bool)
    mask[N // 2, 20:30, 20:30] = True
    rois.add("lesion", mask, record=False)
    save_rois_to(rois, tmp_path / "rois.seg.dcm", volume)
    assert outcome.done.is_set() and outcome.error is None
    seg = hd.seg.segread(tmp_path / "rois.seg.dcm")
    assert seg.number_of_segments == 1


EXIT_SCRIPT = """
import json, sys, time
from coloc_viewer.pacs.cache import SeriesWriter, StudyCache
from coloc_viewer.pacs.retrieve import connect, retrieve_volume
from coloc_viewer.pacs.servers import ServerConfig

original = SeriesWriter.write
def write(self, key, data):
    time.sleep(0.05)
    return original(self, key, data)
SeriesWriter.write = write
server = ServerConfig(**json.loads(sys.argv[1]))
folder, volume = retrieve_volume(connect(server), StudyCache(sys.argv[2]), sys.argv[3],
                                 sys.argv[4], total=int(sys.argv[5]),
                                 on_cached=lambda err: print("cached", err, flush=True))
print("shown", volume.shape[0], flush=True)
"""


def test_quitting_right_after_the_volume_still_caches_it(dimse_server: ServerConfig,
                                                         tmp_path: Path) -> None:
    """The program may quit as soon as the series is on screen: the exit waits for the
    cache writes (a daemon thread would have been killed, leaving an unmarked folder)."""
    import dataclasses
    import json
    import subprocess
    import sys

    study, series = demo_study_uid(), series_uid_of(CASE2_T2)
    done = subprocess.run([sys.executable, "-c", EXIT_SCRIPT,
                           json.dumps(dataclasses.asdict(dimse_server)), str(tmp_path / "c"),
                           study, series, str(N)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == [f"shown {N}", "cached None"]
    cache = StudyCache(tmp_path / "c")
    assert cache.series_complete(dimse_server.address, study, series)
    assert len(list(cache.series_dir(dimse_server.address, study, series).glob("*"))) >= N
