"""The entry point without a screen: offscreen render, printed path and scores."""

from __future__ import annotations

import json

import numpy as np
import pytest

from coloc_viewer.gui.app import no_display_reason


def test_no_display_is_detected(monkeypatch):
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert "offscreen" in no_display_reason()
    monkeypatch.delenv("QT_QPA_PLATFORM")
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr("sys.platform", "linux")
    assert no_display_reason() == "no DISPLAY or WAYLAND_DISPLAY is set"


def test_screenshot_renders_the_study_and_prints_its_scores(qapp, study_dir, model_card,
                                                            tmp_path, capsys, artifacts_dir):
    from coloc_viewer.cli.main import main
    from coloc_viewer.explain.engine import explain
    from coloc_viewer.imaging.load import load_volume
    from coloc_viewer.imaging.roi import RoiSet
    from coloc_viewer.imaging.roi_io import save_rois
    from coloc_viewer.metrics.scores import score
    from coloc_viewer.model.loading import load_model

    volume = load_volume(study_dir)
    rois = RoiSet.for_volume(volume)
    lesion = rois.add("lesion")
    lesion.mask[5, 30:44, 40:55] = True
    lesion.mask[4, 32:40, 42:50] = True
    roi_file = tmp_path / "rois.nii.gz"
    save_rois(rois, roi_file, like=volume)
    png = tmp_path / "view.png"

    rc = main([str(study_dir), "--roi", str(roi_file), "--model", str(model_card),
               "--screenshot", str(png)])
    out = capsys.readouterr().out.strip().splitlines()
    assert rc == 0
    assert out[0] == f"coloc-viewer: view saved to {png}"
    assert png.stat().st_size > 10_000
    shown = json.loads(out[1])
    assert shown["slice"] == 5  # opened where the lesion is largest
    ex = explain(load_model(str(model_card)), volume, 5, layer="layer3")
    expected = score(ex.top_map, lesion.mask[5], seed_map=ex.seed_map)
    for key, value in expected.items():
        got = shown["scores"]["lesion"][key]
        assert got == pytest.approx(value) if isinstance(value, float) else got == value
    assert "DEMO" not in " ".join(out)  # no patient name printed
    (artifacts_dir / "gui_03_cli_screenshot.png").write_bytes(png.read_bytes())


def test_headless_run_without_arguments_explains_itself(qapp, monkeypatch, capsys, tmp_path,
                                                        study_dir, model_card):
    from coloc_viewer.gui import app

    monkeypatch.setattr(app, "default_study", lambda: (str(study_dir), None))
    monkeypatch.setattr(app.tempfile, "gettempdir", lambda: str(tmp_path))
    args = type("Args", (), {"path": None, "roi": None, "model": str(model_card),
                             "smoke_test": False, "screenshot": None})()
    assert app.run_gui(args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("coloc-viewer: no usable display (QT_QPA_PLATFORM=offscreen)")
    assert lines[1] == f"coloc-viewer: view saved to {tmp_path / 'coloc_viewer_view.png'}"
    summary = json.loads(lines[2])
    assert summary["model"] == str(model_card) and np.isfinite(summary["slice"])
