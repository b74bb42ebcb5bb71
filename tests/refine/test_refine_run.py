"""Real refine runs on generated cases: the shortcut's relevance mass falls, runs repeat bit
for bit, a SIGKILLed run resumes to the same weights, cancel keeps the last epoch."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from coloc_viewer.model.loading import load_model
from coloc_viewer.refine import RefineCancelled, refine
from coloc_viewer.refine.checkpoint import CHECKPOINT
from coloc_viewer.refine.evaluate import compare_models

ROOT = Path(__file__).resolve().parents[2]


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return load_file(str(path))


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_gradmask_on_the_marker_lowers_its_relevance_mass(tiny_card, shortcut_manifest,
                                                          val_manifest, tmp_path):
    val = val_manifest
    cards = {}
    for method in ("none", "gradmask"):
        r = refine(str(tiny_card), shortcut_manifest, method, lam=10.0, epochs=4, lr=1e-3,
                   seed=0, out_dir=tmp_path / method, shortcut_roi="marker", threads=1)
        assert r.card.refine["method"] == method and r.card.refined_from["name"] == "tiny"
        cards[method] = str(r.card_path)
    got = compare_models(cards, val, tmp_path / "eval", shortcut_roi="marker", threads=1)
    none, gm = got["none"], got["gradmask"]
    assert none["shortcut_slices"] >= 6 and gm["shortcut_slices"] >= 6
    assert none["shortcut_mass"] > 0.1  # the plain run reads the marker ...
    assert gm["shortcut_mass"] < 0.5 * none["shortcut_mass"]  # ... the penalised one less
    assert gm["shortcut_p05"] < none["shortcut_p05"]


def test_same_seed_same_weights_and_the_card_loads_back(tiny_card, shortcut_manifest,
                                                         tmp_path):
    runs = [refine(str(tiny_card), shortcut_manifest, "actdiff", lam=1.0, epochs=1, lr=1e-3,
                   seed=3, out_dir=tmp_path / f"r{k}", threads=1) for k in range(2)]
    assert _same(_weights(runs[0].weights_path), _weights(runs[1].weights_path))
    assert not _same(_weights(runs[0].weights_path),
                     load_file(str(tiny_card.with_suffix(".safetensors"))))
    model = load_model(runs[0].card_path, device="cpu")
    assert model.card.refine["epochs"] == 1 and model.card.refine["lambda"] == 1.0
    assert len(model.card.refined_from["sha256"]) == 64
    assert not (runs[0].card_path.parent / CHECKPOINT).exists()
    again = refine(str(tiny_card), shortcut_manifest, "actdiff", lam=1.0, epochs=1, lr=1e-3,
                   seed=3, out_dir=tmp_path / "r0", threads=1)
    assert again.resumed_from == 1  # finished run: returned, not retrained


CHILD = """
import sys, time
from coloc_viewer.refine import refine
refine(sys.argv[1], sys.argv[2], "gradmask", lam=1.0, epochs=3, lr=1e-3, seed=0,
       out_dir=sys.argv[3], threads=1, shortcut_roi="marker",
       progress=lambda e, b, loss: time.sleep(0.05))
"""


def test_resume_after_sigkill_gives_the_uninterrupted_weights(tiny_card, shortcut_manifest,
                                                              tmp_path):
    out = tmp_path / "killed"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(tiny_card),
                              str(shortcut_manifest), str(out)], env=env)
    deadline = time.monotonic() + 60
    while not (out / CHECKPOINT).exists():
        assert child.poll() is None, "the child ended before its first checkpoint"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert child.returncode == -signal.SIGKILL
    assert not list(out.glob("*.json"))  # no final card: it really was interrupted
    resumed = refine(str(tiny_card), shortcut_manifest, "gradmask", lam=1.0, epochs=3,
                     lr=1e-3, seed=0, out_dir=out, threads=1, shortcut_roi="marker")
    assert 1 <= resumed.resumed_from < 3
    whole = refine(str(tiny_card), shortcut_manifest, "gradmask", lam=1.0, epochs=3, lr=1e-3,
                   seed=0, out_dir=tmp_path / "whole", threads=1, shortcut_roi="marker")
    assert whole.resumed_from == 0
    assert _same(_weights(resumed.weights_path), _weights(whole.weights_path))


def test_cancel_keeps_the_last_epoch_and_a_rerun_resumes(tiny_card, shortcut_manifest,
                                                         tmp_path):
    stop = threading.Event()

    def progress(epoch: int, batch: int, loss: float) -> None:
        if epoch == 2 and batch == 1:
            stop.set()

    with pytest.raises(RefineCancelled, match="epoch 2"):
        refine(str(tiny_card), shortcut_manifest, "rrr", epochs=2, seed=0, out_dir=tmp_path,
               threads=1, progress=progress, cancel=stop)
    assert (tmp_path / CHECKPOINT).exists() and not list(tmp_path.glob("*.json"))
    r = refine(str(tiny_card), shortcut_manifest, "rrr", epochs=2, seed=0, out_dir=tmp_path,
               threads=1)
    assert r.resumed_from == 1 and len(r.losses) == 2


def test_resume_refuses_another_thread_count(tiny_card, shortcut_manifest, tmp_path):
    """Results repeat bit for bit for one thread count: a resume with another one is one
    line naming the count to use, and the checkpoint stays for that resume."""
    from coloc_viewer.errors import InputError

    stop = threading.Event()

    def progress(epoch: int, batch: int, loss: float) -> None:
        if epoch == 2 and batch == 1:
            stop.set()

    with pytest.raises(RefineCancelled):
        refine(str(tiny_card), shortcut_manifest, "none", epochs=2, seed=0, out_dir=tmp_path,
               threads=1, progress=progress, cancel=stop)
    with pytest.raises(InputError, match="written with 1 torch threads.*--threads 1") as err:
        refine(str(tiny_card), shortcut_manifest, "none", epochs=2, seed=0, out_dir=tmp_path,
               threads=2)
    assert "\n" not in str(err.value)
    r = refine(str(tiny_card), shortcut_manifest, "none", epochs=2, seed=0, out_dir=tmp_path,
               threads=1)
    assert r.resumed_from == 1
