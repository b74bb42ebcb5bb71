"""``run_smoke_test`` from the source tree, on a generated install: it passes when everything
works and fails (exit 1, reason on stderr, report file) when a part is missing."""

from __future__ import annotations

import json
import logging
from argparse import Namespace

import pytest

from coloc_viewer import logging_setup
from coloc_viewer.selftest import run_smoke_test

pytestmark = pytest.mark.gui


@pytest.fixture
def install(resources_tree, tmp_path, monkeypatch, qapp):
    monkeypatch.setenv("COLOC_VIEWER_RESOURCES", str(resources_tree))
    monkeypatch.setenv("COLOC_VIEWER_LOG_DIR", str(tmp_path / "logs"))
    yield resources_tree
    logging_setup._remove_previous(logging.getLogger())
    logging.captureWarnings(False)


def test_smoke_test_passes_and_reports(install, tmp_path, capsys):
    shot = tmp_path / "out" / "shot.png"
    rc = run_smoke_test(Namespace(screenshot=str(shot), model="tiny", smoke_timeout=240))
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert "smoke-test: PASSED" in out
    report = json.loads((shot.parent / "smoke_test.json").read_text())
    assert report["passed"] and report["failure"] is None
    facts = report["facts"]
    assert facts["model"] == "tiny" and facts["demo_case"] == "case-a"
    assert facts["jpeg2000_max_error"] == 0.0 and facts["jpegls_max_error"] == 0.0
    assert facts["scores"]["relevance_mass"] is not None
    assert len(report["steps"]) == 10
    monai = facts["model_families"]["monai"]
    assert monai["cam_shape"] == facts["demo_shape"] and abs(monai["residual"]) < 1e-3
    assert shot.stat().st_size > 10_000
    log_text = (tmp_path / "logs" / "coloc-viewer.log").read_text()
    assert "smoke test passed" in log_text


def test_smoke_test_fails_with_the_reason_when_no_demo_is_installed(tmp_path, monkeypatch,
                                                                   qapp, capsys):
    empty = tmp_path / "empty-resources"
    (empty / "models").mkdir(parents=True)
    monkeypatch.setenv("COLOC_VIEWER_RESOURCES", str(empty))
    monkeypatch.setenv("COLOC_VIEWER_LOG_DIR", str(tmp_path / "logs"))
    try:
        rc = run_smoke_test(Namespace(screenshot=str(tmp_path / "s.png"), model=None))
    finally:
        logging_setup._remove_previous(logging.getLogger())
    err = capsys.readouterr().err
    assert rc == 1
    assert "smoke test FAILED" in err and "no bundled demo case" in err
    report = json.loads((tmp_path / "smoke_test.json").read_text())
    assert not report["passed"] and "no bundled demo case" in report["failure"]
