"""Synthetic axial T2-weighted pelvic MRI (prostate) cases with lesion, gland and marker masks.

A case is a small-field-of-view axial T2 stack (default 20 slices of 256 x 256 at
0.625 x 0.625 x 3 mm, apex at slice 0, bladder towards the last slices): subcutaneous fat,
gluteal, obturator internus and levator ani muscles, femoral heads and pubic bones with dark
cortex, rectum, bladder (bright urine), seminal vesicles and a prostate with a bright
peripheral zone, a darker nodular transition zone, anterior fibromuscular stroma and a thin
dark capsule. Optionally a lesion: a small irregular low-signal focus in the peripheral zone
across a few slices. Then a smooth bias field, Rician noise and, last, a burned-in marker
letter near a corner on some slices, with configurable ``P(marker | lesion slice)`` and
``P(marker | no lesion slice)`` -- the confounder a shortcut model learns.

Everything is drawn from ``seed``. Anatomy, noise and marker use separate random streams,
so the same seed with different marker settings gives the same anatomy, lesion and noise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

import numpy as np

from coloc_viewer.demo.font import glyph
from coloc_viewer.demo.painter import SlicePainter, smooth_noise
from coloc_viewer.imaging.volume import Volume

ROI_NAMES = ("lesion", "prostate", "marker")
CORNERS = ("top-left", "top-right", "bottom-left", "bottom-right")


@dataclass(frozen=True)
class PhantomConfig:
    """Settings of the generator (recorded in model cards as training provenance)."""

    size: int = 256
    n_slices: int = 20
    pixel_mm: float = 0.625
    slice_mm: float = 3.0
    p_lesion_case: float = 0.7
    """Chance that a case has a lesion (ignored when ``generate_case(lesion=...)``)."""
    p_marker_lesion: float = 0.5
    """P(marker on a slice | the slice shows the lesion)."""
    p_marker_no_lesion: float = 0.5
    """P(marker on a slice | the slice shows no lesion)."""
    marker_letters: str = "LR"
    marker_corners: tuple[str, ...] = CORNERS
    marker_scale: int = 3
    noise_sigma: tuple[float, float] = (9.0, 16.0)
    """Range of the Rician noise sigma (signal units; fat is about 650)."""
    lesion_radius_mm: tuple[float, float] = (5.0, 8.0)
    lesion_slices: tuple[int, int] = (2, 4)
    lesion_signal: float = 1.0
    """Lesion signal relative to the default low-T2 focus (higher = subtler lesion)."""

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(eq=False)
class PhantomCase:
    """One generated case: image (z, y, x) float32, three boolean ROIs, geometry, truth."""

    image: np.ndarray
    lesion: np.ndarray
    prostate: np.ndarray
    marker: np.ndarray
    spacing: tuple[float, float, float]
    origin: tuple[float, float, float]
    seed: int
    marker_letter: str
    marker_corner: str
    marker_value: float = 1000.0
    marker_offset: tuple[int, int] = (8, 8)
    marker_scale: int = 3
    direction: np.ndarray = field(default_factory=lambda: np.eye(3))

    @property
    def lesion_slices(self) -> np.ndarray:
        """Per slice: does it show the lesion (the slice-level label)."""
        return self.lesion.any(axis=(1, 2))

    @property
    def marker_slices(self) -> np.ndarray:
        """Per slice: is the marker burned in."""
        return self.marker.any(axis=(1, 2))

    def gland_slices(self, min_area_px: int = 400) -> np.ndarray:
        """Per slice: does the prostate cover at least ``min_area_px`` pixels."""
        return self.prostate.sum(axis=(1, 2)) >= min_area_px

    def burn_marker(self, image2d: np.ndarray) -> np.ndarray:
        """Burn this case's marker into a 2-D slice (in place); returns the marker ROI."""
        return burn_marker(image2d, self.marker_letter, self.marker_corner, self.marker_scale,
                           self.marker_value, self.marker_offset)

    def rois(self) -> dict[str, np.ndarray]:
        """The three named ROIs: ``lesion``, ``prostate``, ``marker``."""
        return {"lesion": self.lesion, "prostate": self.prostate, "marker": self.marker}

    def to_volume(self, description: str = "T2 AX synthetic pelvis") -> Volume:
        return Volume(
            voxels=self.image, spacing=self.spacing, origin=self.origin,
            direction=self.direction, source=f"phantom:{self.seed}",
            metadata={"modality": "MR", "description": description,
                      "window": (450.0, 900.0), "units": "a.u."},
        )


