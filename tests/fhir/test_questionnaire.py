"""The Questionnaire and CodeSystem: generated from the model, valid FHIR, served and written by the CLI."""

from __future__ import annotations

import json

import pytest

from service.fhir.questionnaire import item_type, link_id, questionnaire
from service.fhir.terminology import QUESTIONNAIRE_URL, SYSTEM, code_system

from .conftest import validate


def _items(q):
    for group in q["item"]:
        assert group["type"] == "group"
        yield from group["item"]


def test_questionnaire_is_valid_fhir_and_generated_from_the_model(model):
    q = questionnaire(model)
    validate(q)
    assert q["url"] == QUESTIONNAIRE_URL and q["version"] == model.version
    items = list(_items(q))
    assert [i["code"][0]["code"] for i in items] == list(model.variables)  # one item per variable, model order
    assert [g["linkId"] for g in q["item"]] == list(dict.fromkeys(v.group for v in model.variables.values()))
    for it, (vid, var) in zip(items, model.variables.items(), strict=True):
        assert "required" not in it
        assert it["text"] == var.question
        assert it["linkId"] == (var.numeric.field if var.numeric else vid)
        if it["type"] == "choice":
            assert [o["valueCoding"]["code"] for o in it["answerOption"]] == list(var.states)
            assert {o["valueCoding"]["system"] for o in it["answerOption"]} == {SYSTEM}
    text = json.dumps(q)
    assert '"required"' not in text


def test_item_types_and_units(model):
    by_link = {i["linkId"]: i for i in _items(questionnaire(model))}
    assert by_link["age"]["type"] == "integer"
    assert by_link["rest_days_per_week"]["type"] == "integer"
    assert by_link["weekly_training_hours"]["type"] == "decimal"  # cut at 13.5 h
    assert by_link["pain_groin"]["type"] == "boolean" and by_link["strength_training"]["type"] == "boolean"
    assert by_link["sex"]["type"] == "choice" and by_link["onset"]["type"] == "choice"
    units = {k: [e for e in v.get("extension", []) if e["url"].endswith("questionnaire-unit")] for k, v in by_link.items()}
    assert units["age"][0]["valueCoding"]["code"] == "a"
    assert units["weekly_training_hours"][0]["valueCoding"]["code"] == "h/wk"
    assert units["rest_days_per_week"][0]["valueCoding"]["code"] == "d/wk"
    limits = {e["url"].rsplit("/", 1)[1]: e["valueInteger"] for e in by_link["age"]["extension"] if "valueInteger" in e}
    var = model.variables["age_band"].numeric
    assert limits == {"minValue": int(var.min), "maxValue": int(var.max)}
    for vid, var in model.variables.items():
        assert by_link[link_id(var)]["type"] == item_type(var), vid


def test_code_system_has_every_code_the_questionnaire_and_risk_assessment_use(model):
    cs = code_system(model)
    validate(cs)
    assert cs["url"] == SYSTEM and cs["version"] == model.version and cs["content"] == "complete"
    groups = {g["code"]: [c["code"] for c in g["concept"]] for g in cs["concept"]}
    assert groups["condition"] == model.conditions
    assert groups["question"] == list(model.variables)
    used = {o["valueCoding"]["code"] for i in _items(questionnaire(model)) for o in i.get("answerOption", [])}
    assert used <= set(groups["answer"])
    every = [c for g in groups.values() for c in g] + list(groups)
    assert len(every) == len(set(every)), "codes must be unique in a CodeSystem"


def test_served(client, model):
    resp = client.get("/fhir/Questionnaire/hipdx")
    assert resp.status_code == 200 and resp.mimetype == "application/fhir+json"
    assert resp.get_json() == questionnaire(model)
    resp = client.get("/fhir/CodeSystem/hipdx")
    assert resp.status_code == 200 and resp.get_json() == code_system(model)


@pytest.mark.parametrize("resource", ["Questionnaire", "CodeSystem"])
def test_cli_writes_the_resource(tmp_path, model, resource):
    from service.cli import main

    out = tmp_path / "q.json"
    assert main(["questionnaire", "-o", str(out), "--resource", resource]) == 0
    written = json.loads(out.read_text())
    validate(written)
    assert written == (questionnaire(model) if resource == "Questionnaire" else code_system(model))
