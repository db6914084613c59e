"""Triage: every red-flag rule fires with its id, reason and source; a red flag is never
out-voted by probabilities; a plausible stress fracture raises the level; ``score`` agrees with
``diagnose``."""

from __future__ import annotations

import pandas as pd
import pytest

from model.reasoning.triage import SEVERITY

P, A = "present", "absent"

UNEVENTFUL_SORENESS = dict(
    sex="male",
    age=25,
    rest_days_per_week=3,
    strength_training="yes",
    recent_training_increase="no",
    low_bone_density_or_poor_nutrition="no",
    pain_after_run=P,
    improves_with_warmup=P,
    better_with_rest=P,
    stiffness=P,
    symptoms_over_1_week=A,
    night_pain=A,
    pain_at_rest=A,
    pain_worsens_during_run=A,
    pain_groin=A,
    pain_anterior_thigh=A,
    severe_pain=A,
    localized_tenderness=A,
    mechanical_symptoms=A,
)
# groin pain spreading to the front of the thigh (002: stress fracture pain "tends to be in the front of the thigh
# or groin"), with and without the stress-fracture risk factors the articles name
GROIN_THIGH = dict(pain_groin=P, pain_anterior_thigh=P)
LOW_RISK = dict(
    sex="male",
    age=25,
    recent_training_increase="no",
    low_bone_density_or_poor_nutrition="no",
    strength_training="yes",
    rest_days_per_week=3,
)
HIGH_RISK = dict(sex="female", age=55, recent_training_increase="yes", low_bone_density_or_poor_nutrition="yes")


def triage(model, evidence) -> dict:
    return model.diagnose(evidence, reasoning=False).to_dict()["triage"]


def test_every_finding_rule_fires_with_id_reason_and_source(model):
    rules = model.priors.finding_rules
    assert {r.id for r in rules} >= {"cannot_bear_weight", "deformity", "fever", "severe_pain_sudden_loss_of_movement"}
    for rule in rules:
        t = triage(model, dict(rule.when))
        fired = {f["id"]: f for f in t["red_flags"]}
        assert rule.id in fired, rule.id
        assert (fired[rule.id]["reason"], fired[rule.id]["source"], fired[rule.id]["quote"], fired[rule.id]["level"]) == (
            rule.reason,
            rule.source,
            rule.quote,
            rule.level,
        )
        # the level is the most severe of the flags that fired, and never milder than this rule's
        assert SEVERITY[t["level"]] == min(SEVERITY[f["level"]] for f in t["red_flags"])
        assert SEVERITY[t["level"]] <= SEVERITY[rule.level]
        # flags are listed most severe first
        assert [SEVERITY[f["level"]] for f in t["red_flags"]] == sorted(SEVERITY[f["level"]] for f in t["red_flags"])


@pytest.mark.parametrize(
    ("finding", "level"),
    [("cannot_bear_weight", "emergency"), ("deformity", "emergency"), ("fever", "urgent"), ("severe_pain", "urgent")],
)
def test_single_red_flag_levels(model, finding, level):
    t = triage(model, {finding: P})
    assert t["level"] == level
    assert t["red_flags"][0]["id"] == finding
    assert triage(model, {finding: A})["red_flags"] == []


def test_rule_needs_every_condition_of_its_when(model):
    """Severe pain + sudden loss of movement needs all three answers."""
    t = triage(model, {"severe_pain": P, "reduced_range_of_motion": P, "onset": "gradual"})
    assert "severe_pain_sudden_loss_of_movement" not in {f["id"] for f in t["red_flags"]}
    t = triage(model, {"severe_pain": P, "reduced_range_of_motion": P, "onset": "sudden"})
    assert {"severe_pain_sudden_loss_of_movement", "severe_pain"} <= {f["id"] for f in t["red_flags"]}


def test_uneventful_soreness_is_self_care(model):
    d = model.diagnose(UNEVENTFUL_SORENESS).to_dict()
    assert d["conditions"][0]["id"] == "muscle_soreness"
    assert (d["triage"]["level"], d["triage"]["red_flags"]) == ("self_care", [])
    assert [r["rule"] for r in d["triage"]["reasons"]] == ["no_rule_fired"]


def test_cannot_bear_weight_is_never_out_voted(model):
    d = model.diagnose({**UNEVENTFUL_SORENESS, "cannot_bear_weight": P}).to_dict()
    ranked = d["conditions"]
    assert ranked[0]["id"] == "muscle_soreness" and ranked[0]["probability"] > 0.9
    assert all(c["probability"] < 0.1 for c in ranked[1:])  # every injury, stress fracture included, is unlikely
    assert d["triage"]["level"] == "emergency"
    assert [f["id"] for f in d["triage"]["red_flags"]] == ["cannot_bear_weight"]


