"""Scores on real images (pydicom's MR_small, nibabel's example4d) through independent pipelines.

The "saliency" is a coarse block-mean of the image (a feature-map-sized 2-D array) and the ROI
is the brightest tissue, so the maps have the structure of real anatomy. References are built
with torch for upsampling and Quantus / scikit-learn / brute force for the scores.
"""

from __future__ import annotations

import nibabel
import numpy as np
import pydicom
import pytest
import torch
import torch.nn.functional as F
from metrics_reference import brute_force_p_value
from sklearn.metrics import roc_auc_score

from coloc_viewer.metrics.scores import score
from coloc_viewer.metrics.volume import score_volume

quantus = pytest.importorskip("quantus")
torch.set_num_threads(1)


def block_mean(image: np.ndarray, block: int) -> np.ndarray:
    h, w = (n // block * block for n in image.shape)
    return image[:h, :w].reshape(h // block, block, w // block, block).mean(axis=(1, 3))


def torch_bilinear(small: np.ndarray, shape) -> np.ndarray:
    t = torch.from_numpy(small.astype(np.float64))[None, None]
    return F.interpolate(t, size=shape, mode="bilinear", align_corners=False)[0, 0].numpy()


@pytest.fixture(scope="module")
def mr_slice(pydicom_data) -> np.ndarray:
    ds = pydicom.dcmread(pydicom_data / "MR_small.dcm")
    return ds.pixel_array.astype(np.float64) * float(getattr(ds, "RescaleSlope", 1)) + float(
        getattr(ds, "RescaleIntercept", 0)
    )


def test_mr_slice_scores_equal_quantus_and_sklearn_after_torch_upsampling(mr_slice):
    small = block_mean(mr_slice, 8) - np.percentile(mr_slice, 40)  # signed, 8 x 8
    roi = mr_slice >= np.percentile(mr_slice, 90)
    result = score(small, roi, p_value=False)

    on_grid = torch_bilinear(small, roi.shape)
    positive = np.maximum(on_grid, 0)[None, None]
    kw = dict(disable_warnings=True, display_progressbar=False)
    args = dict(
        model=None,
        x_batch=positive,
        y_batch=np.zeros(1, int),
        a_batch=positive,
        s_batch=roi[None, None].astype(float),
        channel_first=True,
    )
    rma = quantus.RelevanceMassAccuracy(**kw)(**args)[0]
    assert result["relevance_mass"] == pytest.approx(rma, rel=1e-9)
    assert result["auroc"] == pytest.approx(roc_auc_score(roi.ravel(), on_grid.ravel()), rel=1e-9)
    assert result["pointing_game"] == bool(roi[on_grid == on_grid.max()].any())
    assert 0.1 < result["relevance_mass"] < 0.9  # the bright tissue holds part of the map


def test_mr_slice_p_value_with_a_body_mask_equals_brute_force(mr_slice):
    small = block_mean(mr_slice, 4)  # 16 x 16, non-negative
    body = mr_slice > np.percentile(mr_slice, 25)  # the head, not the background
    ys, xs = np.nonzero(mr_slice >= np.percentile(mr_slice, 97))
    roi = np.zeros_like(body)
    roi[ys[:40], xs[:40]] = True  # a bright, irregular ROI of 40 pixels
    body |= roi
    result = score(small, roi, body_mask=body)
    relevance = np.maximum(torch_bilinear(small, roi.shape), 0)
    expected_p, expected_n = brute_force_p_value(relevance[None], roi[None], body[None])
    assert result["n_shifts"] == expected_n > 0
    assert result["p_value"] == pytest.approx(expected_p, rel=1e-9)


def test_example4d_volume_pooled_scores(nibabel_data):
    data = np.asarray(nibabel.load(nibabel_data / "example4d.nii.gz").dataobj)[..., 0]
    vol = np.transpose(data, (2, 1, 0)).astype(np.float64)  # (z, y, x) = (24, 96, 128)
    vol = vol[8:14]  # six slices keep the test quick
    maps = np.stack([block_mean(s, 8) for s in vol])  # (6, 12, 16) coarse maps
    roi = vol >= np.percentile(vol, 95)
    roi[[0, 3]] = False  # two slices without ROI
    result = score_volume(maps, roi, p_value=False)
    used = [k for k in range(len(vol)) if roi[k].any()]
    assert [row["slice"] for row in result["slices"]] == used

    stack = np.stack([torch_bilinear(maps[k], roi.shape[1:]) for k in used])
    mask = roi[used]
    agg = result["aggregate"]
    positive = np.maximum(stack, 0)
    assert agg["relevance_mass"] == pytest.approx(positive[mask].sum() / positive.sum(), rel=1e-9)
    assert agg["auroc"] == pytest.approx(roc_auc_score(mask.ravel(), stack.ravel()), rel=1e-9)
    assert agg["pointing_game"] == bool(mask[stack == stack.max()].any())
    assert agg["n_roi"] == int(mask.sum()) and agg["n_slices"] == len(used)
