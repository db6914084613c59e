"""RiskAssessment: from $assess, from the CLI, and in the CDS suggestion; valid FHIR, numbers equal to a
direct diagnosis."""

from __future__ import annotations

import json

import pytest

from model import DISCLAIMER
from service.fhir.terminology import INTERVAL_EXTENSION, SYSTEM, TRIAGE_EXTENSION

from .conftest import problem, qr, validate

ANSWERS = {"sex": {"valueCoding": {"code": "female"}}, "age": {"valueInteger": 45}, "pain_lateral_hip": {"valueBoolean": True},
           "pain_lying_on_side": {"valueBoolean": True}}
EVIDENCE = {"sex": "female", "age": 45, "pain_lateral_hip": True, "pain_lying_on_side": True}


def _check_against(ra, d):
    validate(ra)
    assert [p["outcome"]["coding"][0]["code"] for p in ra["prediction"]] == [c["id"] for c in d["conditions"]]
    for p, c in zip(ra["prediction"], d["conditions"], strict=True):
        assert p["outcome"]["coding"][0]["system"] == SYSTEM
        assert p["probabilityDecimal"] == pytest.approx(c["probability"], rel=1e-12)
        (ext,) = p["extension"]
        assert ext["url"] == INTERVAL_EXTENSION
        assert [ext["valueRange"]["low"]["value"], ext["valueRange"]["high"]["value"]] == pytest.approx(c["interval"], rel=1e-12)
    assert d["model"]["version"] in ra["method"]["text"] and "hipdx" in ra["method"]["text"]
    assert ra["note"][0]["text"] == DISCLAIMER
    assert ra["extension"] == [{"url": TRIAGE_EXTENSION, "valueCode": d["triage"]["level"]}]


def test_assess_operation(client, model):
    body = qr(ANSWERS, id="qr-7")
    resp = client.post("/fhir/RiskAssessment/$assess", json=body)
    assert resp.status_code == 200 and resp.mimetype == "application/fhir+json"
    ra = resp.get_json()
    _check_against(ra, model.diagnose(EVIDENCE).to_dict())
    assert ra["basis"] == [{"reference": "QuestionnaireResponse/qr-7", "type": "QuestionnaireResponse"}]
    assert ra["subject"] == {"reference": "Patient/123"}


def test_assess_takes_parameters(client, model):
    params = {"resourceType": "Parameters", "parameter": [{"name": "in", "resource": qr(ANSWERS)}]}
    validate(params)
    ra = client.post("/fhir/RiskAssessment/$assess", json=params, content_type="application/fhir+json").get_json()
    _check_against(ra, model.diagnose(EVIDENCE).to_dict())


def test_assess_partial_and_unread_answers_are_noted(client):
    body = qr({**ANSWERS, "sex": {"valueCoding": {"code": "robot"}}}, status="in-progress")
    ra = client.post("/fhir/RiskAssessment/$assess", json=body).get_json()
    validate(ra)
    notes = " ".join(n["text"] for n in ra["note"])
    assert ra["status"] == "preliminary" and "in-progress" in notes and "sex:" in notes


def test_assess_without_answers_has_no_triage(client, model):
    ra = client.post("/fhir/RiskAssessment/$assess", json=qr({})).get_json()
    validate(ra)
    assert "extension" not in ra and ra["status"] == "preliminary" and ra["mitigation"].startswith("No triage")
    assert ra["prediction"][0]["probabilityDecimal"] == pytest.approx(model.diagnose({}).to_dict()["conditions"][0]["probability"])


@pytest.mark.parametrize("body", [{"resourceType": "Patient"}, [], {"resourceType": "Parameters", "parameter": []}])
def test_assess_refuses_other_bodies(client, body):
    problem(client.post("/fhir/RiskAssessment/$assess", json=body), 400, "invalid-questionnaire-response")


def test_assess_needs_the_api_key_when_configured(make_app):
    keyed = make_app(api_keys="k1").test_client()
    problem(keyed.post("/fhir/RiskAssessment/$assess", json=qr(ANSWERS)), 401, "unauthorized")
    assert keyed.post("/fhir/RiskAssessment/$assess", json=qr(ANSWERS), headers={"X-API-Key": "k1"}).status_code == 200
    assert keyed.get("/fhir/Questionnaire/hipdx").status_code == 200  # the form itself stays open


def test_cli_diagnose_format_fhir(model, capsys):
    from service.cli import main

    assert main(["diagnose", "--format", "fhir", "-e", json.dumps(EVIDENCE)]) == 0
    ra = json.loads(capsys.readouterr().out)
    _check_against(ra, model.diagnose(EVIDENCE).to_dict())
    assert "display" in ra["subject"]  # no patient: a display-only reference says so


def test_cds_suggestion_creates_the_same_risk_assessment(client, model):
    from .conftest import CDS_URL, cards, cds_request

    got = cards(client.post(CDS_URL, json=cds_request(qr(ANSWERS, id="qr-9"))))
    ra = got[0]["suggestions"][0]["actions"][0]["resource"]
    _check_against(ra, model.diagnose(EVIDENCE).to_dict())
    assert ra["basis"][0]["reference"] == "QuestionnaireResponse/qr-9" and ra["subject"]["reference"] == "Patient/123"
