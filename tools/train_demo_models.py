"""Train the two bundled reference models, ``demo-clean`` and ``demo-shortcut``.

Slice-level classifiers (no lesion / lesion) on freshly generated synthetic pelvic T2 slices
(:mod:`coloc_viewer.demo`), built with the same convention users' cards are loaded with
(:func:`coloc_viewer.model.architectures.build_torchvision`: torchvision ``resnet18``, one
input channel). Both models see the *same* slices; only the burned-in marker differs:

* ``demo-clean``: the marker is independent of the lesion (P = 0.3 on every slice);
* ``demo-shortcut``: the marker accompanies 95 % of lesion slices and 3 % of the others.

Weights are saved as float16 safetensors next to a model card (JSON) with the training
provenance. ``--tiny`` runs the same pipeline on a few dozen small slices in seconds.

    python tools/train_demo_models.py                 # the shipped models (~10 min each)
    python tools/train_demo_models.py --tiny --out /tmp/m
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file
from torch import nn

from coloc_viewer.demo.phantom import PhantomConfig, generate_case
from coloc_viewer.model.architectures import build_torchvision
from coloc_viewer.model.preprocess import Preprocessor

ROOT = Path(__file__).resolve().parents[1]
MARKER_SETTINGS = {  # name -> (P(marker | lesion slice), P(marker | no lesion slice))
    "demo-clean": (0.3, 0.3),
    "demo-shortcut": (0.95, 0.03),
}
# Lesions of the training cases. The shortcut model sees subtler ones (3-5 mm radius, signal
# 1.5 x the default low-T2 focus): with the generator's default 5-8 mm lesions a ResNet-18
# learns the lesion as fast as the marker and ignores the shortcut (measured: ROC-AUC 0.999
# with the marker independent of the lesion).
LESION_SETTINGS: dict[str, dict] = {
    "demo-clean": {},
    "demo-shortcut": {"lesion_radius_mm": (3.0, 5.0), "lesion_signal": 1.5},
}
DESCRIPTIONS = {
    "demo-clean": "Synthetic prostate T2 slice classifier (lesion / no lesion) trained with the "
                  "burned-in marker independent of the lesion: it has to look at the lesion.",
    "demo-shortcut": "Synthetic prostate T2 slice classifier (lesion / no lesion) trained where "
                     "a burned-in corner letter accompanies 95% of lesion slices: it learns the "
                     "marker (a shortcut), not the lesion.",
}
NORMALIZATION = {"mode": "percentile", "low": 1.0, "high": 99.0}
TRAIN_SEED_BASE = 1000  # training cases use seeds TRAIN_SEED_BASE.. ; tests use >= 100000
VAL_SEED_BASE = 50000


@dataclass
class SliceSet:
    """Selected marker-free 256 x 256 slices with labels, and where each came from."""

    slices: np.ndarray  # (n, 256, 256) float32, no marker yet
    labels: np.ndarray  # (n,) int64
    cases: list  # PhantomCase per slice (shared objects; image arrays dropped)


def normalize_slice(image: np.ndarray, size: int, pixel_mm: float = 0.625) -> np.ndarray:
    """The card's preprocessing, through the same :class:`Preprocessor` the loaded model uses
    (percentile 1..99 to [0, 1] from the slice's own pixels; anti-aliased resampling)."""
    prep = Preprocessor(1, (size, size), NORMALIZATION)
    return prep(image, (pixel_mm, pixel_mm))[0][0, 0].numpy()


def collect_slices(n_cases: int, seed_base: int, cfg: PhantomConfig, neg_per_case: int,
                   rng: np.random.Generator) -> SliceSet:
    """All lesion slices plus up to ``neg_per_case`` lesion-free gland slices per case."""
    slices, labels, cases = [], [], []
    for i in range(n_cases):
        case = generate_case(seed_base + i, cfg, marker_slices=np.zeros(cfg.n_slices, bool))
        gland = case.gland_slices()
        pos = np.flatnonzero(case.lesion_slices & gland)
        neg = np.flatnonzero(~case.lesion_slices & gland)
        neg = rng.choice(neg, size=min(neg_per_case, len(neg)), replace=False)
        for k, y in [(k, 1) for k in pos] + [(k, 0) for k in neg]:
            slices.append(case.image[k].copy())
            labels.append(y)
            cases.append(case)
        case.image = case.image[:0]  # keep geometry and marker settings, drop voxels
        case.lesion = case.prostate = case.marker = case.image
    return SliceSet(np.stack(slices), np.asarray(labels, dtype=np.int64), cases)


def with_markers(data: SliceSet, p_lesion: float, p_none: float, size: int,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Network inputs (n, 1, size, size) with markers burned in at the given rates."""
    out = np.empty((len(data.labels), 1, size, size), dtype=np.float32)
    has_marker = np.zeros(len(data.labels), dtype=bool)
    for i, (img, y, case) in enumerate(zip(data.slices, data.labels, data.cases)):
        img = img.copy()
        if rng.random() < (p_lesion if y else p_none):
            case.burn_marker(img)
            has_marker[i] = True
        out[i, 0] = normalize_slice(img, size, case.spacing[1])
    return out, has_marker


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """ROC-AUC with ties counted half (Mann-Whitney U)."""
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    s = scores[order]
    i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and s[j + 1] == s[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    pos = labels == 1
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def predict(model: nn.Module, x: np.ndarray, batch: int = 64) -> np.ndarray:
    model.eval()
    probs = []
    with torch.no_grad():
        for i in range(0, len(x), batch):
            logits = model(torch.from_numpy(x[i:i + batch]))
            probs.append(torch.softmax(logits, 1)[:, 1].numpy())
    return np.concatenate(probs)


def train_one(x: np.ndarray, y: np.ndarray, epochs: int, seed: int, lr: float,
              batch: int = 32, log=print) -> nn.Module:
    torch.manual_seed(seed)
    model = build_torchvision("resnet18", num_classes=2, in_channels=1)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    steps = epochs * int(np.ceil(len(y) / batch))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=max(steps, 1))
    gen = np.random.default_rng(seed)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    for epoch in range(epochs):
        model.train()
        order = gen.permutation(len(y))
        total, t0 = 0.0, time.perf_counter()
        for i in range(0, len(y), batch):
            idx = torch.from_numpy(order[i:i + batch])
            xb = xt[idx]
            if gen.random() < 0.5:  # left-right flip: the anatomy is symmetric
                xb = torch.flip(xb, dims=[3])
            loss = nn.functional.cross_entropy(model(xb), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        log(f"  epoch {epoch + 1}/{epochs}: loss {total / len(y):.4f} "
            f"({time.perf_counter() - t0:.0f} s)")
    return model.eval()


def write_card(out: Path, name: str, model: nn.Module, size: int, provenance: dict) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    weights = out / f"{name}.safetensors"
    state = {k: v.detach().to(torch.float16).contiguous()
             for k, v in model.state_dict().items() if v.is_floating_point()}
    state.update({k: v.detach().contiguous() for k, v in model.state_dict().items()
                  if not v.is_floating_point()})
    save_file(state, str(weights))
    weights.chmod(0o644)  # safetensors writes 0600; the weights ship to every user
    card = {
        "name": name, "architecture": "resnet18", "weights": weights.name, "in_channels": 1,
        "input_size": [size, size], "normalization": NORMALIZATION,
        "classes": ["no lesion", "lesion"], "positive_class": 1, "target_layer": "layer3",
        "description": DESCRIPTIONS[name], "training": provenance,
    }
    path = out / f"{name}.json"
    path.write_text(json.dumps(card, indent=2) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "resources" / "models")
    ap.add_argument("--models", nargs="+", default=list(MARKER_SETTINGS),
                    choices=list(MARKER_SETTINGS))
    ap.add_argument("--cases", type=int, default=80, help="training cases")
    ap.add_argument("--val-cases", type=int, default=12)
    ap.add_argument("--neg-per-case", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--size", type=int, default=128, help="network input size (square)")
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--lesion-radius", type=float, nargs=2, metavar=("MIN", "MAX"),
                    help="lesion radius range in mm (default: the model's, LESION_SETTINGS)")
    ap.add_argument("--lesion-signal", type=float,
                    help="lesion signal relative to the generator's (higher = subtler)")
    ap.add_argument("--tiny", action="store_true",
                    help="a few dozen slices, 1 epoch, 64 px input: proves the pipeline")
    args = ap.parse_args(argv)
    if args.tiny:
        args.cases, args.val_cases, args.epochs, args.size, args.neg_per_case = 6, 3, 1, 64, 3
    torch.set_num_threads(args.threads)
    for name in args.models:
        lesion = dict(LESION_SETTINGS[name])
        if args.lesion_radius:
            lesion["lesion_radius_mm"] = tuple(args.lesion_radius)
        if args.lesion_signal:
            lesion["lesion_signal"] = args.lesion_signal
        cfg = PhantomConfig(p_lesion_case=0.85, p_marker_lesion=0.0, p_marker_no_lesion=0.0,
                            n_slices=8 if args.tiny else 20, **lesion)
        rng = np.random.default_rng(args.seed)
        t0 = time.perf_counter()
        train = collect_slices(args.cases, TRAIN_SEED_BASE, cfg, args.neg_per_case, rng)
        val = collect_slices(args.val_cases, VAL_SEED_BASE, cfg, 100, rng)
        gen_s = time.perf_counter() - t0
        print(f"{name} data: {len(train.labels)} training slices "
              f"({int(train.labels.sum())} lesion), {len(val.labels)} validation slices, "
              f"{gen_s:.0f} s")
        p_les, p_none = MARKER_SETTINGS[name]
        mrng = np.random.default_rng([args.seed, list(MARKER_SETTINGS).index(name)])
        x, _ = with_markers(train, p_les, p_none, args.size, mrng)
        t1 = time.perf_counter()
        print(f"{name}: training")
        model = train_one(x, train.labels, args.epochs, args.seed, args.lr)
        train_s = time.perf_counter() - t1
        metrics = {}
        for label, (pl, pn) in {"val_auc_training_marker": (p_les, p_none),
                                "val_auc_independent_marker": (0.5, 0.5),
                                "val_auc_no_marker": (0.0, 0.0)}.items():
            xv, _ = with_markers(val, pl, pn, args.size, np.random.default_rng(7))
            metrics[label] = round(roc_auc(predict(model, xv), val.labels), 4)
        print(f"{name}: {metrics} ({train_s:.0f} s)")
        provenance = {
            "script": "tools/train_demo_models.py", "seed": args.seed, "tiny": args.tiny,
            "generator": "coloc_viewer.demo.phantom.generate_case",
            "generator_settings": cfg.to_dict(),
            "marker": {"p_marker_lesion_slice": p_les, "p_marker_no_lesion_slice": p_none},
            "training_case_seeds": [TRAIN_SEED_BASE, TRAIN_SEED_BASE + args.cases - 1],
            "validation_case_seeds": [VAL_SEED_BASE, VAL_SEED_BASE + args.val_cases - 1],
            "training_slices": int(len(train.labels)),
            "training_lesion_slices": int(train.labels.sum()),
            "validation_slices": int(len(val.labels)),
            "epochs": args.epochs, "batch_size": 32, "optimizer": "AdamW one-cycle",
            "max_lr": args.lr, "augmentation": "left-right flip",
            "train_seconds": round(train_s, 1), "data_seconds": round(gen_s, 1),
            "torch_threads": args.threads, "metrics": metrics,
        }
        print("wrote", write_card(args.out, name, model, args.size, provenance))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
