"""A tiny bitmap font for the burned-in marker letters (scanner/technologist annotations)."""

from __future__ import annotations

import numpy as np

# 5 x 7 glyphs, '#' = ink. Only the letters the demo burns in.
_GLYPHS: dict[str, tuple[str, ...]] = {
    "L": ("#....", "#....", "#....", "#....", "#....", "#....", "#####"),
    "R": ("####.", "#...#", "#...#", "####.", "#.#..", "#..#.", "#...#"),
    "A": (".###.", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"),
    "P": ("####.", "#...#", "#...#", "####.", "#....", "#....", "#...."),
}


def letters() -> str:
    """The letters the font can draw."""
    return "".join(sorted(_GLYPHS))


def glyph(letter: str, scale: int = 1) -> np.ndarray:
    """Boolean bitmap (rows, cols) of ``letter``; each font pixel drawn ``scale`` x ``scale``."""
    try:
        rows = _GLYPHS[letter.upper()]
    except KeyError:
        raise ValueError(f"no glyph for {letter!r}; available: {letters()}") from None
    bitmap = np.array([[c == "#" for c in row] for row in rows], dtype=bool)
    return np.kron(bitmap, np.ones((scale, scale), dtype=bool)).astype(bool)
