"""Issue 14, deliverable 7: seeded mutations of DICOM (plain, RLE, JPEG 2000, multi-frame)
and NIfTI files, each loaded in a child process under a memory cap.

Every mutation must end as ``equal`` (loaded, voxels equal to pydicom's / nibabel's
decoding of the mutated file) or ``InputError``: no other exception, no crash, no cap hit.
``make test`` runs a sample (``FUZZ_SAMPLE`` mutations); ``COLOC_VIEWER_FUZZ_FULL=1`` runs the
larger corpus. The summary (mutations per kind and how each ended) goes to
``artifacts/fuzz_summary.json`` and to the test output.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import pytest
from fuzz_corpus import (
    ACCEPTED,
    check_mutation,
    dicom_originals,
    init_worker,
    make_mutations,
    nifti_originals,
    workers,
)

FUZZ_SAMPLE = 320
FUZZ_FULL = 3000
SEED = 20_251_114

pytestmark = pytest.mark.timeout(900)


def _run(mutations) -> list[tuple[int, str, str]]:
    ctx = multiprocessing.get_context("spawn")
    results: list[tuple[int, str, str]] = []
    with ProcessPoolExecutor(max_workers=workers(), mp_context=ctx,
                             initializer=init_worker) as pool:
        futures = [pool.submit(check_mutation, i, m) for i, m in enumerate(mutations)]
        for i, fut in enumerate(futures):
            try:
                results.append(fut.result(timeout=120))
            except BrokenProcessPool:
                results.append((i, "crash", "worker process died"))
            except TimeoutError:
                results.append((i, "timeout", "over 120 s"))
    return results


def test_fuzzed_inputs_load_equal_or_fail_cleanly(pydicom_data, nibabel_data, artifacts_dir,
                                                   capsys):
    full = os.environ.get("COLOC_VIEWER_FUZZ_FULL") == "1"
    originals = {**dicom_originals(pydicom_data), **nifti_originals(nibabel_data)}
    mutations = make_mutations(originals, FUZZ_FULL if full else FUZZ_SAMPLE, SEED)
    start = time.perf_counter()
    results = _run(mutations)
    seconds = time.perf_counter() - start

    outcomes = Counter(outcome for _, outcome, _ in results)
    by_kind: dict[str, Counter] = {}
    by_original: dict[str, Counter] = {}
    for i, outcome, _ in results:
        by_kind.setdefault(mutations[i].kind, Counter())[outcome] += 1
        by_original.setdefault(mutations[i].original, Counter())[outcome] += 1
    failures = [{"original": mutations[i].original, "kind": mutations[i].kind,
                 "mutation": mutations[i].detail, "outcome": outcome, "detail": detail[-600:]}
                for i, outcome, detail in results if outcome not in ACCEPTED]
    summary = {"mutations": len(mutations), "seed": SEED, "full": full,
               "seconds": round(seconds, 1), "outcomes": dict(outcomes),
               "by_kind": {k: dict(v) for k, v in sorted(by_kind.items())},
               "by_original": {k: dict(v) for k, v in sorted(by_original.items())},
               "failures": failures}
    (artifacts_dir / "fuzz_summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    with capsys.disabled():
        print(f"\nfuzz: {len(mutations)} mutations in {seconds:.1f} s: {dict(outcomes)}")
    assert len(results) == len(mutations)
    assert not failures, json.dumps(failures[:5], indent=1)
    assert outcomes["equal"] > 0 and outcomes["InputError"] > 0
