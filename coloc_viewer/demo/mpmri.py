"""Multiparametric prostate MRI phantom: the T2 case plus ADC and high-b DWI series.

The diffusion series show the *same* anatomy and lesion as the T2 case in physical space,
on their own coarser grid (default 128 x 128 at 1.25 mm, 15 slices of 4 mm, the slab
shifted by 0.6 mm along z), as a scanner acquires them:

1. the anatomy of the case is painted twice more by :func:`generate_case` (same seed, so
   the same shapes, lesion and coil field) at the diffusion in-plane resolution with the
   b = 0 signal (:data:`S0`, fat suppressed) and the b = ``b_value`` signal
   ``S0 * exp(-b * ADC)`` of every tissue (:data:`ADC`; per-case variation drawn from the
   seed); partial-volume edges mix the signals, not the ADCs;
2. each is averaged over the thicker slices (box slice profile over the painted 3 mm
   slices) and gets Rician noise;
3. ADC = ln(S0 / S_b) / b in 10^-6 mm^2/s (as scanners store it), 0 where S0 is below
   five noise sigmas (air, cortical bone).

The lesion is dark on ADC and bright on high-b DWI. numpy + the imaging layer only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from pydicom.uid import generate_uid

from coloc_viewer.demo.phantom import PhantomCase, PhantomConfig, generate_case
from coloc_viewer.imaging.dicom_write import write_dicom_series
from coloc_viewer.imaging.volume import Volume

#: b = 0 signal per tissue (fat-suppressed echo-planar imaging, arbitrary units).
S0 = {
    "fat": 55.0, "muscle": 210.0, "marrow": 70.0, "cortex": 12.0, "urine": 900.0,
    "bladder_wall": 250.0, "pz": 520.0, "tz": 360.0, "afms": 230.0, "capsule": 260.0,
    "urethra": 600.0, "lesion": 420.0, "rectal_wall": 240.0, "mucosa": 360.0,
    "rectal_content": 40.0, "sv": 700.0, "nvb": 300.0, "cartilage": 200.0,
}
#: Apparent diffusion coefficient per tissue (10^-3 mm^2/s).
ADC = {
    "fat": 0.3, "muscle": 1.45, "marrow": 0.45, "cortex": 0.5, "urine": 2.9,
    "bladder_wall": 1.5, "pz": 1.75, "tz": 1.3, "afms": 1.05, "capsule": 1.3,
    "urethra": 2.2, "lesion": 0.75, "rectal_wall": 1.3, "mucosa": 1.6,
    "rectal_content": 1.0, "sv": 2.0, "nvb": 1.5, "cartilage": 1.3,
}
ADC_DESCRIPTION = "ADC (10^-6 mm2/s) AX demo"
DWI_DESCRIPTION = "DWI b1400 AX demo"
#: Series folder of each role in a demo case (``dicom/`` is the T2, opened by default).
SERIES_FOLDERS = {"T2": "dicom", "ADC": "adc", "DWI": "dwi"}


@dataclass(frozen=True)
class DiffusionGrid:
    """Geometry and noise of the diffusion series (ADC and DWI share the grid)."""

    size: int = 128
    pixel_mm: float = 1.25
    n_slices: int = 15
    slice_mm: float = 4.0
    z_shift_mm: float = -0.6
    """Shift of the slab centre against the T2 slab centre."""
    b_value: float = 1400.0
    noise_sigma: tuple[float, float] = (5.0, 8.0)
    adc_variation: float = 0.08
    """Per-case relative spread of each tissue's ADC."""
    lesion_adc: tuple[float, float] = (0.55, 0.85)
    """Range of the lesion ADC (10^-3 mm^2/s)."""

    def to_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}


@dataclass(eq=False)
class MpmriCase:
    """A T2 :class:`PhantomCase` plus ADC (10^-6 mm^2/s) and DWI (a.u.) on the diffusion grid.

    ``dwi_lesion`` is the lesion on the diffusion grid (share of the voxel >= 0.5);
    ``spacing`` (z, y, x) mm, ``origin`` (x, y, z) mm and ``direction`` are the diffusion
    grid's geometry."""

    t2: PhantomCase
    adc: np.ndarray
    dwi: np.ndarray
    dwi_lesion: np.ndarray
    spacing: tuple[float, float, float]
    origin: tuple[float, float, float]
    b_value: float
    direction: np.ndarray

    @property
    def has_lesion(self) -> bool:
        return bool(self.t2.lesion.any())

    def volumes(self) -> dict[str, Volume]:
        """``{"T2", "ADC", "DWI"}`` volumes, each on its own grid (the card's roles)."""
        def vol(voxels: np.ndarray, kind: str, description: str, window: tuple) -> Volume:
            return Volume(voxels=voxels, spacing=self.spacing, origin=self.origin,
                          direction=self.direction, source=f"phantom:{self.t2.seed}:{kind}",
                          metadata={"modality": "MR", "description": description,
                                    "window": window, "units": "a.u."})

        return {"T2": self.t2.to_volume(),
                "ADC": vol(self.adc, "adc", ADC_DESCRIPTION, (1400.0, 2400.0)),
                "DWI": vol(self.dwi, "dwi", DWI_DESCRIPTION, (90.0, 180.0))}


