"""The mpMRI phantom (T2 + ADC + high-b DWI) and the bundled 3-D multi-sequence model
``demo-mpmri``: own grids, one anatomy in physical space, the shipped case, the card."""

from __future__ import annotations

import json

import numpy as np
import pytest

from coloc_viewer.demo.mpmri import SERIES_FOLDERS, generate_mpmri, slab_weights
from coloc_viewer.demo.phantom import PhantomConfig, generate_case
from coloc_viewer.imaging.load import load_volume
from coloc_viewer.imaging.resample import resample_to
from coloc_viewer.resources import demo_dir, models_dir

SEED = 700_001  # far from the training (300000..) and held-out (900000..) seeds
SAMPLE_SEEDS = range(950_000, 950_008)  # a fresh held-out sample for the AUC check


@pytest.fixture(scope="module")
def case():
    return generate_mpmri(SEED, PhantomConfig(), lesion=True)


def _centroid_mm(mask: np.ndarray, vol) -> np.ndarray:
    """Physical (x, y, z) mm of a mask's centroid on ``vol``'s (axial, identity) grid."""
    k, j, i = np.argwhere(mask).mean(axis=0)
    sz, sy, sx = vol.spacing
    return np.asarray(vol.origin) + np.array([i * sx, j * sy, k * sz])


def test_diffusion_series_have_their_own_coarser_grid(case):
    vols = case.volumes()
    t2, adc, dwi = vols["T2"], vols["ADC"], vols["DWI"]
    assert t2.shape == (20, 256, 256) and tuple(t2.spacing) == (3.0, 0.625, 0.625)
    for vol in (adc, dwi):
        assert vol.shape == (15, 128, 128)
        assert tuple(vol.spacing) == (4.0, 1.25, 1.25)
        assert not np.allclose(vol.origin, t2.origin)
        assert vol.metadata["description"] != t2.metadata["description"]
    assert np.array_equal(case.t2.image, generate_case(SEED, PhantomConfig(), lesion=True).image)
    # the same slab (within one slice), centred on the same in-plane point
    t2_mid = np.asarray(t2.origin) + (np.array(t2.shape[::-1]) - 1) / 2 * t2.spacing[::-1]
    adc_mid = np.asarray(adc.origin) + (np.array(adc.shape[::-1]) - 1) / 2 * adc.spacing[::-1]
    assert np.allclose(t2_mid[:2], adc_mid[:2]) and abs(t2_mid[2] - adc_mid[2]) < 1.0


def test_lesion_is_dark_on_adc_and_bright_on_dwi_at_the_t2_lesion(case):
    vols = case.volumes()
    t2 = vols["T2"]
    lesion, gland = case.t2.lesion, case.t2.prostate
    ks = np.flatnonzero(case.t2.lesion_slices)
    rest = gland.copy()
    rest[:ks.min()] = rest[ks.max() + 1:] = False
    rest &= ~lesion
    adc = resample_to(vols["ADC"], t2).voxels
    dwi = resample_to(vols["DWI"], t2).voxels
    assert adc[lesion].mean() < 0.75 * adc[rest].mean()
    assert dwi[lesion].mean() > 1.5 * dwi[rest].mean()
    assert case.t2.image[lesion].mean() < 0.75 * case.t2.image[rest].mean()
    # the brightest DWI voxels of the gland are the lesion's, found on the T2 grid
    n = int(lesion.sum()) // 2
    top = np.argsort(np.where(gland, dwi, -np.inf), axis=None)[-n:]
    assert lesion.ravel()[top].mean() > 0.6
    # the lesion of the diffusion grid sits where the T2 lesion is (physical mm)
    gap = _centroid_mm(case.dwi_lesion, vols["DWI"]) - _centroid_mm(lesion, t2)
    assert np.linalg.norm(gap) < 2.5, gap


def test_no_lesion_case_has_no_dwi_hot_spot():
    case = generate_mpmri(SEED + 1, PhantomConfig(), lesion=False)
    assert not case.has_lesion and not case.dwi_lesion.any()


def test_slab_weights_average_thin_slices_into_thick_ones():
    w = slab_weights(np.arange(4) * 3.0, 3.0, np.array([1.5, 3.0]), 6.0)
    assert np.allclose(w, [[0.5, 0.5, 0.0, 0.0], [0.25, 0.5, 0.25, 0.0]])
    assert np.allclose(slab_weights(np.arange(3.0), 1.0, np.array([-5.0]), 1.0), [[1, 0, 0]])


