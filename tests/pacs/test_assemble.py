"""Decode while retrieving (``retrieve_volume``): the same Volume as ``load_volume`` of the
cached folder, over WADO-RS and C-GET from the real Orthanc; no second download; cancel
mid-stream keeps nothing; out-of-order arrival and odd folders (``SeriesAssembler``)."""

from __future__ import annotations

import shutil
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from pacs_helpers import demo_study_uid, series_uid_of

from coloc_viewer.imaging.load import load_volume
from coloc_viewer.imaging.volume import Volume
from coloc_viewer.pacs.assemble import SeriesAssembler
from coloc_viewer.pacs.cache import StudyCache
from coloc_viewer.pacs.errors import RetrievalCancelled
from coloc_viewer.pacs.retrieve import Progress, connect, retrieve_volume
from coloc_viewer.pacs.servers import ServerConfig
from coloc_viewer.resources import demo_dir

CASE2_T2 = demo_dir() / "case-02" / "dicom"


@pytest.fixture(params=["web", "get"])
def server(request: pytest.FixtureRequest, web_server: ServerConfig,
           dimse_server: ServerConfig) -> ServerConfig:
    return web_server if request.param == "web" else dimse_server


def assert_same_volume(got: Volume, want: Volume) -> None:
    assert got.shape == want.shape
    np.testing.assert_array_equal(got.voxels, want.voxels)
    np.testing.assert_allclose(got.spacing, want.spacing)
    np.testing.assert_allclose(got.origin, want.origin)
    np.testing.assert_allclose(got.direction, want.direction)
    assert got.metadata == want.metadata
    assert got.files == want.files and got.source == want.source


def decode_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "pacs-decode"]


def test_decode_while_retrieving_gives_the_original_voxels(server: ServerConfig,
                                                           tmp_path: Path) -> None:
    cache = StudyCache(tmp_path / "c")
    seen: list[Progress] = []
    switch = sys.getswitchinterval()
    folder, volume = retrieve_volume(connect(server), cache, demo_study_uid(),
                                     series_uid_of(CASE2_T2), seen.append, total=20)
    assert sys.getswitchinterval() == switch  # lowered while decoding, then given back
    assert [p.done for p in seen] == list(range(1, 21))
    assert_same_volume(volume, load_volume(folder))
    original = load_volume(CASE2_T2)
    np.testing.assert_array_equal(volume.voxels, original.voxels)
    np.testing.assert_allclose(volume.origin, original.origin)
    assert not decode_threads()
    # a second time: taken from the cache, nothing downloaded, the same volume
    again: list[Progress] = []
    folder2, volume2 = retrieve_volume(connect(server), cache, demo_study_uid(),
                                       series_uid_of(CASE2_T2), again.append, total=20)
    assert folder2 == folder and [p.cached for p in again] == [True]
    assert_same_volume(volume2, volume)


def test_cancel_mid_stream_keeps_nothing(server: ServerConfig, tmp_path: Path) -> None:
    cache = StudyCache(tmp_path / "c")
    cancel = threading.Event()
    series = series_uid_of(CASE2_T2)
    with pytest.raises(RetrievalCancelled):
        retrieve_volume(connect(server), cache, demo_study_uid(), series,
                        lambda p: cancel.set() if p.done == 4 else None, cancel, total=20)
    assert not cache.series_complete(server.address, demo_study_uid(), series)
    assert not cache.series_dir(server.address, demo_study_uid(), series).exists()
    assert not decode_threads()


@pytest.mark.parametrize("expected", [20, None])
def test_instances_in_any_order(tmp_path: Path, expected: int | None) -> None:
    folder = tmp_path / "s"
    shutil.copytree(CASE2_T2, folder)
    assembler = SeriesAssembler(folder, expected=expected)
    for path in sorted(folder.glob("*.dcm"), reverse=True):
        assembler.add(path)
    volume = assembler.finish()
    assert assembler.fallback is None and assembler.decoded == 20
    assert_same_volume(volume, load_volume(folder))


def test_an_odd_folder_is_read_the_usual_way(tmp_path: Path) -> None:
    folder = tmp_path / "s"
    shutil.copytree(CASE2_T2, folder)
    (folder / "zz-notes.dcm").write_bytes(b"not DICOM at all")
    assembler = SeriesAssembler(folder, expected=21)
    for path in sorted(folder.glob("*.dcm")):
        assembler.add(path)
    volume = assembler.finish()
    assert assembler.fallback is not None
    assert_same_volume(volume, load_volume(folder))


def test_planes_reordered_in_place() -> None:
    from coloc_viewer.pacs.assemble import _permute_in_place

    rng = np.random.default_rng(1)
    for n in (1, 2, 7, 40):
        buffer = rng.random((n, 3, 2)).astype(np.float32)
        order = [int(i) for i in rng.permutation(n)]
        want = buffer[order]
        assert np.array_equal(_permute_in_place(buffer, order), want)
