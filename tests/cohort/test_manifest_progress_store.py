"""Manifest parsing, the progress line and the crash-safe result store."""

from __future__ import annotations

import io
import json

import pytest

from coloc_viewer.cohort.manifest import parse_slices, read_manifest
from coloc_viewer.cohort.progress import Progress
from coloc_viewer.cohort.store import ResultStore, unit_key
from coloc_viewer.errors import InputError


def test_parse_slices_ranges_and_singletons():
    assert parse_slices("3-7;9") == (3, 4, 5, 6, 7, 9)
    assert parse_slices(" 9 ; 2,2-3 ") == (2, 3, 9)
    for bad in ("7-3", "a", "-1", ";"):
        with pytest.raises(ValueError):
            parse_slices(bad)


def test_manifest_paths_relative_to_its_folder(tmp_path):
    sub = tmp_path / "cohort"
    sub.mkdir()
    (sub / "m.csv").write_text(
        "image,roi,case_id,slices,label\n"
        f"img/a.nii.gz,roi/a.nii.gz,A,1-2;5,1\n"
        f"{tmp_path}/b.nii.gz,{tmp_path}/rb.nii.gz,,,\n", encoding="utf-8")
    a, b = read_manifest(sub / "m.csv")
    assert a.case_id == "A" and a.slices == (1, 2, 5) and a.label == "1"
    assert a.image == str(sub.resolve() / "img" / "a.nii.gz")
    assert b.image == f"{tmp_path}/b.nii.gz" and b.slices is None and b.label is None
    assert b.case_id == "case0002"


@pytest.mark.parametrize("text, words", [
    ("image,case_id\nx.nii,A\n", "lacks the column(s) roi"),
    ("", "empty"),
    ("image,roi\n", "no cases"),
    ("image,roi,case_id\na,b,X\nc,d,X\n", "duplicate case_id"),
    ("image,roi,slices\na,b,5-1\n", "row 2"),
    ("image,roi,colour\na,b,red\n", "unknown manifest column"),
])
def test_manifest_errors_are_one_line_input_errors(tmp_path, text, words):
    path = tmp_path / "m.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as info:
        read_manifest(path)
    msg = str(info.value)
    assert words in msg and "\n" not in msg and str(path) in msg


def test_unreadable_manifest(tmp_path):
    with pytest.raises(InputError, match="cannot read"):
        read_manifest(tmp_path / "missing.csv")
    (tmp_path / "bin.csv").write_bytes(b"\xff\xfe\x00\x81\x82")
    with pytest.raises(InputError):
        read_manifest(tmp_path / "bin.csv")


def test_progress_line_has_rate_and_eta_and_logs_periodically():
    t = [0.0]
    stream = io.StringIO()
    p = Progress(10, stream=stream, log_interval=5.0, clock=lambda: t[0])
    for _ in range(4):
        t[0] += 1.0
        p.update()
    assert "4/10" in p.line() and "1.00 units/s" in p.line() and "ETA 00:06" in p.line()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1  # not a TTY: first update, then only every 5 s
    t[0] += 6
    p.update(failed=1)
    p.close()
    assert "1 failed" in stream.getvalue().splitlines()[-1]


def test_store_ignores_torn_line_and_prefers_ok(tmp_path):
    store = ResultStore(tmp_path)
    k1, k2 = unit_key({"a": 1}), unit_key({"a": 2})
    assert k1 != k2 and k1 == unit_key({"a": 1})
    store.append([{"key": k1, "status": "failed", "reason": "x"}])
    store.append([{"key": k1, "status": "ok", "rows": [1]}, {"key": k2, "status": "ok"}])
    with open(store.path, "ab") as fh:  # what a SIGKILL mid-write leaves behind
        fh.write(b'{"key": "zzz", "status": "o')
    recs = store.load()
    assert set(recs) == {k1, k2} and recs[k1]["status"] == "ok"
    store.append([{"key": "k3", "status": "failed"}])
    lines = store.path.read_bytes().splitlines()
    assert json.loads(lines[-1])["key"] == "k3"
    assert set(store.load()) == {k1, k2, "k3"}
