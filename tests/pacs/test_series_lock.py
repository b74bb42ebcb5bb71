"""Retrievals of one series coordinate through its lock in the cache, across programs: the
second waits and then finds the series cached (it had emptied the folder the first was
writing), eviction passes over a study being retrieved, and waiting can be cancelled.
Real Orthanc; the other program is a real second process."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
from pacs_helpers import demo_study_uid, series_uid_of

from coloc_viewer.imaging.load import load_volume
from coloc_viewer.pacs.cache import StudyCache
from coloc_viewer.pacs.errors import RetrievalCancelled
from coloc_viewer.pacs.retrieve import Progress, connect, retrieve_series
from coloc_viewer.pacs.servers import ServerConfig
from coloc_viewer.resources import demo_dir

CASE2_T2 = demo_dir() / "case-02" / "dicom"
N = 20

OTHER_PROGRAM = """
import json, sys, time
from coloc_viewer.pacs.cache import SeriesWriter, StudyCache
from coloc_viewer.pacs.retrieve import connect, retrieve_series
from coloc_viewer.pacs.servers import ServerConfig

original = SeriesWriter.write
def write(self, key, data):  # a slow disk: the series takes about a second
    time.sleep(0.05)
    return original(self, key, data)
SeriesWriter.write = write
def progress(p):
    if p.done == 1:
        print("receiving", flush=True)
server = ServerConfig(**json.loads(sys.argv[1]))
folder = retrieve_series(connect(server), StudyCache(sys.argv[2]), sys.argv[3], sys.argv[4],
                         progress, total=int(sys.argv[5]))
print("done", flush=True)
"""


def test_a_second_program_waits_and_finds_the_series_cached(dimse_server: ServerConfig,
                                                            tmp_path: Path) -> None:
    study, series = demo_study_uid(), series_uid_of(CASE2_T2)
    other = subprocess.Popen([sys.executable, "-c", OTHER_PROGRAM,
                              json.dumps(dataclasses.asdict(dimse_server)),
                              str(tmp_path / "c"), study, series, str(N)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert other.stdout is not None
        assert other.stdout.readline().strip() == "receiving"
        seen: list[Progress] = []
        cache = StudyCache(tmp_path / "c")
        folder = retrieve_series(connect(dimse_server), cache, study, series, seen.append,
                                 total=N)
        # it waited, then took the series from the cache: not downloaded a second time
        assert [(p.waiting, p.cached) for p in seen] == [(True, False), (False, True)]
        out, err = other.communicate(timeout=60)
        assert other.returncode == 0, err
        assert out.strip() == "done"
    finally:
        if other.poll() is None:
            other.kill()
    assert cache.series_complete(dimse_server.address, study, series)
    assert len(list(folder.glob("*.dcm"))) == N
    np.testing.assert_array_equal(load_volume(folder).voxels, load_volume(CASE2_T2).voxels)


def test_two_threads_retrieve_one_series_once(web_server: ServerConfig,
                                              tmp_path: Path) -> None:
    study, series = demo_study_uid(), series_uid_of(CASE2_T2)
    cache = StudyCache(tmp_path / "c")
    seen: dict[int, list[Progress]] = {0: [], 1: []}
    errors: list[BaseException] = []

    def run(k: int) -> None:
        try:
            retrieve_series(connect(web_server), cache, study, series, seen[k].append, total=N)
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=run, args=(k,)) for k in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sorted(any(p.cached for p in seen[k]) for k in (0, 1)) == [False, True]
    folder = cache.series_dir(web_server.address, study, series)
    assert len(list(folder.glob("*.dcm"))) == N


def test_waiting_for_the_lock_can_be_cancelled(web_server: ServerConfig,
                                               tmp_path: Path) -> None:
    study, series = demo_study_uid(), series_uid_of(CASE2_T2)
    cache = StudyCache(tmp_path / "c")
    lock = cache.series_lock(cache.series_dir(web_server.address, study, series))
    lock.acquire()  # another program is retrieving it
    cancel, raised, seen = threading.Event(), [], []

    def run() -> None:
        try:
            retrieve_series(connect(web_server), cache, study, series, seen.append,
                            cancel=cancel, total=N)
        except RetrievalCancelled as err:
            raised.append((err, time.perf_counter()))

    t = threading.Thread(target=run)
    t.start()
    deadline = time.monotonic() + 10
    while not seen and time.monotonic() < deadline:  # a loaded machine may take a while
        time.sleep(0.02)
    time.sleep(0.2)
    assert t.is_alive() and [p.waiting for p in seen] == [True]  # waiting, and says so
    cancel.set()
    at = time.perf_counter()
    t.join(5)
    lock.release()
    assert raised and raised[0][1] - at < 1.0
    assert not cache.series_complete(web_server.address, study, series)


def test_eviction_passes_over_a_study_being_retrieved(tmp_path: Path) -> None:
    cache = StudyCache(tmp_path / "c", limit_bytes=0)
    old = cache.begin_series("srv", "1.2.old", "1.2.old.1")
    (old.folder / "a.dcm").write_bytes(b"x" * 1000)
    old.count = 1
    old.commit()
    busy = cache.begin_series("srv", "1.2.busy", "1.2.busy.1")
    (busy.folder / "b.dcm").write_bytes(b"y" * 1000)  # partial: no marker yet
    lock = cache.series_lock(busy.folder)
    lock.acquire()
    evicted = cache.enforce_limit()
    assert evicted == [cache.study_dir("srv", "1.2.old")]
    assert busy.folder.is_dir()
    assert cache.purge() == 0 and busy.folder.is_dir()  # Purge cache leaves it too
    lock.release()  # a partial series nobody is retrieving is evicted as before
    assert cache.enforce_limit() == [cache.study_dir("srv", "1.2.busy")]
    assert not busy.folder.exists()
