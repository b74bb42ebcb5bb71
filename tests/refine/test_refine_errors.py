"""Bad input to refine: one clear line (API: ColocError; CLI: exit status 2, no traceback)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from coloc_viewer.cli.main import main
from coloc_viewer.errors import ColocError, InputError, ModelError
from coloc_viewer.refine import refine


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(["refine", *argv])
    err = capsys.readouterr().err.strip()
    return code, err


def _one_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_unknown_method(tiny_card, shortcut_manifest, tmp_path, capsys):
    with pytest.raises(InputError, match="unknown refine method 'magic'"):
        refine(str(tiny_card), shortcut_manifest, "magic", out_dir=tmp_path)
    code, err = _cli(capsys, str(tiny_card), "--manifest", str(shortcut_manifest),
                     "--method", "magic", "--out", str(tmp_path / "o"))
    assert code == 2 and "unknown refine method" in _one_line(err)


def test_manifest_without_roi_column(tiny_card, tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("image,case_id\na.nii.gz,c1\n")
    code, err = _cli(capsys, str(tiny_card), "--manifest", str(bad), "--method", "none",
                     "--out", str(tmp_path / "o"))
    line = _one_line(err)
    assert code == 2 and str(bad) in line and "lacks the column(s) roi" in line


def test_manifest_naming_a_missing_image(tiny_card, tmp_path, capsys):
    bad = tmp_path / "missing.csv"
    bad.write_text("image,roi\nnope.nii.gz,nope_rois.nii.gz\n")
    code, err = _cli(capsys, str(tiny_card), "--manifest", str(bad), "--method", "rrr",
                     "--out", str(tmp_path / "o"))
    assert code == 2 and "nope" in _one_line(err)


def test_unknown_shortcut_roi(tiny_card, shortcut_manifest, tmp_path):
    with pytest.raises(InputError, match="no shortcut ROI named 'ruler'"):
        refine(str(tiny_card), shortcut_manifest, "rrr", out_dir=tmp_path,
               shortcut_roi="ruler")


def test_unreadable_card(shortcut_manifest, tmp_path, capsys):
    card = tmp_path / "broken.json"
    card.write_text("{not json")
    code, err = _cli(capsys, str(card), "--manifest", str(shortcut_manifest), "--method",
                     "none", "--out", str(tmp_path / "o"))
    line = _one_line(err)
    assert code == 2 and str(card) in line and "not a readable JSON model card" in line


def test_torchscript_card_is_refused_with_the_reason(tiny_card, shortcut_manifest, tmp_path,
                                                     capsys):
    from coloc_viewer.model.loading import load_model

    module = load_model(tiny_card, device="cpu").module
    folder = tmp_path / "ts"
    folder.mkdir()
    torch.jit.trace(module, torch.zeros(1, 1, 64, 64)).save(str(folder / "ts.pt"))
    data = json.loads(Path(tiny_card).read_text())
    data.update(name="ts", architecture="torchscript", weights="ts.pt")
    data.pop("architecture_args")
    card = folder / "ts.json"
    card.write_text(json.dumps(data))
    with pytest.raises(ModelError, match="cannot train a TorchScript model"):
        refine(str(card), shortcut_manifest, "none", out_dir=tmp_path / "o")
    code, err = _cli(capsys, str(card), "--manifest", str(shortcut_manifest), "--method",
                     "none", "--out", str(tmp_path / "o2"))
    assert code == 2 and "TorchScript" in _one_line(err)


def test_checkpoint_of_other_settings_is_refused(tiny_card, shortcut_manifest, tmp_path):
    from coloc_viewer.refine import RefineCancelled

    with pytest.raises(RefineCancelled):
        refine(str(tiny_card), shortcut_manifest, "none", epochs=2, out_dir=tmp_path,
               threads=1, progress=lambda e, b, loss: None,
               cancel=lambda: (tmp_path / "checkpoint.pt").exists())
    with pytest.raises(ColocError, match="other settings"):
        refine(str(tiny_card), shortcut_manifest, "none", epochs=2, seed=9,
               out_dir=tmp_path, threads=1)
    shutil.rmtree(tmp_path)


def test_a_finished_model_is_not_overwritten_by_other_settings(tiny_card, shortcut_manifest,
                                                               tmp_path, capsys):
    """A review re-ran the viewer's refine into the same folder with other slices: the
    first model's card and weights were replaced under the same name while the viewer and
    an exported report still used it. The same settings return the finished model."""
    first = refine(str(tiny_card), shortcut_manifest, "none", epochs=1, out_dir=tmp_path,
                   threads=1)
    files = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    assert "(none, lambda 1, 1 epoch on " in first.card.description  # not "1 epochs"
    with pytest.raises(InputError, match="already holds a refined model") as err:
        refine(str(tiny_card), shortcut_manifest, "none", epochs=1, seed=5,
               out_dir=tmp_path, threads=1)
    assert str(first.card_path) in str(err.value)
    code, text = _cli(capsys, str(tiny_card), "--manifest", str(shortcut_manifest),
                      "--method", "none", "--epochs", "2", "--threads", "1", "--no-eval",
                      "--out", str(tmp_path))
    assert code == 2 and "already holds a refined model" in _one_line(text)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()} == files
    again = refine(str(tiny_card), shortcut_manifest, "none", epochs=1, out_dir=tmp_path,
                   threads=1)
    assert again.card_path == first.card_path and again.resumed_from == 1


def test_one_class_training_set_is_refused(tiny_card, shortcut_manifest, tmp_path, capsys):
    """Every slice labelled lesion (the viewer's "lesion slices only" alone gave a model
    that always says lesion, with a loss near 0 and no warning)."""
    header, *rows = shortcut_manifest.read_text().splitlines()
    assert header == "image,roi,case_id"
    one = tmp_path / "one_class.csv"
    folder = shortcut_manifest.parent
    one.write_text("\n".join([header + ",label"] + [
        f"{folder / image},{folder / roi},{case},1"
        for image, roi, case in (r.split(",") for r in rows)]) + "\n")
    with pytest.raises(InputError, match="training slices are 'lesion'"):
        refine(str(tiny_card), one, "none", epochs=1, out_dir=tmp_path / "o", threads=1)
    code, err = _cli(capsys, str(tiny_card), "--manifest", str(one), "--method", "actdiff",
                     "--out", str(tmp_path / "o"))
    line = _one_line(err)
    assert code == 2 and "one class" in line and str(one) in line
    assert not (tmp_path / "o").exists()


def test_a_bad_device_is_one_line(tiny_card, shortcut_manifest, tmp_path, capsys):
    """A review got a 39-line traceback from --device cuda on a machine without a GPU."""
    for device, said in (("foo", "choose cpu, cuda or cuda:N"), ("gpu", "choose cpu")):
        code, err = _cli(capsys, str(tiny_card), "--manifest", str(shortcut_manifest),
                         "--method", "none", "--epochs", "1", "--no-eval", "--device", device,
                         "--out", str(tmp_path / device))
        assert code == 2 and said in _one_line(err), err
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("option, value, said", [
    ("--epochs", "0", "--epochs must be at least 1, got 0"),
    ("--lr", "-1", "--lr must be a positive number, got -1"),
    ("--lambda", "-5", "--lambda must be 0 or more, got -5"),
    ("--batch-size", "0", "--batch-size must be at least 1, got 0"),
    ("--weight-decay", "-1", "--weight-decay must be 0 or more, got -1"),
    ("--threads", "0", "--threads must be at least 1, got 0"),
])
def test_a_number_out_of_range_is_named(tiny_card, shortcut_manifest, tmp_path, capsys,
                                         option, value, said):
    """One line saying which number is wrong (it was one line naming all five)."""
    code, err = _cli(capsys, str(tiny_card), "--manifest", str(shortcut_manifest),
                     "--method", "none", "--no-eval", option, value, "--out",
                     str(tmp_path / "o"))
    assert code == 2 and said in _one_line(err), err


def test_cli_trains_evaluates_and_writes_the_report(tiny_card, val_manifest, tmp_path,
                                                    capsys):
    out = tmp_path / "run"
    code = main(["refine", str(tiny_card), "--manifest", str(val_manifest), "--method",
                 "masked", "--out", str(out), "--epochs", "1", "--lr", "1e-3", "--threads",
                 "1", "--shortcut-roi", "marker", "--baseline"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "ETA" in captured.err and "the training cases: no --val given" in captured.err
    report = json.loads((out / "refine_report.json").read_text())
    assert report["evaluated_on_training_cases"] is True
    assert set(report["metrics"]) == {"before", "after", "baseline"}
    for m in report["metrics"].values():
        assert 0.0 <= m["auc"] <= 1.0 and m["slices"] == 32
        assert m["map_similarity"] is None or -1.0 <= m["map_similarity"] <= 1.0
    assert (out / "tiny-masked.json").is_file() and (out / "baseline" / "tiny-none.json").is_file()
    page = (out / "refine_report.html").read_text()
    assert "<table>" in page and "map similarity across cases" in page
    assert "map similarity" in captured.out


def test_report_warns_about_a_map_that_is_the_same_on_every_image(tmp_path):
    from coloc_viewer.cohort.map_similarity import WARNING
    from coloc_viewer.refine.report import similarity_warnings, write_report

    metrics = {"before": {"auc": 0.7, "map_similarity": 0.4},
               "after": {"auc": 0.94, "map_similarity": 0.993},
               "baseline": {"auc": 0.75, "map_similarity": None}}
    assert similarity_warnings(metrics) == [f"after: {WARNING} (map similarity 0.99)"]
    report = {"source": "m", "method": "actdiff", "metrics": metrics,
              "settings": {"method": "actdiff", "lambda": 0.01, "epochs": 1, "lr": 1e-3,
                           "seed": 0, "batch_size": 8, "lesion_roi": "lesion",
                           "shortcut_roi": None},
              "train_seconds": {"refined": 1.0}, "evaluated_on": "val.csv",
              "evaluated_on_training_cases": False}
    _, page = write_report(tmp_path, report)
    text = page.read_text()
    assert text.count(WARNING.split(":")[0]) == 1 and "0.993" in text
