"""Reading QuestionnaireResponses as EHRs send them: every kind of ../shared/cases/cds/, and the rules behind each."""

from __future__ import annotations

import json

import pytest

from service.fhir.response import patient_id, pick_response, read_response
from service.fhir.terminology import GENDER, LOINC, QUESTIONNAIRE_URL, SNOMED

from .conftest import CASES, CDS_URL, cards, cds_request, load_case, problem, qr, validate

BASE = {"sex": {"valueCoding": {"code": "female"}}, "age": {"valueInteger": 45}, "pain_lateral_hip": {"valueBoolean": True}}
BASE_EVIDENCE = {"sex": "female", "age": 45, "pain_lateral_hip": True}


def _expected_triage(model, evidence):
    return model.diagnose(evidence).to_dict()


def _triage_card(card_list):
    (card,) = [c for c in card_list if c["summary"].startswith("Triage:")]
    return card


def _same_as_direct(card_list, d):
    """The triage card and red-flag cards say what a direct diagnosis of the same answers says."""
    triage = _triage_card(card_list)
    top = d["conditions"][0]
    assert top["name"] in triage["detail"]
    from service.fhir import cds

    assert triage["summary"].startswith(f"Triage: {cds.LEVEL_TEXT[d['triage']['level']]}")
    flags = [c for c in card_list if c["summary"].startswith("Red flag")]
    assert len(flags) == len(d["triage"]["red_flags"])
    ra = triage["suggestions"][0]["actions"][0]["resource"]
    got = {p["outcome"]["coding"][0]["code"]: p["probabilityDecimal"] for p in ra["prediction"]}
    assert got == pytest.approx({c["id"]: c["probability"] for c in d["conditions"]}, rel=1e-12)


@pytest.mark.parametrize("name", sorted(p.name for p in (CASES / "cds").glob("*.json")))
def test_shared_cases_are_valid_fhir(name):
    prefetch = load_case(name)["prefetch"]["questionnaireResponse"]
    if name.startswith("08_"):  # documented as invalid FHIR: two values on one answer
        with pytest.raises(ValueError):
            validate(prefetch)
    else:
        validate(prefetch)


def test_01_extra_question_ignored_and_named(client, model):
    got = cards(client.post(CDS_URL, json=load_case("01_extra_question.json")))
    _same_as_direct(got, _expected_triage(model, BASE_EVIDENCE))
    assert "`clinic_shoe_brand`" in _triage_card(got)["detail"]


def test_02_bundle_picks_the_hipdx_response(client, model):
    got = cards(client.post(CDS_URL, json=load_case("02_other_questionnaire_first.json")))
    _same_as_direct(got, _expected_triage(model, BASE_EVIDENCE))
    assert "44250-9" not in json.dumps(got)


def test_bundle_picks_hipdx_by_canonical_then_most_recent():
    other = qr({"fever": {"valueBoolean": True}}, authored="2026-11-29T10:00:00Z")
    other["questionnaire"] = "http://loinc.org/q/44249-1"
    old = qr({"fever": {"valueBoolean": False}}, authored="2026-11-01T10:00:00+01:00", id="old")
    new = qr({"fever": {"valueBoolean": True}}, authored="2026-11-20T10:00:00+01:00", id="new")
    versioned = dict(new, questionnaire=f"{QUESTIONNAIRE_URL}|abc", id="versioned", authored="2026-11-21T00:00:00Z")
    unnamed = dict(qr({}, authored="2026-11-28T00:00:00Z", id="unnamed"))
    unnamed.pop("questionnaire")
    error = dict(new, status="entered-in-error", authored="2026-11-30T00:00:00Z", id="error")

    def bundle(*resources):
        return {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in resources]}

    assert pick_response(bundle(other, old, new))["id"] == "new"
    assert pick_response(bundle(new, old))["id"] == "new"
    assert pick_response(bundle(old, versioned, error, other))["id"] == "versioned"
    assert pick_response(bundle(unnamed, old))["id"] == "old"  # a response naming hipdx beats one naming none
    assert pick_response(bundle(other, unnamed))["id"] == "unnamed"  # none names hipdx: the unnamed one is read
    assert pick_response(bundle(other)) is None
    assert pick_response(bundle(error)) is None


def test_discovery_prefetch_asks_for_hipdx_responses(client):
    template = client.get("/cds-services").get_json()["services"][0]["prefetch"]["questionnaireResponse"]
    assert template.startswith("QuestionnaireResponse?subject={{context.patientId}}&questionnaire=")
    assert QUESTIONNAIRE_URL in template


