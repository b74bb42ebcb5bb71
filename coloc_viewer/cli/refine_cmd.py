"""``coloc-viewer refine MODEL --manifest M --method METHOD --out DIR``: fine-tune a slice
classifier with the manifest's lesion ROIs (``coloc_viewer.refine``), then compare the
source and the refined model (and, with ``--baseline``, plain fine-tuning at the same
budget) on ``--val`` (else on the training manifest, said in the report) with the cohort
machinery. Writes ``DIR/<name>.json`` + ``.safetensors``, ``DIR/refine_report.json`` and
``.html`` (``DIR/evaluation/``: the cohort run; ``DIR/baseline/``: the baseline model).
Progress with an ETA goes to stderr; bad input is one line and exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from coloc_viewer.errors import InputError
from coloc_viewer.refine.output import epochs_text

METHOD_CHOICES = ("actdiff", "gradmask", "rrr", "masked", "none")


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "refine", help="fine-tune a model to look inside the lesion ROIs (ActDiff, GradMask, "
                       "RRR, masked) and report before/after",
        description="Fine-tune a 2-D slice classifier on a cohort manifest's cases with an "
                    "attribution penalty outside the lesion ROIs, write the refined model "
                    "card, and compare AUC and relevance mass before and after.",
        epilog="example: coloc-viewer refine demo-shortcut --manifest train.csv --method "
               "actdiff --lambda 0.01 --epochs 4 --lr 2e-3 --schedule cosine --flip "
               "--train-batchnorm --shortcut-roi marker --val val.csv --baseline --out run1")
    p.add_argument("model", help="bundled model name or model card JSON")
    p.add_argument("--manifest", required=True, help="training cases (cohort manifest CSV)")
    p.add_argument("--method", required=True,
                   help="the training penalty (not a CAM method): " + ", ".join(METHOD_CHOICES))
    p.add_argument("--out", required=True, help="output folder (rerun to resume)")
    p.add_argument("--epochs", type=int, default=3, help="epochs (default 3)")
    p.add_argument("--lambda", dest="lam", type=float, default=1.0,
                   help="penalty weight (default 1)")
    p.add_argument("--lr", type=float, default=1e-4, help="learning rate (default 1e-4)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the shuffles, flips and batches (default 0)")
    p.add_argument("--batch-size", type=int, default=16, help="slices per batch (default 16)")
    p.add_argument("--threads", type=int, help="torch threads (results repeat for a thread "
                                               "count; default: torch's)")
    p.add_argument("--val", help="held-out manifest for the before/after evaluation "
                                 "(default: the training manifest, said in the report)")
    p.add_argument("--lesion-roi", help="lesion ROI name (default: 'lesion', else the first)")
    p.add_argument("--shortcut-roi", help="ROI that marks a shortcut (e.g. marker): always "
                                          "penalised in training, its relevance reported")
    p.add_argument("--organ-roi", help="ROI of the organ (e.g. prostate): on lesion-free "
                                       "slices the model is taught to look inside it")
    p.add_argument("--weight-decay", type=float, default=0.0,
                   help="AdamW weight decay (default 0: Adam)")
    p.add_argument("--flip", action="store_true",
                   help="augment: mirror a batch left-right with probability 1/2")
    p.add_argument("--schedule", default="constant", help="learning rate: constant "
                   "(default) or cosine (annealed to 0 over the run)")
    p.add_argument("--train-batchnorm", action="store_true",
                   help="let BatchNorm statistics adapt (default: frozen)")
    p.add_argument("--actdiff-layer", help="layer whose activations ActDiff compares, or "
                   "several comma-separated (their distances averaged; default: the "
                   "card's target layer; the paper: the encoder output, e.g. layer4; "
                   "its code: every stage)")
    p.add_argument("--name", help="refined model name (default MODEL-METHOD)")
    p.add_argument("--baseline", action="store_true",
                   help="also fine-tune with method none at the same budget and report it")
    p.add_argument("--no-eval", action="store_true", help="train only, no evaluation")
    p.add_argument("--device", help="cpu, cuda or cuda:N (default: CUDA when present)")
    return p


class _Bar:
    """A cohort-style progress bar with an ETA, fed by refine's callbacks."""

    def __init__(self, label: str):
        self.label = label
        self.bar: Any = None

    def plan(self, epochs: int, batches: int, first: int) -> None:
        from coloc_viewer.cohort.progress import Progress

        self.bar = Progress(max(0, epochs - first + 1) * batches, label=self.label,
                            unit="batches")

    def step(self, epoch: int, batch: int, loss: float) -> None:
        if self.bar is not None:
            self.bar.label = f"{self.label} epoch {epoch} loss {loss:.3f}"
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _train(args: argparse.Namespace, method: str, out: Path, name: str | None) -> Any:
    from coloc_viewer.refine import refine

    bar = _Bar(f"refine {method}")
    try:
        return refine(args.model, args.manifest, method, lam=args.lam, epochs=args.epochs,
                      lr=args.lr, seed=args.seed, out_dir=out, shortcut_roi=args.shortcut_roi,
                      lesion_roi=args.lesion_roi, batch_size=args.batch_size,
                      threads=args.threads, device=args.device, name=name,
                      progress=bar.step, on_plan=bar.plan, organ_roi=args.organ_roi,
                      weight_decay=args.weight_decay, flip=args.flip,
                      train_batchnorm=args.train_batchnorm, schedule=args.schedule,
                      actdiff_layer=args.actdiff_layer if method == args.method else None)
    finally:
        bar.close()


