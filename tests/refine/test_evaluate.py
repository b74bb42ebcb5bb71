"""The evaluation's ROC-AUC against a brute-force pair count, and its slice-row reading."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from coloc_viewer.errors import InputError
from coloc_viewer.refine.evaluate import model_metrics, roc_auc


def test_roc_auc_equals_the_pair_count_with_ties_half():
    rng = np.random.default_rng(0)
    y = rng.random(40) < 0.4
    s = np.round(rng.random(40), 1)  # many ties
    pairs = [(a, b) for a, b in itertools.product(s[y], s[~y])]
    direct = sum(1.0 if a > b else 0.5 if a == b else 0.0 for a, b in pairs) / len(pairs)
    assert roc_auc(y, s) == pytest.approx(direct, abs=1e-12)
    assert roc_auc([1, 1], [0.2, 0.3]) is None


def _row(model, roi, z, pixels, prob, mass, p, label=None):
    return {"model": model, "method": "gradcam", "roi": roi, "slice": z, "case_id": "c",
            "roi_pixels": pixels, "target_probability": prob, "relevance_mass": mass,
            "p_value": p, "label": label}


def test_model_metrics_reads_lesion_and_shortcut_rows():
    rows = [_row("m", "lesion", 0, 10, 0.9, 0.5, 0.01), _row("m", "marker", 0, 5, 0.9, 0.2, 0.2),
            _row("m", "lesion", 1, 0, 0.2, None, None), _row("m", "marker", 1, 5, 0.2, 0.4, 0.01),
            _row("other", "lesion", 0, 10, 0.1, 0.0, 0.9)]
    got = model_metrics(rows, "m", "lesion", "marker", ("no", "yes"))
    assert got["auc"] == 1.0 and got["slices"] == 2
    assert got["lesion_mass"] == 0.5 and got["shortcut_mass"] == pytest.approx(0.3)
    assert got["lesion_p05"] == 1.0 and got["shortcut_p05"] == 0.5
    with pytest.raises(InputError, match="not a class"):
        model_metrics([_row("m", "lesion", 0, 1, 0.5, 0.1, 0.1, label="maybe")], "m",
                      "lesion", None, ("no", "yes"))
