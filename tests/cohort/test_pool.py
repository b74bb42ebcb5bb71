"""The local pool (``--workers N``): this process works while extra processes start, the
pool is capped by tasks and cores, and a case that kills its process fails alone.

The task function here is a stand-in for ``run_case`` (no torch), so these tests are fast;
``test_resume_and_backends`` runs the real cases through the pool."""

from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path

from coloc_viewer.cohort.manifest import Case
from coloc_viewer.cohort.pool import PoolBackend
from coloc_viewer.cohort.worker import CaseTask, UnitSpec


def _task(case_id: str, folder: Path) -> CaseTask:
    return CaseTask(case=Case(case_id, str(folder), "roi"), model="m", model_label="m",
                    units=(UnitSpec(f"k-{case_id}", None, "gradcam"),))


def fake_case(task: CaseTask) -> list[dict]:
    """Records who ran the task; ``crash`` kills a spawned process, ``hold`` waits (in
    this process) until that crash happened, so the crash lands in the spawned one."""
    folder = Path(task.case.image)
    spawned = multiprocessing.parent_process() is not None
    if task.case.case_id == "crash" and spawned:
        (folder / "crashed").write_text("x")
        os._exit(3)
    if task.case.case_id == "hold":
        deadline = time.monotonic() + 120
        while not (folder / "crashed").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    elif task.case.case_id.startswith("slow") and not spawned:
        time.sleep(0.5)  # tasks stay queued while the crash is noticed
    return [{"key": task.units[0].key, "case_id": task.case.case_id, "pid": os.getpid(),
             "threads": task.threads, "status": "ok"}]


def _run(backend: PoolBackend, tasks: list[CaseTask]) -> tuple[dict, dict]:
    ok, failed = {}, {}
    with backend:
        backend.run(tasks, lambda t, recs: ok.__setitem__(t.case.case_id, recs[0]),
                    lambda t, reason: failed.__setitem__(t.case.case_id, reason))
    return ok, failed


def test_a_crashing_case_fails_alone_and_a_replacement_process_starts(tmp_path):
    tasks = [_task("hold", tmp_path), _task("crash", tmp_path)]
    tasks += [_task(f"slow{i}", tmp_path) for i in range(6)]
    backend = PoolBackend(2, fn=fake_case, cores=2)
    ok, failed = _run(backend, tasks)
    assert list(failed) == ["crash"]
    assert "worker process stopped (exit code 3)" in failed["crash"]
    assert sorted(ok) == sorted(["hold"] + [f"slow{i}" for i in range(6)])
    assert ok["hold"]["pid"] == os.getpid()  # this process worked while the other started
    assert backend.respawns == 1


def test_this_process_works_and_threads_share_the_cores(tmp_path):
    tasks = [_task(f"c{i}", tmp_path) for i in range(6)]
    ok, failed = _run(PoolBackend(2, fn=fake_case, cores=2), tasks)
    assert not failed and len(ok) == 6
    assert os.getpid() in {r["pid"] for r in ok.values()}
    # 2 cores: 2 threads while this process works alone, 1 each while both work
    assert {r["threads"] for r in ok.values()} <= {1, 2}
    ok, _ = _run(PoolBackend(2, threads=3, fn=fake_case, cores=2), tasks)
    assert {r["threads"] for r in ok.values()} == {3}  # --threads fixes it


def test_pool_is_capped_by_tasks_and_cores(tmp_path):
    one = PoolBackend(4, fn=fake_case, cores=2)
    with one:
        one.run([_task("a", tmp_path)], lambda t, r: None, lambda t, r: None)
        assert one.procs == []  # one task: no process is started for it
        one.run([_task(f"c{i}", tmp_path) for i in range(8)], lambda t, r: None,
                lambda t, r: None)
        assert len(one.procs) == 1  # 2 cores: this process and one more


def test_warm_up_runs_at_the_lowest_priority_in_its_own_thread_only():
    import sys
    import threading

    import pytest

    from coloc_viewer.cohort import pool

    if not sys.platform.startswith("linux"):
        pytest.skip("per-thread nice is Linux behaviour")
    seen = {}

    def probe():
        pool._warm_up(())
        seen["warm"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    t = threading.Thread(target=probe)
    t.start()
    t.join()
    assert seen["warm"] == 19
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) < 19
