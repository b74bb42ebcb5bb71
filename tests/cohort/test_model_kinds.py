"""Cohorts with the models of issue 13: several series as input channels (one manifest
column per role), a 3-D model (volume rows), a segmentation network, and cases that cannot
run with a model (one sentence in a failed row, not a crash)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

from coloc_viewer.cohort.runner import CohortOptions, run_cohort

ROLES = [{"role": "T2", "series": "(?i)t2"}, {"role": "ADC", "series": "(?i)adc"},
         {"role": "DWI", "series": "(?i)dwi"}]


def write_card(folder: Path, name: str, module, **fields) -> Path:
    """A card for ``module`` (its weights saved next to it as safetensors)."""
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in module.state_dict().items()},
              str(folder / f"{name}.safetensors"))
    card = {"name": name, "weights": f"{name}.safetensors",
            "normalization": {"mode": "zscore"}, "classes": ["no lesion", "lesion"],
            "positive_class": 1, **fields}
    path = folder / f"{name}.json"
    path.write_text(json.dumps(card), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def mp_cohort(tmp_path_factory, helpers) -> dict:
    """Two cases with T2 (0.8 mm), ADC (1.6 mm, lesion dark) and DWI (1.28 mm, lesion
    bright) on their own grids, and a 3-channel resnet18 card with roles T2/ADC/DWI."""
    import torch

    from coloc_viewer.imaging.load import load_volume
    from coloc_viewer.model.architectures import build_architecture

    root = tmp_path_factory.mktemp("mp")
    rows = []
    for i in range(2):
        t2, roi = helpers.make_case(root, f"m{i}", seed=40 + i)
        vol = load_volume(t2).voxels
        rng = np.random.default_rng(i)
        adc = 1500 - 5 * vol[:, ::2, ::2] + rng.normal(0, 20, (5, 32, 32))
        dwi = 3 * vol[:, ::8, ::8].repeat(5, 1).repeat(5, 2)[:, :40, :40]
        helpers.write_nifti(adc.astype(np.float32), root / f"m{i}_adc.nii.gz", (1.6, 1.6, 3.0))
        helpers.write_nifti(dwi.astype(np.float32), root / f"m{i}_dwi.nii.gz", (1.28, 1.28, 3.0))
        rows.append((f"m{i}", t2.name, roi.name, f"m{i}_adc.nii.gz", f"m{i}_dwi.nii.gz"))
    torch.manual_seed(3)
    module = build_architecture("resnet18", 2, 3)
    card = write_card(root, "mp-resnet", module, architecture="resnet18", in_channels=3,
                      input_size=[64, 64], target_layer="layer4", inputs=ROLES)
    return {"root": root, "rows": rows, "card": card}


def _manifest(root: Path, name: str, header: str, lines: list[str]) -> Path:
    path = root / name
    path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    return path


def _opts(card: Path, **kw) -> CohortOptions:
    base = {"models": (str(card),), "workers": 1, "threads": 2, "principal_ratio": None,
            "report": False, "p_value": False, "roi_names": ("lesion",)}
    return CohortOptions(**{**base, **kw})


def test_role_columns_feed_a_multi_series_model(mp_cohort, tmp_path):
    import coloc_viewer as cv
    from coloc_viewer.imaging.load import load_volume

    root, rows = mp_cohort["root"], mp_cohort["rows"]
    manifest = _manifest(root, "mp.csv", "case_id,image,roi,adc,DWI",
                         [",".join(r) for r in rows])
    run = run_cohort(manifest, tmp_path / "out", _opts(mp_cohort["card"]),
                     stream=io.StringIO())
    assert run.n_failed == 0 and run.slices
    cid, t2, _, adc, dwi = rows[0]
    row = next(r for r in run.slices if r["case_id"] == cid and r["method"] == "gradcam")
    model = cv.load_model(str(mp_cohort["card"]))
    vols = {k: load_volume(root / p) for k, p in (("T2", t2), ("ADC", adc), ("DWI", dwi))}
    exp = cv.explain(model, vols, row["slice"])
    assert exp.inputs == ["T2", "ADC", "DWI"]
    roi = cv.load_roi(root / rows[0][2], like=vols["T2"])
    if isinstance(roi, dict):
        roi = roi["lesion"]
    want = cv.score(exp.cam_map("gradcam"), np.asarray(roi)[row["slice"]], p_value=False)
    assert row["relevance_mass"] == pytest.approx(want["relevance_mass"], rel=1e-4)
    assert row["auroc"] == pytest.approx(want["auroc"], rel=1e-4)
    # the roles matter: ADC and DWI swapped is another input, with another map
    swapped = cv.explain(model, {**vols, "ADC": vols["DWI"], "DWI": vols["ADC"]}, row["slice"])
    other = cv.score(swapped.cam_map("gradcam"), np.asarray(roi)[row["slice"]], p_value=False)
    assert other["relevance_mass"] != pytest.approx(want["relevance_mass"], rel=1e-4)


def test_a_missing_role_is_a_failed_row_with_one_sentence(mp_cohort, tmp_path):
    root, rows = mp_cohort["root"], mp_cohort["rows"]
    (a, t2a, roia, adca, _), (b, t2b, roib, adcb, dwib) = rows
    manifest = _manifest(root, "missing.csv", "case_id,image,roi,ADC,DWI",
                         [f"{a},{t2a},{roia},{adca},", f"{b},{t2b},{roib},{adcb},{dwib}"])
    run = run_cohort(manifest, tmp_path / "out", _opts(mp_cohort["card"]),
                     stream=io.StringIO())
    assert run.n_failed == 1
    (failure,) = run.summary["failures"]["list"]
    assert failure["case_id"] == a
    assert failure["reason"] == ("model 'mp-resnet' takes the series T2, ADC, DWI; this case "
                                 "gives no DWI series (add a manifest column DWI with its "
                                 "path)")
    assert {r["case_id"] for r in run.slices} == {b}
    # without the column at all: every case fails with that sentence; the run finishes
    manifest = _manifest(root, "nocol.csv", "case_id,image,roi,ADC",
                         [f"{a},{t2a},{roia},{adca}"])
    run = run_cohort(manifest, tmp_path / "out2", _opts(mp_cohort["card"]),
                     stream=io.StringIO())
    assert run.n_failed == 1 and "gives no DWI series" in run.summary["failures"]["list"][0][
        "reason"]
    # a role file that cannot be read: that case fails with the file named
    manifest = _manifest(root, "bad.csv", "case_id,image,roi,ADC,DWI",
                         [f"{a},{t2a},{roia},nothing_here.nii.gz,{dwib}"])
    run = run_cohort(manifest, tmp_path / "out3", _opts(mp_cohort["card"]),
                     stream=io.StringIO())
    (failure,) = run.summary["failures"]["list"]
    assert "nothing_here.nii.gz" in failure["reason"] and "\n" not in failure["reason"]


def test_a_role_column_no_model_reads_is_an_input_error(mp_cohort, models, tmp_path):
    from coloc_viewer.errors import InputError

    root, rows = mp_cohort["root"], mp_cohort["rows"]
    manifest = _manifest(root, "extra.csv", "case_id,image,roi,DWI",
                         [",".join(rows[0][:3] + rows[0][4:])])
    with pytest.raises(InputError, match="unknown manifest column"):
        run_cohort(manifest, tmp_path / "out", _opts(models[0]), stream=io.StringIO())


@pytest.fixture(scope="module")
def plain_cases(tmp_path_factory, helpers) -> Path:
    root = tmp_path_factory.mktemp("plain")
    lines = []
    for i in range(2):
        img, roi = helpers.make_case(root, f"p{i}", seed=60 + i)
        lines.append(f"{img.name},{roi.name},p{i}")
    return _manifest(root, "plain.csv", "image,roi,case_id", lines)


@pytest.mark.slow
def test_a_3d_model_gives_volume_rows(plain_cases, helpers, tmp_path):
    import torch

    import coloc_viewer as cv
    from coloc_viewer.explain.scoring import score_explanation
    from coloc_viewer.imaging.load import load_volume
    from coloc_viewer.model.architectures import build_architecture

    args = {"block": "basic", "layers": [1, 1, 1, 1], "block_inplanes": [4, 8, 16, 32],
            "spatial_dims": 3, "n_input_channels": 1, "num_classes": 2}
    torch.manual_seed(5)
    module = build_architecture("monai:ResNet", 2, 1, args)
    card = write_card(tmp_path, "r3d", module, architecture="monai:ResNet",
                      architecture_args=args, in_channels=1, spatial_dims=3,
                      input_size=[8, 48, 48], target_layer="layer3")
    run = run_cohort(plain_cases, tmp_path / "out",
                     _opts(card, roi_names=None, principal_ratio=0.1, report=True),
                     stream=io.StringIO())
    assert run.n_failed == 0
    # one row per case, unit (top map, Grad-CAM, principal-channel CAM) and ROI; no slice
    assert len(run.slices) == 2 * 3 * 2 and all(r["slice"] is None for r in run.slices)
    assert {r["method"] for r in run.slices} == {"top_map", "gradcam", "principal-gradcam"}
    assert all(r["index_slice"] is None and r["n_slices"] is None for r in run.cases)
    report = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "thumbnail unavailable" not in report
    row = next(r for r in run.slices if r["case_id"] == "p0" and r["method"] == "gradcam"
               and r["roi"] == "lesion")
    vol = load_volume(plain_cases.parent / "p0_img.nii.gz")
    roi = cv.load_roi(plain_cases.parent / "p0_roi.nii.gz", like=vol)
    roi = roi["lesion"] if isinstance(roi, dict) else roi
    want = score_explanation(cv.explain(cv.load_model(str(card)), vol), np.asarray(roi),
                             p_value=False)["cam"]
    assert row["roi_pixels"] == int(np.asarray(roi).sum())
    assert row["relevance_mass"] == pytest.approx(want["relevance_mass"], rel=1e-4)
    assert row["dice"] == pytest.approx(want["dice"], rel=1e-4, abs=1e-9)

    # a single-slice series cannot feed a 3-D model: a failed case with one sentence
    img = np.random.default_rng(0).normal(100, 10, (1, 64, 64)).astype(np.float32)
    mask = np.zeros((1, 64, 64), np.uint8)
    mask[0, 20:30, 20:30] = 1
    helpers.write_nifti(img, tmp_path / "one_img.nii.gz")
    helpers.write_nifti(mask, tmp_path / "one_roi.nii.gz")
    manifest = _manifest(tmp_path, "one.csv", "image,roi,case_id",
                         ["one_img.nii.gz,one_roi.nii.gz,flat"])
    run = run_cohort(manifest, tmp_path / "out1", _opts(card, roi_names=None),
                     stream=io.StringIO())
    (failure,) = run.summary["failures"]["list"]
    assert "is a 3-D model and needs a volume of at least 2 slices" in failure["reason"]


@pytest.mark.slow
def test_a_segmentation_model_runs_without_special_cases(plain_cases, tmp_path):
    import torch

    from coloc_viewer.model.architectures import build_architecture

    args = {"spatial_dims": 2, "in_channels": 1, "out_channels": 2, "channels": [4, 8, 16],
            "strides": [2, 2]}
    torch.manual_seed(6)
    module = build_architecture("monai:UNet", 2, 1, args)
    card = write_card(tmp_path, "unet", module, architecture="monai:UNet",
                      architecture_args=args, in_channels=1, input_size=[64, 64],
                      task="segmentation", classes=["background", "lesion"])
    run = run_cohort(plain_cases, tmp_path / "out", _opts(card), stream=io.StringIO())
    assert run.n_failed == 0
    assert {r["slice"] for r in run.slices} == {1, 2, 3}
    assert all(r["target_probability"] is None for r in run.slices)
    assert any(r["relevance_mass"] is not None for r in run.slices)
