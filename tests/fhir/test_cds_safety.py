"""Issue 10 through CDS Hooks: every case of ../shared/cases/safety.yaml that has evidence, sent as a
QuestionnaireResponse: no red flag lost (critical card), never a 5xx, and the same triage as the
Python, JSON API and batch channels give on the same (readable) answers."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
import yaml

from service.fhir import cds
from service.fhir.terminology import GENDER

from .conftest import CASES, CDS_URL, cards, cds_request, qr

SAFETY = yaml.safe_load((CASES / "safety.yaml").read_text()) if (CASES / "safety.yaml").exists() else []
WITH_EVIDENCE = [c for c in SAFETY if "evidence" in c]
ORDER = ["emergency", "urgent", "see_clinician", "self_care"]


def as_answer(model: Any, field: str, value: Any) -> dict[str, Any]:
    """A case's answer as the value[x] an EHR would send for the generated Questionnaire's item."""
    vid = model.vocabulary.aliases.get(field, field)
    var = model.variables[vid]
    if field == "sex" and value not in var.states:
        return {"valueCoding": {"system": GENDER, "code": value}}  # e.g. other: administrative-gender
    if isinstance(value, bool) or value in ("present", "absent", "yes", "no") and set(var.states) in (
            {"present", "absent"}, {"yes", "no"}):
        return {"valueBoolean": value if isinstance(value, bool) else value in ("present", "yes")}
    if isinstance(value, int):
        return {"valueInteger": value}
    if isinstance(value, float):
        return {"valueDecimal": value}
    return {"valueCoding": {"system": "http://hipdx.org/fhir/CodeSystem/hipdx", "code": value}}


def readable(model: Any, evidence: dict[str, Any]) -> dict[str, Any]:
    """The answers the model can read, each on its own (what CDS diagnoses)."""
    from model import EvidenceError

    out = {}
    for field, value in evidence.items():
        vid = model.vocabulary.aliases.get(field, field)
        try:
            if model.vocabulary.read_value(vid, value, field) is not None:
                out[field] = value
        except EvidenceError:
            pass
    return out


@pytest.mark.parametrize("case", WITH_EVIDENCE, ids=[c["id"] for c in WITH_EVIDENCE])
def test_safety_case_through_cds(client, model, case):
    evidence = case["evidence"]
    answers = {field: as_answer(model, field, value) for field, value in evidence.items()}
    resp = client.post(CDS_URL, json=cds_request(qr(answers)))
    assert resp.status_code < 500
    got = cards(resp)
    expect = case.get("expect", {})
    criticals = " ".join(c["summary"] + c.get("detail", "") for c in got if c["indicator"] == "critical")
    direct = model.diagnose(readable(model, evidence)).to_dict() if readable(model, evidence) else None
    for flag in expect.get("red_flags", []):
        assert direct is not None and flag in [f["id"] for f in direct["triage"]["red_flags"]]
        reason = next(f["reason"] for f in direct["triage"]["red_flags"] if f["id"] == flag)
        assert reason in criticals, f"red flag {flag} lost"
    triage_cards = [c for c in got if c["summary"].startswith("Triage:")]
    if direct is None or direct["triage"].get("level") is None:
        assert not triage_cards  # nothing answered: no triage card at all
        return
    (triage,) = triage_cards
    level = direct["triage"]["level"]
    # The other channels, on the same readable answers: the JSON API and the batch scorer.
    api = client.post("/v1/diagnosis", json={"evidence": readable(model, evidence)})
    assert api.status_code == 200 and api.get_json()["triage"]["level"] == level
    assert model.score(pd.DataFrame([readable(model, evidence)]))["triage"].iloc[0] == level
    assert triage["summary"].startswith(f"Triage: {cds.LEVEL_TEXT[level]}")
    assert triage["indicator"] == cds.INDICATOR[level]
    assert ("(provisional)" in triage["summary"]) == bool(direct["triage"].get("provisional"))
    assert len([c for c in got if c["summary"].startswith("Red flag")]) == len(direct["triage"]["red_flags"])
    if direct.get("outside_population"):
        assert any(c["summary"].startswith("Outside the model's population") for c in got)


def test_no_answers_case_gives_no_triage_card(client):
    got = cards(client.post(CDS_URL, json=cds_request(qr({}))))
    assert [c["indicator"] for c in got] == ["info"] and "no triage" in got[0]["detail"]


@pytest.mark.parametrize("level", ORDER)
def test_summary_card_indicator_follows_triage(level):
    d = {"conditions": [{"id": "gtps", "name": "Greater trochanteric pain syndrome (x)", "probability": 0.5, "prior": 0.1}],
         "triage": {"level": level, "red_flags": [], "provisional": level == "self_care", "open_questions": ["fever"],
                    "reasons": [{"rule": "r", "reason": "because", "source": "s.txt"}]},
         "outside_population": {"reason": "age below 18"} if level == "see_clinician" else None, "disclaimer": "d"}
    got, issued = cds.cards(d, cds.ReadResponse(), {"label": "hipdx"})
    assert got[0]["indicator"] == {"emergency": "critical", "urgent": "critical", "see_clinician": "warning",
                                   "self_care": "info"}[level]
    assert got[0]["summary"].startswith(f"Triage: {cds.LEVEL_TEXT[level]}")
    assert "because (source: s.txt)" in got[0]["detail"]
    assert ("`fever`" in got[0]["detail"]) and issued[0].kind == "triage" and issued[0].rule == level
    if level == "see_clinician":
        assert any(c["summary"].startswith("Outside the model's population") for c in got)
        assert "Outside the model's population." in got[0]["summary"]


def test_null_level_gives_no_triage_card():
    d = {"conditions": [], "triage": {"level": None, "red_flags": [], "provisional": True, "open_questions": ["fever"]},
         "disclaimer": "d"}
    got, _ = cds.cards(d, cds.ReadResponse(), {"label": "hipdx"})
    assert got == []
