"""CDS Hooks: discovery, the patient-view service, cards checked against the spec's rules."""

from __future__ import annotations

import json

import pytest

from model import DISCLAIMER
from service.fhir import cds

from .conftest import assert_cds_discovery, assert_cds_response, cds_request, questionnaire
from .test_api import assert_problem

URL = f"/cds-services/{cds.SERVICE_ID}"
ANSWERS = {
    "sex": {"valueCoding": {"system": "http://hipdx.org/fhir/CodeSystem/hipdx", "code": "female"}},
    "age": {"valueInteger": 47},
    "weekly_training_hours": {"valueDecimal": 9.5},
    "pain_lateral_hip": {"valueBoolean": True},
    "pain_lying_on_side": {"valueString": "present"},
    "pain_groin": {"valueBoolean": False},
}
EVIDENCE = {"sex": "female", "age": 47, "weekly_training_hours": 9.5, "pain_lateral_hip": True,
            "pain_lying_on_side": "present", "pain_groin": False}


def test_discovery(client):
    resp = client.get("/cds-services")
    assert resp.status_code == 200
    body = resp.get_json()
    assert_cds_discovery(body)
    (svc,) = body["services"]
    assert svc["hook"] == "patient-view" and svc["id"] == cds.SERVICE_ID
    assert svc["prefetch"]["questionnaireResponse"] == (
        "QuestionnaireResponse?subject={{context.patientId}}&questionnaire=http://hipdx.org/fhir/Questionnaire/hipdx"
        "&_sort=-authored")


@pytest.mark.parametrize("nested", [False, True])
def test_cards_from_questionnaire(client, model, nested):
    resp = client.post(URL, json=cds_request(questionnaire(ANSWERS, nested=nested)))
    assert resp.status_code == 200, resp.get_data(as_text=True)
    body = resp.get_json()
    assert_cds_response(body)
    expected = model.diagnose(EVIDENCE).to_dict()
    main = body["cards"][0]
    level = expected["triage"]["level"]
    assert main["indicator"] == cds.INDICATOR[level]
    assert main["summary"].startswith(f"Triage: {cds.LEVEL_TEXT[level]}")
    assert main["source"]["label"] == f"hipdx {model.version}"
    top = expected["conditions"][0]
    assert f"{cds.short_name(top['name'])} {cds.pct(top['probability'])}" in main["summary"]
    assert "| Condition | Probability | Interval | Prior |" in main["detail"]
    if expected.get("next_questions"):
        assert expected["next_questions"][0]["question"] in main["detail"]
    assert DISCLAIMER in main["detail"]
    assert resp.headers["X-Hipdx-Disclaimer"] == DISCLAIMER
    assert [r["code"] for r in main["overrideReasons"]] == list(cds.OVERRIDE_REASONS)
    (suggestion,) = main["suggestions"]
    (action,) = suggestion["actions"]
    assert action["type"] == "create" and action["resource"]["resourceType"] == "RiskAssessment"
    assert main["selectionBehavior"] == "at-most-one"
    criticals = [c for c in body["cards"][1:] if c["indicator"] == "critical"]
    assert len(criticals) == len(expected["triage"]["red_flags"])


def test_red_flag_cards(client, model):
    answers = {"cannot_bear_weight": {"valueBoolean": True}, "fever": {"valueCoding": {"code": "present"}}}
    body = client.post(URL, json=cds_request(questionnaire(answers))).get_json()
    assert_cds_response(body)
    d = model.diagnose({"cannot_bear_weight": "present", "fever": "present"}).to_dict()
    flags = d["triage"]["red_flags"]
    assert body["cards"][0]["indicator"] == "critical"  # emergency: the triage card is critical too
    flag_cards = body["cards"][1:1 + len(flags)]
    assert len(flags) >= 2
    for card, flag in zip(flag_cards, flags, strict=True):
        assert card["indicator"] == "critical"
        assert card["summary"].startswith("Red flag (") and card["summary"].endswith(".") and len(card["summary"]) < 140
        assert flag["source"] in card["detail"] and flag["reason"] in card["detail"]
        assert card["overrideReasons"]


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


