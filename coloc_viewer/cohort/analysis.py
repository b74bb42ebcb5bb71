"""Cohort-level statistics over the per-case table (what summary.json and the report show)."""

from __future__ import annotations

from collections import defaultdict
from itertools import combinations
from typing import Any

from coloc_viewer.cohort.stats import bootstrap_median_ci, paired_wilcoxon, rate, share_below
from coloc_viewer.cohort.worker import PRINCIPAL_PREFIX

MEDIAN_KEYS = ("relevance_mass", "relevance_rank", "iou_top_n", "dice", "auroc")
COMPARE_KEY = "relevance_mass"
ALPHA = 0.05


def map_label(row: dict[str, Any]) -> str:
    """``model / method (rank)``: one model's map as the report names it."""
    what = f"{row['method']} ({row['rank']})" if row.get("rank") else row["method"]
    return f"{row['model']} / {what}"


def group_label(row: dict[str, Any]) -> str:
    """``model / method (rank) / roi`` as shown in the report."""
    return f"{map_label(row)} / {row['roi']}"


def _key(row: dict[str, Any]) -> tuple:
    return (row["model"], row.get("rank") or "", row["method"], row["roi"])


def group_statistics(cases: list[dict[str, Any]], *, seed: int = 0, n_boot: int = 2000
                     ) -> list[dict[str, Any]]:
    """Per (model, rank, method, roi): medians with bootstrap CIs, pointing-game rate,
    share of cases whose index-slice p-value is below 0.05."""
    groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for r in cases:
        groups[_key(r)].append(r)
    out = []
    for (model, rank, method, roi), rows in groups.items():
        out.append({
            "model": model, "rank": rank or None, "method": method, "roi": roi,
            "label": group_label(rows[0]), "n_cases": len(rows),
            "medians": {k: bootstrap_median_ci([r[k] for r in rows], seed=seed, n_boot=n_boot)
                        for k in MEDIAN_KEYS},
            "pointing_game": rate([r["pointing_game"] for r in rows]),
            "colocalizing_p05": share_below([r["p_value"] for r in rows], ALPHA),
            "accuracy": rate([r["correct"] for r in rows]),
        })
    return out


def _by_case(rows: list[dict[str, Any]], key: str) -> dict[str, Any]:
    return {r["case_id"]: r[key] for r in rows}


def model_comparisons(cases: list[dict[str, Any]], key: str = COMPARE_KEY
                      ) -> list[dict[str, Any]]:
    """Paired Wilcoxon signed-rank tests of ``key`` between every two models, for each
    (rank, method, roi) they share."""
    groups: dict[tuple, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for r in cases:
        groups[(r.get("rank") or "", r["method"], r["roi"])][r["model"]].append(r)
    out = []
    for (rank, method, roi), by_model in groups.items():
        for a, b in combinations(list(by_model), 2):
            res = paired_wilcoxon(_by_case(by_model[a], key), _by_case(by_model[b], key))
            out.append({"score": key, "rank": rank or None, "method": method, "roi": roi,
                        "model_a": a, "model_b": b, **res})
    return out


def principal_comparisons(cases: list[dict[str, Any]], key: str = COMPARE_KEY
                          ) -> list[dict[str, Any]]:
    """Principal-channel CAM against its full CAM, per model and roi (paired Wilcoxon)."""
    idx: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for r in cases:
        idx[(r["model"], r["method"], r["roi"])].append(r)
    out = []
    for (model, method, roi), rows in idx.items():
        if not method.startswith(PRINCIPAL_PREFIX):
            continue
        base = method[len(PRINCIPAL_PREFIX):]
        full = idx.get((model, base, roi))
        if not full:
            continue
        a, b = _by_case(rows, key), _by_case(full, key)
        res = paired_wilcoxon(a, b)
        out.append({"score": key, "model": model, "roi": roi, "principal": method,
                    "full": base,
                    "median_principal": bootstrap_median_ci(list(a.values()))["median"],
                    "median_full": bootstrap_median_ci(list(b.values()))["median"], **res})
    return out
