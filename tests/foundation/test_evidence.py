"""Evidence handling: numbers binned at the right edges, obvious spellings accepted, everything
else refused with a message that names the field, lists what is allowed and suggests a fix."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from model import EvidenceError

P, A = "present", "absent"


@pytest.mark.parametrize(
    ("field", "number", "variable", "state"),
    [
        ("age", 10, "age_band", "under_30"),
        ("age", 29.9, "age_band", "under_30"),
        ("age", 30, "age_band", "30_39"),
        ("age", 39.99, "age_band", "30_39"),
        ("age", 40, "age_band", "40_49"),
        ("age", 49.9, "age_band", "40_49"),
        ("age", 50, "age_band", "50_plus"),
        ("age", 110, "age_band", "50_plus"),
        ("age", "45", "age_band", "40_49"),
        ("rest_days_per_week", 0, "rest_days", "under_2"),
        ("rest_days_per_week", 1, "rest_days", "under_2"),
        ("rest_days_per_week", 1.5, "rest_days", "under_2"),
        ("rest_days_per_week", 2, "rest_days", "2_plus"),
        ("rest_days_per_week", 7, "rest_days", "2_plus"),
        ("weekly_training_hours", 0, "training_hours", "up_to_13_5"),
        ("weekly_training_hours", 13.5, "training_hours", "up_to_13_5"),
        ("weekly_training_hours", 13.6, "training_hours", "over_13_5"),
        ("weekly_training_hours", 60, "training_hours", "over_13_5"),
        ("age_band", 30, "age_band", "30_39"),  # a number under the variable's own name is binned too
        ("rest_days", 1, "rest_days", "under_2"),
    ],
)
def test_numbers_are_binned_at_the_right_edges(model, field, number, variable, state):
    assert model.parse_evidence({field: number}) == {variable: state}
    assert model.diagnose({field: number}, reasoning=False).to_dict()["evidence"] == {variable: state}


def test_score_bins_numbers_the_same_way(model):
    frame = pd.DataFrame({"age": [29.9, 30, 50], "rest_days_per_week": [1, 2, 0], "weekly_training_hours": [13.5, 13.6, 5]})
    scored = model.score(frame)
    assert scored["error"].isna().all()
    for i, row in frame.iterrows():
        expected = model.posterior(row.to_dict())
        for c, p in expected.items():
            assert scored.loc[i, f"p_{c}"] == pytest.approx(p, abs=1e-12)


@pytest.mark.parametrize(
    ("variable", "value", "state"),
    [
        ("pain_groin", True, P),
        ("pain_groin", "yes", P),
        ("pain_groin", 1, P),
        ("pain_groin", "Present", P),
        ("pain_groin", "TRUE", P),
        ("pain_groin", "y", P),
        ("pain_groin", False, A),
        ("pain_groin", "no", A),
        ("pain_groin", 0, A),
        ("pain_groin", "absent", A),
        ("sex", "F", "female"),
        ("sex", "female", "female"),
        ("sex", "Woman", "female"),
        ("sex", "m", "male"),
        ("onset", "Sudden", "sudden"),
        ("onset", "gradually", "gradual"),
        ("strength_training", "Yes", "yes"),
        ("recent_training_increase", True, "yes"),
        ("high_impact_sport_history", 0, "no"),
        ("age_band", "30-39", "30_39"),
        ("age_band", "50_plus", "50_plus"),
    ],
)
def test_obvious_spellings(model, variable, value, state):
    assert model.parse_evidence({variable: value}) == {variable: state}


def error_of(model, evidence) -> EvidenceError:
    with pytest.raises(EvidenceError) as info:
        model.parse_evidence(evidence)
    with pytest.raises(EvidenceError):  # diagnose refuses the same answers
        model.diagnose(evidence, reasoning=False)
    return info.value


def test_unknown_variable(model):
    err = error_of(model, {"pain_lateral": P})
    assert err.field == "pain_lateral"
    assert err.suggestion == "pain_lateral_hip"
    text = str(err)
    assert text.startswith("pain_lateral: unknown variable; allowed: age_band, sex, rest_days, training_hours,")
    assert text.endswith(", age, rest_days_per_week, weekly_training_hours (did you mean 'pain_lateral_hip'?)")
    assert set(err.allowed) == set(model.variables) | {"age", "rest_days_per_week", "weekly_training_hours"}


def test_unknown_state(model):
    err = error_of(model, {"pain_groin": "presnt"})
    assert str(err) == "pain_groin: unknown state 'presnt'; allowed: present, absent (did you mean 'present'?)"
    assert (err.field, err.allowed, err.suggestion) == ("pain_groin", ["present", "absent"], "present")
    err = error_of(model, {"sex": "femal"})
    assert str(err) == "sex: unknown state 'femal'; allowed: female, male (did you mean 'female'?)"
    err = error_of(model, {"age_band": "40s"})
    assert str(err).startswith("age_band: unknown state '40s'; allowed: under_30, 30_39, 40_49, 50_plus")


def test_ambiguous_spellings_are_refused(model):
    """'yes' means nothing for onset, and 2 is not a present/absent answer."""
    assert str(error_of(model, {"onset": "yes"})) == "onset: unknown state 'yes'; allowed: sudden, gradual"
    assert str(error_of(model, {"pain_groin": 2})) == "pain_groin: 2 is not a state; allowed: present, absent"
    assert str(error_of(model, {"pain_groin": "sometimes"})) == "pain_groin: unknown state 'sometimes'; allowed: present, absent"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("age", -4, "age: -4 is outside the allowed range 10 to 110 years"),
        ("age", 200, "age: 200 is outside the allowed range 10 to 110 years"),
        ("weekly_training_hours", -1, "weekly_training_hours: -1 is outside the allowed range 0 to 60 hours per week"),
        ("rest_days_per_week", 8, "rest_days_per_week: 8 is outside the allowed range 0 to 7 days per week"),
        ("age", "abc", "age: must be a number of years, got 'abc'"),
        ("age", True, "age: must be a number of years, got True"),
    ],
)
def test_out_of_range_numbers(model, field, value, message):
    err = error_of(model, {field: value})
    assert str(err) == message
    assert err.field == field


def test_score_reports_out_of_range_per_row(model):
    scored = model.score(pd.DataFrame({"age": [45, -4], "weekly_training_hours": [5, -1]}))
    assert scored.loc[0, "error"] is None
    assert scored.loc[1, "error"] == (
        "age: -4 is outside the allowed range 10 to 110 years; "
        "weekly_training_hours: -1 is outside the allowed range 0 to 60 hours per week"
    )
    assert pd.isna(scored.loc[1, "p_gtps"])


def test_age_and_age_band_must_agree(model):
    err = error_of(model, {"age": 45, "age_band": "30_39"})
    assert str(err) == "age_band: gives age_band = '30_39' but age gives '40_49'"
    assert model.parse_evidence({"age": 45, "age_band": "40_49"}) == {"age_band": "40_49"}
    assert str(error_of(model, {"rest_days_per_week": 1, "rest_days": "2_plus"})) == (
        "rest_days: gives rest_days = '2_plus' but rest_days_per_week gives 'under_2'"
    )


@pytest.mark.parametrize("unknown", [None, "unknown", "Unknown", "", "N/A", "not known", float("nan")])
def test_unknown_answers_are_not_evidence(model, unknown):
    evidence = {"pain_groin": unknown, "sex": unknown, "age": unknown, "onset": unknown, "mechanical_symptoms": P}
    result = model.diagnose(evidence, reasoning=False).to_dict()
    assert result["evidence"] == {"mechanical_symptoms": P}
    assert model.posterior(evidence) == model.posterior({"mechanical_symptoms": P})


def test_evidence_is_reported_in_vocabulary_order(model):
    out = model.diagnose({"pain_groin": "yes", "age": 33, "sex": "M"}, reasoning=False).to_dict()["evidence"]
    assert list(out.items()) == [("age_band", "30_39"), ("sex", "male"), ("pain_groin", P)]


def test_non_mapping_evidence(model):
    with pytest.raises(EvidenceError, match=r"^evidence: must be an object of variable: state, got list$"):
        model.parse_evidence(["pain_groin"])


@pytest.mark.parametrize("value", [np.True_, 1.0, np.float64(1.0)], ids=["numpy_bool", "float", "numpy_float"])
def test_diagnose_accepts_what_score_accepts(model, value):
    column = pd.Series([value], dtype=bool if isinstance(value, np.bool_) else float)
    scored = model.score(pd.DataFrame({"pain_groin": column}))
    assert scored.loc[0, "error"] is None  # score reads it as present
    assert scored.loc[0, "p_fai"] == pytest.approx(model.posterior({"pain_groin": P})["fai"], abs=1e-12)
    assert model.parse_evidence({"pain_groin": value}) == {"pain_groin": P}