def run(args: argparse.Namespace) -> int:
    from coloc_viewer.refine.evaluate import compare_models
    from coloc_viewer.refine.report import similarity_warnings, write_report

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise InputError("the output path exists and is not a folder", out)
    for path in (args.manifest, args.val):
        if path is not None and not Path(path).is_file():
            raise InputError("no such manifest file", path)
    result = _train(args, args.method, out, args.name)
    print(f"coloc-viewer refine: {result.card_path} ({result.method}, "
          f"{epochs_text(result.epochs)}, {result.n_slices} slices, "
          f"{result.train_seconds:.1f} s)", file=sys.stderr)
    baseline = None
    if args.baseline and args.method != "none":
        baseline = _train(args, "none", out / "baseline", None)
    if args.no_eval:
        return 0
    card = result.card
    models = {"before": args.model, "after": str(result.card_path)}
    if baseline is not None:
        models["baseline"] = str(baseline.card_path)
    manifest = args.val or args.manifest
    positive = card.positive_class if card.positive_class is not None else 1
    print(f"coloc-viewer refine: evaluating on {manifest}"
          + ("" if args.val else " (the training cases: no --val given)"), file=sys.stderr)
    metrics = compare_models(models, manifest, out / "evaluation",
                             lesion_roi=args.lesion_roi or result.lesion_roi or "lesion",
                             shortcut_roi=args.shortcut_roi, positive=positive,
                             classes=card.classes, threads=args.threads, stream=sys.stderr)
    report = {
        "format": "coloc_viewer.refine/1", "source": args.model,
        "refined": str(result.card_path),
        "baseline": None if baseline is None else str(baseline.card_path),
        "method": args.method,
        "settings": {"method": args.method, "lambda": args.lam, "epochs": args.epochs,
                     "lr": args.lr, "seed": args.seed, "batch_size": args.batch_size,
                     "lesion_roi": result.lesion_roi, "shortcut_roi": args.shortcut_roi,
                     "organ_roi": args.organ_roi, "weight_decay": args.weight_decay,
                     "flip": args.flip, "train_batchnorm": args.train_batchnorm,
                     "schedule": args.schedule},
        "train_seconds": {"refined": result.train_seconds,
                          **({} if baseline is None else {"baseline": baseline.train_seconds})},
        "evaluated_on": str(Path(manifest).resolve()),
        "evaluated_on_training_cases": args.val is None,
        "metrics": metrics,
    }
    jpath, hpath = write_report(out, report)
    for label, m in metrics.items():
        print(f"{label:9s} AUC {_fmt(m['auc'])}  lesion mass {_fmt(m['lesion_mass'])}  "
              f"shortcut mass {_fmt(m['shortcut_mass'])}  shortcut p<0.05 "
              f"{_fmt(m['shortcut_p05'])}  map similarity {_fmt(m['map_similarity'])}")
    for warning in similarity_warnings(metrics):
        print(f"warning: {warning}")
    print(f"report: {jpath} {hpath}")
    return 0


def _fmt(value: Any) -> str:
    return "-" if value is None else f"{value:.3f}"