def test_shipped_case_has_three_series_matching_the_card_roles():
    from coloc_viewer.imaging.inspect import scan
    from coloc_viewer.imaging.series_match import RoleSpec, match_roles
    from coloc_viewer.viewer.study import demo_cases

    folder = demo_dir() / "case-01"
    card = json.loads((models_dir() / "demo-mpmri.json").read_text())
    roles = [RoleSpec(r["role"], r["series"]) for r in card["inputs"]]
    infos = scan(folder)
    matched = match_roles(roles, infos)
    by_key = {s.series_key: s for s in infos}
    assert [by_key[matched[r]].description for r in ("T2", "ADC", "DWI")] == [
        "T2 AX demo case-01", "ADC (10^-6 mm2/s) AX demo case-01", "DWI b1400 AX demo case-01"]
    # the viewer still opens the T2 series of the case by default
    assert any(c.image == folder / SERIES_FOLDERS["T2"] for c in demo_cases())
    vols = {r: load_volume(folder / f) for r, f in SERIES_FOLDERS.items()}
    assert vols["ADC"].shape == (15, 128, 128) and vols["T2"].shape == (20, 256, 256)
    lesion = load_volume(folder / "lesion.nii.gz").voxels > 0
    info = json.loads((folder / "case.json").read_text())
    gland = generate_case(info["seed"], PhantomConfig(), lesion=True).prostate
    rest = gland & ~lesion & lesion.any(axis=(1, 2))[:, None, None]
    adc = resample_to(vols["ADC"], vols["T2"]).voxels
    dwi = resample_to(vols["DWI"], vols["T2"]).voxels
    assert adc[lesion].mean() < 0.75 * adc[rest].mean()
    assert dwi[lesion].mean() > 1.5 * dwi[rest].mean()


@pytest.fixture(scope="module")
def model():
    import coloc_viewer

    return coloc_viewer.load_model("demo-mpmri", device="cpu")


def test_card_loads_as_a_3d_multi_series_monai_model(model):
    card = model.card
    assert card.architecture.startswith("monai:") and card.spatial_dims == 3
    assert len(card.input_size) == 3 and card.in_channels == 3
    assert [i["role"] for i in card.inputs] == ["T2", "ADC", "DWI"]
    assert card.task == "classification" and card.normalization["mode"] == "zscore"
    weights = card.weights_path()
    assert weights.suffix == ".safetensors" and weights.stat().st_size < 5 * 1024**2


@pytest.mark.slow
def test_explains_the_shipped_case_in_3d(model):
    from coloc_viewer.explain.engine import explain
    from coloc_viewer.metrics.volume import score_volume

    folder = demo_dir() / "case-01"
    vols = {r: load_volume(folder / f) for r, f in SERIES_FOLDERS.items()}
    expl = explain(model, vols, methods=("gradcam",))
    assert expl.slice_index is None and expl.inputs == ["T2", "ADC", "DWI"]
    assert expl.prediction["label"] == "lesion"
    cam = expl.cam_map("gradcam")
    assert cam.shape == (20, 256, 256)
    lesion = load_volume(folder / "lesion.nii.gz").voxels > 0
    agg = score_volume(cam, lesion, shifts="3d")["aggregate"]  # a 3-D model's volume scores
    assert agg["relevance_mass"] > 3 * lesion.mean()  # beats a uniform map
    assert agg["p_value"] < 0.05


@pytest.mark.slow
def test_heldout_auc_on_a_fresh_sample(model):
    import torch

    from coloc_viewer.model.input_stack import gather_inputs

    probs, labels = [], []
    for i, seed in enumerate(SAMPLE_SEEDS):
        case = generate_mpmri(seed, PhantomConfig(), lesion=i % 2 == 0)
        inp = gather_inputs(model.card, case.volumes())
        x, _ = model.preprocess(inp.channels, inp.spacing)
        with torch.no_grad():
            probs.append(float(torch.softmax(model.module(x), 1)[0, 1]))
        labels.append(case.has_lesion)
    y = np.asarray(labels)
    p = np.asarray(probs)
    auc = ((p[y][:, None] > p[~y][None]).mean() + 0.5 * (p[y][:, None] == p[~y][None]).mean())
    assert auc >= 0.85, (auc, probs)
