"""Run a cohort: plan units, skip finished ones, execute, then rebuild every output.

Outputs in the run folder (see docs/cohort.md): ``results.jsonl`` (the unit records, the
only state; a rerun resumes from it), ``slices.csv/.parquet``, ``cases.csv/.parquet``,
``failures.csv/.parquet``, ``scales/<model>__<method>.json`` (CommonScale calibration),
``channel_sets/<model>.json`` (principal channels), ``summary.json`` and ``report.html``.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TextIO

from coloc_viewer.cohort import analysis
from coloc_viewer.cohort.executors import Backend, available_cores, open_backend
from coloc_viewer.cohort.manifest import Case, read_manifest
from coloc_viewer.cohort.map_similarity import cohort_similarity, similarity_warnings
from coloc_viewer.cohort.outputs import (
    channel_set_dict,
    derive_channel_set,
    map_name,
    safe_name,
    write_json,
    write_scales,
)
from coloc_viewer.cohort.preflight import check_models, check_numbers
from coloc_viewer.cohort.principal import ChannelSet
from coloc_viewer.cohort.progress import Progress
from coloc_viewer.cohort.store import ResultStore, unit_key
from coloc_viewer.cohort.tables import (
    CASE_TYPES,
    FAILURE_TYPES,
    SLICE_TYPES,
    case_rows,
    failure_rows,
    slice_rows,
    write_table,
)
from coloc_viewer.cohort.worker import (
    PRINCIPAL_PREFIX,
    TOP_MAP,
    CaseTask,
    UnitSpec,
)
from coloc_viewer.errors import ColocError, InputError, ModelError
from coloc_viewer.explain.choices import RANKINGS

RANKS = RANKINGS  # the default first
PRINCIPAL_BASE = "gradcam"  # the principal-channel CAM re-sums Grad-CAM's w_k A_k


@dataclass
class CohortOptions:
    """Everything a cohort run computes (see ``coloc-viewer cohort --help``)."""

    models: tuple[str, ...] = ()
    ranks: tuple[str, ...] = ("contribution",)
    methods: tuple[str, ...] = ("gradcam",)
    layer: str | None = None
    target: int | str | None = None  # an index or a class name
    roi_names: tuple[str, ...] | None = None
    threshold: float = 0.5
    p_value: bool = True
    top_k: int = 10
    batch_size: int = 16
    workers: int | None = None  # None: one per core (capped by tasks); 1: this process
    dask: str | None = None
    dask_timeout: float = 20.0
    channel_set: str | None = None
    principal_ratio: float | None = 0.1
    report: bool = True
    seed: int = 0
    threads: int | None = None


@dataclass
class CohortRun:
    out_dir: Path
    summary: dict[str, Any]
    slices: list[dict[str, Any]] = field(repr=False, default_factory=list)
    cases: list[dict[str, Any]] = field(repr=False, default_factory=list)

    @property
    def n_failed(self) -> int:
        return int(self.summary["failures"]["cases"])


def model_card(model: str) -> Any:
    """The card of a bundled model name or a card path; a :class:`ModelError` (exit 2) for
    an unknown name or a bad card, before any case runs."""
    from coloc_viewer.model.card import read_card

    if model.lower().endswith(".json") or os.sep in model or Path(model).is_file():
        return read_card(model)
    from coloc_viewer.model.loading import list_bundled_models
    from coloc_viewer.resources import models_dir

    known = list_bundled_models()
    if model not in known:
        raise ModelError(f"no such bundled model (bundled: {', '.join(known) or 'none'}); "
                         "pass a model card JSON", model)
    return read_card(models_dir() / f"{model}.json")


def model_label(model: str) -> str:
    """Display name of a bundled model name (itself) or a card path (the card's ``name``)."""
    card = model_card(model)
    return card.name if model.lower().endswith(".json") or os.sep in model or \
        Path(model).is_file() else model


def input_roles(models: tuple[str, ...]) -> list[str]:
    """The extra input roles of the models' cards: the manifest columns they may read."""
    from coloc_viewer.model.input_stack import input_roles as card_roles

    roles: list[str] = []
    for m in models:
        roles += card_roles(model_card(m))[1:]
    return list(dict.fromkeys(roles))


def _check(options: CohortOptions) -> None:
    bad = [r for r in options.ranks if r not in RANKS]
    if bad:
        raise InputError(f"unknown rank criterion {', '.join(bad)} (one of {', '.join(RANKS)})")
    from coloc_viewer.explain.engine import parse_method

    for m in options.methods:
        parse_method(m)
    if options.workers is not None and options.workers < 1:
        raise InputError("--workers must be at least 1")
    r = options.principal_ratio
    if r is not None and not 0.05 <= r <= 0.25:
        raise InputError(f"--principal-ratio must lie in [0.05, 0.25] (or 0 for off), got {r}")
    if not options.ranks and not options.methods:
        raise InputError("nothing to compute: give at least one --rank or --method")
    check_numbers(options.threshold, options.threads, options.batch_size)


def _case_fields(case: Case) -> dict[str, Any]:
    fields = {"case_id": case.case_id, "image": case.image, "roi": case.roi,
              "series": case.series, "slices": case.slices, "label": case.label}
    if case.inputs:  # only then: the keys of single-series runs stay as they were
        fields["inputs"] = [list(i) for i in case.inputs]
    return fields


class _Planner:
    """Builds the units of every (case, model) with their stable keys."""

    def __init__(self, options: CohortOptions, labels: dict[str, str], threads: int | None):
        self.o, self.labels, self.threads = options, labels, threads

    def key(self, case: Case, model: str, rank: str | None, method: str,
            channel_set: dict[str, Any] | None = None) -> str:
        o = self.o
        return unit_key({**_case_fields(case), "model": self.labels[model], "model_ref": model,
                         "layer": o.layer, "target": o.target, "roi_names": o.roi_names,
                         "threshold": o.threshold, "p_value": o.p_value, "rank": rank,
                         "method": method, "channel_set": channel_set})

    def task(self, case: Case, model: str, units: list[UnitSpec],
             channel_set: dict[str, Any] | None = None) -> CaseTask:
        o = self.o
        target = o.target  # a class name is this model's index of it (checked up front)
        if isinstance(target, str):
            target = list(model_card(model).classes).index(target)
        return CaseTask(case=case, model=model, model_label=self.labels[model],
                        units=tuple(units), layer=o.layer, target=target,
                        roi_names=o.roi_names, threshold=o.threshold, p_value=o.p_value,
                        top_k=o.top_k, batch_size=o.batch_size, threads=self.threads,
                        channel_set=channel_set)

    def main_units(self, case: Case, model: str) -> list[UnitSpec]:
        units = [UnitSpec(self.key(case, model, r, TOP_MAP), r, TOP_MAP) for r in self.o.ranks]
        units += [UnitSpec(self.key(case, model, None, m), None, m) for m in self.o.methods]
        return units

    def principal_unit(self, case: Case, model: str, cs: dict[str, Any]) -> UnitSpec:
        method = PRINCIPAL_PREFIX + PRINCIPAL_BASE
        return UnitSpec(self.key(case, model, "contribution", method, cs), "contribution",
                        method)


def _execute(tasks: list[CaseTask], backend: Backend, store: ResultStore,
             progress: Progress) -> None:
    def on_result(task: CaseTask, records: list[dict[str, Any]]) -> None:
        store.append(records)
        progress.update(1, failed=int(any(r["status"] != "ok" for r in records)))

    def on_error(task: CaseTask, reason: str) -> None:
        store.append([{"key": u.key, "case_id": task.case.case_id, "model": task.model_label,
                       "rank": u.rank, "method": u.method, "status": "failed",
                       "reason": reason} for u in task.units])
        progress.update(1, failed=1)

    if tasks:
        backend.run(tasks, on_result, on_error)


def _pending(tasks: list[CaseTask], done: dict[str, dict[str, Any]]) -> list[CaseTask]:
    out = []
    for t in tasks:
        units = [u for u in t.units if done.get(u.key, {}).get("status") != "ok"]
        if units:
            out.append(replace(t, units=tuple(units)))
    return out


def run_cohort(manifest: str | os.PathLike[str], out_dir: str | os.PathLike[str],
               options: CohortOptions, *, stream: TextIO | None = None) -> CohortRun:
    """Run (or resume) the cohort of ``manifest`` into ``out_dir``; see the module doc."""
    from coloc_viewer.model.loading import default_model_name

    started = time.monotonic()
    stream = stream if stream is not None else sys.stderr
    _check(options)
    models = options.models or (default_model_name(),)
    labels = {m: model_label(m) for m in models}
    cases = read_manifest(manifest, input_roles(models))
    if len(set(labels.values())) != len(labels):
        raise InputError("two --model values have the same model name")
    check_models(models, options.layer, options.target)  # before any folder or case
    given: dict[str, dict[str, Any]] = {}
    if options.channel_set:
        cs = ChannelSet.load(options.channel_set)
        matches = [m for m in models if labels[m] == cs.model] or (
            list(models) if len(models) == 1 else [])
        if not matches:
            raise InputError(f"the channel set is for model {cs.model!r}, not one of "
                             f"{', '.join(labels.values())}", options.channel_set)
        given = {m: channel_set_dict(cs) for m in matches}
    out = Path(out_dir)
    created = not out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise InputError(f"cannot create the output folder ({err.strerror})", out) from None
    store = ResultStore(out)
    threads = options.threads or (1 if options.dask else None)  # None: the backend's
    plan = _Planner(options, labels, threads)

    tasks = []
    for case in cases:
        for m in models:
            units = plan.main_units(case, m)
            if m in given:
                units.append(plan.principal_unit(case, m, given[m]))
            tasks.append(plan.task(case, m, units, given.get(m)))
    try:
        backend = open_backend(options.workers or available_cores(), options.dask,
                               options.dask_timeout, threads=options.threads, preload=models)
    except ColocError:
        if created:  # an unreachable scheduler: no empty results folder left behind
            shutil.rmtree(out, ignore_errors=True)
        raise
    with backend:
        done = store.load()
        planned = {u.key for t in tasks for u in t.units}
        todo = _pending(tasks, done)
        n_skipped = len(planned) - sum(len(t.units) for t in todo)
        progress = Progress(len(todo), label="cohort", unit="case-models", stream=stream)
        _execute(todo, backend, store, progress)
        progress.close()
        done = store.load()

        channel_sets: dict[str, str] = {}
        csets = {labels[m]: cs for m, cs in given.items()}
        principal_note = None
        derive = (options.principal_ratio and "contribution" in options.ranks
                  and not options.channel_set)
        if options.principal_ratio and not derive and not options.channel_set:
            principal_note = "principal channels need --rank contribution"
        if derive:
            ptasks = []
            for m in models:
                keys = [u.key for t in tasks if t.model == m for u in t.units
                        if u.rank == "contribution" and u.method == TOP_MAP]
                recs = [done[k] for k in keys if done.get(k, {}).get("status") == "ok"]
                layer = next((r["rows"][0]["layer"] for r in recs if r["rows"]), options.layer)
                cs = derive_channel_set(recs, labels[m], str(layer), options.principal_ratio)
                if cs is None:
                    principal_note = f"no correctly classified slices for {labels[m]}"
                    continue
                (out / "channel_sets").mkdir(exist_ok=True)
                path = out / "channel_sets" / f"{safe_name(labels[m])}.json"
                cs.save(path)
                channel_sets[labels[m]] = str(path.relative_to(out))
                csd = channel_set_dict(cs)
                csets[labels[m]] = csd
                for case in cases:
                    ptasks.append(plan.task(case, m, [plan.principal_unit(case, m, csd)], csd))
            planned |= {u.key for t in ptasks for u in t.units}
            ptodo = _pending(ptasks, done)
            n_skipped += sum(len(t.units) for t in ptasks) - sum(len(t.units) for t in ptodo)
            if ptodo:
                progress = Progress(len(ptodo), label="principal", unit="case-models",
                                    stream=stream)
                _execute(ptodo, backend, store, progress)
                progress.close()
                done = store.load()
    tasks_by_case = {(t.case.case_id, t.model_label): t for t in tasks}
    return _finish(out, cases, models, labels, options, backend.name, done, planned, n_skipped,
                   channel_sets, csets, principal_note, tasks_by_case, started, stream)


def _finish(out: Path, cases: list[Case], models: tuple[str, ...], labels: dict[str, str],
            options: CohortOptions, backend_name: str, done: dict[str, dict[str, Any]],
            planned: set[str], n_skipped: int, channel_sets: dict[str, str],
            csets: dict[str, dict[str, Any]],
            principal_note: str | None, tasks_by_case: dict[tuple[str, str], CaseTask],
            started: float,
            stream: TextIO) -> CohortRun:
    records = [done[k] for k in sorted(planned) if k in done]
    order = [c.case_id for c in cases]
    slices = slice_rows(records, order)
    per_case = case_rows(slices)
    failures = failure_rows(records)
    pos = {c: i for i, c in enumerate(order)}
    failures.sort(key=lambda r: (pos.get(r["case_id"], 0), r["model"], r["rank"] or "",
                                 r["method"]))
    write_table(slices, SLICE_TYPES, out / "slices")
    write_table(per_case, CASE_TYPES, out / "cases")
    write_table(failures, FAILURE_TYPES, out / "failures")
    scales = write_scales(records, out)
    failed_pairs: dict[tuple[str, str], str] = {}
    for f in failures:
        failed_pairs.setdefault((f["case_id"], f["model"]), f["reason"])
    failed_cases = sorted({c for c, _ in failed_pairs}, key=lambda c: pos.get(c, 0))
    summary: dict[str, Any] = {
        "format": "coloc_viewer.cohort/1",
        "n_cases": len(cases),
        "models": [labels[m] for m in models],
        "ranks": list(options.ranks), "methods": list(options.methods),
        "layer": options.layer, "target": options.target,
        "roi_names": list(options.roi_names) if options.roi_names else None,
        "threshold": options.threshold, "p_value": options.p_value,
        "backend": backend_name,
        "units": {"planned": len(planned), "ok": sum(r["status"] == "ok" for r in records),
                  "failed": len(failures), "skipped_already_done": n_skipped},
        "failures": {"cases": len(failed_cases),
                     "list": [{"case_id": c, "model": m, "reason": r}
                              for (c, m), r in failed_pairs.items()]},
        "rows": {"slices": len(slices), "cases": len(per_case)},
        "groups": analysis.group_statistics(per_case, seed=options.seed),
        "model_comparisons": analysis.model_comparisons(per_case),
        "principal": {"ratio": options.principal_ratio, "channel_sets": channel_sets,
                      "given": options.channel_set, "note": principal_note,
                      "comparisons": analysis.principal_comparisons(per_case)},
        "scales": scales,
        "map_similarity": cohort_similarity(records, map_name),
        "outputs": {"slices": "slices.csv", "cases": "cases.csv", "failures": "failures.csv",
                    "report": "report.html" if options.report else None},
    }
    if options.report:
        from coloc_viewer.cohort.report import write_report

        write_report(out, per_case, summary, thumbnails=_thumbnailer(tasks_by_case, csets))
    summary["seconds"] = round(time.monotonic() - started, 3)
    write_json(out / "summary.json", summary)
    ok = len(cases) - len(failed_cases)
    print(f"coloc-viewer cohort: {ok} of {len(cases)} cases done, {len(failed_cases)} failed "
          f"({len(failures)} of {len(planned)} units); results in {out}", file=stream)
    for line in similarity_warnings(summary["map_similarity"]):
        print(f"warning: {line}", file=stream)
    return CohortRun(out, summary, slices, per_case)


def _thumbnailer(tasks_by_case: dict[tuple[str, str], CaseTask],
                 csets: dict[str, dict[str, Any]]):
    """Recompute one slice's image, map and ROI for the report (best/worst cases only)."""
    from coloc_viewer.cohort.worker import thumbnail

    def make(row: dict[str, Any]):
        task = tasks_by_case.get((row["case_id"], row["model"]))
        if task is None:
            return None
        unit = UnitSpec("", row["rank"], row["method"])
        cs = csets.get(row["model"])
        return thumbnail(replace(task, channel_set=cs), unit, row["roi"], row["index_slice"])

    return make
