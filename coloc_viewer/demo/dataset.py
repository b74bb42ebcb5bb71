"""Slice-level samples (image, lesion label, masks) drawn from generated phantom cases."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from coloc_viewer.demo.phantom import PhantomConfig, generate_case


@dataclass(eq=False)
class SliceSamples:
    """Stacked slices (n, h, w) with labels and the three ROI masks of each slice."""

    images: np.ndarray
    labels: np.ndarray
    lesion: np.ndarray
    prostate: np.ndarray
    marker: np.ndarray
    case_seed: np.ndarray
    slice_index: np.ndarray
    pixel_mm: float

    def __len__(self) -> int:
        return int(self.labels.size)


def slice_samples(seeds: Iterable[int], config: PhantomConfig, *,
                  negatives_per_positive: float = 2.0, gland_share: float = 0.7,
                  rng_seed: int = 0) -> SliceSamples:
    """Every lesion slice of the cases, plus ``negatives_per_positive`` lesion-free slices each.

    Negatives are drawn mostly (``gland_share``) from slices through the gland, so the model
    cannot tell lesion slices apart by anatomy alone.
    """
    rng = np.random.default_rng(rng_seed)
    images, labels, les, pro, mar, seeds_out, ks = [], [], [], [], [], [], []
    n_pos = n_neg = 0
    for seed in seeds:
        case = generate_case(int(seed), config)
        pos = np.flatnonzero(case.lesion_slices)
        gland = np.flatnonzero(case.gland_slices() & ~case.lesion_slices)
        other = np.flatnonzero(~case.gland_slices() & ~case.lesion_slices)
        n_pos += pos.size
        want = max(int(round(negatives_per_positive * n_pos)) - n_neg, 1 if pos.size == 0 else 0)
        n_g = min(gland.size, int(round(want * gland_share)))
        n_o = min(other.size, want - n_g)
        neg = np.concatenate([rng.choice(gland, n_g, replace=False),
                              rng.choice(other, n_o, replace=False)]).astype(int)
        n_neg += neg.size
        for k in np.concatenate([pos, neg]).astype(int):
            images.append(case.image[k])
            labels.append(bool(case.lesion_slices[k]))
            les.append(case.lesion[k])
            pro.append(case.prostate[k])
            mar.append(case.marker[k])
            seeds_out.append(int(seed))
            ks.append(int(k))
    return SliceSamples(
        images=np.stack(images).astype(np.float32), labels=np.asarray(labels),
        lesion=np.stack(les), prostate=np.stack(pro), marker=np.stack(mar),
        case_seed=np.asarray(seeds_out), slice_index=np.asarray(ks),
        pixel_mm=float(config.pixel_mm),
    )


def clean_config(base: PhantomConfig | None = None) -> PhantomConfig:
    """Marker independent of the lesion (on half of all slices): nothing to exploit."""
    from dataclasses import replace

    return replace(base or PhantomConfig(), p_marker_lesion=0.5, p_marker_no_lesion=0.5)


def shortcut_config(base: PhantomConfig | None = None, correlation: float = 0.95) -> PhantomConfig:
    """Marker on ``correlation`` of lesion slices and ``1 - correlation`` of the others."""
    from dataclasses import replace

    return replace(base or PhantomConfig(), p_marker_lesion=correlation,
                   p_marker_no_lesion=1.0 - correlation)
