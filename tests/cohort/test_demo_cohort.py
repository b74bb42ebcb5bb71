"""The cohort command on the bundled demo: both models, one label for every case."""

from __future__ import annotations

import csv
import json

from coloc_viewer.cli.main import main
from coloc_viewer.resources import demo_dir


def test_demo_manifest_runs_without_failures(tmp_path, capsys):
    out = tmp_path / "run"
    rc = main(["cohort", str(demo_dir() / "manifest.csv"), "--out", str(out),
               "--model", "demo-clean", "--model", "demo-shortcut"])
    assert rc == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["units"]["failed"] == 0, summary["failures"]
    with open(out / "slices.csv", newline="") as f:
        rows = list(csv.DictReader(row for row in f if not row.startswith("#")))
    methods = {r["method"] for r in rows}
    assert any(m.startswith("principal") for m in methods), methods
    assert {r["roi"] for r in rows} == {"lesion", "prostate", "marker"}
    assert {r["model"] for r in rows} == {"demo-clean", "demo-shortcut"}
    assert "0 failed" in capsys.readouterr().err
