"""A streaming reader of ``multipart/related`` bodies (WADO-RS answers): each part's bytes
as soon as it is complete, never the whole body in memory, no re-encoding."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator

__all__ = ["boundary_of", "iter_parts"]

_LENGTH = re.compile(rb"(?im)^content-length:[ \t]*(\d+)[ \t]*\r?$")


def boundary_of(content_type: str) -> bytes:
    """The boundary parameter of a ``multipart/related`` Content-Type header."""
    match = re.search(r'boundary="?([^";]+)"?', content_type or "", re.IGNORECASE)
    if not content_type.lower().startswith("multipart/") or match is None:
        raise ValueError(f"not a multipart answer ({content_type.split(';')[0] or 'none'})")
    return match.group(1).strip().encode("ascii")


def _content_length(headers: bytes) -> int | None:
    match = _LENGTH.search(headers)
    return int(match.group(1)) if match else None


def iter_parts(chunks: Iterable[bytes], boundary: bytes) -> Iterator[bytes]:
    """The body of each part (headers dropped) of a multipart stream given in chunks.
    A stream that ends inside a part raises ValueError (a truncated transfer).

    A part with a ``Content-Length`` header (Orthanc sends one) is cut at that length when
    the delimiter follows it there, without searching its bytes for the boundary (that
    search was half of the reader's time); otherwise, or when the length is wrong, the
    delimiter is searched for."""
    opening, delimiter = b"--" + boundary, b"\r\n--" + boundary
    buf = bytearray()
    pos = 0  # where the unread part of buf starts
    in_part = False  # past a boundary line: buf[pos:] starts with a part's headers
    search_from = 0
    for chunk in itertools.chain(chunks, [None]):  # None: the stream ended
        final = chunk is None
        if chunk is not None:
            buf += chunk
        while True:
            if not in_part:
                i = buf.find(opening, pos)
                if i < 0 or len(buf) < i + len(opening) + 2:
                    break
                if buf[i + len(opening):i + len(opening) + 2] == b"--":
                    return  # the closing boundary
                eol = buf.find(b"\r\n", i)
                if eol < 0:
                    break
                pos, in_part, search_from = eol + 2, True, 0
            head = buf.find(b"\r\n\r\n", pos)
            if head < 0:
                break
            start = head + 4
            length = _content_length(bytes(buf[pos:head]))
            if length is not None and search_from == 0:
                end = start + length
                if len(buf) < end + len(delimiter) and not final:
                    break  # wait for the rest of the part
                if buf[end:end + len(delimiter)] != delimiter:
                    end = -1  # a wrong length: search for the delimiter instead
            else:
                end = -1
            if end < 0:
                end = buf.find(delimiter, max(start, search_from))
                if end < 0:
                    search_from = max(start, len(buf) - len(delimiter))
                    break
            with memoryview(buf) as view:
                part = bytes(view[start:end])  # one copy (a bytearray slice is another)
            pos, in_part = end + 2, False  # buf[pos:] starts with the next boundary line
            yield part
        if pos:
            del buf[:pos]  # cheap: CPython moves the start of a bytearray
            search_from = max(0, search_from - pos)
            pos = 0
    if in_part or buf[pos:].strip():
        raise ValueError("the multipart answer ended inside a part (transfer cut short)")
