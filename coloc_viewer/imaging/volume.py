"""The one image type of coloc_viewer: a 3-D volume in physical units."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(eq=False)
class Volume:
    """Voxels (z, y, x) in physical units after the modality LUT, plus geometry.

    Conventions (the same as SimpleITK/ITK, so conversion is a transpose):

    * ``voxels``: float32 array indexed ``[z, y, x]`` (slice, row, column).
    * ``spacing``: ``(z, y, x)`` in mm.
    * ``origin``: patient LPS coordinates ``(x, y, z)`` in mm of voxel ``[0, 0, 0]``.
    * ``direction``: 3 x 3 matrix; column ``j`` is the LPS unit vector of ITK index axis
      ``j`` (0 = column/x, 1 = row/y, 2 = slice/z) -- SimpleITK's ``GetDirection()``
      reshaped to 3 x 3.
    * ``metadata``: small PHI-free dict (modality, series_uid, description, window,
      monochrome1, units, warnings, ...). Never holds patient name, ID or birth date.
    * ``source``: where it came from (a path); ``files``: the sorted source files for DICOM
      series (needed to write DICOM SEG that references them).
    * ``private``: identifying values (e.g. ``patient_name``) kept only so the GUI can show
      them in the title bar; excluded from ``repr`` and never written to logs or exports.
    """

    voxels: np.ndarray
    spacing: tuple[float, float, float] = (1.0, 1.0, 1.0)
    origin: tuple[float, float, float] = (0.0, 0.0, 0.0)
    direction: np.ndarray = field(default_factory=lambda: np.eye(3))
    metadata: dict[str, Any] = field(default_factory=dict)
    source: str = ""
    files: tuple[str, ...] = ()
    private: dict[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.voxels = np.asarray(self.voxels)
        if self.voxels.ndim == 2:
            self.voxels = self.voxels[np.newaxis]
        if self.voxels.ndim != 3:
            raise ValueError(f"Volume voxels must be 2-D or 3-D, got shape {self.voxels.shape}")
        self.spacing = tuple(float(s) for s in self.spacing)  # type: ignore[assignment]
        self.origin = tuple(float(o) for o in self.origin)  # type: ignore[assignment]
        self.direction = np.asarray(self.direction, dtype=float).reshape(3, 3)

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(int(n) for n in self.voxels.shape)  # type: ignore[return-value]

    def index_to_lps(self, zyx: np.ndarray | tuple[float, float, float]) -> np.ndarray:
        """Patient LPS position (x, y, z) in mm of a (possibly fractional) index [z, y, x]."""
        idx = np.asarray(zyx, dtype=float)[..., ::-1]  # -> (x, y, z) index order
        return np.asarray(self.origin) + (idx * np.asarray(self.spacing)[::-1]) @ self.direction.T

    def slice_position_mm(self, z: int) -> float:
        """Position of slice ``z`` along the slice normal, in mm (for the status bar)."""
        return float(self.index_to_lps((z, 0, 0)) @ self.direction[:, 2])

    def __repr__(self) -> str:
        return (f"Volume(shape={self.shape}, spacing={self.spacing}, "
                f"modality={self.metadata.get('modality')!r}, source={self.source!r})")