# -- anatomy ------------------------------------------------------------------------------

_TISSUE = {  # mean T2-weighted signal (arbitrary units)
    "fat": 640.0, "muscle": 170.0, "marrow": 470.0, "cortex": 35.0, "urine": 960.0,
    "bladder_wall": 240.0, "pz": 600.0, "tz": 330.0, "afms": 190.0, "capsule": 230.0,
    "urethra": 480.0, "lesion": 215.0, "rectal_wall": 190.0, "mucosa": 330.0,
    "rectal_content": 90.0, "sv": 720.0, "nvb": 380.0, "cartilage": 260.0,
}
TISSUE_NAMES = tuple(_TISSUE)


def _profile(z: float, zc: float, half: float) -> float:
    """Cross-section scale of an ellipsoid (centre ``zc``, half length ``half``) at ``z``."""
    t = (z - zc) / half
    return float(np.sqrt(1 - t * t)) if abs(t) < 1 else 0.0


def _wobble(rng: np.random.Generator, amp: float, harmonics: tuple[int, ...] = (2, 3, 4)
            ) -> list[tuple[int, float, float]]:
    return [(k, float(rng.uniform(-amp, amp)), float(rng.uniform(0, 2 * np.pi)))
            for k in harmonics]


@dataclass
class _Anatomy:
    """Random per-case anatomy (mm, anatomy coordinates) drawn once per case."""

    rng: np.random.Generator
    angle: float = 0.0
    scale: float = 1.0
    shift: tuple[float, float] = (0.0, 0.0)
    tissue: dict[str, float] = field(default_factory=dict)
    gain: float = 1.0
    table: Mapping[str, float] | None = None

    def __post_init__(self) -> None:
        r = self.rng
        self.angle = float(np.deg2rad(r.uniform(-8, 8)))
        self.scale = float(r.uniform(0.9, 1.08))
        self.shift = (float(r.uniform(-6, 6)), float(r.uniform(-6, 6)))
        base = {**_TISSUE, **(self.table or {})}  # same keys, same order: same draws
        self.tissue = {k: v * float(r.uniform(0.92, 1.08)) for k, v in base.items()}
        self.gain = float(r.uniform(0.85, 1.2))
        self.body = (float(r.uniform(140, 165)), float(r.uniform(66, 74)))
        self.fat_mm = float(r.uniform(9, 20))
        self.gland = (float(r.uniform(18, 24)), float(r.uniform(14, 18)), float(r.uniform(17, 22)))
        self.gland_c = (float(r.uniform(-3, 3)), float(r.uniform(-3, 3)))
        self.gland_wobble = _wobble(r, 0.04)
        self.tz_frac = float(r.uniform(0.5, 0.72))  # BPH: a larger transition zone
        self.bladder = (float(r.uniform(30, 42)), float(r.uniform(24, 32)),
                        float(r.uniform(22, 30)))
        self.bladder_wobble = _wobble(r, 0.05)
        self.rectum = (float(r.uniform(12, 17)), float(r.uniform(9, 12)))
        self.rectal_gas = bool(r.random() < 0.5)
        self.femur_r = float(r.uniform(21, 25))
        self.femur_x = float(r.uniform(68, 78))
        self.femur_z = float(r.uniform(10, 22))


def _paint_background(p: SlicePainter, an: _Anatomy, tex_fine: np.ndarray,
                      tex_coarse: np.ndarray) -> np.ndarray:
    """Paint the parts that do not change along z (body, fat, muscles); returns the image."""
    t = an.tissue
    fat = t["fat"] * (1 + 0.04 * tex_coarse + 0.03 * tex_fine)
    muscle = t["muscle"] * (1 + 0.10 * tex_fine)
    bx, by = an.body
    # body outline: a broad ellipse plus two gluteal bulges, filled with fat
    p.paint(p.ellipse(0, 2, bx, by, wobble=[(2, 0.01, 0.0)]), fat)
    for s in (-1, 1):
        p.paint(p.ellipse(s * 48, 18, 62, 58), fat)
    f = an.fat_mm
    # anterior abdominal wall (rectus/pyramidalis) and gluteus maximus
    for s in (-1, 1):
        p.paint(p.ellipse(s * 14, -by + f + 5, 12, 5, s * 8), muscle)
        p.paint(p.ellipse(s * 60, 50 - 0.1 * f, 46, 24, s * 28), muscle)
    # levator ani: a dark sling around prostate and rectum, filled with pelvic fat
    p.ring(0, 14, 38, 29, 2.5, t["muscle"], fat)
    # obturator internus, lateral to the gland
    for s in (-1, 1):
        p.paint(p.ellipse(s * 43, -2, 9, 30, -s * 8), muscle)
    return p.image.copy()


