"""The two bundled reference models on held-out synthetic cases, through the public API.

``demo-clean`` must find lesions and look at them; ``demo-shortcut`` must score as well when
the marker follows its training correlation, worse when the marker is independent, and its
maps must land on the marker rather than on the lesion or the gland. The measured numbers
are written to ``artifacts/demo_validation.json`` (and recorded in docs/models/).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from coloc_viewer.explain.engine import explain
from coloc_viewer.metrics.scores import score
from coloc_viewer.model.loading import load_model

MODELS = ("demo-clean", "demo-shortcut")
ROIS = ("lesion", "prostate", "marker")
SHORTCUT_RATES = (0.95, 0.03)  # P(marker | lesion slice), P(marker | other): its training
INDEPENDENT_RATES = (0.5, 0.5)


@pytest.fixture(scope="module")
def models():
    return {name: load_model(name, device="cpu") for name in MODELS}


def _probabilities(model, images: np.ndarray) -> np.ndarray:
    """P(lesion) per slice, preprocessed by the model's own card pipeline."""
    x = torch.cat([model.preprocess(img, (0.625, 0.625))[0] for img in images])
    with torch.no_grad():
        return torch.softmax(model.module(x), dim=1)[:, model.card.positive_class].numpy()


def _lesion_settings(model) -> dict:
    """The lesion settings of the generator the model was trained on (from its card)."""
    card = json.loads(Path(model.card.path).read_text())
    gen = card["training"]["generator_settings"]
    return {k: gen[k] for k in ("lesion_radius_mm", "lesion_signal") if k in gen}


@pytest.fixture(scope="module")
def aucs(models, heldout_for):
    """Slice-level ROC-AUC on held-out cases drawn like each model's training cases."""
    out = {}
    for name, model in models.items():
        data = heldout_for(**_lesion_settings(model))
        for setting, rates in (("training_marker", SHORTCUT_RATES),
                               ("independent_marker", INDEPENDENT_RATES)):
            images, _ = data.with_markers(rates, seed=11)
            out[(name, setting)] = roc_auc_score(data.labels, _probabilities(model, images))
    return out


@pytest.fixture(scope="module")
def positives(models, heldout):
    """Scores of the top map and Grad-CAM on every lesion slice, with the marker burned in
    (the shortcut's training situation): {model: {map: {roi: [score dicts]}}}."""
    images, marker = heldout.with_markers((1.0, 0.0), seed=12)
    out = {name: {"top_map": {r: [] for r in ROIS}, "gradcam": {r: [] for r in ROIS}}
           for name in MODELS}
    for i in np.flatnonzero(heldout.labels):
        rois = {"lesion": heldout.lesion[i], "prostate": heldout.prostate[i],
                "marker": marker[i]}
        for name, model in models.items():
            ex = explain(model, images[i], slice_index=int(i), methods=("gradcam",))
            for kind, sal in (("top_map", ex.top_map), ("gradcam", ex.cam_map("gradcam"))):
                for roi_name, roi in rois.items():
                    out[name][kind][roi_name].append(score(sal, roi))
    return out


def _median(scores: list[dict], key: str = "relevance_mass") -> float:
    vals = [s[key] for s in scores if s[key] is not None]
    return float(np.median(vals)) if vals else 0.0


def _enrichment(scores: list[dict]) -> float:
    """Median of relevance_mass / (ROI area / image area): 1 = no more than the ROI's share."""
    vals = [s["relevance_mass"] / (s["n_roi"] / 256**2) for s in scores
            if s["relevance_mass"] is not None and s["n_roi"]]
    return float(np.median(vals)) if vals else 0.0


def _p_share(scores: list[dict]) -> float:
    return float(np.mean([s["p_value"] is not None and s["p_value"] < 0.05 for s in scores]))


@pytest.fixture(scope="module")
def report(aucs, positives, heldout, artifacts_dir):
    rep = {"held_out_slices": int(len(heldout.labels)),
           "held_out_lesion_slices": int(heldout.labels.sum()), "models": {}}
    for name in MODELS:
        entry = {"auc": {s: round(aucs[(name, s)], 4)
                         for s in ("training_marker", "independent_marker")}}
        for kind in ("top_map", "gradcam"):
            runs = positives[name][kind]
            entry[kind] = {roi: {"median_relevance_mass": round(_median(runs[roi]), 4),
                                 "median_enrichment": round(_enrichment(runs[roi]), 3),
                                 "share_p_below_0.05": round(_p_share(runs[roi]), 3)}
                           for roi in ROIS}
        rep["models"][name] = entry
    (artifacts_dir / "demo_validation.json").write_text(json.dumps(rep, indent=2))
    print(json.dumps(rep, indent=1))
    return rep


def test_clean_model_finds_lesions_whatever_the_marker(report):
    auc = report["models"]["demo-clean"]["auc"]
    assert auc["training_marker"] >= 0.95
    assert auc["independent_marker"] >= 0.95


def test_shortcut_model_depends_on_the_marker(report):
    auc = report["models"]["demo-shortcut"]["auc"]
    assert auc["training_marker"] >= 0.95
    assert auc["independent_marker"] <= auc["training_marker"] - 0.1


@pytest.mark.parametrize("kind", ["top_map", "gradcam"])
def test_clean_model_looks_at_the_lesion_twice_as_much(report, kind):
    clean = report["models"]["demo-clean"][kind]["lesion"]["median_relevance_mass"]
    shortcut = report["models"]["demo-shortcut"][kind]["lesion"]["median_relevance_mass"]
    assert clean >= 2 * shortcut
    assert clean > 0


@pytest.mark.parametrize("kind", ["top_map", "gradcam"])
def test_roi_ordering_names_what_each_model_looks_at(report, kind):
    clean, short = (report["models"][m][kind] for m in MODELS)

    def get(model: dict, key: str) -> dict:
        return {r: model[r][key] for r in ROIS}

    # demo-shortcut: more mass on the small marker box than on the lesion; per unit area more
    # on the marker than on the gland or the lesion; beats chance on the marker most often
    mass, enr, sig = (get(short, k) for k in ("median_relevance_mass", "median_enrichment",
                                              "share_p_below_0.05"))
    assert mass["marker"] > mass["lesion"]
    assert enr["marker"] > enr["prostate"] and enr["marker"] > enr["lesion"]
    assert sig["marker"] > sig["prostate"] and sig["marker"] > sig["lesion"]
    # demo-clean: the gland (which holds the lesion) and the lesion before the marker
    mass, enr, sig = (get(clean, k) for k in ("median_relevance_mass", "median_enrichment",
                                              "share_p_below_0.05"))
    assert mass["prostate"] > mass["lesion"] > mass["marker"]
    assert enr["lesion"] > enr["marker"]
    assert sig["lesion"] > sig["marker"]
