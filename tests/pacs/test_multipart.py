"""The streaming multipart reader: every way the stream can be cut into chunks gives the
same parts; a stream cut inside a part is an error, never a short series."""

from __future__ import annotations

import pytest

from coloc_viewer.pacs.multipart import boundary_of, iter_parts

BOUNDARY = b"b0und4ry"


def body(parts: list[bytes]) -> bytes:
    out = b"preamble\r\n"
    for p in parts:
        out += b"--" + BOUNDARY + b"\r\nContent-Type: application/dicom\r\n\r\n" + p + b"\r\n"
    return out + b"--" + BOUNDARY + b"--\r\n"


PARTS = [b"DICM" + bytes(range(256)) * 3, b"", b"\r\n--b0und4r", b"x" * 1000]


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, 1000, 10**6])
def test_parts_survive_any_chunking(size: int) -> None:
    data = body(PARTS)
    chunks = [data[i:i + size] for i in range(0, len(data), size)]
    assert list(iter_parts(chunks, BOUNDARY)) == PARTS


def test_a_cut_stream_is_an_error() -> None:
    data = body(PARTS)
    cut = data[: len(data) // 2]
    with pytest.raises(ValueError, match="ended inside a part"):
        list(iter_parts([cut], BOUNDARY))


def test_boundary_from_the_header() -> None:
    ct = 'multipart/related; type="application/dicom"; boundary="abc-123"'
    assert boundary_of(ct) == b"abc-123"
    assert boundary_of("multipart/related; boundary=xyz; type=application/dicom") == b"xyz"
    with pytest.raises(ValueError, match="not a multipart"):
        boundary_of("application/json")


def body_with_lengths(parts: list[bytes], lie: int = 0) -> bytes:
    """As Orthanc sends it: each part with a Content-Length header (off by ``lie``)."""
    out = b""
    for p in parts:
        out += (b"--" + BOUNDARY + b"\r\nContent-Type: application/dicom\r\nContent-Length: "
                + str(len(p) + lie).encode() + b"\r\nMIME-Version: 1.0\r\n\r\n" + p + b"\r\n")
    return out + b"--" + BOUNDARY + b"--\r\n"


@pytest.mark.parametrize("lie", [0, 5, -3])
@pytest.mark.parametrize("size", [1, 5, 64, 1000, 10**6])
def test_parts_with_content_length(size: int, lie: int) -> None:
    """Cut at the announced length; a wrong length falls back to the delimiter search."""
    parts = [p for p in PARTS if len(p) >= 3]
    data = body_with_lengths(parts, lie)
    chunks = [data[i:i + size] for i in range(0, len(data), size)]
    assert list(iter_parts(chunks, BOUNDARY)) == parts


def test_a_cut_stream_with_lengths_is_an_error() -> None:
    data = body_with_lengths(PARTS)
    with pytest.raises(ValueError, match="ended inside a part"):
        list(iter_parts([data[: len(data) - 40]], BOUNDARY))