def _paint_slice(p: SlicePainter, an: _Anatomy, z: float, tex_fine: np.ndarray,
                 tex_coarse: np.ndarray) -> np.ndarray:
    """Paint one slice at height ``z`` (mm, 0 = mid-gland) over the background already in
    ``p``; returns the prostate coverage."""
    t = an.tissue
    # bones: pubic bones (lower half of the stack), femoral heads/necks, ischial tuberosities
    marrow = t["marrow"] * (1 + 0.08 * tex_fine)
    if z < 8:
        for s in (-1, 1):
            p.ring(s * 11, -50, 9, 13, 1.8, t["cortex"], marrow, s * 25)
        p.paint(p.ellipse(0, -51, 2.2, 9), t["cartilage"])
    fr = an.femur_r * _profile(z, an.femur_z, an.femur_r)
    for s in (-1, 1):
        if fr > 4:
            p.ring(s * an.femur_x, -4, fr, fr, 2.2, t["cortex"], marrow)
        if z < an.femur_z:  # femoral neck below the head centre
            p.ring(s * (an.femur_x + 10), -2, 16, 13, 2.2, t["cortex"], marrow)
        if z < -6:
            p.ring(s * 52, 30, 10, 14, 2.0, t["cortex"], marrow, s * 20)
    # rectum (posterior, drifting back as it rises)
    ra, rb = an.rectum
    ry = 30 + 0.15 * z
    content = t["rectal_content"] if an.rectal_gas else t["mucosa"] * (1 + 0.15 * tex_fine)
    p.ring(0, ry, ra, rb, 3.0, t["rectal_wall"], t["mucosa"])
    p.paint(p.ellipse(0, ry, ra - 5, rb - 5, wobble=[(3, 0.15, 0.3)]), content)
    # bladder (upper slices) with a dark wall and bright urine
    ba, bb, bz = an.bladder
    gz = an.gland[2]
    bs = _profile(z, gz + 0.55 * bz, bz)
    if bs > 0.15:
        p.ring(0, -14, ba * bs, bb * bs, 3.0, t["bladder_wall"], t["urine"],
               wobble=an.bladder_wobble)
    # seminal vesicles, posterior to the bladder above the gland
    sv = _profile(z, gz + 4, 11)
    if sv > 0.2:
        sv_val = t["sv"] * (1 + 0.2 * tex_fine)
        for s in (-1, 1):
            p.ring(s * 16, 14, 15 * sv, 5.5 * sv, 1.2, t["capsule"], sv_val, -s * 25)
    # prostate: capsule, peripheral zone, transition zone, stroma, urethra, NVBs
    ga, gb, _ = an.gland
    gs = _profile(z, 0, gz)
    cx, cy = an.gland_c
    if gs <= 0.2:
        return np.zeros_like(p.image)
    a, b = ga * gs, gb * gs
    prostate = p.paint(p.ellipse(cx, cy, a + 0.8, b + 0.8, wobble=an.gland_wobble),
                       t["capsule"])
    pz = t["pz"] * (1 + 0.07 * tex_fine + 0.05 * tex_coarse)
    p.paint(p.ellipse(cx, cy, a, b, wobble=an.gland_wobble), pz)
    tzs = _profile(z, 0.25 * gz, 0.8 * gz)  # no transition zone at the apex
    if tzs > 0.2:
        tz = t["tz"] * (1 + 0.18 * tex_fine + 0.08 * tex_coarse)  # nodular BPH texture
        p.paint(p.ellipse(cx, cy - 0.25 * b, an.tz_frac * a * tzs, 0.62 * b * tzs,
                          wobble=[(3, 0.05, 1.0)]), tz)
        p.paint(p.ellipse(cx, cy - 0.9 * b, 0.5 * a, 0.28 * b), t["afms"], clip=prostate)
    p.paint(p.ellipse(cx, cy - 0.15 * b, 1.6, 1.6), t["urethra"])
    for s in (-1, 1):
        p.paint(p.ellipse(cx + s * 0.75 * (a + 2), cy + 0.7 * (b + 2), 2.4, 2.4), t["nvb"])
    return prostate


