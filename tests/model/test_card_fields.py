"""Card fields of issue 13 (architecture forms, architecture_args, spatial_dims, input_size,
task, inputs, expects) and issue 14 item 5 (input_size bounded before any allocation)."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import pytest

from coloc_viewer.errors import ModelError
from coloc_viewer.limits import MAX_MODEL_INPUT_EDGE, MAX_MODEL_INPUT_VOXELS
from coloc_viewer.model.card import card_from_dict, read_card

BASE = {"name": "m", "architecture": "resnet18", "weights": "m.safetensors", "in_channels": 1,
        "input_size": [64, 64], "normalization": {"mode": "zscore"}, "classes": ["a", "b"]}


def card(**fields):
    return card_from_dict({**BASE, **fields})


def test_defaults_keep_2d_cards_working() -> None:
    c = card()
    assert (c.spatial_dims, c.task, c.inputs, c.expects, c.architecture_args) == \
        (2, "classification", None, None, {})
    h, w = c.input_size  # existing 2-D code unpacks (h, w)
    assert (h, w) == (64, 64) and c.library == "torchvision"
    d = c.to_dict()
    assert d["input_size"] == [64, 64] and d["spatial_dims"] == 2 and d["task"] == \
        "classification" and d["inputs"] is None and d["architecture_args"] == {}
    assert card_from_dict(d) == c  # round trip


def test_3d_multi_input_segmentation_card_round_trips(tmp_path: Path) -> None:
    data = {**BASE, "architecture": "monai:DenseNet121", "in_channels": 3, "spatial_dims": 3,
            "architecture_args": {"spatial_dims": 3, "in_channels": 3, "out_channels": 2,
                                  "block_config": [2, 2, 2, 2], "dropout_prob": 0.0},
            "input_size": [16, 32, 32], "task": "segmentation",
            "inputs": [{"role": "T2", "series": "(?i)t2"}, {"role": "ADC", "series": "adc"},
                       {"role": "DWI", "series": "(?i)(dwi|b1[0-9]{3})"}],
            "expects": {"modality": "MR", "spacing_mm": [[0.3, 1.0], [0.3, 1.0], [1, 5]]}}
    path = tmp_path / "c.json"
    path.write_text(json.dumps(data))
    c = read_card(path)
    assert c.input_size == (16, 32, 32) and c.spatial_dims == 3 and c.task == "segmentation"
    assert [i["role"] for i in c.inputs] == ["T2", "ADC", "DWI"] and c.library == "monai"
    assert c.expects == data["expects"] and c.architecture_args["block_config"] == [2, 2, 2, 2]
    d = c.to_dict()
    assert d["inputs"] == data["inputs"] and d["input_size"] == [16, 32, 32]
    assert card_from_dict(d, path) == c


@pytest.mark.parametrize("arch, library", [
    ("resnet18", "torchvision"), ("torchvision:resnet18", "torchvision"),
    ("timm:efficientnet_b0", "timm"), ("monai:DenseNet121", "monai"), ("export", "export"),
    ("torchscript", "torchscript")])
def test_architecture_forms(arch: str, library: str) -> None:
    assert card(architecture=arch).library == library


@pytest.mark.parametrize("arch", [
    "monai:os.system", "monai:../x", "monai:_private", "timm:os.system", "torchvision:os.system",
    "os:system", "os.system", "torchvision:a/b", "monai:", "", "pickle:loads", "timm:a b"])
def test_unsafe_or_malformed_architecture_refused_at_parse(arch: str) -> None:
    with pytest.raises(ModelError, match="architecture"):
        card(architecture=arch)


@pytest.mark.parametrize("args, needle", [
    ({"nested": {"a": 1}}, "number, string, boolean"),
    ({"x": None}, "number, string, boolean"),
    ({"x": [1, {"a": 2}]}, "number, string, boolean"),
    ([1, 2], "JSON object"),
    ({"pretrained": True}, "never downloaded"),
    ({"checkpoint_path": "/etc/passwd"}, "never downloaded"),
    ({"_private": 1}, "keyword argument"),
    ({"not valid": 1}, "keyword argument"),
])
def test_bad_architecture_args(args, needle: str) -> None:
    with pytest.raises(ModelError, match=needle):
        card(architecture="monai:DenseNet121", architecture_args=args)


@pytest.mark.parametrize("fields, needle", [
    ({"spatial_dims": 4}, "spatial_dims must be 2 or 3"),
    ({"spatial_dims": True}, "spatial_dims"),
    ({"spatial_dims": 3}, r"input_size must be \[d, h, w\]"),
    ({"input_size": [8, 64, 64]}, r"input_size must be \[h, w\]"),
    ({"input_size": [64.5, 64]}, "integers"),
    ({"input_size": [0, 64]}, "positive"),
    ({"input_size": "64x64"}, "input_size"),
    ({"task": "detection"}, "task must be one of"),
    ({"inputs": [{"role": "T2", "series": "t2"}, {"role": "ADC", "series": "adc"}]},
     r"one \{role, series\} per input channel"),
    ({"in_channels": 2, "normalization": {"mode": "zscore"},
      "inputs": [{"role": "T2", "series": "t2"}, {"role": "T2", "series": "x"}]}, "unique"),
    ({"inputs": [{"role": "T2", "series": "(unclosed"}]}, "not a valid regular expression"),
    ({"inputs": [{"role": "", "series": "t2"}]}, "role"),
    ({"inputs": [{"series": "t2"}]}, "role"),
    ({"expects": [1]}, "expects must be a JSON object"),
    ({"weights": 3}, "weights must be a file name"),
])
def test_bad_new_fields(fields: dict, needle: str) -> None:
    with pytest.raises(ModelError, match=needle):
        card(**fields)


@pytest.mark.parametrize("size", [[100000, 100000], [20000, 20000], [10**30, 1],
                                  [2048, 2048, 2048], [1e300, 64]])
def test_input_size_bounded_fast_without_allocation(size, tmp_path: Path) -> None:
    dims = len(size)
    path = tmp_path / "big.json"
    path.write_text(json.dumps({**BASE, "input_size": size, "spatial_dims": dims}))
    tracemalloc.start()
    try:
        with pytest.raises(ModelError, match="input_size") as info:
            read_card(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "big.json" in str(info.value) and "limits" in str(info.value)
    assert peak < 5 * 1024**2  # refused before anything of that size is allocated


def test_limits_allow_realistic_inputs() -> None:
    assert card(input_size=[MAX_MODEL_INPUT_EDGE, 512]).input_size[0] == MAX_MODEL_INPUT_EDGE
    big3d = [256, 512, 512]  # a whole CT volume at full resolution
    assert MAX_MODEL_INPUT_VOXELS >= 256 * 512 * 512
    assert card(input_size=big3d, spatial_dims=3).input_size == tuple(big3d)


def test_oversized_card_file_refused(tmp_path: Path) -> None:
    path = tmp_path / "huge.json"
    path.write_text(json.dumps({**BASE, "description": "x" * (2 * 1024**2)}))
    with pytest.raises(ModelError, match="larger than"):
        read_card(path)


def test_a_misspelt_field_is_named_and_other_metadata_stays(tmp_path) -> None:
    """A review's card with "target_layr" ran on the default layer without a word, and one
    with "architecure" said only "model card lacks architecture"."""
    with pytest.raises(ModelError, match=r"unknown card field 'target_layr' \(did you mean "
                                         r"'target_layer'\?\)"):
        card(target_layr="layer2")
    typo = {k: v for k, v in BASE.items() if k != "architecture"} | {"architecure": "resnet18"}
    path = tmp_path / "typo.json"
    path.write_text(json.dumps(typo))
    with pytest.raises(ModelError, match="did you mean 'architecture'") as err:
        read_card(path)
    assert str(path) in str(err.value)
    with pytest.raises(ModelError, match="did you mean 'normalization'"):
        card(normalisation={"mode": "zscore"})
    kept = card(license="CC-BY-4.0", training={"epochs": 3}, refine_demo={}, version="2")
    assert kept.name == "m"  # the user's own keys are not card fields, and do no harm