@pytest.mark.parametrize(("answers", "link_id", "reason"), [
    ({"sex": {"valueCoding": {"code": "femal"}}}, "sex", "not an answer to sex"),
    ({"age": {"valueInteger": 200}}, "age", "outside the allowed range"),
    ({"age": {"valueDate": "1980-01-01"}}, "age", "valueDate"),
    ({"pain_groin": {"valueCoding": {"system": "http://example.org/other", "code": "present"}}}, "pain_groin",
     "not one hipdx reads"),
])
def test_unreadable_answer_is_named_and_the_rest_is_read(client, model, answers, link_id, reason):
    resp = client.post(URL, json=cds_request(questionnaire({**answers, "cannot_bear_weight": {"valueBoolean": True}})))
    assert resp.status_code == 200, resp.get_data(as_text=True)
    body = resp.get_json()
    assert_cds_response(body)
    unread = [c for c in body["cards"] if c["summary"].startswith("Some answers could not be read")]
    assert len(unread) == 1 and link_id in unread[0]["summary"] and reason in unread[0]["detail"]
    assert any(c["summary"].startswith("Red flag (emergency)") for c in body["cards"])
    assert body["cards"][0]["summary"].startswith("Triage: emergency")


def test_unknown_link_id_ignored_and_named(client):
    body = client.post(URL, json=cds_request(questionnaire({**ANSWERS, "sexx": {"valueString": "female"}}))).get_json()
    assert_cds_response(body)
    assert "`sexx`" in body["cards"][0]["detail"] and "Not hipdx questions" in body["cards"][0]["detail"]


@pytest.mark.parametrize("answer", [{"valueBoolean": "yes"}, {"valueInteger": 1.5}, {"valueDecimal": "3"}])
def test_wrong_json_type_is_invalid_fhir(client, answer):
    body = assert_problem(client.post(URL, json=cds_request(questionnaire({"pain_groin": answer}))), 400,
                          "invalid-questionnaire-response")
    assert body["linkId"] == "pain_groin"


def test_two_answers_and_duplicate_link_ids(client):
    qr = questionnaire({})
    qr["item"] = [{"linkId": "sex", "answer": [{"valueString": "female"}, {"valueString": "male"}]},
                  {"linkId": "fever", "answer": [{"valueBoolean": True}]}]
    body = assert_problem(client.post(URL, json=cds_request(qr)), 400)
    assert body["linkId"] == "sex" and [f["id"] for f in body["red_flags_answered"]] == ["fever"]
    qr["item"] = [{"linkId": "sex", "answer": [{"valueString": "female"}]},
                  {"linkId": "g", "item": [{"linkId": "sex", "answer": [{"valueString": "male"}]}]}]
    assert assert_problem(client.post(URL, json=cds_request(qr)), 400)["linkId"] == "sex"


def test_other_patients_answers_are_refused(client):
    body = cds_request(questionnaire(ANSWERS, patient="someone-else"), patient="p1")
    assert_problem(client.post(URL, json=body), 400, "wrong-patient")


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


def test_duplicate_keys_in_a_cds_request_are_refused(client):
    text = json.dumps(cds_request(questionnaire({"fever": {"valueBoolean": True}})))
    doubled = text.replace('"valueBoolean": true', '"valueBoolean": true, "valueBoolean": false')
    body = assert_problem(client.post(URL, data=doubled, content_type="application/json"), 400, "duplicate-key")
    assert body["field"] == "prefetch.questionnaireResponse.item[0].answer[0].valueBoolean"  # where, not only which key


def test_red_flag_summary_is_one_sentence_within_140():
    long = "Cannot put weight on the leg: " + "x " * 200
    summary = cds.red_flag_summary({"id": "cannot_bear_weight", "level": "emergency", "reason": long})
    assert summary == "Red flag (emergency): Cannot put weight on the leg."
    summary = cds.red_flag_summary({"id": "some_flag", "level": "urgent", "reason": "y" * 300})
    assert summary == "Red flag (urgent): Some flag."
    cards, _ = cds.cards({"conditions": [{"id": "a", "name": "n" * 300, "probability": 0.5, "prior": 0.1}],
                          "triage": {"level": "urgent", "red_flags": [{"id": "f", "level": "urgent", "reason": long}]},
                          "disclaimer": "d"}, cds.ReadResponse(), {"label": "hipdx test"})
    assert_cds_response({"cards": cards})
    assert cards[0]["summary"] == "Triage: urgent."  # the conditions sentence does not fit: left out, not cut
