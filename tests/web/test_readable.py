"""Readable answers: the summary first, API numbers rounded, every cited source by its title."""

from __future__ import annotations

import json
import re

import pytest

from model.diagnosis import TRIAGE_LABELS
from model.priors import PRIOR_FILES, bundled_sources, load_sources, read_yaml, source_title
from tests.conftest import SOURCES

GTPS = {"sex": "female", "age": 45, "pain_lateral_hip": "present", "pain_lying_on_side": "present"}
RED = {"cannot_bear_weight": "present", "age": 35}


def _cited_files(node):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "source" and isinstance(v, str):
                yield v
            yield from _cited_files(v)
    elif isinstance(node, list):
        for v in node:
            yield from _cited_files(v)


def test_every_cited_source_is_in_the_registry(priors_dir):
    registry = load_sources(priors_dir)
    cited = {f for name in PRIOR_FILES for f in _cited_files(read_yaml(priors_dir / name))}
    assert cited, "no citations found: the walk is broken"
    assert cited <= set(registry), f"not in priors/sources.yaml: {sorted(cited - set(registry))}"


@pytest.mark.skipif(not SOURCES.is_dir(), reason="../shared/sources not present")
def test_titles_come_from_the_articles():
    for file, src in bundled_sources().items():
        text = (SOURCES / file).read_text(encoding="utf-8")
        assert src.title.lower() in text.lower(), (file, src.title)  # the article's own words
        assert src.description


def test_a_malformed_registry_names_the_entry(tmp_path):
    from model import PriorsError

    (tmp_path / "sources.yaml").write_text("sources:\n  a.txt: {title: A}\n", encoding="utf-8")
    with pytest.raises(PriorsError, match=r"sources\.a\.txt\.description"):
        load_sources(tmp_path)


def test_unknown_file_reads_as_itself():
    assert source_title("999_unknown.txt") == "999_unknown.txt" and source_title(None) is None


def test_summary_comes_first_and_reads_the_triage_and_top_conditions(model):
    d = model.diagnose(GTPS)
    body = d.to_dict()
    assert list(body)[:2] == ["model", "summary"]
    s = body["summary"]
    assert s["triage"] == body["triage"]["level"] == "see_clinician"
    assert s["triage_label"] == TRIAGE_LABELS["see_clinician"]
    top = sorted(d.conditions, key=lambda c: -c.probability)[:3]
    assert [c["id"] for c in s["top_conditions"]] == [c.id for c in top]
    assert [c["probability"] for c in s["top_conditions"]] == [round(c.probability, 2) for c in top]
    assert s["text"].startswith(TRIAGE_LABELS["see_clinician"])
    assert f"gtps {round(d.probability('gtps'), 2):.2f}" in s["text"]


def test_summary_of_a_red_flag_case_gives_the_reasons(model):
    s = model.diagnose(RED).to_dict()["summary"]
    assert s["triage"] == "emergency" and "cannot_bear_weight" in s["red_flags"]
    assert any("Cannot put weight on the leg" in r for r in s["reasons"])
    assert s["text"].startswith("Emergency") and "Cannot put weight on the leg" in s["text"]


def test_summary_shows_explanations_and_triage_reasons_when_the_body_has_them():
    from model.diagnosis import summary

    body = {"triage": {"level": "urgent", "red_flags": [], "provisional": True,
                       "reasons": [{"rule": "r", "reason": "because", "source": "x"}]},
            "outside_population": {"reason": "under 10"},
            "explanations": [{"present": ["gtps"], "probability": 0.5812}, {"present": [], "probability": 0.1}],
            "conditions": [{"id": "gtps", "name": "G", "probability": 0.61234}]}
    s = summary(body)
    assert s["reasons"] == ["because"] and s["provisional"] is True and s["outside_population"] == "under 10"
    assert s["explanations"] == [{"present": ["gtps"], "probability": 0.58}, {"present": [], "probability": 0.1}]
    assert s["text"] == ("Urgent: get a medical assessment today (provisional): because. Outside the model's population: under 10. "
                         "Most likely together: gtps 0.58; none of the conditions 0.10. Most probable: gtps 0.61.")


def test_api_numbers_are_rounded_and_python_keeps_the_exact_ones(model):
    d = model.diagnose(GTPS)
    body = d.to_dict()
    exact = d.to_dict(decimals=None)
    for c, e in zip(body["conditions"], exact["conditions"], strict=True):
        assert c["probability"] == round(e["probability"], 4) and c["prior"] == round(e["prior"], 4)
        assert c["interval"] == [round(x, 4) for x in e["interval"]]
        assert c["interval"][0] <= c["probability"] <= c["interval"][1]
        for a, b in zip(c["evidence"], e["evidence"], strict=True):
            assert a["effect"] == round(b["effect"], 4)
            if "likelihood_ratio" in b:
                assert a["likelihood_ratio"] == float(f"{b['likelihood_ratio']:.4g}")
    assert d.probability("gtps") == exact["conditions"][0]["probability"] != body["conditions"][0]["probability"]
    assert "0.1499999999" not in json.dumps(body)
    for q in body["next_questions"]:
        assert q["expected_information_gain"] == round(q["expected_information_gain"], 4)


def test_every_citation_in_a_body_has_its_title(model):
    body = model.diagnose({**GTPS, **RED})
    seen = 0

    def walk(node):
        nonlocal seen
        if isinstance(node, dict):
            if isinstance(node.get("source"), str) and node["source"] in bundled_sources():  # an article
                assert node["title"] == bundled_sources()[node["source"]].title
                seen += 1
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(body.to_dict())
    assert seen > 5
    # every source that names an article file (not a priors entry such as a triage threshold) is in the registry
    assert all(s in bundled_sources() for s in re.findall(r'"source": "([^"]+\.txt)"', json.dumps(body.to_dict())))


def test_to_dict_does_not_change_the_cached_citations(model):
    a = model.diagnose(GTPS).to_dict()
    b = model.diagnose(GTPS).to_dict(decimals=None)
    src = a["conditions"][0]["evidence"][0]["sources"][0]
    assert list(src).count("title") == 1 and b["conditions"][0]["evidence"][0]["sources"][0]["title"] == src["title"]


def test_model_description_priors_are_rounded(model):
    for c in model.describe()["conditions"]:
        assert c["prior"] == round(float(model.prior_probabilities[c["id"]]), 4)
    assert "0.1499999" not in json.dumps(model.describe())
