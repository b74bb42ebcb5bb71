"""A SIGKILLed run resumes without duplicates; Dask and the process pool give the same
tables as the in-process run."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time

import pytest

from coloc_viewer.cohort.runner import CohortOptions, run_cohort
from coloc_viewer.cohort.store import ResultStore

KEY = ("case_id", "model", "rank", "method", "roi", "slice")


def _bigger_manifest(cohort, tmp_path, copies=3):
    """The good cases of the cohort, each listed ``copies`` times under new case IDs."""
    lines = cohort["manifest"].read_text().splitlines()
    base = cohort["manifest"].parent
    rows = [lines[0]]
    for k in range(copies):
        for line in lines[1:5]:
            img, roi, cid, slices, label = line.split(",")
            rows.append(f"{base / img},{base / roi},{cid}_{k},{slices},{label}")
    path = tmp_path / "big.csv"
    path.write_text("\n".join(rows) + "\n")
    return path, len(rows) - 1


def test_sigkilled_run_resumes_without_duplicates(cohort, models, tmp_path):
    manifest, n_cases = _bigger_manifest(cohort, tmp_path)
    out = tmp_path / "out"
    args = [sys.executable, "-m", "coloc_viewer", "cohort", str(manifest), "--out", str(out),
            "--model", str(models[0]), "--no-report", "--principal-ratio", "0",
            "--no-p-value", "--threads", "1", "--roi-name", "lesion"]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    results = out / "results.jsonl"
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if results.exists() and results.read_bytes().count(b"\n") >= 1:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the run ended before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(30)
    assert proc.returncode == -signal.SIGKILL
    before = ResultStore(out).load()
    n_units = 2 * n_cases  # top map (contribution) and Grad-CAM per case
    assert 0 < len(before) < n_units  # some, not all, finished
    with open(results, "ab") as fh:  # a record torn by the kill, as it would be mid-write
        fh.write(b'{"key": "torn", "status": "ok", "rows": [{"case')

    opts = CohortOptions(models=(str(models[0]),), principal_ratio=None, report=False,
                         p_value=False, threads=1, roi_names=("lesion",))
    resumed = run_cohort(manifest, out, opts, stream=io.StringIO())
    assert resumed.summary["units"]["skipped_already_done"] == len(before)
    assert resumed.summary["units"]["ok"] == n_units and resumed.n_failed == 0
    assert {r["roi"] for r in resumed.slices} == {"lesion"}
    keys = [tuple(r[k] for k in KEY) for r in resumed.slices]
    assert len(keys) == len(set(keys)) == n_units * 3
    fresh = run_cohort(manifest, tmp_path / "fresh", opts, stream=io.StringIO())
    # same rows as an uninterrupted run (floats to 1e-6: the killed process was a fresh
    # interpreter, this one is warm; the backend tests below check bit-identity)
    _same_rows(resumed.slices, fresh.slices)
    _same_rows(resumed.cases, fresh.cases)


def _same_rows(a, b):
    assert len(a) == len(b)
    for ra, rb in zip(a, b):
        assert ra.keys() == rb.keys()
        for k in ra:
            if isinstance(ra[k], float) and isinstance(rb[k], float):
                assert ra[k] == pytest.approx(rb[k], rel=1e-6, abs=1e-9), (k, ra, rb)
            else:
                assert ra[k] == rb[k], (k, ra, rb)


@pytest.fixture(scope="module")
def reference(cohort, models, tmp_path_factory):
    opts = CohortOptions(models=(str(models[0]),), ranks=("contribution",),
                         methods=("gradcam",), principal_ratio=0.1, threads=1, report=False,
                         workers=1)
    run = run_cohort(cohort["manifest"], tmp_path_factory.mktemp("ref"), opts,
                     stream=io.StringIO())
    return opts, run


def test_dask_cluster_gives_the_same_tables(cohort, reference, tmp_path):
    from dask.distributed import LocalCluster

    opts, ref = reference
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                      host="127.0.0.1", protocol="tcp", dashboard_address=None) as cluster:
        o = CohortOptions(**{**opts.__dict__, "dask": cluster.scheduler_address})
        run = run_cohort(cohort["manifest"], tmp_path / "dask", o, stream=io.StringIO())
    assert run.summary["backend"] == "dask"
    assert run.slices == ref.slices and run.cases == ref.cases
    assert run.n_failed == ref.n_failed == 2
    assert (run.summary["principal"]["comparisons"]
            == ref.summary["principal"]["comparisons"])


def test_two_workers_give_the_same_tables_as_one(cohort, reference, tmp_path):
    opts, ref = reference
    assert ref.summary["backend"] == "in-process"
    o = CohortOptions(**{**opts.__dict__, "workers": 2})
    run = run_cohort(cohort["manifest"], tmp_path / "pool", o, stream=io.StringIO())
    assert run.summary["backend"] == "2 worker(s)"
    assert run.slices == ref.slices and run.cases == ref.cases
    assert run.n_failed == ref.n_failed == 2
    assert (run.summary["principal"]["comparisons"]
            == ref.summary["principal"]["comparisons"])


def test_default_threads_two_workers_match_one_to_float_rounding(cohort, models, tmp_path):
    """Without --threads a task's thread count depends on how many workers were busy."""
    base = CohortOptions(models=(str(models[0]),), principal_ratio=None, report=False,
                         p_value=False, workers=1)
    one = run_cohort(cohort["manifest"], tmp_path / "one", base, stream=io.StringIO())
    two = run_cohort(cohort["manifest"], tmp_path / "two",
                     CohortOptions(**{**base.__dict__, "workers": 2}), stream=io.StringIO())
    _same_rows(one.slices, two.slices)
    _same_rows(one.cases, two.cases)


def test_unreachable_dask_scheduler_is_an_input_error(cohort, models, tmp_path):
    from coloc_viewer.errors import InputError

    o = CohortOptions(models=(str(models[0]),), dask="tcp://127.0.0.1:9", report=False,
                      dask_timeout=2.0)
    with pytest.raises(InputError, match="Dask scheduler"):
        run_cohort(cohort["manifest"], tmp_path / "x", o, stream=io.StringIO())
    assert not (tmp_path / "x").exists()  # no empty results folder left behind
    kept = tmp_path / "mine"
    (kept / "notes.txt").parent.mkdir()
    (kept / "notes.txt").write_text("the user's")
    with pytest.raises(InputError, match="Dask scheduler"):
        run_cohort(cohort["manifest"], kept, o, stream=io.StringIO())
    assert (kept / "notes.txt").read_text() == "the user's"  # a folder it did not make stays
    bad = tmp_path / "bad_set.json"
    bad.write_text('{"model": 1}')
    o2 = CohortOptions(models=(str(models[0]),), channel_set=str(bad), report=False)
    with pytest.raises(InputError, match="not a channel-set"):
        run_cohort(cohort["manifest"], tmp_path / "y", o2, stream=io.StringIO())
    assert not (tmp_path / "y").exists()  # checked before the folder is made
