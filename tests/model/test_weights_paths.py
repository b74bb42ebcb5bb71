"""Issue 14 item 4: a card's weights resolve inside the card's folder or a configured models
folder, are regular files, and every failure reading them is one ModelError (CLI exit 2)."""

from __future__ import annotations

import builtins
import io
import os
from pathlib import Path

import pytest
from model_cards_helper import write_card

from coloc_viewer.cli.main import main
from coloc_viewer.errors import ModelError
from coloc_viewer.model.loading import load_model


@pytest.fixture
def opened(monkeypatch) -> list[str]:
    """Every path passed to open()/io.open while the test runs."""
    seen: list[str] = []
    real_open = builtins.open

    def spy(file, *args, **kwargs):
        if isinstance(file, str | os.PathLike):
            seen.append(os.fspath(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", spy)
    monkeypatch.setattr(io, "open", spy)
    return seen


@pytest.mark.parametrize("weights", [
    "/etc/passwd", "../outside.safetensors", "../../../../../../etc/passwd",
    "/proc/self/environ", "~/.bashrc", "sub/../../outside.safetensors"])
def test_weights_outside_the_card_folder_refused(tmp_path: Path, weights: str,
                                                 opened: list[str]) -> None:
    folder = tmp_path / "cards"
    (folder / "sub").mkdir(parents=True)
    (tmp_path / "outside.safetensors").write_bytes(b"\0" * 16)
    card = write_card(folder, "c", weights=weights)
    opened.clear()
    with pytest.raises(ModelError) as info:
        load_model(card)
    msg = str(info.value)
    assert "refused" in msg and "card's folder" in msg and "\n" not in msg
    assert "outside" in msg or "passwd" in msg or "environ" in msg or "bashrc" in msg
    assert opened and all(p == str(card) for p in opened), opened  # only the card is read


def test_symlink_pointing_out_refused(tmp_path: Path, tiny_card: Path) -> None:
    folder = tmp_path / "cards"
    folder.mkdir()
    (folder / "w.safetensors").symlink_to(tmp_path / "tiny.safetensors")
    with pytest.raises(ModelError, match="refused"):
        load_model(write_card(folder, "c", weights="w.safetensors"))
    (folder / "pw.pt").symlink_to("/etc/passwd")
    with pytest.raises(ModelError, match="refused"):
        load_model(write_card(folder, "p", weights="pw.pt"))


def test_symlink_inside_and_configured_folder_accepted(tmp_path: Path, tiny_card: Path,
                                                        monkeypatch) -> None:
    folder = tmp_path / "cards"
    folder.mkdir()
    (folder / "link.safetensors").symlink_to(folder / ".." / "cards" / "real.safetensors")
    (folder / "real.safetensors").write_bytes((tmp_path / "tiny.safetensors").read_bytes())
    assert load_model(write_card(folder, "in", weights="link.safetensors")).name == "in"
    out = write_card(folder, "out", weights=str(tmp_path / "tiny.safetensors"))
    with pytest.raises(ModelError, match="refused"):
        load_model(out)
    monkeypatch.setenv("COLOC_VIEWER_MODELS_PATH", os.pathsep.join(["", str(tmp_path)]))
    assert load_model(out).name == "out"
    monkeypatch.setenv("COLOC_VIEWER_MODELS_PATH", "relative/folder")  # not absolute: ignored
    with pytest.raises(ModelError, match="refused"):
        load_model(out)


def test_directory_fifo_and_missing(tmp_path: Path) -> None:
    (tmp_path / "dir.pt").mkdir()
    with pytest.raises(ModelError, match="regular file"):
        load_model(write_card(tmp_path, "d", weights="dir.pt"))
    os.mkfifo(tmp_path / "fifo.pt")  # opening it would block forever
    with pytest.raises(ModelError, match="regular file"):
        load_model(write_card(tmp_path, "f", weights="fifo.pt"))
    with pytest.raises(ModelError, match="not found"):
        load_model(write_card(tmp_path, "m", weights="missing.pt"))
    with pytest.raises(ModelError, match="must name a file"):
        load_model(write_card(tmp_path, "e", weights=""))


@pytest.mark.parametrize("content", [
    b"root:x:0:0:root:/root:/bin/bash\n", b"", b"\x80\x02}q\x00.", b"PK\x03\x04garbage",
    b"\x80\x04\x95" + bytes(range(256)), b"\xff" * 4096])
@pytest.mark.parametrize("suffix", [".pt", ".safetensors", ".bin"])
def test_garbage_weights_are_one_model_error(tmp_path: Path, content: bytes,
                                             suffix: str) -> None:
    (tmp_path / f"w{suffix}").write_bytes(content)
    with pytest.raises(ModelError) as info:
        load_model(write_card(tmp_path, "g", weights=f"w{suffix}"))
    msg = str(info.value)
    assert f"w{suffix}" in msg and "\n" not in msg


def test_cli_reports_refused_weights_with_exit_2(tmp_path: Path, capsys) -> None:
    import numpy as np
    import SimpleITK as sitk

    img = sitk.GetImageFromArray(np.zeros((2, 16, 16), np.float32))
    sitk.WriteImage(img, str(tmp_path / "v.nii.gz"))
    roi = np.zeros((2, 16, 16), np.uint8)
    roi[0, 4:8, 4:8] = 1
    sitk.WriteImage(sitk.GetImageFromArray(roi), str(tmp_path / "r.nii.gz"))
    (tmp_path / "cards").mkdir()
    (tmp_path / "x.pt").write_bytes(b"\0" * 8)
    for weights in ("/etc/passwd", "../x.pt"):
        card = write_card(tmp_path / "cards", "c", weights=weights)
        code = main(["analyze", str(tmp_path / "v.nii.gz"), "--roi", str(tmp_path / "r.nii.gz"),
                     "--model", str(card), "--json"])
        err = capsys.readouterr().err
        assert code == 2 and "refused" in err and "Traceback" not in err
        assert err.count("\n") == 1
    (tmp_path / "cards" / "bad.pt").write_bytes(b"root:x:0:0:root:/root:/bin/bash\n")
    card = write_card(tmp_path / "cards", "b", weights="bad.pt")
    code = main(["analyze", str(tmp_path / "v.nii.gz"), "--roi", str(tmp_path / "r.nii.gz"),
                 "--model", str(card)])
    err = capsys.readouterr().err
    assert code == 2 and "bad.pt" in err and err.count("\n") == 1 and "Traceback" not in err
