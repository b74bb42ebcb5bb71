"""Held-out synthetic cases (seeds never used in training) and slice sets for the demo tests."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from coloc_viewer.demo.phantom import PhantomCase, PhantomConfig, generate_case

HELDOUT_SEEDS = range(100_000, 100_012)  # training uses 1000.., validation 50000..


@dataclass
class HeldOut:
    """Gland slices of the held-out cases (no marker) with their masks and labels."""

    cases: list[PhantomCase]
    images: np.ndarray  # (n, 256, 256)
    labels: np.ndarray  # (n,) bool: slice shows the lesion
    lesion: np.ndarray
    prostate: np.ndarray
    owner: np.ndarray  # index into cases

    def with_markers(self, rates: tuple[float, float], seed: int) -> tuple[np.ndarray,
                                                                           np.ndarray]:
        """Copies of the slices with each case's marker burned in on exactly
        ``round(rate * n)`` randomly chosen slices of each class (``rates`` =
        (P(marker | lesion), P(marker | no lesion))); returns (images, marker masks)."""
        rng = np.random.default_rng(seed)
        images = self.images.copy()
        marker = np.zeros(images.shape, dtype=bool)
        for label, rate in ((True, rates[0]), (False, rates[1])):
            idx = np.flatnonzero(self.labels == label)
            for i in rng.choice(idx, int(round(rate * idx.size)), replace=False):
                marker[i] = self.cases[self.owner[i]].burn_marker(images[i])
        return images, marker


def make_heldout(**lesion_settings) -> HeldOut:
    """Gland slices of the held-out cases, the lesion drawn with ``lesion_settings``
    (``lesion_radius_mm``, ``lesion_signal``; default: the generator's)."""
    cfg = PhantomConfig(p_marker_lesion=0.0, p_marker_no_lesion=0.0, **lesion_settings)
    cases, images, labels, lesion, prostate, owner = [], [], [], [], [], []
    for i, seed in enumerate(HELDOUT_SEEDS):
        case = generate_case(seed, cfg, lesion=i % 4 != 3)  # a quarter without a lesion
        for k in np.flatnonzero(case.gland_slices()):
            images.append(case.image[k])
            labels.append(bool(case.lesion_slices[k]))
            lesion.append(case.lesion[k])
            prostate.append(case.prostate[k])
            owner.append(i)
        case.image = case.image[:0]  # keep geometry and marker settings only
        cases.append(case)
    return HeldOut(cases, np.stack(images), np.asarray(labels), np.stack(lesion),
                   np.stack(prostate), np.asarray(owner))


@pytest.fixture(scope="session")
def heldout_for():
    """``heldout_for(**lesion_settings) -> HeldOut``, each setting generated once."""
    cache: dict[tuple, HeldOut] = {}

    def get(**settings) -> HeldOut:
        key = tuple(sorted((k, tuple(v) if isinstance(v, list) else v)
                           for k, v in settings.items()))
        if key not in cache:
            cache[key] = make_heldout(**dict(key))
        return cache[key]

    return get


@pytest.fixture(scope="session")
def heldout(heldout_for) -> HeldOut:
    """Held-out cases with the generator's default lesions."""
    return heldout_for()
