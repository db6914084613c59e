"""CDS Hooks: discovery, the patient-view service, cards checked against the spec's rules."""

from __future__ import annotations

import json

import pytest

from model import DISCLAIMER
from service import cds_hooks

from .conftest import assert_cds_discovery, assert_cds_response, cds_request, questionnaire
from .test_api import assert_problem

URL = f"/cds-services/{cds_hooks.SERVICE_ID}"
ANSWERS = {
    "sex": {"valueCoding": {"system": "urn:hipdx", "code": "female"}},
    "age": {"valueInteger": 47},
    "weekly_training_hours": {"valueDecimal": 9.5},
    "pain_lateral_hip": {"valueBoolean": True},
    "pain_lying_on_side": {"valueString": "present"},
    "pain_groin": {"valueBoolean": False},
}


def test_discovery(client):
    resp = client.get("/cds-services")
    assert resp.status_code == 200
    body = resp.get_json()
    assert_cds_discovery(body)
    (svc,) = body["services"]
    assert svc["hook"] == "patient-view" and svc["id"] == cds_hooks.SERVICE_ID
    assert "{{context.patientId}}" in svc["prefetch"]["questionnaireResponse"]


@pytest.mark.parametrize("nested", [False, True])
def test_cards_from_questionnaire(client, model, nested):
    resp = client.post(URL, json=cds_request(questionnaire(ANSWERS, nested=nested)))
    assert resp.status_code == 200, resp.get_data(as_text=True)
    body = resp.get_json()
    assert_cds_response(body)
    expected = model.diagnose({"sex": "female", "age": 47, "weekly_training_hours": 9.5, "pain_lateral_hip": True,
                               "pain_lying_on_side": "present", "pain_groin": False}).to_dict()
    main = body["cards"][0]
    assert main["indicator"] == ("info" if expected["triage"]["level"] == "self_care" else "warning")
    assert main["source"]["label"] == f"hipdx {model.version}"
    top = expected["conditions"][0]
    assert cds_hooks.short_name(top["name"]) in main["summary"]
    assert cds_hooks._pct(top["probability"]) in main["summary"]
    assert "| Condition | Probability | Interval | Prior |" in main["detail"]
    if expected.get("next_questions"):
        assert expected["next_questions"][0]["question"] in main["detail"]
    assert DISCLAIMER in main["detail"]
    assert resp.headers["X-Hipdx-Disclaimer"] == DISCLAIMER
    criticals = [c for c in body["cards"] if c["indicator"] == "critical"]
    assert len(criticals) == len(expected["triage"]["red_flags"])


def test_red_flag_cards(client, model):
    answers = {"cannot_bear_weight": {"valueBoolean": True}, "fever": {"valueCoding": {"code": "present"}}}
    body = client.post(URL, json=cds_request(questionnaire(answers))).get_json()
    assert_cds_response(body)
    flags = model.diagnose({"cannot_bear_weight": "present", "fever": "present"}).to_dict()["triage"]["red_flags"]
    criticals = [c for c in body["cards"] if c["indicator"] == "critical"]
    assert len(criticals) == len(flags) >= 2
    assert body["cards"][0]["indicator"] == "warning"
    for card, flag in zip(criticals, flags, strict=True):
        assert card["summary"].startswith("Red flag:") and len(card["summary"]) < 140
        assert flag["source"] in card["detail"]
        assert flag["reason"] in card["detail"]


def test_bundle_prefetch_and_application_fhir_json(client):
    bundle = {"resourceType": "Bundle", "type": "searchset",
              "entry": [{"resource": questionnaire({"sex": {"valueString": "male"}, "age": {"valueDecimal": 31.5}})}]}
    resp = client.post(URL, data=json.dumps(cds_request(bundle)), content_type="application/fhir+json")
    assert resp.status_code == 200
    assert_cds_response(resp.get_json())


