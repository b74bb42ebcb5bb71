"""The text a PDF shows, for tests that look for (or must not find) strings in a report."""

from __future__ import annotations

import re
import zlib


def pdf_text(data: bytes) -> str:
    """The strings shown by a PDF's (Flate-compressed) content streams, one per Tj/TJ op.

    A stream is taken up to ``\\nendstream`` and inflated with a decompressor that leaves
    trailing bytes alone: stripping an optional ``\\r`` before ``endstream`` (as a regex
    ``\\r?\\n`` would) cuts a compressed stream whose own last byte is 0x0D, about one in 256,
    and its text was then silently missed."""
    out = []
    for raw in re.findall(rb"stream\r?\n(.*?)\nendstream", data, re.S):
        try:
            stream = zlib.decompressobj().decompress(raw)
        except zlib.error:
            stream = raw
        if b"BT" not in stream or b"ET" not in stream:
            continue  # an image or font stream, not page text
        for arr, single in re.findall(rb"\[([^\]\n]*)\]\s*TJ|\(([^\n]*?)\)\s*Tj", stream):
            parts = re.findall(rb"\((.*?)\)", arr) if arr else [single]
            out.append(b"".join(parts).decode("latin-1"))
    return "\n".join(out)
