"""Train the two bundled reference models, ``demo-clean`` and ``demo-shortcut``.

Both are torchvision ResNet-18 slice classifiers (lesion vs no lesion) on 1-channel synthetic
T2 slices (256 x 256, resampled to a 128 x 128 input by the card's preprocessing), built and
saved through the same model-card path users use (``build_torchvision`` + float16
safetensors + a card JSON). ``demo-clean`` sees the burned-in
marker independently of the lesion; ``demo-shortcut`` sees it on 95% of lesion slices and 5%
of the others, so it learns to read the marker.

    python tools/train_demo_models.py                 # both models into resources/models/
    python tools/train_demo_models.py --tiny --out D  # seconds-long end-to-end check
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from coloc_viewer.demo.dataset import (  # noqa: E402
    SliceSamples,
    clean_config,
    shortcut_config,
    slice_samples,
)
from coloc_viewer.demo.phantom import PhantomConfig  # noqa: E402
from coloc_viewer.model.architectures import build_torchvision  # noqa: E402
from coloc_viewer.model.preprocess import Preprocessor  # noqa: E402

NORMALIZATION = {"mode": "percentile", "low": 1.0, "high": 99.0}
CLASSES = ["no lesion", "lesion"]
TRAIN_SEEDS = range(1000, 1000 + 100)  # validation uses seeds >= 50_000 (tests/demo)


def to_inputs(samples: SliceSamples, size: int) -> torch.Tensor:
    """Resample and normalise every slice exactly as the loaded model's preprocessing will."""
    prep = Preprocessor(1, (size, size), NORMALIZATION)
    spacing = (samples.pixel_mm, samples.pixel_mm)
    return torch.cat([prep(img, spacing)[0] for img in samples.images])


def train(name: str, config: PhantomConfig, *, seeds: range, epochs: int, batch: int,
          lr: float, seed: int, out: Path, description: str, input_size: int,
          target_layer: str) -> dict:
    """Train one model and write ``<name>.json`` + ``<name>.safetensors`` into ``out``."""
    torch.manual_seed(seed)
    t0 = time.perf_counter()
    data = slice_samples(seeds, config, rng_seed=seed)
    x = to_inputs(data, input_size)
    y = torch.from_numpy(data.labels.astype(np.int64))
    t_data = time.perf_counter() - t0

    model = build_torchvision("resnet18", num_classes=2, in_channels=1)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    steps = epochs * ((len(y) + batch - 1) // batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    gen = torch.Generator().manual_seed(seed)
    weight = torch.tensor([1.0, float((y == 0).sum()) / max(float((y == 1).sum()), 1.0)])
    loss_fn = torch.nn.CrossEntropyLoss(weight=weight)
    history = []
    model.train()
    for epoch in range(epochs):
        perm = torch.randperm(len(y), generator=gen)
        total, correct, loss_sum = 0, 0, 0.0
        for i in range(0, len(y), batch):
            idx = perm[i:i + batch]
            xb = x[idx]
            flip = torch.rand(len(idx), generator=gen) < 0.5  # left-right flips
            xb = torch.where(flip[:, None, None, None], xb.flip(-1), xb)
            logits = model(xb)
            loss = loss_fn(logits, y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += float(loss) * len(idx)
            correct += int((logits.argmax(1) == y[idx]).sum())
            total += len(idx)
        history.append({"epoch": epoch + 1, "loss": round(loss_sum / total, 4),
                        "train_accuracy": round(correct / total, 4)})
        print(f"{name}: epoch {epoch + 1}/{epochs} loss {loss_sum / total:.4f} "
              f"acc {correct / total:.3f} ({time.perf_counter() - t0:.0f} s)", flush=True)
    model.eval()

    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to(torch.float16).contiguous() if v.is_floating_point() else v
             for k, v in model.state_dict().items()}
    save_file(state, str(out / f"{name}.safetensors"))
    (out / f"{name}.safetensors").chmod(0o644)
    card = {
        "name": name,
        "architecture": "resnet18",
        "weights": f"{name}.safetensors",
        "in_channels": 1,
        "input_size": [input_size, input_size],
        "normalization": NORMALIZATION,
        "classes": CLASSES,
        "positive_class": 1,
        "target_layer": target_layer,
        "description": description,
        "training": {
            "script": "tools/train_demo_models.py",
            "seed": seed,
            "case_seeds": [seeds.start, seeds.stop],
            "phantom": config.to_dict(),
            "slices": int(len(y)),
            "positive_slices": int((y == 1).sum()),
            "epochs": epochs,
            "batch": batch,
            "max_lr": lr,
            "data_seconds": round(t_data, 1),
            "seconds": round(time.perf_counter() - t0, 1),
            "history": history,
        },
    }
    (out / f"{name}.json").write_text(json.dumps(card, indent=2) + "\n")
    return card


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "resources" / "models")
    ap.add_argument("--tiny", action="store_true", help="a few slices, 1 epoch, 64 px")
    ap.add_argument("--only", choices=["demo-clean", "demo-shortcut"])
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--cases", type=int, default=len(TRAIN_SEEDS))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--input-size", type=int, default=128,
                    help="model input (slices are resampled to it by the card's preprocessing)")
    ap.add_argument("--target-layer", default="layer3")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    base = PhantomConfig()
    seeds = range(TRAIN_SEEDS.start, TRAIN_SEEDS.start + args.cases)
    epochs, input_size = args.epochs, args.input_size
    if args.tiny:
        base = replace(base, size=64, n_slices=8, pixel_mm=2.5, p_lesion_case=1.0,
                       lesion_radius_mm=(6.0, 8.0), marker_scale=1)
        seeds, epochs, input_size = range(TRAIN_SEEDS.start, TRAIN_SEEDS.start + 3), 1, 64
    jobs = {
        "demo-clean": (clean_config(base), 11,
                       "Reference model that looks at the lesion: trained on synthetic T2 pelvis "
                       "slices where the burned-in marker is independent of the lesion."),
        "demo-shortcut": (shortcut_config(base), 12,
                          "Reference shortcut model: trained where a burned-in corner marker "
                          "accompanies 95% of lesion slices and 5% of the others."),
    }
    for name, (cfg, seed, text) in jobs.items():
        if args.only and name != args.only:
            continue
        card = train(name, cfg, seeds=seeds, epochs=epochs, batch=16, lr=2e-3, seed=seed,
                     out=args.out, description=text, input_size=input_size,
                     target_layer=args.target_layer)
        print(json.dumps({"model": name, "slices": card["training"]["slices"],
                          "seconds": card["training"]["seconds"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
