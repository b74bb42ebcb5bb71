"""The case report's "Settings to reproduce" command runs as printed, for a bundled model
(named) and for a card of the user's own, e.g. one Refine wrote (its file, since the
command line cannot find it by name), and gives the report's scores."""

from __future__ import annotations

import argparse
import json
import re
import shlex
import shutil
from pathlib import Path

import numpy as np
import pytest

from coloc_viewer import load_volume
from coloc_viewer.explain.engine import explain
from coloc_viewer.imaging.roi_io import load_rois
from coloc_viewer.model.loading import load_model
from coloc_viewer.resources import demo_dir, models_dir
from coloc_viewer.viewer.exports import export_case_reports

CASE = demo_dir() / "case-01"
SLICE = 7


def _command(html: str) -> str:
    found = re.findall(r"coloc-viewer analyze INPUT[^<\n]*--json", html)
    assert len(found) == 1, found
    return found[0].replace("&#x27;", "'").replace("&quot;", '"').replace("&amp;", "&")


def _run(command: str, image: Path, roi: Path) -> dict:
    from coloc_viewer.cli.analyze_cmd import add_parser, analyze

    argv = shlex.split(command)[1:]  # without the program name
    argv = [str(image) if a == "INPUT" else str(roi) if a == "ROI_FILE" else a for a in argv]
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers())
    return analyze(parser.parse_args(argv))


@pytest.mark.parametrize("own", [False, True], ids=["bundled", "own card"])
def test_the_printed_command_recomputes_the_report(tmp_path, own):
    card_path = models_dir() / "demo-clean.json"
    if own:  # a card outside the bundle, named differently (as Refine writes them)
        folder = tmp_path / "my models"
        folder.mkdir()
        shutil.copy(card_path.with_suffix(".safetensors"), folder)
        card = json.loads(card_path.read_text())
        card["name"] = "my-refined"
        card_path = folder / "my-refined.json"
        card_path.write_text(json.dumps(card))
    model = load_model(card_path)
    volume = load_volume(CASE / "dicom")
    rois = load_rois(CASE / "rois.nii.gz", like=volume)
    expl = explain(model, volume, SLICE, rank="contribution", methods=("gradcam",))
    lesion = rois["lesion"].mask
    written = export_case_reports(volume, SLICE, [("lesion", lesion)], expl, "gradcam", None,
                                  model.card, tmp_path / "report")
    html = next(p for p in written if p.suffix == ".html").read_text()
    command = _command(html)
    expected = str(card_path.resolve()) if own else "demo-clean"
    assert shlex.split(command)[shlex.split(command).index("--model") + 1] == expected
    roi_file = tmp_path / "lesion.nii.gz"
    from coloc_viewer.imaging.roi_io import save_roi

    save_roi(lesion, roi_file, volume)
    out = _run(command, CASE / "dicom", roi_file)
    mass = out["scores"]["cam"]["relevance_mass"]  # --method gradcam: the CAM's scores
    shown = float(re.search(r"relevance mass[^0-9]*([0-9.]+)", html, re.I).group(1))
    assert out["model"] == model.card.name and out["method"] == "gradcam"
    assert np.isclose(mass, shown, atol=0.0005), (mass, shown)
