"""Display normalisation of raw maps, kept apart from the maps themselves.

* :func:`normalize_per_image` -- each map on its own: (m - min) / (max - min).
* :class:`CommonScale` -- one fixed [low, high] for a set of maps so side-by-side maps are
  comparable (Li et al. 2024): ``high`` = 90th percentile of the maps' maxima, ``low`` =
  50th percentile of their minima. Saved as a small JSON file::

      {"kind": "coloc_viewer.common_scale", "version": 1, "low": 0.0, "high": 3.2,
       "n_maps": 40, "upper_percentile": 90.0, "lower_percentile": 50.0}
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from coloc_viewer.errors import InputError

KIND = "coloc_viewer.common_scale"


def normalize_per_image(map2d: np.ndarray) -> np.ndarray:
    """Min-max to [0, 1] over this map alone (a constant map gives zeros)."""
    m = np.asarray(map2d, dtype=np.float64)
    lo, hi = float(np.nanmin(m)), float(np.nanmax(m))
    out = (m - lo) / (hi - lo) if hi > lo else np.zeros_like(m)
    return out.astype(np.float32)


@dataclass(frozen=True)
class CommonScale:
    """A fixed display range [low, high] shared by many maps."""

    low: float
    high: float
    n_maps: int = 0
    upper_percentile: float = 90.0
    lower_percentile: float = 50.0

    @classmethod
    def calibrate(cls, maps: Iterable[np.ndarray], upper_percentile: float = 90.0,
                  lower_percentile: float = 50.0) -> CommonScale:
        """high = ``upper_percentile`` of the maps' maxima, low = ``lower_percentile`` of
        their minima (numpy's linear percentile)."""
        maxima, minima = [], []
        for m in maps:
            a = np.asarray(m, dtype=np.float64)
            maxima.append(float(np.nanmax(a)))
            minima.append(float(np.nanmin(a)))
        if not maxima:
            raise ValueError("CommonScale.calibrate needs at least one map")
        high = float(np.percentile(maxima, upper_percentile))
        low = float(np.percentile(minima, lower_percentile))
        return cls(low, high, len(maxima), float(upper_percentile), float(lower_percentile))

    def apply(self, map2d: np.ndarray) -> np.ndarray:
        """(m - low) / (high - low) clipped to [0, 1], float32."""
        m = np.asarray(map2d, dtype=np.float64)
        span = self.high - self.low
        out = (m - self.low) / span if span > 0 else (m > self.low).astype(np.float64)
        return np.clip(out, 0.0, 1.0).astype(np.float32)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the JSON file (atomically: temp file, then rename)."""
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps({"kind": KIND, "version": 1, **asdict(self)}, indent=1),
                       encoding="utf-8")
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> CommonScale:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            if data.get("kind") != KIND:
                raise ValueError("not a coloc_viewer common scale file")
            return cls(float(data["low"]), float(data["high"]), int(data.get("n_maps", 0)),
                       float(data.get("upper_percentile", 90.0)),
                       float(data.get("lower_percentile", 50.0)))
        except FileNotFoundError:
            raise InputError("common scale file not found", path) from None
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
            raise InputError(f"not a common scale file ({err})", path) from None
