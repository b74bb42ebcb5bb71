"""Qt-free: matching a multi-series card's roles to the open study's series, the sentences
that make the viewer ask or refuse, and the PHI-free per-study store of the reader's choice."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

from coloc_viewer.imaging.volume import Volume
from coloc_viewer.viewer.analysis import cannot_run
from coloc_viewer.viewer.series_roles import RoleInputs, StudySeries, plan_roles
from coloc_viewer.workspace.role_choices import RoleChoices, choice_hash, study_store_key

CARD = SimpleNamespace(name="mp", in_channels=3, inputs=[
    {"role": "T2", "series": "(?i)t2"}, {"role": "ADC", "series": "(?i)adc"},
    {"role": "DWI", "series": "(?i)(dwi|b1[0-9]{3})"}])


def _volume(key: str = "t2uid", description: str = "T2 AX") -> Volume:
    return Volume(np.zeros((3, 4, 4), np.float32), metadata={
        "series_key": key, "study_uid": "1.2.3", "description": description})


def _series(*items: tuple[str, str]) -> list[StudySeries]:
    return [StudySeries(key, "/nowhere", key, desc, "MR", (3, 4, 4), (3.0, 1.0, 1.0))
            for key, desc in items]


def test_patterns_that_match_once_need_no_question():
    series = _series(("t2uid", "T2 AX"), ("a", "ADC map"), ("d", "DWI b1400"))
    plan = plan_roles(CARD, _volume(), series)
    assert plan.ready and plan.assignment == {"T2": "t2uid", "ADC": "a", "DWI": "d"}
    assert RoleInputs(plan).signature == "T2=t2uid;ADC=a;DWI=d"


def test_two_matches_ask_and_guess_the_first():
    series = _series(("t2uid", "T2 AX"), ("a", "ADC map"), ("a2", "adc recomputed"),
                     ("d", "b1400 trace"))
    plan = plan_roles(CARD, _volume(), series)
    assert not plan.ready and plan.question.startswith("2 series match ADC (/(?i)adc/)")
    assert plan.guess("ADC") == "a" and plan.guess("DWI") == "d"
    assert [s.series_key for s in plan.candidates("T2")] == ["t2uid"]
    assert [s.series_key for s in plan.candidates("ADC")] == ["a", "a2", "d"]
    chosen = plan.with_choice({"T2": "t2uid", "ADC": "a2", "DWI": "d"})
    assert chosen.ready and chosen.assignment["ADC"] == "a2"
    with pytest.raises(ValueError, match="only one role"):
        plan.with_choice({"T2": "t2uid", "ADC": "d", "DWI": "d"})
    with pytest.raises(ValueError, match="open series"):
        plan.with_choice({"T2": "a", "ADC": "a2", "DWI": "d"})
    # remembered: the same choice without asking; stale (a series gone): asked again
    again = plan_roles(CARD, _volume(), series, chosen.remembered())
    assert again.ready and again.assignment == chosen.assignment
    stale = plan_roles(CARD, _volume(), [s for s in series if s.series_key != "a2"],
                       chosen.remembered())
    assert stale.ready and stale.assignment["ADC"] == "a"  # now one ADC: matched


def test_no_match_and_an_open_series_that_is_not_the_first_role_ask():
    plan = plan_roles(CARD, _volume(), _series(("t2uid", "T2"), ("x", "FLAIR"), ("d", "DWI")))
    assert not plan.ready and plan.question.startswith("No series matches ADC")
    plan = plan_roles(CARD, _volume("a", "ADC map"),
                      _series(("a", "ADC map"), ("t", "T2 AX"), ("d", "DWI")))
    assert not plan.ready and "does not match T2" in plan.question
    assert plan.assignment["T2"] == "a"  # the open series stays the first role


def test_too_few_series_is_one_sentence():
    model = SimpleNamespace(card=CARD)
    vol = _volume()
    plan = plan_roles(CARD, vol, [])
    assert plan.reason == ("Model 'mp' takes 3 series as input channels (T2, ADC, DWI); this "
                           "study has 1 series, so it cannot run this model on this study.")
    assert "3 series" in cannot_run(model, vol) and cannot_run(model, vol, object()) is None


def test_the_store_is_per_study_and_phi_free(tmp_path):
    store = RoleChoices(tmp_path)
    key = study_store_key("1.2.840.99.1", None)
    assert key == study_store_key("1.2.840.99.1", "/elsewhere") != study_store_key(None, "/a")
    store.put(key, "mp", {"T2": choice_hash("uid.t2"), "ADC": choice_hash("uid.adc")})
    assert store.get(key, "mp") == {"T2": choice_hash("uid.t2"), "ADC": choice_hash("uid.adc")}
    assert store.get(key, "other") is None
    assert store.get(study_store_key("1.2.840.99.2", None), "mp") is None
    files = list((tmp_path / "study-inputs").iterdir())
    text = files[0].read_text()
    assert files[0].name == f"{key}.json" and "1.2.840" not in text and "uid." not in text
    assert json.loads(text)["models"]["mp"]["ADC"] == choice_hash("uid.adc")
    with pytest.raises(ValueError):
        store.get("../escape", "mp")
