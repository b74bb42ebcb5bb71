"""Hostile .pt2 archives: each would run code (or allocate from a header) inside
``torch.export.load``; coloc_viewer refuses them without running anything."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import zipfile
from pathlib import Path

import pytest
import torch
from model_cards_helper import write_card
from pt2_helper import Evil, SkipNet, edit_json, export_pt2, rewrite_pt2

from coloc_viewer.errors import ModelError
from coloc_viewer.model.loading import load_model
from coloc_viewer.model.pt2_scan import scan_pt2

SYM = "Symbol('s77', positive=True, integer=True)"


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("pt2")
    return export_pt2(SkipNet(), torch.randn(2, 1, 64, 64), folder / "skip.pt2")


def _pickle(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def _pickled_weight(marker: Path):
    def edit(rel: str, data: bytes) -> bytes:
        if rel == "data/weights/model_weights_config.json":
            cfg = json.loads(data)
            cfg["config"][next(iter(cfg["config"]))]["use_pickle"] = True
            return json.dumps(cfg).encode()
        return _pickle(Evil(marker)) if rel == "data/weights/weight_0" else data
    return edit


def _sample_inputs(marker: Path):
    return lambda rel, data: _pickle(Evil(marker)) if rel == "data/sample_inputs/model.pt" \
        else data


def _sympy_eval(marker: Path):
    code = f"__import__('builtins').open({str(marker)!r}, 'w') and {SYM}"
    return lambda rel, data: data.decode().replace(SYM, code, 1).encode() \
        if rel == "models/model.json" else data


def _opaque_constant(marker: Path):
    def change(cfg: dict) -> None:
        cfg["config"]["evil"] = {"path_name": "opaque_obj_0", "is_param": False,
                                 "use_pickle": True, "tensor_meta": None}
    return edit_json("data/constants/model_constants_config.json", change)


ATTACKS = {"pickled weight": _pickled_weight, "sample inputs": _sample_inputs,
           "sympy expression": _sympy_eval}


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_attack_runs_code_in_plain_torch_export_load(good: Path, tmp_path: Path,
                                                     attack: str, caplog) -> None:
    """The reason for the pre-scan: torch 2.14.1 itself runs each of these payloads."""
    marker = tmp_path / "PWNED"
    bad = rewrite_pt2(good, tmp_path / "bad.pt2", ATTACKS[attack](marker))
    caplog.set_level(logging.CRITICAL)
    with contextlib.suppress(Exception):  # the payload runs before whatever error follows
        torch.export.load(str(bad))
    assert marker.exists()


@pytest.mark.parametrize("attack", [*ATTACKS, "opaque constant"])
def test_attack_refused_without_running(good: Path, tmp_path: Path, attack: str) -> None:
    marker = tmp_path / "PWNED"
    make = ATTACKS.get(attack, _opaque_constant)
    add = {"data/constants/opaque_obj_0": _pickle(Evil(marker))} \
        if attack == "opaque constant" else None
    rewrite_pt2(good, tmp_path / "bad.pt2", make(marker), add=add)
    card = write_card(tmp_path, "bad", architecture="export", weights="bad.pt2")
    with pytest.raises(ModelError) as info:
        load_model(card)
    msg = str(info.value)
    assert "bad.pt2" in msg and "refused" in msg and "\n" not in msg
    assert not marker.exists()


def _set_target(target: str):
    def change(prog: dict) -> None:
        prog["graph_module"]["graph"]["nodes"][0]["target"] = target
    return edit_json("models/model.json", change)


@pytest.mark.parametrize("edit, add, needle", [
    (_set_target("torch.os.system"), None, "torch.os.system"),
    (_set_target("torch.ops.load_library"), None, "load_library"),
    (_set_target("builtins.exec"), None, "builtins.exec"),
    (_set_target("#evil:op"), None, "#evil:op"),
    (_set_target("torch.ops.aten.from_file.default"), None, "from_file"),
    (_set_target("_operator.attrgetter"), None, "attrgetter"),
    (edit_json("models/model.json", lambda p: p.update(guards_code=["import os"])), None,
     "guard code"),
    (edit_json("models/model.json",
               lambda p: p["range_constraints"].update({"eval('1')": {}})), None, "eval"),
    (None, {"data/aotinductor/model/model.so": b"\x7fELF"}, "data/aotinductor"),
    (None, {"data/weights/model.pt": b"x"}, "data/weights/model.pt"),
    (None, {"../../evil.py": b"x"}, "evil.py"),
    (lambda rel, data: None if rel == "archive_format" else data, None, "archive_format"),
    (edit_json("data/weights/model_weights_config.json",
               lambda c: next(iter(c["config"].values())).update(path_name="../x")), None,
     "not a plain tensor"),
    (edit_json("data/weights/model_weights_config.json",
               lambda c: next(iter(c["config"].values()))["tensor_meta"].update(
                   sizes=[{"as_int": 1000}] * 3, strides=[{"as_int": 1}] * 3)), None,
     "more elements than its record holds"),
])
def test_unsafe_archive_contents_refused(good: Path, tmp_path: Path, edit, add,
                                         needle: str) -> None:
    bad = rewrite_pt2(good, tmp_path / "bad.pt2", edit, add=add)
    with pytest.raises(ModelError, match="refused") as info:
        scan_pt2(bad)
    assert needle in str(info.value)


def test_legacy_zip_and_duplicates_and_garbage(good: Path, tmp_path: Path) -> None:
    legacy = tmp_path / "legacy.pt2"
    with zipfile.ZipFile(legacy, "w") as zf:
        zf.writestr("version", "8.20")
        zf.writestr("serialized_state_dict.pt", _pickle(Evil(tmp_path / "PWNED")))
    with pytest.raises(ModelError, match="refused"):
        scan_pt2(legacy)
    dup = tmp_path / "dup.pt2"
    with zipfile.ZipFile(good) as zin, zipfile.ZipFile(dup, "w") as zout, \
            pytest.warns(UserWarning, match="Duplicate"):
        for info in zin.infolist():
            zout.writestr(info.filename, zin.read(info))
        zout.writestr(zin.namelist()[0], b"again")
    with pytest.raises(ModelError, match="duplicate"):
        scan_pt2(dup)
    for name, content in (("junk.pt2", b"not a zip"), ("empty.pt2", b""),
                          ("cut.pt2", good.read_bytes()[:5000])):
        (tmp_path / name).write_bytes(content)
        card = write_card(tmp_path, "g", architecture="export", weights=name)
        with pytest.raises(ModelError, match=name):
            load_model(card)
    assert not (tmp_path / "PWNED").exists()


def test_good_archive_passes_the_scan(good: Path) -> None:
    scan_pt2(good)
