"""The plain-language verdict of the score panel (the rule is written in docs/scores.md).

For each ROI with scores:

* *above chance*: p < 0.05 (the shift test of ``p_value``);
* *looks at*: above chance **and** the map's peak lies in the ROI (``pointing_game``) or at
  least half of its top-|ROI| pixels do (``relevance_rank`` >= 0.5);
* *enrichment*: relevance mass / (ROI area / image area), i.e. how many times more of the
  map falls in the ROI than a uniform map would put there. The verdict names the ROI where
  the map concentrates (highest enrichment);
* *elsewhere*: the share of positive mass outside every ROI (``outside``); above one half,
  the verdict says so even when an ROI is above chance.
"""

from __future__ import annotations

from typing import Any

from coloc_viewer.metrics.definitions import p_phrase

ALPHA = 0.05
TOP_SHARE = 0.5  # relevance_rank that counts as "its top pixels are in the ROI"
# an ROI name that starts with one of these takes no "the" ("my lesion", not "the my lesion")
DETERMINERS = frozenset({"a", "an", "the", "this", "that", "these", "those", "my", "our",
                         "your", "his", "her", "its", "their"})


def the(name: str) -> str:
    """An ROI name as a noun phrase: "the lesion", but "my lesion" as it is."""
    words = name.split()
    return name if words and words[0].lower() in DETERMINERS else f"the {name}"


def enrichment(scores: dict[str, Any]) -> float | None:
    """Relevance mass over the ROI's share of the image (1 = what a uniform map gives)."""
    mass, n_roi, n_pixels = (scores.get(k) for k in ("relevance_mass", "n_roi", "n_pixels"))
    if mass is None or not n_roi or not n_pixels:
        return None
    return float(mass) / (float(n_roi) / float(n_pixels))


def above_chance(scores: dict[str, Any]) -> bool:
    p = scores.get("p_value")
    return p is not None and p < ALPHA


def looks_at(scores: dict[str, Any]) -> bool:
    """Above chance, and the peak or the top-|ROI| pixels in the ROI."""
    rank = scores.get("relevance_rank")
    return above_chance(scores) and (bool(scores.get("pointing_game"))
                                     or (rank is not None and rank >= TOP_SHARE))


def describe(scores: dict[str, Any]) -> str:
    """One ROI's short phrase for its row ("looks at it (p = 0.003)", ...).

    Without a relevance mass, ``n_roi`` (ROI pixels on this slice) tells an empty ROI from
    a map with nothing positive to share out."""
    if not scores or scores.get("relevance_mass") is None:
        if scores and (scores.get("n_roi") or 0) > 0:
            return "the map has no positive values on this slice"
        return "no ROI drawn"
    p = scores.get("p_value")
    if p is None:
        return f"relevance mass {scores['relevance_mass']:.2f} (no p-value)"
    if looks_at(scores):
        return f"co-localizes ({p_phrase(p)})"
    if above_chance(scores):
        return f"above chance ({p_phrase(p)}) but the peak is elsewhere"
    return f"does not co-localize ({p_phrase(p)})"


def verdict(scores_by_roi: dict[str, dict[str, Any]], outside: float | None = None) -> str:
    """The verdict naming the ROIs; ``outside``: share of positive mass outside every ROI."""
    drawn = {n: s for n, s in scores_by_roi.items() if s and s.get("relevance_mass") is not None}
    if not drawn:
        if any(s and (s.get("n_roi") or 0) > 0 for s in scores_by_roi.values()):
            return "The map has no positive values on this slice."
        return "Draw an ROI to score the map."
    if all(s.get("p_value") is None for s in drawn.values()):
        name, s = next(iter(drawn.items()))
        return f"The map's relevance mass in {the(name)} is {s['relevance_mass']:.2f}."
    hits = [n for n, s in drawn.items() if looks_at(s)]
    chance_only = [n for n, s in drawn.items() if above_chance(s) and n not in hits]
    misses = [n for n in drawn if n not in hits and n not in chance_only]
    parts = [_main_sentence(drawn, hits, chance_only, misses)]
    focus = _focus(drawn)
    if focus is not None and len(drawn) > 1:
        parts.append(_focus_sentence(drawn, *focus, ranking=not hits))
    if outside is not None and outside > 0.5:
        if hits or chance_only:
            parts.append(f"Above chance on {_join(hits or chance_only)}, but most of the "
                         f"map is elsewhere ({outside:.0%} outside every ROI).")
        else:
            parts.append(f"Most of the map ({outside:.0%}) lies outside every ROI.")
    return " ".join(parts)


def _main_sentence(drawn: dict[str, dict[str, Any]], hits: list[str], chance_only: list[str],
                   misses: list[str]) -> str:
    if len(drawn) == 1:
        name, s = next(iter(drawn.items()))
        p = s["p_value"]
        if hits:
            return f"The map looks at {the(name)} ({p_phrase(p)})."
        if chance_only:
            return (f"The map does not look at {the(name)}: its mass there is above chance "
                    f"({p_phrase(p)}), but neither its peak nor its top pixels are in it.")
        return f"The map does not co-localize with {the(name)} ({p_phrase(p)})."
    if not hits:
        text = "The map looks at none of the ROIs (" + ", ".join(drawn) + ")."
        if chance_only:
            text += (f" Its mass in {_join(chance_only)} is above chance, but neither its "
                     "peak nor its top pixels are there.")
        return text
    others = chance_only + misses
    if not others:
        return "The map looks at " + _join(hits) + "."
    return "The map looks at " + _join(hits) + ", not at " + _join(others, "or") + "."


def _focus_sentence(drawn: dict[str, dict[str, Any]], name: str, times: float,
                    ranking: bool) -> str:
    """Where the map concentrates among several ROIs; said only when some ROI gets more
    than a uniform map would give it (a 0.0x "concentration" is no concentration)."""
    if times <= 0:
        return "None of its positive mass falls in any ROI."
    if times <= 1:
        return f"No ROI gets more of it than a uniform map would (at most {times:.1f}x)."
    p = drawn[name].get("p_value")
    chance = "" if p is None else (f", above chance ({p_phrase(p)})" if p < ALPHA
                                   else f", though not above chance ({p_phrase(p)})")
    # after "looks at none of the ROIs", "of them" says this is a ranking, not a hit
    lead = "Of them, it" if ranking else "It"
    return f"{lead} concentrates most on {the(name)} ({times:.1f}x a uniform map){chance}."


def _focus(drawn: dict[str, dict[str, Any]]) -> tuple[str, float] | None:
    rated = [(n, e) for n, s in drawn.items() if (e := enrichment(s)) is not None]
    return max(rated, key=lambda item: item[1]) if rated else None


def _join(names: list[str], word: str = "and") -> str:
    """ROI names as one noun phrase: "the lesion, the marker and my lesion"."""
    phrases = [the(n) for n in names]
    if len(phrases) <= 1:
        return "".join(phrases)
    return ", ".join(phrases[:-1]) + f" {word} " + phrases[-1]