@pytest.mark.parametrize("prefetch", [None, {"resourceType": "Bundle", "type": "searchset", "total": 0}])
def test_no_questionnaire_means_no_cards(client, prefetch):
    resp = client.post(URL, json=cds_request(prefetch))
    assert resp.status_code == 200 and resp.get_json() == {"cards": []}


def test_missing_prefetch_is_412(client):
    assert_problem(client.post(URL, json=cds_request()), 412, "prefetch-missing")
    body = cds_request()
    body["prefetch"] = {"somethingElse": None}
    assert_problem(client.post(URL, json=body), 412, "prefetch-missing")


def test_unknown_service_is_404(client):
    assert_problem(client.post("/cds-services/not-a-service", json=cds_request(questionnaire(ANSWERS))), 404)


@pytest.mark.parametrize(("answers", "link_id", "slug"), [
    ({"sexx": {"valueString": "female"}}, "sexx", "unknown-variable"),
    ({"sex": {"valueCoding": {"code": "femal"}}}, "sex", "unknown-state"),
    ({"age": {"valueInteger": 200}}, "age", "out-of-range"),
    ({"age": {"valueDate": "1980-01-01"}}, "age", "invalid-questionnaire-response"),
    ({"pain_groin": {"valueBoolean": "yes"}}, "pain_groin", "invalid-questionnaire-response"),
])
def test_bad_answers_name_the_link_id(client, answers, link_id, slug):
    body = assert_problem(client.post(URL, json=cds_request(questionnaire(answers))), 400, slug)
    assert body["linkId"] == link_id
    if slug == "unknown-state":
        assert body["suggestion"] == "female" and body["allowed"] == ["female", "male"]


def test_two_answers_and_duplicate_link_ids(client):
    qr = questionnaire({})
    qr["item"] = [{"linkId": "sex", "answer": [{"valueString": "female"}, {"valueString": "male"}]}]
    assert assert_problem(client.post(URL, json=cds_request(qr)), 400)["linkId"] == "sex"
    qr["item"] = [{"linkId": "sex", "answer": [{"valueString": "female"}]},
                  {"linkId": "g", "item": [{"linkId": "sex", "answer": [{"valueString": "male"}]}]}]
    assert assert_problem(client.post(URL, json=cds_request(qr)), 400)["linkId"] == "sex"


def test_other_patients_answers_are_refused(client):
    body = cds_request(questionnaire(ANSWERS, patient="someone-else"), patient="p1")
    assert_problem(client.post(URL, json=body), 400, "invalid-questionnaire-response")


@pytest.mark.parametrize("mutate", [
    lambda b: b.pop("hookInstance"),
    lambda b: b.pop("context"),
    lambda b: b["context"].pop("patientId"),
    lambda b: b.update(hook="order-select"),
    lambda b: b.update(prefetch={"questionnaireResponse": {"resourceType": "Patient"}}),
    lambda b: b.update(prefetch={"questionnaireResponse": "text"}),
])
def test_invalid_cds_requests(client, mutate):
    body = cds_request(questionnaire(ANSWERS))
    mutate(body)
    assert_problem(client.post(URL, json=body), 400)


def test_cds_wrong_content_type_and_malformed(client):
    assert_problem(client.post(URL, data="hook=patient-view", content_type="application/x-www-form-urlencoded"), 415)
    assert_problem(client.post(URL, data="{", content_type="application/json"), 400, "malformed-json")


def test_summary_is_clipped():
    long = "x" * 300
    assert len(cds_hooks.clip(long)) == 139
    flags = [{"id": "f", "level": "urgent", "reason": long, "source": "s.txt", "quote": "q"}]
    diagnosis = {"conditions": [{"id": "a", "name": long, "probability": 0.5, "prior": 0.1}],
                 "triage": {"level": "urgent", "red_flags": flags}, "disclaimer": "d"}
    cards = cds_hooks.cards(diagnosis, "hipdx test")
    assert_cds_response({"cards": cards})