def slab_weights(z_src: np.ndarray, thick_src: float, z_dst: np.ndarray,
                 thick_dst: float) -> np.ndarray:
    """(len(z_dst), len(z_src)) weights averaging source slices (box profile ``thick_src``)
    over each destination slice (box profile ``thick_dst``); rows sum to 1 (the nearest
    source slice where a destination slice lies beyond the source slab)."""
    lo = np.maximum(z_dst[:, None] - thick_dst / 2, z_src[None] - thick_src / 2)
    hi = np.minimum(z_dst[:, None] + thick_dst / 2, z_src[None] + thick_src / 2)
    w = np.clip(hi - lo, 0.0, None)
    empty = w.sum(axis=1) == 0
    w[empty, np.abs(z_dst[empty, None] - z_src[None]).argmin(axis=1)] = 1.0
    return w / w.sum(axis=1, keepdims=True)


def _rician(rng: np.random.Generator, signal: np.ndarray, sigma: float) -> np.ndarray:
    real = signal + rng.normal(0.0, sigma, signal.shape)
    imag = rng.normal(0.0, sigma, signal.shape)
    return np.sqrt(real * real + imag * imag)


def generate_mpmri(seed: int, config: PhantomConfig | None = None,
                   grid: DiffusionGrid | None = None, *, lesion: bool | None = None,
                   marker_slices: np.ndarray | None = None) -> MpmriCase:
    """T2 case ``generate_case(seed, config, lesion=..., marker_slices=...)`` with its ADC and
    high-b DWI series (see the module docstring). The marker is burned into the T2 only."""
    cfg = config or PhantomConfig()
    grid = grid or DiffusionGrid()
    t2 = generate_case(seed, cfg, lesion=lesion, marker_slices=marker_slices)
    rng = np.random.default_rng([seed, 3])  # diffusion: its own stream
    adc = {k: v * float(rng.uniform(1 - grid.adc_variation, 1 + grid.adc_variation))
           for k, v in ADC.items()}
    adc["lesion"] = float(rng.uniform(*grid.lesion_adc))
    s_b = {k: S0[k] * float(np.exp(-grid.b_value * 1e-3 * adc[k])) for k in S0}
    # painted on the T2's slices (same lesion plan), at the diffusion in-plane resolution,
    # noise-free; the coil field of the seed stays (it cancels in the ADC)
    paint_cfg = replace(cfg, size=grid.size, pixel_mm=grid.pixel_mm, noise_sigma=(0.0, 0.0))
    none = np.zeros(cfg.n_slices, dtype=bool)
    b0 = generate_case(seed, paint_cfg, lesion=lesion, marker_slices=none, tissue=S0)
    bb = generate_case(seed, paint_cfg, lesion=lesion, marker_slices=none, tissue=s_b)

    z_t2 = t2.origin[2] + cfg.slice_mm * np.arange(cfg.n_slices)
    centre = float(z_t2.mean()) + grid.z_shift_mm
    z_dw = centre + grid.slice_mm * (np.arange(grid.n_slices) - (grid.n_slices - 1) / 2)
    w = slab_weights(z_t2, cfg.slice_mm, z_dw, grid.slice_mm)

    def thick(a: np.ndarray) -> np.ndarray:
        return np.tensordot(w, a.astype(np.float64), axes=([1], [0]))

    sigma = float(rng.uniform(*grid.noise_sigma))
    s0 = _rician(rng, thick(b0.image), sigma)
    sb = _rician(rng, thick(bb.image), sigma)
    with np.errstate(divide="ignore", invalid="ignore"):
        adc_map = np.log(s0 / np.maximum(sb, 1e-3)) / (grid.b_value * 1e-6)
    adc_map = np.where(s0 >= 5 * sigma, np.clip(adc_map, 0.0, 4000.0), 0.0)
    px = grid.pixel_mm
    origin = (-(grid.size - 1) / 2 * px, -(grid.size - 1) / 2 * px, float(z_dw[0]))
    return MpmriCase(t2=t2, adc=adc_map.astype(np.float32), dwi=sb.astype(np.float32),
                     dwi_lesion=thick(b0.lesion) >= 0.5,
                     spacing=(grid.slice_mm, px, px), origin=origin, b_value=grid.b_value,
                     direction=np.eye(3))


def write_diffusion_series(case: MpmriCase, case_folder: str | os.PathLike[str], *,
                           study_uid: str, frame_of_reference_uid: str, uid_seed: str,
                           patient_name: str, patient_id: str,
                           suffix: str = "") -> dict[str, str]:
    """Write the ADC and DWI series as DICOM MR series into ``case_folder/adc`` and
    ``case_folder/dwi`` (same study and frame of reference as the T2 series; series UIDs
    derived from ``uid_seed``). Returns {role: folder name}."""
    folder = Path(case_folder)
    common = dict(spacing=case.spacing, origin=case.origin, direction=case.direction,
                  modality="MR", study_uid=study_uid,
                  frame_of_reference_uid=frame_of_reference_uid, patient_name=patient_name,
                  patient_id=patient_id)
    series = {"ADC": (case.adc, ADC_DESCRIPTION, 1.0, (1400.0, 2400.0), 2,
                      ["DERIVED", "PRIMARY", "DIFFUSION", "ADC"]),
              "DWI": (case.dwi, DWI_DESCRIPTION, 0.1, (90.0, 180.0), 3,
                      ["ORIGINAL", "PRIMARY", "DIFFUSION", "TRACEW"])}
    for role, (voxels, text, slope, window, number, image_type) in series.items():
        write_dicom_series(
            voxels, folder / SERIES_FOLDERS[role], series_description=f"{text}{suffix}",
            rescale_slope=slope, window=window,
            series_uid=generate_uid(entropy_srcs=[uid_seed, role]),
            extra={"SeriesNumber": number, "ImageType": image_type,
                   "ScanningSequence": "EP", "EchoTime": "70", "RepetitionTime": "4500"},
            **common)
    return dict(SERIES_FOLDERS)
