"""Quick ACKs for getscu (``pacs.quick_ack``): the mode chosen (borrow getscu's socket, else
the relay, else off; ``$COLOC_VIEWER_QUICK_ACK``), and a C-GET from the real Orthanc in each
mode gives the original files, through the mechanism the mode names."""

from __future__ import annotations

import logging
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pydicom
import pytest
from pacs_helpers import demo_study_uid, series_uid_of

from coloc_viewer.pacs import getscu as getscu_module
from coloc_viewer.pacs import quick_ack
from coloc_viewer.pacs.ack_relay import AckRelay
from coloc_viewer.pacs.quick_ack import ENV_QUICK_ACK, BorrowedAcks, quick_ack_mode
from coloc_viewer.pacs.retrieve import connect
from coloc_viewer.pacs.servers import ServerConfig
from coloc_viewer.resources import demo_dir

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="TCP_QUICKACK is Linux's")
ORIGINALS = demo_dir() / "case-02" / "dicom"


def test_modes(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    for wanted, expected in (("off", "off"), ("relay", "relay"), ("OFF ", "off")):
        monkeypatch.setenv(ENV_QUICK_ACK, wanted)
        assert quick_ack_mode() == expected
    monkeypatch.delenv(ENV_QUICK_ACK)
    default = quick_ack_mode()
    assert default == ("borrow" if quick_ack.borrowing_works() else "relay")
    monkeypatch.setenv(ENV_QUICK_ACK, "fast please")
    with caplog.at_level(logging.WARNING, logger="coloc_viewer.pacs.quick_ack"):
        assert quick_ack_mode() == default
    assert "COLOC_VIEWER_QUICK_ACK='fast please' is not one of auto, borrow, relay, off" \
        in caplog.text


def test_refused_borrowing_falls_back_to_the_relay(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(quick_ack, "borrowing_works", lambda: False)
    for wanted in ("auto", "borrow"):
        monkeypatch.setenv(ENV_QUICK_ACK, wanted)
        assert quick_ack_mode() == "relay"


def test_a_child_without_a_socket_ends_the_borrowing() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.3)"])
    with BorrowedAcks(proc) as acks:
        proc.wait()
    assert not acks.borrowed and acks.pokes == 0


@pytest.mark.parametrize("mode", ["borrow", "relay", "off"])
def test_each_mode_retrieves_the_originals(mode: str, dimse_server: ServerConfig,
                                           tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    if getscu_module.find_getscu() is None:
        pytest.skip("DCMTK's getscu is not installed")
    if mode == "borrow" and not quick_ack.borrowing_works():
        pytest.skip("this process may not borrow its children's sockets")
    monkeypatch.setenv(ENV_QUICK_ACK, mode)
    relays: list[AckRelay] = []
    borrowed: list[BorrowedAcks] = []

    class SpyRelay(AckRelay):
        def __enter__(self) -> AckRelay:
            relays.append(self)
            return super().__enter__()

    class SpyAcks(BorrowedAcks):
        def __enter__(self) -> BorrowedAcks:
            borrowed.append(self)
            return super().__enter__()

    monkeypatch.setattr(getscu_module, "AckRelay", SpyRelay)
    monkeypatch.setattr(getscu_module, "BorrowedAcks", SpyAcks)
    got: list[Path] = []
    connect(replace(dimse_server, dimse_backend="dcmtk")).fetch_series_files(
        demo_study_uid(), series_uid_of(ORIGINALS), tmp_path, got.append)

    if mode == "relay":
        assert [(r.host, r.upstream_port) for r in relays] == [
            (dimse_server.host, dimse_server.port)]
    else:
        assert relays == []
    if mode == "borrow":  # getscu's own socket was asked for quick ACKs while it ran
        assert len(borrowed) == 1 and borrowed[0].borrowed and borrowed[0].pokes > 0
    else:
        assert borrowed == []
    by_uid = {str(pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID): p
              for p in ORIGINALS.iterdir() if p.is_file()}
    assert len(got) == len(by_uid) == 20
    for path in got:
        mine = pydicom.dcmread(path)
        theirs = pydicom.dcmread(by_uid[str(mine.SOPInstanceUID)])
        assert mine.PixelData == theirs.PixelData
