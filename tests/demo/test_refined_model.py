"""``demo-refined`` (demo-shortcut after ``coloc-viewer refine``) on held-out cases it never
saw: demo-shortcut's own subtle lesions, the marker burned in independently of the lesion.

The issue's targets, measured against demo-shortcut on the same slices: ROC-AUC >= 0.90;
median Grad-CAM (positive class) relevance mass on the lesion at least 2x; on the marker
at most 1/5; the marker co-localizes (p < 0.05) on under 5 % of its slices. The numbers go
to ``artifacts/demo_refined_validation.json``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from coloc_viewer.cohort.map_similarity import WARN_AT, fingerprint, similarity
from coloc_viewer.explain.engine import explain
from coloc_viewer.metrics.scores import score
from coloc_viewer.model.loading import load_model

MODELS = ("demo-shortcut", "demo-refined")
INDEPENDENT = (0.5, 0.5)  # P(marker | lesion slice), P(marker | other slice)


@pytest.fixture(scope="module")
def models():
    return {name: load_model(name, device="cpu") for name in MODELS}


@pytest.fixture(scope="module")
def slices(models, heldout_for):
    """demo-shortcut's lesion settings (from its card), markers independent of the lesion."""
    card = json.loads(Path(models["demo-shortcut"].card.path).read_text())
    gen = card["training"]["generator_settings"]
    data = heldout_for(lesion_radius_mm=gen["lesion_radius_mm"],
                       lesion_signal=gen["lesion_signal"])
    images, marker = data.with_markers(INDEPENDENT, seed=21)
    return data, images, marker


@pytest.fixture(scope="module")
def report(models, slices, artifacts_dir):
    data, images, marker = slices
    out = {}
    for name, model in models.items():
        x = torch.cat([model.preprocess(img, (0.625, 0.625))[0] for img in images])
        with torch.no_grad():
            prob = torch.softmax(model.module(x), dim=1)[:, 1].numpy()
        lesion_mass, marker_mass, marker_p, prints, owners = [], [], [], [], []
        for i in range(len(images)):
            if not (data.labels[i] or marker[i].any()):
                continue
            cam = explain(model, images[i], slice_index=i, methods=("gradcam",),
                          target=1).cam_map("gradcam")
            if data.labels[i]:
                lesion_mass.append(score(cam, data.lesion[i])["relevance_mass"] or 0.0)
                prints.append(fingerprint(cam))
                owners.append(str(data.owner[i]))
            if marker[i].any():
                s = score(cam, marker[i])
                marker_mass.append(s["relevance_mass"] or 0.0)
                marker_p.append(s["p_value"] is not None and s["p_value"] < 0.05)
        out[name] = {"auc": round(float(roc_auc_score(data.labels, prob)), 4),
                     "median_lesion_mass": round(float(np.median(lesion_mass)), 5),
                     "median_marker_mass": round(float(np.median(marker_mass)), 5),
                     "marker_p_below_005": round(float(np.mean(marker_p)), 4),
                     "lesion_slices": len(lesion_mass), "marker_slices": len(marker_mass),
                     "map_similarity": similarity(prints, owners)["similarity"]}
    (artifacts_dir / "demo_refined_validation.json").write_text(json.dumps(out, indent=2))
    print(json.dumps(out, indent=1))
    return out


def test_card_names_its_source_and_reports_every_method(models):
    card = models["demo-refined"].card
    source = models["demo-shortcut"].card
    sha = hashlib.sha256(source.weights_path().read_bytes()).hexdigest()
    assert card.refined_from == {"name": "demo-shortcut", "sha256": sha}
    demo = json.loads(Path(card.path).read_text())["refine_demo"]
    for cohort in ("val", "test"):
        assert set(demo["table"][cohort]) == {"demo-shortcut", "none", "masked", "actdiff",
                                              "gradmask", "rrr", "shipped"}
    assert demo["chosen_on_validation"] == card.refine["method"]
    resources = Path(card.path).parents[1]
    size = sum(p.stat().st_size for p in resources.rglob("*") if p.is_file())
    assert size < 80e6  # every bundled resource together (the limit)


def test_refined_model_finds_the_lesion_whatever_the_marker(report):
    assert report["demo-refined"]["auc"] >= 0.90
    assert report["demo-refined"]["auc"] > report["demo-shortcut"]["auc"] + 0.1


def test_refined_model_looks_at_the_lesion_not_the_marker(report):
    before, after = report["demo-shortcut"], report["demo-refined"]
    assert after["lesion_slices"] >= 10 and after["marker_slices"] >= 10
    assert after["median_lesion_mass"] >= 2 * before["median_lesion_mass"]
    assert after["median_marker_mass"] <= before["median_marker_mass"] / 5
    assert after["marker_p_below_005"] < 0.05 < before["marker_p_below_005"]


def test_refined_models_map_is_nearly_the_same_on_every_slice(report):
    """What the lesion mass of demo-refined does not show (docs/models/demo-refined.md):
    its Grad-CAM is nearly one fixed map, demo-shortcut's follows the image."""
    assert report["demo-refined"]["map_similarity"] >= WARN_AT
    assert report["demo-shortcut"]["map_similarity"] < 0.6
