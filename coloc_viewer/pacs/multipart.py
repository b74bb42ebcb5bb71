"""A streaming reader of ``multipart/related`` bodies (WADO-RS answers): each part's bytes
as soon as it is complete, never the whole body in memory, no re-encoding."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

__all__ = ["boundary_of", "iter_parts"]


def boundary_of(content_type: str) -> bytes:
    """The boundary parameter of a ``multipart/related`` Content-Type header."""
    match = re.search(r'boundary="?([^";]+)"?', content_type or "", re.IGNORECASE)
    if not content_type.lower().startswith("multipart/") or match is None:
        raise ValueError(f"not a multipart answer ({content_type.split(';')[0] or 'none'})")
    return match.group(1).strip().encode("ascii")


def iter_parts(chunks: Iterable[bytes], boundary: bytes) -> Iterator[bytes]:
    """The body of each part (headers dropped) of a multipart stream given in chunks.
    A stream that ends inside a part raises ValueError (a truncated transfer)."""
    opening, delimiter = b"--" + boundary, b"\r\n--" + boundary
    buf = bytearray()
    in_part = False  # past a boundary line: buf starts with a part's headers
    search_from = 0
    for chunk in chunks:
        buf += chunk
        while True:
            if not in_part:
                i = buf.find(opening)
                if i < 0 or len(buf) < i + len(opening) + 2:
                    break
                if buf[i + len(opening):i + len(opening) + 2] == b"--":
                    return  # the closing boundary
                eol = buf.find(b"\r\n", i)
                if eol < 0:
                    break
                del buf[:eol + 2]
                in_part, search_from = True, 0
            head = buf.find(b"\r\n\r\n")
            if head < 0:
                break
            end = buf.find(delimiter, max(head + 4, search_from))
            if end < 0:
                search_from = max(head + 4, len(buf) - len(delimiter))
                break
            yield bytes(buf[head + 4:end])
            del buf[:end + 2]  # buf now starts with the next boundary line
            in_part = False
    if in_part or buf.strip():
        raise ValueError("the multipart answer ended inside a part (transfer cut short)")
