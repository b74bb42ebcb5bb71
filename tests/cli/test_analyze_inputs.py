"""`coloc-viewer analyze` with a 3-D card that takes three series (T2, ADC, DWI) on their own
grids: roles matched by series description or given with --input, volume scores equal to
the API's, and one clear line for every way the inputs can be wrong."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from coloc_viewer.cli.main import main
from coloc_viewer.explain.engine import explain
from coloc_viewer.explain.scoring import score_explanation
from coloc_viewer.imaging.dicom_write import write_dicom_series
from coloc_viewer.imaging.load import load_volume
from coloc_viewer.imaging.roi_io import save_roi
from coloc_viewer.model.loading import load_model

SCORE_KEYS = {"relevance_mass", "relevance_rank", "iou_top_n", "dice", "iou", "pointing_game",
              "auroc", "p_value", "seed_overlap"}
INPUTS = [{"role": "T2", "series": "(?i)t2"}, {"role": "ADC", "series": "(?i)adc"},
          {"role": "DWI", "series": "(?i)(dwi|b1[0-9]{3})"}]


def _series(folder: Path, description: str, shape, spacing, sign: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    z, h, w = shape
    zz, yy, xx = np.mgrid[:z, :h, :w]
    # the same physical blob (centre at 12 mm, 14 mm, 18 mm) on every grid
    d2 = ((zz * spacing[0] - 12) ** 2 + (yy * spacing[1] - 14) ** 2
          + (xx * spacing[2] - 18) ** 2)
    vox = 400 + sign * 300 * np.exp(-d2 / 40.0) + rng.normal(0, 10, shape)
    write_dicom_series(np.clip(vox, 0, None), folder, spacing=spacing, origin=(0.0, 0.0, 0.0),
                       modality="MR", series_description=description)


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("mpmri_cli")
    case = root / "case"
    _series(case / "t2", "T2 TSE AX", (8, 32, 40), (3.0, 1.0, 1.0), -1, 1)
    _series(case / "adc", "ADC map", (6, 16, 20), (4.0, 2.0, 2.0), -1, 2)
    _series(case / "dwi", "ep2d b1400", (6, 16, 20), (4.0, 2.0, 2.0), +1, 3)
    only_t2 = root / "only_t2"
    shutil.copytree(case / "t2", only_t2)
    separate_adc = root / "adc_elsewhere"
    shutil.copytree(case / "adc", separate_adc)
    t2 = load_volume(only_t2)
    mask = np.zeros(t2.shape, bool)
    mask[3:6, 10:18, 14:22] = True
    save_roi(mask, root / "lesion.nii.gz", like=t2)
    import monai.networks.nets as nets

    torch.manual_seed(0)
    args = {"spatial_dims": 3, "in_channels": 3, "out_channels": 2, "init_features": 8,
            "growth_rate": 4, "block_config": [2, 2]}
    module = nets.DenseNet(**args)
    save_file({k: v.contiguous() for k, v in module.state_dict().items()},
              str(root / "mp.safetensors"))
    card = {"name": "tiny-mpmri", "architecture": "monai:DenseNet", "architecture_args": args,
            "weights": "mp.safetensors", "in_channels": 3, "spatial_dims": 3,
            "input_size": [8, 32, 32], "task": "classification", "inputs": INPUTS,
            "normalization": {"mode": "zscore"}, "classes": ["no lesion", "lesion"],
            "positive_class": 1, "target_layer": "features.denseblock2"}
    (root / "mp.json").write_text(json.dumps(card))
    return {"case": case, "only_t2": only_t2, "adc": separate_adc,
            "roi": root / "lesion.nii.gz", "card": root / "mp.json"}


def _run(capsys, *argv) -> tuple[int, str, str]:
    code = main(["analyze", *map(str, argv)])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_roles_matched_in_one_folder_give_the_api_volume_scores(study, capsys):
    code, out, err = _run(capsys, study["case"], "--roi", study["roi"], "--model",
                          study["card"], "--json")
    assert code == 0, err
    got = json.loads(out)
    assert got["slice"] is None and got["slice_number"] is None
    assert got["spatial_dims"] == 3
    assert set(got["scores"]["cam"]) >= SCORE_KEYS
    model = load_model(str(study["card"]))
    vols = {"T2": load_volume(study["only_t2"]),
            "ADC": load_volume(study["case"] / "adc"), "DWI": load_volume(study["case"] / "dwi")}
    expl = explain(model, vols, layer="features.denseblock2")
    mask = np.zeros(vols["T2"].shape, bool)
    mask[3:6, 10:18, 14:22] = True
    want = score_explanation(expl, mask, "gradcam")
    for key in SCORE_KEYS:
        assert got["scores"]["cam"][key] == pytest.approx(want["cam"][key]), key
        assert got["scores"]["top_map"][key] == pytest.approx(want["top_map"][key]), key
    assert got["top_channels"][0]["channel"] == int(expl.order[0])


def test_input_option_gives_the_same_result(study, capsys):
    base = json.loads(_run(capsys, study["case"], "--roi", study["roi"], "--model",
                           study["card"], "--json")[1])
    code, out, err = _run(capsys, study["only_t2"], "--roi", study["roi"], "--model",
                          study["card"], "--input", f"ADC={study['adc']}", "--input",
                          f"DWI={study['case'] / 'dwi'}", "--json")
    assert code == 0, err
    assert json.loads(out)["scores"] == base["scores"]


def test_text_output_says_whole_volume(study, capsys):
    code, out, _ = _run(capsys, study["case"], "--roi", study["roi"], "--model", study["card"])
    assert code == 0 and "whole volume (3-D model)" in out


@pytest.mark.parametrize("image, extra, words", [
    ("only_t2", [], ["no series matches input ADC", "--input ADC=PATH"]),
    ("only_t2", ["--input", "FLAIR=/nowhere"], ["has no input role FLAIR", "T2, ADC, DWI"]),
    ("only_t2", ["--input", "T2=/x"], ["first role", "IMAGE"]),
    ("only_t2", ["--input", "ADC"], ["expected ROLE=PATH"]),
    ("case", ["--slice", "3"], ["--slice cannot be used with the 3-D model"]),
])
def test_wrong_inputs_give_one_line_and_status_2(study, capsys, image, extra, words):
    code, out, err = _run(capsys, study[image], "--roi", study["roi"], "--model",
                          study["card"], *extra)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1, err
    for word in words:
        assert word in err, err


def test_a_single_series_card_refuses_input_options(study, capsys):
    code, _, err = _run(capsys, study["only_t2"], "--roi", study["roi"], "--input",
                        f"ADC={study['adc']}")
    assert code == 2 and "takes one series" in err