def test_plausible_stress_fracture_raises_the_level(model):
    rule = next(r for r in model.priors.posterior_rules if r.id == "suspected_stress_fracture")
    assert rule.condition == "stress_fracture"
    low = model.diagnose({**LOW_RISK, **GROIN_THIGH}, reasoning=False)
    high = model.diagnose({**HIGH_RISK, **GROIN_THIGH}, reasoning=False)
    assert low.probability("stress_fracture") < rule.threshold.value <= high.probability("stress_fracture")
    low_t, high_t = low.to_dict()["triage"], high.to_dict()["triage"]
    assert "suspected_stress_fracture" not in {f["id"] for f in low_t["red_flags"]}
    assert [f["id"] for f in high_t["red_flags"]] == ["suspected_stress_fracture", "radiating_pain_thigh", "stress_fracture_not_excluded"]
    assert high_t["level"] == "urgent" and SEVERITY[high_t["level"]] < SEVERITY[low_t["level"]]
    flag = high_t["red_flags"][0]
    assert (
        flag["source"] == "001_836542559a107186.txt"
        and flag["quote"] == "Femoral neck stress fractures need immediate medical attention"
    )
    assert (
        flag["reason"].startswith(rule.reason)
        and f"(probability {high.probability('stress_fracture'):.2f} >= 0.30)" in flag["reason"]
    )


def test_likely_injury_without_red_flags_is_see_clinician(model):
    d = model.diagnose({**LOW_RISK, **GROIN_THIGH}, reasoning=False)
    injuries = {c.id: c.probability for c in d.conditions if c.id != "muscle_soreness"}
    assert max(injuries.values()) >= model.priors.likely_injury_threshold.value
    t = d.to_dict()["triage"]
    assert t["level"] == "see_clinician"
    assert "likely_injury" in [r["rule"] for r in t["reasons"]]
    assert all(f["level"] == "see_clinician" for f in t["red_flags"])


def test_probabilities_only_raise_the_level(model):
    """A red flag plus a plausible stress fracture: the red flag's emergency stands, both are reported."""
    t = triage(model, {**HIGH_RISK, **GROIN_THIGH, "cannot_bear_weight": P})
    assert t["level"] == "emergency"
    assert [f["id"] for f in t["red_flags"]] == ["cannot_bear_weight", "suspected_stress_fracture",
                                                 "radiating_pain_thigh", "stress_fracture_not_excluded"]


def test_score_gives_the_same_triage_as_diagnose(model):
    rows = [
        UNEVENTFUL_SORENESS,
        {**UNEVENTFUL_SORENESS, "cannot_bear_weight": P},
        {**LOW_RISK, **GROIN_THIGH},
        {**HIGH_RISK, **GROIN_THIGH},
        {**HIGH_RISK, **GROIN_THIGH, "cannot_bear_weight": P, "fever": P},
        {"severe_pain": P, "reduced_range_of_motion": P, "onset": "sudden"},
        {"night_pain": P, "mechanical_symptoms": P, "swelling": P},
        {"pain_lying_on_side": P, "sex": "female", "age": 45},
        {},
    ]
    scored = model.score(pd.DataFrame(rows))
    for i, row in enumerate(rows):
        t = triage(model, row)
        assert scored.loc[i, "triage"] == t["level"], i
        got = set(filter(None, scored.loc[i, "red_flags"].split("; ")))
        assert got == {f["id"] for f in t["red_flags"]}, i


def test_groin_pain_alone_does_not_raise_a_stress_fracture_flag(model):
    """The threshold's stated intent (red_flags.yaml): 'so that groin pain alone does not trigger it'."""
    d = model.diagnose({"pain_groin": P}, reasoning=False)
    urgent = next(r for r in model.priors.posterior_rules if r.id == "suspected_stress_fracture")
    assert d.probability("stress_fracture") < urgent.threshold.value
    t = d.to_dict()["triage"]
    # not urgent, but a stress fracture cannot be excluded either (the expected-harm rule): never self care
    assert t["level"] == "see_clinician"
    assert [f["id"] for f in t["red_flags"]] == ["stress_fracture_not_excluded"]


def test_the_articles_stress_fracture_description_raises_the_flag(model):
    """001: 'an achy pain in the front of your hip and groin that gets worse with running but feels better with rest'."""
    t = triage(model, {"pain_groin": P, "pain_worsens_during_run": P, "better_with_rest": P})
    assert t["level"] == "urgent"
    assert {f["id"] for f in t["red_flags"]} == {"suspected_stress_fracture", "stress_fracture_not_excluded",
                                                 "worsening_during_run"}


def test_pain_spreading_to_the_front_of_the_thigh_is_a_radiating_pain_flag(model):
    """004 lists pain that "radiates into the groin, thigh, or lower back" among the signs that need
    expert help: pain spreading to the front of the thigh sends the runner to a clinician by rule,
    whatever the posteriors, and the flag carries that quote."""
    alone = triage(model, {**LOW_RISK, "pain_anterior_thigh": P})
    flag = next(f for f in alone["red_flags"] if f["id"] == "radiating_pain_thigh")
    assert alone["level"] == "see_clinician" and flag["level"] == "see_clinician"
    assert flag["quote"] == "Pain that radiates into the groin, thigh, or lower back"
    without = triage(model, {**LOW_RISK, "pain_anterior_thigh": "absent"})
    assert "radiating_pain_thigh" not in {f["id"] for f in without["red_flags"]}