@pytest.mark.parametrize(("quantity", "hours"), [
    ({"value": 15, "unit": "h", "system": "http://unitsofmeasure.org", "code": "h"}, 15),
    ({"value": 15, "system": "http://unitsofmeasure.org", "code": "h/wk"}, 15),
    ({"value": 900, "unit": "min", "system": "http://unitsofmeasure.org", "code": "min"}, 15),
    ({"value": 12, "unit": "hours per week"}, 12),
    ({"value": 13.5}, 13.5),
])
def test_value_quantity_converted(model, quantity, hours):
    read = read_response(qr({"weekly_training_hours": {"valueQuantity": quantity}}), model)
    assert not read.unread and not read.invalid
    assert read.evidence["weekly_training_hours"] == pytest.approx(hours)


def test_04_value_quantity_hours(client, model):
    got = cards(client.post(CDS_URL, json=load_case("04_valueQuantity.json")))
    d = _expected_triage(model, {**BASE_EVIDENCE, "weekly_training_hours": 15})
    assert d["evidence"]["training_hours"] == "over_13_5"
    _same_as_direct(got, d)


@pytest.mark.parametrize(("link", "quantity", "expected"), [
    ("age", {"value": 540, "system": "http://unitsofmeasure.org", "code": "mo"}, 45),
    ("age", {"value": 45, "system": "http://unitsofmeasure.org", "code": "a"}, 45),
    ("rest_days_per_week", {"value": 1, "unit": "d"}, 1),
])
def test_value_quantity_other_questions(model, link, quantity, expected):
    read = read_response(qr({link: {"valueQuantity": quantity}}), model)
    assert read.evidence[link] == pytest.approx(expected)


@pytest.mark.parametrize("quantity", [
    {"value": 15, "system": "http://unitsofmeasure.org", "code": "kg"},
    {"value": 15, "system": "http://example.org/units", "code": "h"},
    {"value": 15, "comparator": ">", "code": "h"},
])
def test_value_quantity_unconvertible_is_unread(model, quantity):
    read = read_response(qr({"weekly_training_hours": {"valueQuantity": quantity}, "fever": {"valueBoolean": True}}), model)
    assert [n.link_id for n in read.unread] == ["weekly_training_hours"] and read.evidence == {"fever": True}


def test_05_equal_answers_read_once(client, model):
    got = cards(client.post(CDS_URL, json=load_case("05_multiple_answers.json")))
    _same_as_direct(got, _expected_triage(model, {**BASE_EVIDENCE, "pain_groin": True}))


def test_conflicting_answers_on_one_item_are_400(client):
    case = load_case("05_multiple_answers.json")
    case["prefetch"]["questionnaireResponse"]["item"][-1]["answer"] = [{"valueBoolean": True}, {"valueBoolean": False}]
    body = problem(client.post(CDS_URL, json=case), 400, "invalid-questionnaire-response")
    assert body["linkId"] == "pain_groin" and "disagree" in body["detail"]


def test_06_loinc_yes_read_as_present(client, model):
    got = cards(client.post(CDS_URL, json=load_case("06_loinc_yes.json")))
    _same_as_direct(got, _expected_triage(model, {**BASE_EVIDENCE, "pain_lying_on_side": "present"}))


@pytest.mark.parametrize(("coding", "state"), [
    ({"system": LOINC, "code": "LA33-6"}, "present"), ({"system": LOINC, "code": "LA32-8"}, "absent"),
    ({"system": SNOMED, "code": "373066001"}, "present"), ({"system": SNOMED, "code": "373067005"}, "absent"),
    ({"system": LOINC, "code": "LA4489-6"}, None),
])
def test_standard_yes_no_codes(model, coding, state):
    read = read_response(qr({"pain_groin": {"valueCoding": coding}, "strength_training": {"valueCoding": coding}}), model)
    if state is None:
        assert not read.evidence and [n.link_id for n in read.unknown] == ["pain_groin", "strength_training"]
    else:
        assert read.evidence == {"pain_groin": state, "strength_training": "yes" if state == "present" else "no"}


@pytest.mark.parametrize("coding", [
    {"system": "http://example.org/clinic", "code": "present"},  # a hipdx code word from a system hipdx does not know
    {"system": LOINC, "code": "present"},
    {"system": SNOMED, "code": "LA33-6"},
    {"system": GENDER, "code": "female"},  # administrative-gender answers sex only
])
def test_code_from_another_system_is_not_a_hipdx_state(model, coding):
    read = read_response(qr({"pain_groin": {"valueCoding": coding}}), model)
    assert not read.evidence and [n.link_id for n in read.unread] == ["pain_groin"]


def test_08_two_values_in_one_answer_is_400(client):
    body = problem(client.post(CDS_URL, json=load_case("08_two_values_one_answer.json")), 400,
                   "invalid-questionnaire-response")
    assert body["linkId"] == "pain_lying_on_side" and "valueBoolean, valueString" in body["detail"]


