"""The cohort's self-contained HTML report (matplotlib Agg figures inlined as base64 PNG;
each figure is also saved under ``figures/``). No PHI: only user-chosen case IDs appear."""

from __future__ import annotations

import base64
import html
import io
import os
import textwrap
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from coloc_viewer.cohort.analysis import MEDIAN_KEYS, group_label, map_label
from coloc_viewer.cohort.map_similarity import WARN_AT, WARNING

DIST_KEYS = ("relevance_mass", "relevance_rank", "iou_top_n", "auroc")
MAX_THUMB_GROUPS = 8
Thumbnailer = Callable[[dict[str, Any]], "tuple[np.ndarray, np.ndarray, np.ndarray] | None"]


def _figure(w: float, h: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(w, h), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


class _Images:
    """Saves each figure under figures/ and returns its inline <img> tag."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.files: list[str] = []

    def tag(self, fig, name: str, alt: str) -> str:
        data = _png(fig)
        path = self.folder / f"{name}.png"
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
        self.files.append(path.name)
        b64 = base64.b64encode(data).decode("ascii")
        return (f'<img src="data:image/png;base64,{b64}" alt="{html.escape(alt)}" '
                f'data-file="figures/{path.name}">')


def _fmt(v: Any, digits: int = 3) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return html.escape(str(v))


def _ci(m: dict[str, Any]) -> str:
    if m.get("median") is None:
        return "–"
    return f"{m['median']:.3f} [{m['ci_low']:.3f}, {m['ci_high']:.3f}]"


def _pct(r: dict[str, Any]) -> str:
    return "–" if r.get("rate") is None else f"{100 * r['rate']:.0f}% (n={r['n']})"


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _distributions(cases: list[dict[str, Any]], images: _Images) -> str:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in cases:
        groups[group_label(r)].append(r)
    if not groups:
        return "<p>No successful cases.</p>"
    names = list(groups)
    out = []
    for key in DIST_KEYS:
        fig = _figure(7.5, 0.9 + 0.45 * len(names))
        ax = fig.add_subplot(111)
        data = [[float(r[key]) for r in groups[n] if r[key] is not None] for n in names]
        pos = np.arange(len(names))
        kept = [i for i, d in enumerate(data) if d]
        if kept:
            ax.boxplot([data[i] for i in kept], positions=pos[kept], orientation="horizontal",
                       widths=0.6, showfliers=False)
        rng = np.random.default_rng(0)
        for i, d in enumerate(data):
            ax.scatter(d, i + rng.uniform(-0.15, 0.15, len(d)), s=10, alpha=0.6, color="C1")
        ax.set_yticks(pos, [n[:60] for n in names], fontsize=7)
        ax.set_xlim(-0.02, 1.02)
        ax.invert_yaxis()  # first group on top, as in the table
        ax.set_xlabel(f"{key} (index slice of each case)")
        fig.tight_layout()
        out.append(images.tag(fig, f"dist_{key}", f"distribution of {key}"))
    return "\n".join(out)


def _thumb(fig, ax, image: np.ndarray, sal: np.ndarray, roi: np.ndarray, title: str) -> None:
    lo, hi = np.percentile(image, [1, 99]) if image.size else (0, 1)
    ax.imshow(image, cmap="gray", vmin=lo, vmax=hi if hi > lo else lo + 1,
              interpolation="nearest")
    h, w = image.shape
    p = np.maximum(np.asarray(sal, float), 0)
    top = p.max() if p.size else 0
    ax.imshow(p / top if top > 0 else p, cmap="jet", alpha=0.4, vmin=0, vmax=1,
              extent=(-0.5, w - 0.5, h - 0.5, -0.5), interpolation="bilinear")
    if roi.any():
        ax.contour(roi.astype(float), levels=[0.5], colors="lime", linewidths=1.0)
    ax.set_title(title, fontsize=7)
    ax.set_axis_off()


def _thumbnails(cases: list[dict[str, Any]], images: _Images,
                thumbnails: Thumbnailer | None) -> str:
    if thumbnails is None:
        return "<p>Thumbnails not requested.</p>"
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in cases:
        if r["relevance_mass"] is not None:
            groups[group_label(r)].append(r)
    out = []
    for gi, (name, rows) in enumerate(list(groups.items())[:MAX_THUMB_GROUPS]):
        rows = sorted(rows, key=lambda r: (r["relevance_mass"], r["case_id"]))
        picks = [("best", rows[-1])] + ([("worst", rows[0])] if len(rows) > 1 else [])
        fig = _figure(2.6 * len(picks), 2.9)
        for i, (which, row) in enumerate(picks):
            ax = fig.add_subplot(1, len(picks), i + 1)
            try:
                got = thumbnails(row)
            except Exception as err:  # noqa: BLE001 - a missing thumbnail must not stop it
                got = None
                why = textwrap.fill(f"{type(err).__name__}: {err}"[-160:], 40)
                ax.text(0.5, 0.5, f"thumbnail unavailable\n{why}", ha="center", va="center",
                        fontsize=6, transform=ax.transAxes)
            if got is not None:
                _thumb(fig, ax, *got, f"{which}: {row['case_id']} slice {row['index_slice']}\n"
                       f"relevance mass {row['relevance_mass']:.2f}")
            else:
                ax.set_axis_off()
        fig.suptitle(name[:80], fontsize=8)
        fig.tight_layout()
        out.append(f"<h3>{html.escape(name)}</h3>" +
                   images.tag(fig, f"thumbs_{gi:02d}", f"best and worst cases of {name}"))
    return "\n".join(out) or "<p>No scored cases.</p>"


def _similarity_table(sims: dict[str, dict[str, Any]]) -> str:
    """The map similarity across cases per model and map, flagged at ``WARN_AT``."""
    intro = ("<p>Every scored slice gives one map. For each model and map this is the median "
             "correlation between the maps of two slices from <i>different</i> cases: near "
             "0, the map changes with the image; near 1, the model draws nearly the same map "
             f"whatever the image shows. At {WARN_AT:g} and above a map is flagged "
             "(&#9888;, also in the scores table above). A map scored on fewer than two "
             "cases is not listed.</p>")
    if not sims:
        return intro + "<p>No map was scored on two or more cases.</p>"
    rows = [[html.escape(v.get("label") or name.replace("__", " / ")), _fmt(v["similarity"]),
             str(v.get("cases", "–")), f"{v['maps']} ({v['empty_maps']} empty)", str(v["pairs"]),
             f"&#9888; {html.escape(WARNING)}" if v["similarity"] >= WARN_AT else ""]
            for name, v in sims.items()]
    return intro + _table(["model / map", "similarity", "cases", "slice maps",
                           "slice pairs", "flag"], rows)


def render_report(cases: list[dict[str, Any]], summary: dict[str, Any], figures: Path,
                  thumbnails: Thumbnailer | None = None) -> str:
    """The report's HTML text (figures written into ``figures``)."""
    images = _Images(figures)
    grp_rows = []
    flagged = {v.get("label") for v in (summary.get("map_similarity") or {}).values()
               if v["similarity"] >= WARN_AT}
    for g in summary["groups"]:
        flag = " &#9888;" if map_label(g) in flagged else ""
        grp_rows.append([html.escape(g["label"]) + flag, str(g["n_cases"])]
                        + [_ci(g["medians"][k]) for k in MEDIAN_KEYS]
                        + [_pct(g["pointing_game"]), _pct(g["colocalizing_p05"]),
                           _pct(g["accuracy"])])
    groups_html = _table(["model / map / ROI", "cases"]
                         + [f"median {k} [95% CI]" for k in MEDIAN_KEYS]
                         + ["pointing game", "p < 0.05", "correct"], grp_rows)
    flag_note = ("<p>&#9888; this map is nearly the same on every image: see <i>Does the map "
                 "depend on the image?</i> below.</p>" if flagged else "")
    comp_rows = [[html.escape(f"{c['method']} ({c['rank']})" if c["rank"] else c["method"]),
                  html.escape(c["roi"]), html.escape(c["model_a"]), html.escape(c["model_b"]),
                  str(c["n"]), _fmt(c["median_difference"]), _fmt(c["statistic"], 1),
                  _fmt(c["p_value"], 4)] for c in summary["model_comparisons"]]
    comp_html = (_table(["map", "ROI", "model A", "model B", "pairs",
                         "median A−B relevance mass", "W", "p (Wilcoxon)"], comp_rows)
                 if comp_rows else "<p>One model only: no paired comparison.</p>")
    pr = summary["principal"]
    pr_rows = [[html.escape(c["model"]), html.escape(c["roi"]), html.escape(c["principal"]),
                _fmt(c["median_principal"]), _fmt(c["median_full"]), str(c["n"]),
                _fmt(c["median_difference"]), _fmt(c["p_value"], 4)]
               for c in pr["comparisons"]]
    pr_html = (_table(["model", "ROI", "map", "median (principal)", "median (all channels)",
                       "pairs", "median difference", "p (Wilcoxon)"], pr_rows)
               if pr_rows else f"<p>No principal-channel CAM ({_fmt(pr.get('note'))}).</p>")
    sim_html = _similarity_table(summary.get("map_similarity") or {})
    fails = summary["failures"]["list"]
    fail_html = (_table(["case", "model", "reason"],
                        [[html.escape(f["case_id"]), html.escape(f["model"]),
                          html.escape(f["reason"])] for f in fails])
                 if fails else "<p>No failed cases.</p>")
    u = summary["units"]
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>coloc_viewer cohort report</title>
<style>body{{font-family:sans-serif;margin:1.5em;max-width:75em}}
table{{border-collapse:collapse;font-size:0.85em;margin:0.5em 0}}
td,th{{border:1px solid #bbb;padding:0.25em 0.5em;text-align:left}}
th{{background:#eee}} img{{max-width:100%;display:block;margin:0.5em 0}}</style></head>
<body><h1>Co-localization over the cohort</h1>
<p>{summary['n_cases']} cases, models {html.escape(', '.join(summary['models']))};
{u['ok']} of {u['planned']} units done, {summary['failures']['cases']} case(s) failed.
Scores are those of each case's index slice (the slice where the ROI is largest);
medians carry seeded percentile-bootstrap 95% confidence intervals; "p &lt; 0.05" is the
share of cases whose ROI-shift permutation p-value is below 0.05.</p>
<h2>Scores per model, map and ROI</h2>{groups_html}{flag_note}
<h2>Distributions</h2>{_distributions(cases, images)}
<h2>Does the map depend on the image?</h2>{sim_html}
<h2>Paired model comparison</h2>{comp_html}
<h2>Principal channels (Li et al. 2024)</h2>{pr_html}
<h2>Best and worst cases</h2>{_thumbnails(cases, images, thumbnails)}
<h2>Failed cases</h2>{fail_html}
</body></html>
"""


def write_report(out_dir: Path, cases: list[dict[str, Any]], summary: dict[str, Any], *,
                 thumbnails: Thumbnailer | None = None) -> Path:
    """Write ``report.html`` (and ``figures/*.png``) into ``out_dir`` atomically."""
    text = render_report(cases, summary, out_dir / "figures", thumbnails)
    path = out_dir / "report.html"
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path
