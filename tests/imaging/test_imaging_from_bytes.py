"""Headers and pixels taken from a file's bytes already in memory (a PACS retrieval that
is still writing them) equal what reading the file gives, for every file of pydicom's test
set that the reader accepts, compressed ones included, without the file being read (it
does not exist yet); a cut-off copy is refused the same way."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from coloc_viewer.errors import InputError
from coloc_viewer.imaging.dicom_decode import FileDecoder
from coloc_viewer.imaging.dicom_headers import read_headers
from coloc_viewer.imaging.sources import FileRef


def _images(folder: Path) -> list[tuple[FileRef, list, bytes]]:
    out = []
    for path in sorted(folder.glob("*.dcm")):
        ref = FileRef(str(path))
        try:
            found = read_headers(ref)
        except ValueError:
            continue
        if isinstance(found, list) and found:
            out.append((ref, found, path.read_bytes()))
    return out


def _same(a: list, b: list) -> bool:
    """Frame headers equal field by field (some fields hold numpy arrays), the file
    reference aside."""
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        for field in dataclasses.fields(x):
            if field.name == "ref":
                continue
            u, v = getattr(x, field.name), getattr(y, field.name)
            if isinstance(u, np.ndarray) or isinstance(v, np.ndarray):
                if not np.array_equal(u, v):
                    return False
            elif u != v:
                return False
    return True


def test_headers_and_pixels_from_bytes_equal_the_file(pydicom_data: Path,
                                                     tmp_path: Path) -> None:
    images = _images(pydicom_data)
    fast = slow = 0
    for ref, frames, data in images:
        unwritten = FileRef(str(tmp_path / ref.name))  # where a retrieval is writing it
        from_bytes = read_headers(unwritten, data)
        assert isinstance(from_bytes, list) and _same(from_bytes, frames), ref.name
        assert all(f.ref == unwritten for f in from_bytes)
        f = frames[0]
        if f.rows * f.cols * max(1, f.n_frames) > 4_000_000:
            continue
        rows = list(range(len(frames)))
        want = np.zeros((len(frames), f.rows, f.cols), np.float32)
        got = np.full_like(want, np.nan)
        try:
            FileDecoder(frames).decode_into(want, rows)
        except InputError:
            with pytest.raises(InputError):
                FileDecoder(from_bytes).decode_into(got, rows, data)
            continue
        FileDecoder(from_bytes).decode_into(got, rows, data)
        np.testing.assert_array_equal(got, want, err_msg=ref.name)
        if all(fr.pixel_offset is not None for fr in frames):
            fast += 1
        else:
            slow += 1
    assert not any(tmp_path.iterdir())
    # both paths (raw bytes; pydicom and its decoders) were exercised on real files
    assert len(images) > 40 and fast >= 5 and slow >= 5


def test_cut_off_bytes_are_refused(pydicom_data: Path) -> None:
    ref = FileRef(str(pydicom_data / "MR_small.dcm"))
    data = Path(ref.path).read_bytes()
    frames = read_headers(ref, data)
    assert isinstance(frames, list) and frames[0].pixel_offset is not None
    out = np.empty((1, frames[0].rows, frames[0].cols), np.float32)
    with pytest.raises(InputError, match="truncated"):
        FileDecoder(frames).decode_into(out, [0], data[:frames[0].pixel_offset + 100])