def _paint_lesion(p: SlicePainter, an: _Anatomy, centre: tuple[float, float], radius: float,
                  wobble: list, prostate: np.ndarray, tex_fine: np.ndarray,
                  signal: float = 1.0) -> np.ndarray:
    value = an.tissue["lesion"] * signal * (1 + 0.08 * tex_fine)
    inside = np.clip(prostate * 1.0, 0, 1)
    cov = p.paint(p.ellipse(centre[0], centre[1], radius, radius * 0.85, 20.0, wobble), value,
                  clip=inside)
    return np.zeros_like(p.image) if cov is None else cov


def _lesion_plan(rng: np.random.Generator, an: _Anatomy, cfg: PhantomConfig,
                 z_of: np.ndarray) -> dict[int, tuple[tuple[float, float], float, list]]:
    """Slices, centre, radius and shape of the lesion (a focus in the peripheral zone)."""
    gz = an.gland[2]
    candidates = np.flatnonzero(np.abs(z_of) < 0.55 * gz)
    n = int(rng.integers(cfg.lesion_slices[0], cfg.lesion_slices[1] + 1))
    start = int(rng.choice(candidates[: max(1, len(candidates) - n + 1)]))
    ks = [k for k in range(start, start + n) if k < len(z_of)]
    phi = float(rng.uniform(np.deg2rad(25), np.deg2rad(155)))  # posterior half of the gland
    side = float(rng.uniform(0.72, 0.82))
    r0 = float(rng.uniform(*cfg.lesion_radius_mm))
    plan = {}
    mid = (len(ks) - 1) / 2
    for i, k in enumerate(ks):
        gs = _profile(float(z_of[k]), 0, gz)
        a, b = an.gland[0] * gs, an.gland[1] * gs
        rad = a * b / np.hypot(b * np.cos(phi), a * np.sin(phi))
        c = (an.gland_c[0] + side * rad * np.cos(phi), an.gland_c[1] + side * rad * np.sin(phi))
        taper = 1.0 - 0.25 * abs(i - mid) / max(mid, 1)
        plan[k] = (c, r0 * taper, _wobble(rng, 0.16, (2, 3, 5)))
    return plan


def _bias_field(rng: np.random.Generator, size: int) -> np.ndarray:
    """A smooth multiplicative coil-sensitivity field (about 0.75 .. 1.25)."""
    v, u = np.mgrid[-1:1:size * 1j, -1:1:size * 1j]
    c = rng.uniform(-0.12, 0.12, 4)
    field = 1 + c[0] * u + c[1] * v + c[2] * u * v + 0.18 * (u**2 + v**2) * rng.uniform(0.5, 1.5)
    return (field / field.mean()).astype(np.float32)


def burn_marker(image: np.ndarray, letter: str, corner: str, scale: int, value: float,
                 offset: tuple[int, int]) -> np.ndarray:
    """Burn ``letter`` into ``image`` near ``corner``; returns the marker ROI (a padded box)."""
    sup = 4
    hi = glyph(letter, scale * sup).astype(np.float32)
    h, w = hi.shape[0] // sup, hi.shape[1] // sup
    cov = hi.reshape(h, sup, w, sup).mean(axis=(1, 3))  # anti-aliased glyph
    n = image.shape[0]
    r0 = offset[0] if corner.startswith("top") else n - offset[0] - h
    c0 = offset[1] if corner.endswith("left") else n - offset[1] - w
    region = image[r0:r0 + h, c0:c0 + w]
    region += cov * (value - region)
    roi = np.zeros(image.shape, dtype=bool)
    pad = 2
    roi[max(r0 - pad, 0):r0 + h + pad, max(c0 - pad, 0):c0 + w + pad] = True
    return roi


