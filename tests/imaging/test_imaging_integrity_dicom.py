"""Issue 14, failures 2, 3 and 7 and deliverables 1 and 3: DICOM pixel data is what the file
holds (frame counts, fragments, byte order, 4:2:2 sizing) and limits are checked before any
allocation."""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pydicom
import pytest
from pydicom.pixels import apply_modality_lut

from coloc_viewer import limits
from coloc_viewer.errors import InputError
from coloc_viewer.imaging.dicom_write import write_dicom_series
from coloc_viewer.imaging.inspect import scan
from coloc_viewer.imaging.load import load_volume

LUMA = np.array([0.299, 0.587, 0.114], np.float32)

CAPPED_CHILD = r"""
import resource, sys
from coloc_viewer.errors import InputError
from coloc_viewer.imaging.inspect import scan
from coloc_viewer.imaging.load import load_volume

def vm_size():
    with open("/proc/self/status") as fh:
        return next(int(ln.split()[1]) * 1024 for ln in fh if ln.startswith("VmSize:"))

cap = vm_size() + 512 * 1024**2
resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
for reader in (scan, load_volume):
    try:
        reader(sys.argv[1])
        print("LOADED")
    except InputError as exc:
        print("InputError:", exc.reason)
"""


def _hostile(src, dst, frames=2_000_000_000):
    ds = pydicom.dcmread(src)
    ds.NumberOfFrames = frames
    ds.save_as(dst)
    return dst


@pytest.mark.parametrize("name", ["MR_small_RLE.dcm", "MR_small_jp2klossless.dcm"])
def test_two_billion_frames_fail_fast(pydicom_data, tmp_path, name):
    path = _hostile(pydicom_data / name, tmp_path / name)
    start = time.perf_counter()
    for reader in (load_volume, scan):
        with pytest.raises(InputError, match="2000000000 frames"):
            reader(path)
    assert time.perf_counter() - start < 2.0


@pytest.mark.parametrize("name", ["MR_small_RLE.dcm", "MR_small_jp2klossless.dcm"])
def test_two_billion_frames_under_a_memory_cap(pydicom_data, tmp_path, name):
    path = _hostile(pydicom_data / name, tmp_path / name)
    out = subprocess.run([sys.executable, "-c", CAPPED_CHILD, str(path)], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.splitlines()
    assert len(lines) == 2 and all("2000000000 frames" in ln for ln in lines), out.stdout


def test_declared_frames_checked_against_fragments(pydicom_data, tmp_path):
    """Within MAX_FRAMES, but more frames than the encapsulated data has fragments."""
    path = _hostile(pydicom_data / "MR_small_RLE.dcm", tmp_path / "rle.dcm", frames=5000)
    with pytest.raises(InputError, match="5000 frames but the encapsulated pixel data holds 1"):
        load_volume(path)


def test_folder_with_one_hostile_file_loads_its_other_series(pydicom_data, tmp_path):
    _hostile(pydicom_data / "MR_small_RLE.dcm", tmp_path / "hostile.dcm")
    write_dicom_series(np.ones((3, 8, 8)), tmp_path / "good")
    vol = load_volume(tmp_path)
    assert vol.shape == (3, 8, 8)
    assert any("hostile.dcm" in w and "frames" in w for w in vol.metadata["warnings"])
    assert [s.shape for s in scan(tmp_path)] == [[3, 8, 8]]


def test_uncompressed_pixel_data_longer_than_declared_frames(pydicom_data, tmp_path):
    ds = pydicom.dcmread(pydicom_data / "MR_small.dcm")
    ds.PixelData = ds.PixelData * 2  # two frames held, one declared
    ds.save_as(tmp_path / "long.dcm")
    with pytest.raises(InputError, match="more than the 8192"):
        load_volume(tmp_path / "long.dcm")


@pytest.mark.parametrize("pair", [("OBXXXX1A.dcm", "OBXXXX1A_expb.dcm"),
                                  ("OBXXXX1A_2frame.dcm", "OBXXXX1A_expb_2frame.dcm")])
def test_big_endian_8bit_ow_follows_the_byte_order(pydicom_data_store, pair):
    little, big = (load_volume(pydicom_data_store / name) for name in pair)
    assert big.metadata["transfer_syntax"] == pydicom.uid.ExplicitVRBigEndian
    np.testing.assert_array_equal(big.voxels, little.voxels)


def test_ybr_full_422_uncompressed_is_sized_for_subsampling(pydicom_data):
    path = pydicom_data / "SC_ybr_full_422_uncompressed.dcm"
    ds = pydicom.dcmread(path)
    assert ds.PhotometricInterpretation == "YBR_FULL_422"
    reference = ds.pixel_array[..., :3].astype(np.float32) @ LUMA
    vol = load_volume(path)
    np.testing.assert_allclose(vol.voxels[0], apply_modality_lut(reference, ds), atol=1e-3)


def test_memory_estimate_checked_before_allocation(tmp_path, monkeypatch):
    write_dicom_series(np.ones((4, 64, 64)), tmp_path / "s")
    monkeypatch.setattr(limits, "available_memory", lambda: 10_000)
    with pytest.raises(InputError, match="memory is available"):
        load_volume(tmp_path / "s")


def test_limits_are_named_and_documented():
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "imaging.md").read_text()
    names = ["MAX_VOLUME_BYTES", "MAX_VOLUME_VOXELS", "MAX_FRAMES", "MAX_HEADER_BYTES",
             "MAX_MODEL_INPUT_EDGE", "MAX_MODEL_INPUT_VOXELS", "MEMORY_SHARE"]
    assert all(isinstance(getattr(limits, n), int | float) for n in names)
    assert [n for n in names if f"`{n}`" not in doc] == []
