"""Each safety rule of issue 10 by kind, not only by its example: duplicate keys everywhere,
partial reading, numbers beyond float range, the population, the expected-harm rule, provisional
triage, reasons, tie order and 'not answered' values."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pandas as pd
import pytest

from model import EvidenceError, PriorsError, load_model
from model.reasoning.triage import SEVERITY
from service.strict_json import DuplicateKeyError, read_json_text

from .cases import HUGE_INT, ORDINARY_SORENESS

P, A = "present", "absent"


@pytest.fixture(scope="module")
def client(model):
    from service.http import create_app

    return create_app(model, config={"cache_size": 0, "api_keys": ""}).test_client()


def post(client, text: str, path: str = "/v1/diagnosis?reasoning=false"):
    return client.post(path, data=text, content_type="application/json")


# ---------------------------------------------------------------------------------- 1. duplicates
@pytest.mark.parametrize(("text", "path"), [
    ('{"a": 1, "a": 2}', "a"),
    ('{"evidence": {"x": {"k": 1, "k": 1}}}', "evidence.x.k"),
    ('{"items": [{"linkId": "a"}, {"linkId": "b", "linkId": "c"}]}', "items[1].linkId"),
])
def test_duplicate_key_named_with_its_path(text, path):
    with pytest.raises(DuplicateKeyError) as err:
        read_json_text(text)
    assert err.value.path == path
    assert read_json_text('{"a": 1, "b": {"a": 2}}') == {"a": 1, "b": {"a": 2}}  # same key in two objects is fine


def test_duplicate_key_refused_by_the_api_with_the_red_flags_of_every_value(client):
    for text in ('{"evidence": {"fever": "present", "fever": "absent"}}',
                 '{"evidence": {"fever": "absent", "fever": "present", "age": 40}}'):
        resp = post(client, text)
        body = resp.get_json()
        assert resp.status_code == 400 and body["type"] == "urn:hipdx:problem:duplicate-key"
        assert body["field"] == "evidence.fever" and "'fever'" in body["detail"]
        assert [f["id"] for f in body["red_flags_answered"]] == ["fever"]
        assert body["triage"]["level"] == "urgent"


def test_duplicate_key_refused_in_a_cds_request(client):
    from service.fhir import cds as cds_hooks

    qr = ('{"resourceType": "QuestionnaireResponse", "status": "completed", "subject": {"reference": "Patient/p1"}, '
          '"item": [{"linkId": "fever", "answer": [{"valueCoding": {"code": "present"}, '
          '"valueCoding": {"code": "absent"}}]}]}')
    text = ('{"hook": "patient-view", "hookInstance": "h1", "context": {"patientId": "p1"}, '
            f'"prefetch": {{"{cds_hooks.PREFETCH_KEY}": {qr}}}}}')
    resp = post(client, text, f"/cds-services/{cds_hooks.SERVICE_ID}")
    body = resp.get_json()
    assert resp.status_code == 400 and body["type"] == "urn:hipdx:problem:duplicate-key"
    assert body["field"] == f"prefetch.{cds_hooks.PREFETCH_KEY}.item[0].answer[0].valueCoding"


def test_duplicate_key_refused_in_a_mapping_file(model, tmp_path):
    from service.mapping import MappingError, load_mapping

    path = tmp_path / "map.yaml"
    path.write_text("columns:\n  Q1:\n    variable: fever\n    values: {Yes: present, No: absent, Yes: absent}\n")
    with pytest.raises(MappingError, match="duplicate key 'Yes'"):
        load_mapping(path, model.vocabulary)


def test_duplicate_key_refused_in_a_priors_file(priors_dir, tmp_path):
    copy = tmp_path / "priors"
    shutil.copytree(priors_dir, copy)
    text = (copy / "red_flags.yaml").read_text()
    (copy / "red_flags.yaml").write_text(text.replace("    level: emergency\n", "    level: emergency\n    level: see_clinician\n", 1))
    with pytest.raises(PriorsError, match="(?s)red_flags.yaml.*duplicate key 'level'"):
        load_model(copy)


def test_duplicate_answer_refused_by_the_cli(capsys):
    from service.cli import main

    assert main(["diagnose", "-e", "fever=present", "fever=absent"]) == 2
    assert "fever: given more than once" in capsys.readouterr().err
    assert main(["diagnose", "-e", '{"fever": "present", "fever": "absent"}']) == 2
    err = capsys.readouterr().err
    assert "'fever' is given more than once" in err and "fever (urgent)" in err


# ---------------------------------------------------------------------------------- 2. partial
def test_parse_partial_reads_what_it_can_and_names_every_error(model):
    parsed, errors = model.parse_evidence_partial(
        {"sex": "other", "cannot_bear_weight": "present", "fevr": "yes", "age": 30, "age_band": "50_plus", "stiffness": True})
    assert parsed == {"cannot_bear_weight": P, "stiffness": P}  # age and age_band disagree: both left out
    assert [(e.field, e.code) for e in errors] == [("sex", "unknown_state"), ("fevr", "unknown_variable"),
                                                   ("age_band", "conflict")]
    with pytest.raises(EvidenceError, match="^sex: unknown state 'other'"):
        model.diagnose({"sex": "other", "cannot_bear_weight": "present"})


def test_refused_api_call_lists_every_unreadable_answer_and_the_readable_red_flags(client, model):
    body = post(client, json.dumps({"evidence": {"sex": "other", "age": "old", "deformity": "yes", "night_pain": P}})).get_json()
    assert body["status"] == 400 and body["field"] == "sex"
    assert [e["field"] for e in body["unreadable_answers"]] == ["sex", "age"]
    assert [f["id"] for f in body["red_flags_answered"]] == ["deformity", "night_or_rest_pain"]
    assert body["triage"]["level"] == "emergency" and body["triage"]["provisional"] is True
    assert body["triage"] == model.screen({"sex": "other", "age": "old", "deformity": "yes", "night_pain": P}).triage.to_dict()


def test_wrong_json_type_is_refused_but_still_screened(client):
    body = post(client, json.dumps({"evidence": {"age": [30], "cannot_bear_weight": P}})).get_json()
    assert body["status"] == 400 and body["type"] == "urn:hipdx:problem:invalid-request"
    assert [f["id"] for f in body["red_flags_answered"]] == ["cannot_bear_weight"]


# ---------------------------------------------------------------------------------- 3. overflow
@pytest.mark.parametrize("value", [10**400, -(10**400), math.inf, -math.inf, np.float64("inf"), "1e400", 1e300])
@pytest.mark.parametrize("field", ["age", "rest_days_per_week", "weekly_training_hours"])
def test_numbers_beyond_range_are_evidence_errors(model, field, value):
    for call in (model.diagnose, model.posterior):
        with pytest.raises(EvidenceError) as err:
            call({field: value})
        assert err.value.field == field and err.value.code == "out_of_range"
        assert len(str(err.value)) < 200  # a 400-digit number is not echoed whole
    row = model.score(pd.DataFrame({field: [value, None]}, dtype=object))
    assert row["error"].iloc[0].startswith(f"{field}: ") and row["error"].iloc[1] is None


@pytest.mark.parametrize("field", ["fever", "sex", "age_band"])
def test_huge_numbers_in_state_fields_are_evidence_errors(model, field):
    with pytest.raises(EvidenceError) as err:
        model.diagnose({field: 10**400})
    assert err.value.field == field and len(str(err.value)) < 200


@pytest.mark.parametrize("text", ['{"evidence": {"age": 1e309}}', '{"evidence": {"age": -1e999}}',
                                  '{"evidence": {"age": ' + HUGE_INT + '}}', '{"evidence": {"fever": ' + HUGE_INT + '}}',
                                  '{"evidence": {"age": 1' + "0" * 5000 + '}}'])
def test_out_of_range_json_numbers_get_a_clear_400(client, text):
    resp = post(client, text)
    body = resp.get_json()
    assert resp.status_code == 400 and resp.mimetype == "application/problem+json"
    assert body.get("field") in ("age", "fever") or body["type"] == "urn:hipdx:problem:malformed-json"
    assert len(resp.get_data()) < 20_000


def test_out_of_range_cds_numbers_never_5xx(client):
    from service.fhir import cds as cds_hooks

    for answer in ('{"valueDecimal": 1e309}', '{"valueInteger": ' + HUGE_INT + "}", '{"valueDecimal": -1e999}'):
        qr = ('{"resourceType": "QuestionnaireResponse", "status": "completed", "subject": {"reference": "Patient/p1"},'
              f' "item": [{{"linkId": "age", "answer": [{answer}]}}, '
              '{"linkId": "cannot_bear_weight", "answer": [{"valueCoding": {"code": "present"}}]}]}')
        text = ('{"hook": "patient-view", "hookInstance": "h1", "context": {"patientId": "p1"}, '
                f'"prefetch": {{"{cds_hooks.PREFETCH_KEY}": {qr}}}}}')
        resp = post(client, text, f"/cds-services/{cds_hooks.SERVICE_ID}")
        assert resp.status_code < 500, answer
        if resp.status_code == 400:  # refused: the red flag is still there
            assert [f["id"] for f in resp.get_json()["red_flags_answered"]] == ["cannot_bear_weight"]


def test_no_evidence_value_in_any_log_line(app_and_client, caplog):
    import logging
    import sys

    from flask import g

    app, client = app_and_client
    secret = "zebra-secret"
    with caplog.at_level(logging.DEBUG):
        for text in ('{"evidence": {"age": 1e309, "sex": "zebra-secret"}}', '{"evidence": {"age": ' + HUGE_INT + "}}",
                     '{"evidence": {"fever": "zebra-secret", "fever": "present"}}',
                     '{"evidence": {"age": 12, "pain_groin": "present"}}'):
            assert post(client, text).status_code < 500
        with app.test_request_context("/v1/diagnosis", method="POST"):  # Flask's own exception logging
            g.request_id = "r1"
            try:
                raise RuntimeError(f"failed on {secret} age {HUGE_INT}")
            except RuntimeError:
                app.log_exception(sys.exc_info())
    text = "\n".join(r.getMessage() + " " + str(r.__dict__) for r in caplog.records)
    assert "RuntimeError" in text and "id=r1" in text
    for needle in (secret, "1000000000", "1e309", "inf is", "pain_groin", "present"):
        assert needle not in text, needle


@pytest.fixture(scope="module")
def app_and_client(model):
    from service.http import create_app

    app = create_app(model, config={"cache_size": 0, "api_keys": ""})
    return app, app.test_client()


# ---------------------------------------------------------------------------------- 4. population
@pytest.mark.parametrize(("age", "outside"), [(12, True), (17.9, True), ("16", True), (18, False), (45, False),
                                              (80, False), (80.5, True), (95, True)])
def test_population_age_range(model, age, outside):
    ev = {**ORDINARY_SORENESS, "age": age}
    d = model.diagnose(ev, reasoning=False).to_dict()
    assert (d["outside_population"] is not None) == outside
    row = model.score(pd.DataFrame([ev], dtype=object)).iloc[0]
    assert (row["outside_population"] is not None) == outside and row["triage"] == d["triage"]["level"]
    if outside:
        assert d["triage"]["level"] != "self_care"
        child = float(age) < 18
        assert d["triage"]["reasons"][0]["rule"] == ("outside_population_child" if child else "outside_population")
        assert d["triage"]["level"] == ("urgent" if child else "see_clinician")  # a child: same-day assessment
        assert d["outside_population"]["reason"] == row["outside_population"]
    else:
        assert d["triage"]["level"] == "self_care"


def test_a_child_below_the_numeric_range_is_refused_and_still_flagged(client, model):
    body = post(client, json.dumps({"evidence": {"age": 5, "pain_groin": P}})).get_json()
    assert body["status"] == 400 and body["field"] == "age"
    assert "below 18 years" in body["outside_population"]["reason"]
    assert body["triage"]["level"] == "urgent"  # a child: same-day assessment, even when the age is refused
    row = model.score(pd.DataFrame([{"age": 5, "pain_groin": P}])).iloc[0]
    assert row["triage"] == "urgent" and row["outside_population"] and row["error"].startswith("age: ")


def test_age_bands_never_place_a_case_outside(model):
    for band in model.variables["age_band"].states:
        assert model.diagnose({"age_band": band}, reasoning=False).outside_population is None


def test_the_population_is_stated_with_its_reason(model, client):
    rng = client.get("/v1/model").get_json()["population_age_range"]
    assert (rng["min"], rng["max"], rng["unit"]) == (18, 80, "years")
    assert "slipped capital (upper) femoral epiphysis" in rng["reason"]


# ---------------------------------------------------------------------------------- 5. expected harm
def test_expected_harm_threshold_is_derived_as_stated(model):
    rule = next(r for r in model.priors.posterior_rules if r.id == "stress_fracture_not_excluded")
    harm_ratio = 9  # red_flags.yaml: missing it taken as 9x the cost of an unneeded visit
    assert rule.threshold.value == pytest.approx(1 / (1 + harm_ratio))
    assert rule.level == "see_clinician" and rule.condition == "stress_fracture"
    assert model.prior_probabilities["stress_fracture"] < rule.threshold.value  # the base rate alone does not refer


def test_no_case_with_a_stress_fracture_that_cannot_be_excluded_is_self_care(model):
    """The kind, not the example: over many random partial cases, self care only below the threshold,
    and batch scoring (the fast path) agrees with diagnose on the level."""
    rng = np.random.default_rng(7)
    rows = []
    for _ in range(300):
        k = int(rng.integers(1, 10))
        chosen = rng.choice(model.evidence_order, size=k, replace=False)
        rows.append({v: str(rng.choice(model.variables[v].states)) for v in chosen})
    scored = model.score(pd.DataFrame(rows, dtype=object))
    threshold = next(r for r in model.priors.posterior_rules if r.id == "stress_fracture_not_excluded").threshold.value
    for i, row in enumerate(rows):
        if scored["error"].iloc[i] is not None:  # contradictory answers
            continue
        t = model.diagnose(row, reasoning=False).triage
        assert t.level == scored["triage"].iloc[i]
        if scored["p_stress_fracture"].iloc[i] >= threshold:
            assert t.level != "self_care" and "stress_fracture_not_excluded" in {f.id for f in t.red_flags}
        if t.level == "self_care":
            assert scored["p_stress_fracture"].iloc[i] < threshold


# ---------------------------------------------------------------------------------- 6. provisional
def test_open_questions_are_the_ones_that_would_raise_the_level(model):
    case = {"sex": "female", "age": 27, "pain_groin": P}
    t = model.diagnose(case, reasoning=False).triage
    assert t.provisional and t.open_questions
    for q in t.open_questions:  # answering each one (with the rest of its rule) raises the level
        rule = next(r for r in model.priors.finding_rules if q in r.when and SEVERITY[r.level] < SEVERITY[t.level])
        raised = model.diagnose({**case, **rule.when}, reasoning=False).triage
        assert SEVERITY[raised.level] < SEVERITY[t.level]
    # every screening question answered 'no': no longer provisional
    settled = {**case, **{q: ("gradual" if q == "onset" else A) for q in model.triage_rules.screening_questions}}
    t2 = model.diagnose(settled, reasoning=False).triage
    assert (t2.provisional, t2.open_questions) == (False, ())
    # an emergency cannot be raised: not provisional, whatever is unanswered
    t3 = model.diagnose({"cannot_bear_weight": P}, reasoning=False).triage
    assert (t3.level, t3.provisional, t3.open_questions) == ("emergency", False, ())


def test_nothing_answered_gets_no_level_in_any_path(model):
    empties = [{}, {"sex": None}, {"fever": "unknown", "age": float("nan"), "sex": pd.NA}]
    for ev in empties:
        d = model.diagnose(ev).to_dict()["triage"]
        assert d["level"] is None and d["provisional"] is True
        assert d["open_questions"] == list(model.triage_rules.screening_questions)
        assert [r["rule"] for r in d["reasons"]] == ["no_answers"]
    scored = model.score(pd.DataFrame(empties, dtype=object))
    assert scored["triage"].isna().all() and scored["provisional"].all()
    assert set(scored["triage_reasons"]) == {"no_answers"}


def test_batch_open_questions_equal_single(model):
    rows = [{}, {"sex": "female", "age": 27, "pain_groin": P}, ORDINARY_SORENESS, {"severe_pain": P},
            {"severe_pain": P, "reduced_range_of_motion": P}, {"night_pain": P, "fever": A}]
    scored = model.score(pd.DataFrame(rows, dtype=object))
    for i, row in enumerate(rows):
        t = model.diagnose(row, reasoning=False).to_dict()["triage"]
        assert scored["open_questions"].iloc[i] == "; ".join(t["open_questions"]), i
        assert bool(scored["provisional"].iloc[i]) == t["provisional"], i
        assert scored["triage_reasons"].iloc[i] == "; ".join(r["rule"] for r in t["reasons"]), i


# ---------------------------------------------------------------------------------- 7. reasons
@pytest.mark.parametrize(("evidence", "level", "rule"), [
    ({"cannot_bear_weight": P}, "emergency", "cannot_bear_weight"),
    ({"fever": P}, "urgent", "fever"),
    ({"sex": "female", "age": 27, "pain_groin": P}, "see_clinician", "stress_fracture_not_excluded"),
    ({"age": 12}, "urgent", "outside_population_child"),
    ({"age": 85}, "see_clinician", "outside_population"),
    ({"sex": "female", "age": 45, "pain_lateral_hip": P, "pain_lying_on_side": P, "pain_groin": A,
      "localized_tenderness": P}, "see_clinician", "likely_injury"),
    (ORDINARY_SORENESS, "self_care", "no_rule_fired"),
])
def test_every_triage_gives_the_rule_that_set_its_level(model, evidence, level, rule):
    t = model.diagnose(evidence, reasoning=False).to_dict()["triage"]
    assert t["level"] == level
    first = t["reasons"][0]
    assert first["rule"] == rule and first["level"] == level and first["reason"] and first["source"]
    assert all(SEVERITY[r["level"]] >= SEVERITY[level] for r in t["reasons"])


# ---------------------------------------------------------------------------------- 9. tie order
def test_equal_probabilities_follow_the_fixed_condition_order(model):
    flat = {c: 0.25 for c in model.conditions}
    d = model._diagnosis({"fever": P}, flat)
    assert [c.id for c in d.conditions] == model.conditions
    half = {c: (0.5 if i % 2 else 0.25) for i, c in enumerate(model.conditions)}
    order = [c.id for c in model._diagnosis({}, half).conditions]
    assert order == [c for i, c in enumerate(model.conditions) if i % 2] + [c for i, c in enumerate(model.conditions) if not i % 2]


# ---------------------------------------------------------------------------------- 10. not answered
@pytest.mark.parametrize("missing", [None, float("nan"), np.nan, pd.NA, pd.NaT, np.float32("nan"), "unknown", "NA"])
def test_missing_values_mean_not_answered_in_every_path(model, missing):
    case = {"sex": missing, "age": missing, "fever": missing, "pain_groin": P}
    base = model.diagnose({"pain_groin": P}).to_dict()
    assert model.diagnose(case).to_dict() == base
    assert model.posterior(case) == model.posterior({"pain_groin": P})
    row = model.score(pd.DataFrame([case], dtype=object)).iloc[0]
    assert row["error"] is None and row["triage"] == base["triage"]["level"]


def test_cds_questionnaire_with_no_answers_gets_no_triage_card(client):
    """Item 6 through CDS Hooks: no 'triage self care' card for an empty QuestionnaireResponse."""
    from service.fhir import cds as cds_hooks

    qr = {"resourceType": "QuestionnaireResponse", "status": "completed", "subject": {"reference": "Patient/p1"},
          "item": [{"linkId": "sex", "answer": [{"valueString": "unknown"}]}]}
    body = {"hook": "patient-view", "hookInstance": "h1", "context": {"patientId": "p1"},
            "prefetch": {cds_hooks.PREFETCH_KEY: qr}}
    resp = client.post(f"/cds-services/{cds_hooks.SERVICE_ID}", json=body)
    assert resp.status_code == 200
    (card,) = resp.get_json()["cards"]
    assert card["indicator"] == "info" and "no triage" in card["summary"] and "self care" not in card["summary"]
    assert len(card["summary"]) < 140 and card["summary"].endswith(".")
    assert "- Are you unable to put weight on the affected leg?" in card["detail"]  # the first screening question