def test_two_values_refusal_keeps_the_red_flags(client):
    answers = {**BASE, "cannot_bear_weight": {"valueBoolean": True},
               "pain_lying_on_side": {"valueBoolean": True, "valueString": "absent"}}
    body = problem(client.post(CDS_URL, json=cds_request(qr(answers))), 400)
    assert "cannot_bear_weight" in [f["id"] for f in body["red_flags_answered"]]
    assert body["triage"]["level"] == "emergency"  # the level the readable red flags alone give


@pytest.mark.parametrize("prefetch", [
    load_case("09_prefetch_operationoutcome.json")["prefetch"]["questionnaireResponse"],
    {"resourceType": "Bundle", "type": "searchset",
     "entry": [{"resource": {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "timeout"}]},
                "search": {"mode": "outcome"}}]},
])
def test_09_operation_outcome_is_412(client, prefetch):
    body = problem(client.post(CDS_URL, json=cds_request(prefetch)), 412, "prefetch-missing")
    assert "OperationOutcome" in body["detail"]


def test_10_no_answers_no_triage_card(client):
    got = cards(client.post(CDS_URL, json=load_case("10_no_answers.json")))
    assert len(got) == 1 and got[0]["indicator"] == "info"
    assert not any(c["summary"].startswith("Triage") for c in got)
    assert "no triage" in got[0]["detail"] and "cannot_bear_weight" in got[0]["detail"]


def test_12_sex_other_read_as_unknown(client, model):
    got = cards(client.post(CDS_URL, json=load_case("12_sex_other.json")))
    _same_as_direct(got, _expected_triage(model, {"age": 45, "pain_lateral_hip": True}))
    assert "Answered as unknown" in _triage_card(got)["detail"] and "`sex`" in _triage_card(got)["detail"]


def test_13_sex_other_red_flag_surfaces(client, model):
    got = cards(client.post(CDS_URL, json=load_case("13_sex_other_red_flag.json")))
    flags = [c for c in got if c["summary"].startswith("Red flag")]
    assert any("Cannot put weight" in c["summary"] and c["indicator"] == "critical" for c in flags)
    _same_as_direct(got, _expected_triage(model, {"age": 45, "pain_lateral_hip": True, "cannot_bear_weight": True}))


@pytest.mark.parametrize("status", ["in-progress", "stopped"])
def test_partial_status_scored_and_said(client, model, status):
    got = cards(client.post(CDS_URL, json=cds_request(qr(BASE, status=status))))
    triage = _triage_card(got)
    assert "Partial answers" in triage["summary"] and f"`{status}`" in triage["detail"]
    _same_as_direct(got, _expected_triage(model, BASE_EVIDENCE))
    ra = triage["suggestions"][0]["actions"][0]["resource"]
    assert ra["status"] == "preliminary"


@pytest.mark.parametrize(("reference", "same"), [
    ("Patient/123", True), ("https://ehr.example.org/fhir/Patient/123", True), ("Patient/123/_history/4", True),
    ("https://ehr.example.org/fhir/Patient/123/_history/4", True), ("Patient/1234", False),
    ("https://ehr.example.org/fhir/Patient/999", False), ("Group/123", False), ("Patient/999/_history/123", False),
])
def test_wrong_patient_however_the_reference_is_written(client, reference, same):
    answers = qr(BASE)
    answers["subject"] = {"reference": reference}
    resp = client.post(CDS_URL, json=cds_request(answers))
    if same:
        cards(resp)
    else:
        problem(resp, 400, "wrong-patient")


def test_patient_id_parsing():
    assert patient_id("Patient/a-1") == ("Patient", "a-1")
    assert patient_id("http://x/fhir/Patient/a-1/_history/2") == ("Patient", "a-1")
    assert patient_id("urn:uuid:0d9c") == (None, None)


@pytest.mark.parametrize("text", ['{"valueDecimal": 1e309}', '{"valueInteger": 1' + "0" * 400 + "}",
                                  '{"valueDecimal": -1e999}', '{"valueDecimal": 1' + "0" * 400 + "}"])
def test_numbers_beyond_float_are_400_and_keep_red_flags(client, text, caplog):
    body = json.dumps(cds_request(qr({"fever": {"valueBoolean": True}, "age": {"valueInteger": 0}})))
    body = body.replace('{"valueInteger": 0}', text)
    with caplog.at_level("DEBUG"):
        resp = client.post(CDS_URL, data=body, content_type="application/json")
    got = problem(resp, 400, "invalid-questionnaire-response")
    assert got["linkId"] == "age" and [f["id"] for f in got["red_flags_answered"]] == ["fever"]
    assert "000000" not in caplog.text and "1e309" not in caplog.text
