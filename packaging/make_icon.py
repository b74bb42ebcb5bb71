"""Draw the application icon: an MR slice, a heat-map blob and the ROI outline over it.

Writes ``resources/icons/coloc-viewer-<size>.png`` (16 ... 512), ``coloc-viewer.png``
(256, the one the viewer and the desktop entry use), ``coloc-viewer.ico`` (Windows) and
``coloc-viewer.icns`` (macOS). Run from the repository root:
``.venv/bin/python packaging/make_icon.py``. Needs numpy and Pillow only.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
MASTER = 1024


def _grid(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates in [-1, 1] (y down, x right)."""
    c = (np.arange(n) + 0.5) / n * 2.0 - 1.0
    return np.meshgrid(c, c, indexing="ij")


def _smoothstep(edge0: float, edge1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - edge0) / (edge1 - edge0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _rounded_square(y: np.ndarray, x: np.ndarray, half: float, radius: float,
                    px: float) -> np.ndarray:
    """Coverage (0..1) of a rounded square, anti-aliased over ``px``."""
    qy, qx = np.abs(y) - (half - radius), np.abs(x) - (half - radius)
    sdf = np.hypot(np.maximum(qy, 0), np.maximum(qx, 0)) + np.minimum(np.maximum(qy, qx), 0)
    return 1.0 - _smoothstep(-px, px, sdf - radius)


def _heat(t: np.ndarray) -> np.ndarray:
    """A black-red-yellow-white ramp (the viewer's overlay colours, simplified)."""
    stops = np.array([[0.0, 0, 0, 0], [0.35, 0.70, 0.05, 0.05], [0.7, 1.0, 0.55, 0.0],
                      [1.0, 1.0, 1.0, 0.75]])
    return np.stack([np.interp(t, stops[:, 0], stops[:, k]) for k in (1, 2, 3)], axis=-1)


def draw(n: int = MASTER) -> np.ndarray:
    """The icon as an (n, n, 4) uint8 RGBA array."""
    y, x = _grid(n)
    px = 2.0 / n
    rgb = np.zeros((n, n, 3))
    # background tile: dark slate, lighter at the top
    tile = _rounded_square(y, x, 0.94, 0.2, px)
    rgb[:] = np.array([0.10, 0.13, 0.18]) + 0.06 * (1 - (y + 1) / 2)[..., None]
    # the "MR slice": an elliptical head with a brighter cortex ring and soft texture
    r_head = np.hypot(x / 0.66, (y - 0.02) / 0.76)
    head = 1.0 - _smoothstep(1.0 - 1.5 * px / 0.66, 1.0 + 1.5 * px / 0.66, r_head)
    texture = 0.05 * np.sin(9 * x + 3 * np.sin(5 * y)) * np.cos(7 * y)
    grey = 0.35 + 0.30 * np.exp(-((r_head - 0.88) / 0.07) ** 2) + 0.12 * (1 - r_head) + texture
    rgb = rgb * (1 - head[..., None]) + np.clip(grey, 0, 1)[..., None] * head[..., None]
    # the feature map: a warm blob, alpha-blended like the viewer's overlay
    blob = np.exp(-(((x - 0.18) / 0.27) ** 2 + ((y + 0.12) / 0.24) ** 2))
    alpha = 0.85 * _smoothstep(0.15, 0.6, blob) * head
    rgb = rgb * (1 - alpha[..., None]) + _heat(blob) * alpha[..., None]
    # the clinician's ROI: a green ring around the lesion, overlapping the blob
    ring = np.abs(np.hypot(x - 0.10, y + 0.05) - 0.36)
    ring_cov = 1.0 - _smoothstep(0.028 - px, 0.028 + px, ring)
    rgb = rgb * (1 - ring_cov[..., None]) + np.array([0.25, 0.95, 0.45]) * ring_cov[..., None]
    rgba = np.concatenate([rgb, tile[..., None]], axis=-1)
    return np.round(np.clip(rgba, 0, 1) * 255).astype(np.uint8)


def write_icons(out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    master = Image.fromarray(draw(), mode="RGBA")
    written = []
    for size in SIZES:
        path = out_dir / f"coloc-viewer-{size}.png"
        master.resize((size, size), Image.Resampling.LANCZOS).save(path, optimize=True)
        written.append(path)
    main = out_dir / "coloc-viewer.png"
    master.resize((256, 256), Image.Resampling.LANCZOS).save(main, optimize=True)
    ico = out_dir / "coloc-viewer.ico"
    master.save(ico, sizes=[(s, s) for s in (16, 24, 32, 48, 64, 128, 256)])
    icns = out_dir / "coloc-viewer.icns"
    master.resize((512, 512), Image.Resampling.LANCZOS).save(icns)
    return [*written, main, ico, icns]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).resolve().parents[1] / "resources" / "icons")
    for path in write_icons(parser.parse_args().out):
        print(f"{path} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
