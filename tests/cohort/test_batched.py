"""The batched fast path equals explain() slice by slice (differential test)."""

from __future__ import annotations

import numpy as np
import pytest

from coloc_viewer.cohort.batched import explain_slices
from coloc_viewer.explain.engine import explain


@pytest.fixture(scope="module")
def case(models, cohort):
    from coloc_viewer.imaging.load import load_volume
    from coloc_viewer.model.loading import load_model

    data = cohort["manifest"].parent / "data"
    return load_model(str(models[1])), load_volume(data / "c2_img.nii.gz")


@pytest.mark.parametrize("rank", ["contribution", "max", "mean", "gradient"])
def test_batched_equals_explain(case, rank):
    model, vol = case
    methods = ("gradcam", "gradcam++", "layercam", "cam")
    got = explain_slices(model, vol, [0, 2, 3, 4], rank=rank, methods=methods, batch_size=3)
    assert [e.slice_index for e in got] == [0, 2, 3, 4]
    assert all(e.plan == "chain-batched" for e in got)
    for e in got:
        ref = explain(model, vol, e.slice_index, rank=rank, methods=methods)
        assert e.layer == ref.layer and e.target == ref.target
        assert e.prediction["index"] == ref.prediction["index"]
        np.testing.assert_allclose(e.prediction["probabilities"],
                                   ref.prediction["probabilities"], rtol=1e-5)
        np.testing.assert_allclose(e.activations, ref.activations, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(e.gradient_weights, ref.gradient_weights, rtol=1e-4,
                                   atol=1e-5 * float(np.abs(ref.gradient_weights).max()))
        big = float(np.abs(ref.importance).max()) or 1.0
        np.testing.assert_allclose(e.importance, ref.importance, rtol=1e-4, atol=1e-5 * big)
        assert e.top_channel == ref.top_channel
        np.testing.assert_allclose(e.top_map, ref.top_map, rtol=1e-4, atol=1e-5)
        for m in methods:
            scale = float(np.abs(ref.cam_map(m)).max()) or 1.0
            np.testing.assert_allclose(e.cam_map(m), ref.cam_map(m), rtol=1e-4,
                                       atol=1e-5 * scale)
        assert e.decomposition["exact"] == ref.decomposition["exact"]


def test_fallbacks_are_explain_itself(case):
    model, vol = case
    for kwargs in ({"rank": "ablation", "methods": ("gradcam",)},
                   {"rank": "contribution", "methods": ("scorecam:4",)},
                   {"rank": "contribution", "methods": ("gradcam",), "batch_size": 1}):
        got = explain_slices(model, vol, [1, 3], **kwargs)
        assert all(e.plan != "chain-batched" for e in got)
        kw = {k: v for k, v in kwargs.items() if k != "batch_size"}
        ref = explain(model, vol, 3, **kw)
        np.testing.assert_array_equal(got[1].importance, ref.importance)
    with pytest.raises(Exception, match="out of range"):
        explain_slices(model, vol, [9], rank="max")
