"""End-to-end cohort runs on generated cases: rows, failures, summary, outputs, report."""

from __future__ import annotations

import base64
import csv
import io
import json
import shutil
from dataclasses import replace
from html.parser import HTMLParser

import numpy as np
import pyarrow.parquet as pq
import pytest

from coloc_viewer.cli.main import main
from coloc_viewer.cohort.runner import CohortOptions, run_cohort
from coloc_viewer.errors import InputError

SLICE_KEY = ("case_id", "model", "rank", "method", "roi", "slice")


@pytest.fixture(scope="module")
def baseline(cohort, models, tmp_path_factory):
    """One in-process run with two models, two rank criteria and Grad-CAM."""
    out = tmp_path_factory.mktemp("run") / "out"
    stream = io.StringIO()
    opts = CohortOptions(models=tuple(str(m) for m in models), ranks=("contribution", "max"),
                         methods=("gradcam",), principal_ratio=0.1, threads=1)
    run = run_cohort(cohort["manifest"], out, opts, stream=stream)
    return {"run": run, "out": out, "stderr": stream.getvalue(), "options": opts}


def _rows(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_rows_failures_and_summary(baseline, cohort):
    out = baseline["out"]
    s = json.loads((out / "summary.json").read_text())
    assert baseline["run"].n_failed == 2
    assert s["n_cases"] == 6 and s["failures"]["cases"] == 2
    reasons = {f["case_id"]: f["reason"] for f in s["failures"]["list"]}
    assert set(reasons) == {"corrupt", "wronggeom"}
    assert "corrupt_img.nii.gz" in reasons["corrupt"]
    assert "shape" in reasons["wronggeom"] or "geometry" in reasons["wronggeom"]
    assert "4 of 6 cases done, 2 failed" in baseline["stderr"]
    # units: per case and model: top_map x 2 ranks + gradcam + principal-gradcam
    assert s["units"]["planned"] == 6 * 2 * 4
    assert s["units"]["failed"] == 2 * 2 * 4 and s["units"]["ok"] == 4 * 2 * 4
    slices = _rows(out / "slices.csv")
    # cases 0-2: slices 1-3 (the ROI's); case 3: the manifest's 1-2;4
    per_case = {c: sorted({int(r["slice"]) for r in slices if r["case_id"] == c})
                for c in cohort["good"]}
    assert per_case == {"case0": [1, 2, 3], "case1": [1, 2, 3], "case2": [1, 2, 3],
                        "case3": [1, 2, 4]}
    assert len(slices) == 4 * 3 * 2 * 4 * 2  # cases x slices x models x units x ROIs
    assert {r["roi"] for r in slices} == {"lesion", "organ"}
    keys = [tuple(r[k] for k in SLICE_KEY) for r in slices]
    assert len(set(keys)) == len(keys)
    assert {r["method"] for r in slices} == {"top_map", "gradcam", "principal-gradcam"}
    assert {r["rank"] for r in slices if r["method"] == "top_map"} == {"contribution", "max"}
    assert {r["rank"] for r in slices if r["method"] == "gradcam"} == {""}
    # slice 4 of case3 holds no ROI: scores are null, never an exception
    empty = [r for r in slices if r["case_id"] == "case3" and r["slice"] == "4"]
    assert empty and all(r["roi_pixels"] == "0" and r["relevance_mass"] == "" for r in empty)
    cases = _rows(out / "cases.csv")
    assert len(cases) == 4 * 2 * 4 * 2
    # the index slice is the one where the ROI is largest: the lesion's is slice 2 (radius
    # 7 or 8); the organ is the same on slices 1-3, and a tie takes the first
    assert {r["index_slice"] for r in cases if r["roi"] == "lesion"} == {"2"}
    assert {r["index_slice"] for r in cases if r["roi"] == "organ"} == {"1"}
    failures = _rows(out / "failures.csv")
    assert {r["case_id"] for r in failures} == {"corrupt", "wronggeom"}


def test_parquet_equals_csv_and_typed(baseline):
    out = baseline["out"]
    for name in ("slices", "cases"):
        table = pq.read_table(out / f"{name}.parquet").to_pylist()
        rows = _rows(out / f"{name}.csv")
        assert len(table) == len(rows)
        for t, r in zip(table, rows):
            for k, v in t.items():
                if v is None:
                    assert r[k] == ""
                elif isinstance(v, bool):
                    assert r[k] == str(v)
                elif isinstance(v, float):
                    assert float(r[k]) == v
                else:
                    assert str(v) == r[k]
    schema = pq.read_schema(out / "slices.parquet")
    assert str(schema.field("relevance_mass").type) == "double"
    assert str(schema.field("pointing_game").type) == "bool"


def test_scores_equal_the_public_api(baseline, cohort, models):
    """Differential: a row equals explain() + score() called directly."""
    import coloc_viewer as cv
    from coloc_viewer.explain.engine import explain

    out = baseline["out"]
    rows = [r for r in _rows(out / "slices.csv")
            if r["case_id"] == "case1" and r["model"] == "tiny-b" and r["slice"] == "2"
            and r["roi"] == "lesion"]
    data = cohort["manifest"].parent / "data"
    vol = cv.load_volume(data / "c1_img.nii.gz")
    roi = cv.load_roi(data / "c1_roi.nii.gz", like=vol, name="lesion")
    model = cv.load_model(str(models[1]))
    for rank in ("contribution", "max"):
        exp = explain(model, vol, 2, rank=rank, methods=("gradcam",))
        ref = cv.score(exp.top_map, roi[2], seed_map=exp.seed_map)
        row = next(r for r in rows if r["method"] == "top_map" and r["rank"] == rank)
        assert int(row["channel"]) == exp.top_channel
        for k in ("relevance_mass", "relevance_rank", "iou_top_n", "auroc", "p_value",
                  "seed_overlap"):
            assert float(row[k]) == pytest.approx(ref[k], rel=1e-5, abs=1e-7), (rank, k)
        assert row["pointing_game"] == str(ref["pointing_game"])
    cam = next(r for r in rows if r["method"] == "gradcam")
    ref = cv.score(exp.cam_map("gradcam"), roi[2])
    assert float(cam["relevance_mass"]) == pytest.approx(ref["relevance_mass"], rel=1e-5)
    # principal-channel CAM: with every channel it is ReLU(Grad-CAM); with the saved set it
    # is ReLU of that set's sum of w_k A_k, scored like any map
    from coloc_viewer.cohort.principal import ChannelSet, gradient_weights, principal_cam

    w = gradient_weights(exp)
    allc = principal_cam(exp.activations, w, range(exp.activations.shape[0]))
    np.testing.assert_allclose(allc, np.maximum(exp.cam_map("gradcam", grid="layer"), 0),
                               rtol=1e-4, atol=1e-5 * float(allc.max() or 1))
    cs = ChannelSet.load(out / "channel_sets" / "tiny-b.json")
    chans = cs.channels_for(exp.target)
    sub = np.maximum(np.einsum("k,khw->hw", w[chans], exp.activations[chans]), 0)
    ref = cv.score(exp.transform.to_image_grid(sub.astype(np.float32)), roi[2])
    row = next(r for r in rows if r["method"] == "principal-gradcam")
    if ref["relevance_mass"] is None:
        assert row["relevance_mass"] == ""
    else:
        assert float(row["relevance_mass"]) == pytest.approx(ref["relevance_mass"], rel=1e-4)


def test_calibration_and_channel_sets_load(baseline):
    from coloc_viewer.cohort.principal import ChannelSet
    from coloc_viewer.explain.scale import CommonScale

    out = baseline["out"]
    s = json.loads((out / "summary.json").read_text())
    assert set(s["scales"]) == {f"{m}__{k}" for m in ("tiny-a", "tiny-b")
                                for k in ("top_map-contribution", "top_map-max", "gradcam",
                                          "principal-gradcam")}
    for rel in s["scales"].values():
        scale = CommonScale.load(out / rel)
        assert scale.n_maps == 4 * 3 and scale.high >= scale.low
    for model, rel in s["principal"]["channel_sets"].items():
        cs = ChannelSet.load(out / rel)
        assert cs.model == model and cs.layer == "layer4" and cs.n_channels == 512
        assert all(len(v) == 52 for v in cs.classes.values())  # ceil(0.1 * 512)
    comps = s["principal"]["comparisons"]
    assert {c["model"] for c in comps} == {"tiny-a", "tiny-b"}
    # pairs: cases where both maps have positive mass (a principal CAM can be all zero)
    assert all(1 <= c["n"] <= 4 for c in comps)


def test_summary_statistics_match_tables(baseline):
    out = baseline["out"]
    s = json.loads((out / "summary.json").read_text())
    cases = _rows(out / "cases.csv")
    g = next(g for g in s["groups"]
             if g["model"] == "tiny-a" and g["method"] == "gradcam" and g["roi"] == "organ")
    sel = [r for r in cases
           if r["model"] == "tiny-a" and r["method"] == "gradcam" and r["roi"] == "organ"]
    rm = [float(r["relevance_mass"]) for r in sel]
    assert g["n_cases"] == 4 and g["medians"]["relevance_mass"]["median"] == np.median(rm)
    pv = [float(r["p_value"]) for r in sel]
    assert g["colocalizing_p05"]["rate"] == np.mean(np.array(pv) < 0.05)
    comp = [c for c in s["model_comparisons"] if c["method"] == "gradcam"]
    assert len(comp) == 2 and {c["roi"] for c in comp} == {"lesion", "organ"}
    assert all(c["n"] == 4 for c in comp)


class _ImgParser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.imgs, self.tags = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "img":
            self.imgs.append(dict(attrs))


def test_report_renders_with_inline_images(baseline, artifacts_dir):
    out = baseline["out"]
    text = (out / "report.html").read_text(encoding="utf-8")
    parser = _ImgParser()
    parser.feed(text)
    assert "table" in parser.tags and len(parser.imgs) >= 5
    files = sorted(p.name for p in (out / "figures").glob("*.png"))
    assert sorted(i["data-file"].split("/")[-1] for i in parser.imgs) == files
    for img in parser.imgs:
        assert img["src"].startswith("data:image/png;base64,")
        data = base64.b64decode(img["src"].split(",", 1)[1])
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        assert data == (out / img["data-file"]).read_bytes()
    assert "thumbs_00.png" in files
    for word in ("Wilcoxon", "95% CI", "pointing game", "p &lt; 0.05", "corrupt"):
        assert word in text
    dest = artifacts_dir / "cohort_report"
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(out / "figures", dest)
    shutil.copy(out / "report.html", dest / "report.html")


def test_second_run_skips_everything(baseline, cohort):
    stream = io.StringIO()
    opts = replace(baseline["options"], report=False)  # not part of the units' identity
    again = run_cohort(cohort["manifest"], baseline["out"], opts, stream=stream)
    u = again.summary["units"]
    # only the failed units are retried
    assert u["skipped_already_done"] == u["ok"] == 32 and u["failed"] == 16
    assert again.slices == baseline["run"].slices


def test_cli_exit_codes(cohort, models, tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("image,case_id\nx,y\n")
    assert main(["cohort", str(bad), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "roi" in err[0] and str(bad) in err[0]
    assert main(["cohort", str(cohort["manifest"]), "--out", str(tmp_path / "o"),
                 "--model", str(models[0]), "--principal-ratio", "0.5"]) == 2
    assert main(["cohort", str(cohort["manifest"]), "--out", str(tmp_path / "o"),
                 "--model", str(models[0]), "--method", "nocam"]) == 2
    capsys.readouterr()
    assert main(["cohort", str(cohort["manifest"]), "--out", str(tmp_path / "o"),
                 "--model", "no-such-model"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no-such-model" in err[0] and "bundled" in err[0]
    # a review ran these over every case (each failing the same way) and exited with 0
    for argv, said in ((["--threshold", "2"], "--threshold must lie in [0, 1]"),
                       (["--threads", "0"], "--threads must be at least 1"),
                       (["--batch-size", "0"], "--batch-size must be at least 1"),
                       (["--layer", "layer33"], "no layer 'layer33'"),
                       (["--target", "tumour"], "--target 'tumour' is not one of its classes"),
                       (["--target", "7"], "--target 7 is not one of its classes")):
        out = tmp_path / f"o-{argv[0]}"
        assert main(["cohort", str(cohort["manifest"]), "--out", str(out),
                     "--model", str(models[0]), *argv]) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and said in err[0], err
        assert not out.exists()  # refused before any folder or case
    assert str(models[0]) in err[0] or models[0].stem in err[0]  # the model is named


def test_saved_channel_set_reproduces_the_principal_scores(baseline, cohort, models, tmp_path):
    """--channel-set reuses a set: same principal-CAM rows as the run that derived it."""
    out = baseline["out"]
    cs_path = out / "channel_sets" / "tiny-a.json"
    opts = CohortOptions(models=(str(models[0]),), ranks=("contribution",),
                         methods=("gradcam",), channel_set=str(cs_path), threads=1,
                         report=False)
    run = run_cohort(cohort["manifest"], tmp_path / "reuse", opts, stream=io.StringIO())
    assert run.summary["principal"]["channel_sets"] == {}  # given, not derived
    mine = [r for r in run.slices if r["method"] == "principal-gradcam"]
    ref = [r for r in baseline["run"].slices
           if r["method"] == "principal-gradcam" and r["model"] == "tiny-a"]
    assert len(mine) == len(ref) == 4 * 3 * 2
    for a, b in zip(mine, ref):
        assert (a["case_id"], a["slice"], a["roi"]) == (b["case_id"], b["slice"], b["roi"])
        for k in ("relevance_mass", "auroc", "p_value"):
            assert (a[k] is None) == (b[k] is None)
            if a[k] is not None:
                assert a[k] == pytest.approx(b[k], rel=1e-5, abs=1e-9)
    wrong = tmp_path / "other.json"
    wrong.write_text(cs_path.read_text().replace('"tiny-a"', '"someone-else"'))
    with pytest.raises(InputError, match="channel set is for model"):
        run_cohort(cohort["manifest"], tmp_path / "x",
                   CohortOptions(models=tuple(str(m) for m in models),
                                 channel_set=str(wrong), report=False),
                   stream=io.StringIO())


def test_a_case_readers_mistake_reads_as_a_sentence(cohort, models, tmp_path):
    """failures.csv said "ValueError: no ROI named lesoin ..." (a review)."""
    opts = CohortOptions(models=(str(models[0]),), ranks=("contribution",), methods=(),
                         roi_names=("lesoin",), threads=1, report=False)
    run = run_cohort(cohort["manifest"], tmp_path / "o", opts, stream=io.StringIO())
    s = json.loads((tmp_path / "o" / "summary.json").read_text())
    reasons = [f["reason"] for f in s["failures"]["list"]]
    assert run.n_failed >= 1 and any(r.startswith("no ROI named lesoin") for r in reasons)
    assert not any(r.startswith("ValueError") for r in reasons), reasons


def test_target_by_class_name_as_analyze_takes_it(cohort, models, tmp_path, capsys):
    """`cohort --target lesion` failed in argparse ("invalid int value") while `analyze
    --target lesion` worked: by name it explains the same class as by index."""
    rows = {}
    for target in ("lesion", "1"):
        out = tmp_path / target
        assert main(["cohort", str(cohort["manifest"]), "--out", str(out), "--model",
                     str(models[0]), "--rank", "contribution", "--target", target,
                     "--threads", "1", "--no-report"]) == 0, capsys.readouterr().err
        rows[target] = [(r["case_id"], r["slice"], r["target"], r["relevance_mass"])
                        for r in _rows(out / "slices.csv")]
    assert rows["lesion"] == rows["1"] and {r[2] for r in rows["1"]} == {"1"}