def generate_case(seed: int, config: PhantomConfig | None = None, *, lesion: bool | None = None,
                  marker_slices: np.ndarray | None = None,
                  tissue: Mapping[str, float] | None = None) -> PhantomCase:
    """Generate one case from ``seed``.

    ``lesion`` forces a lesion (True) or none (False); by default a lesion is drawn with
    ``config.p_lesion_case``. ``marker_slices`` (bool per slice) overrides the random marker
    placement (e.g. to put the marker exactly on the lesion slices). ``tissue`` replaces the
    mean signal of named tissues (keys of :data:`TISSUE_NAMES`): the same anatomy, lesion
    and noise in another contrast (used by :mod:`coloc_viewer.demo.mpmri`).
    """
    cfg = config or PhantomConfig()
    rng = np.random.default_rng([seed, 0])  # anatomy and lesion
    noise_rng = np.random.default_rng([seed, 1])
    marker_rng = np.random.default_rng([seed, 2])
    unknown = sorted(set(tissue or {}) - set(_TISSUE))
    if unknown:
        raise ValueError(f"unknown tissue names {unknown}; known: {', '.join(_TISSUE)}")
    an = _Anatomy(rng, table=tissue)
    n, size, px = cfg.n_slices, cfg.size, cfg.pixel_mm
    centre_k = rng.uniform(0.3, 0.42) * (n - 1)  # mid-gland slice; bladder above
    z_of = (np.arange(n) - centre_k) * cfg.slice_mm
    has_lesion = bool(rng.random() < cfg.p_lesion_case) if lesion is None else bool(lesion)
    plan = _lesion_plan(rng, an, cfg, z_of) if has_lesion else {}

    image = np.empty((n, size, size), dtype=np.float32)
    les = np.zeros((n, size, size), dtype=bool)
    gland = np.zeros((n, size, size), dtype=bool)
    tex_coarse = smooth_noise(rng, size, 6.0)
    background = _paint_background(SlicePainter(size, px, an.angle, an.scale, an.shift), an,
                                   smooth_noise(rng, size, 1.6), tex_coarse)
    for k in range(n):
        tex_fine = smooth_noise(rng, size, 1.6)
        p = SlicePainter(size, px, an.angle, an.scale, an.shift)
        p.image[:] = background
        cov = _paint_slice(p, an, float(z_of[k]), tex_fine, tex_coarse)
        gland[k] = cov >= 0.5
        if k in plan:
            c, r, wob = plan[k]
            les[k] = _paint_lesion(p, an, c, r, wob, cov, tex_fine, cfg.lesion_signal) >= 0.5
        image[k] = p.image
    les &= gland

    sigma = float(noise_rng.uniform(*cfg.noise_sigma))
    image *= an.gain * _bias_field(noise_rng, size)[np.newaxis]
    real = image + noise_rng.normal(0, sigma, image.shape).astype(np.float32)
    imag = noise_rng.normal(0, sigma, image.shape).astype(np.float32)
    image = np.sqrt(real * real + imag * imag)

    letter = str(marker_rng.choice(list(cfg.marker_letters)))
    corner = str(marker_rng.choice(list(cfg.marker_corners)))
    offset = (int(marker_rng.integers(6, 16)), int(marker_rng.integers(6, 16)))
    value = float(an.gain * marker_rng.uniform(0.95, 1.1) * 1000.0)
    if marker_slices is None:
        lesion_k = les.any(axis=(1, 2))
        prob = np.where(lesion_k, cfg.p_marker_lesion, cfg.p_marker_no_lesion)
        marker_slices = marker_rng.random(n) < prob
    marker = np.zeros_like(les)
    for k in np.flatnonzero(np.asarray(marker_slices, dtype=bool)):
        marker[k] = burn_marker(image[k], letter, corner, cfg.marker_scale, value, offset)

    origin = (-(size - 1) / 2 * px, -(size - 1) / 2 * px, float(z_of[0]))
    return PhantomCase(image=image.astype(np.float32), lesion=les, prostate=gland,
                       marker=marker, spacing=(cfg.slice_mm, px, px), origin=origin,
                       seed=seed, marker_letter=letter, marker_corner=corner,
                       marker_value=value, marker_offset=offset, marker_scale=cfg.marker_scale)
