"""The synthetic pelvic phantom: reproducible, anatomically ordered, marker as configured."""

from dataclasses import replace

import numpy as np
import pytest

from coloc_viewer.demo.dataset import clean_config, shortcut_config, slice_samples
from coloc_viewer.demo.phantom import PhantomConfig, generate_case


@pytest.fixture(scope="module")
def case():
    return generate_case(77, lesion=True)


def test_same_seed_same_case(case):
    again = generate_case(77, lesion=True)
    np.testing.assert_array_equal(case.image, again.image)
    np.testing.assert_array_equal(case.lesion, again.lesion)
    assert not np.array_equal(case.image, generate_case(78, lesion=True).image)


def test_geometry_and_masks(case):
    assert case.image.shape == (20, 256, 256)
    assert case.spacing == (3.0, 0.625, 0.625)
    assert case.lesion.any() and case.prostate.any()
    assert not (case.lesion & ~case.prostate).any(), "the lesion lies inside the gland"
    assert 2 <= case.lesion_slices.sum() <= 5, "a small focus across a few slices"
    assert np.isfinite(case.image).all() and (case.image >= 0).all(), "Rician magnitude"


def test_lesion_is_low_signal_in_the_peripheral_zone(case):
    k = int(case.lesion.sum(axis=(1, 2)).argmax())
    img, les, gland = case.image[k], case.lesion[k], case.prostate[k]
    ring = gland & ~les
    assert np.median(img[les]) < 0.75 * np.percentile(img[ring], 75)


def test_marker_follows_the_configured_correlation():
    cfg = replace(shortcut_config(PhantomConfig(n_slices=12, size=96, pixel_mm=1.6)))
    lesion_with, lesion_all, other_with, other_all = 0, 0, 0, 0
    for seed in range(40):
        c = generate_case(seed, cfg, lesion=True)
        lesion_with += int((c.marker_slices & c.lesion_slices).sum())
        lesion_all += int(c.lesion_slices.sum())
        other_with += int((c.marker_slices & ~c.lesion_slices).sum())
        other_all += int((~c.lesion_slices).sum())
    assert lesion_with / lesion_all > 0.85
    assert other_with / other_all < 0.12


def test_marker_is_bright_and_in_a_corner(case):
    marked = generate_case(77, lesion=True, marker_slices=np.ones(20, bool))
    k = 10
    box = marked.marker[k]
    rows, cols = np.flatnonzero(box.any(1)), np.flatnonzero(box.any(0))
    near_edge = min(rows[0], 255 - rows[-1]) < 40 and min(cols[0], 255 - cols[-1]) < 40
    assert near_edge
    assert marked.image[k][box].max() > np.percentile(case.image[k], 99)
    # anatomy and noise do not depend on the marker (separate random streams)
    np.testing.assert_array_equal(marked.image[k][~box], case.image[k][~box])


def test_slice_samples_balance_and_labels():
    cfg = clean_config(PhantomConfig(n_slices=10, size=96, pixel_mm=1.6))
    s = slice_samples(range(6), cfg)
    assert s.images.shape[1:] == (96, 96)
    assert s.labels.sum() > 0 and (~s.labels).sum() >= s.labels.sum()
    assert all(s.lesion[i].any() == s.labels[i] for i in range(len(s)))
