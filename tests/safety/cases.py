"""The safety case table: the inputs of issue 10 plus ``../shared/cases/safety.yaml``.

Each case is a dict with ``id``, either ``body`` (raw JSON text of a ``POST /v1/diagnosis`` body,
for what a dict cannot say: duplicate keys, numbers beyond float range) or ``evidence`` (a dict),
and ``expect`` (see the shared file's header):

    status            HTTP status of POST /v1/diagnosis (never 5xx)
    red_flags         ids that must be surfaced in every channel (answer, 400 problem, batch row)
    triage_at_least / triage_at_most   emergency > urgent > see_clinician > self_care
    outside_population   true when the case is outside the model's stated population
    provisional       true when triage must say it is provisional
    no_level          true when there is nothing to triage (level null)
    error_field       the field a refused case's error must name
    not_refused_by    channels for which the input is not an error (by design; the case says why)

The essential cases are copied here so the suite runs without ``../shared``; the shared file, when
present, adds its cases (a shared case with the same id replaces the copy).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "cases" / "safety.yaml"
HUGE_INT = "1" + "0" * 400

ORDINARY_SORENESS = {"age": 35, "sex": "male", "pain_after_run": "present", "improves_with_warmup": "present",
                     "better_with_rest": "present", "symptoms_over_1_week": "absent", "pain_worsens_during_run": "absent",
                     "night_pain": "absent", "pain_at_rest": "absent", "severe_pain": "absent",
                     "cannot_bear_weight": "absent", "fever": "absent", "deformity": "absent"}

ESSENTIAL: list[dict[str, Any]] = [
    # item 1: duplicate keys refused, never resolved (the refused problem still names the red flag)
    {"id": "duplicate-key-hides-fever", "body": '{"evidence": {"fever": "present", "fever": "absent"}}',
     "expect": {"status": 400, "error_field": "evidence.fever", "red_flags": ["fever"]}},
    {"id": "duplicate-key-reversed", "body": '{"evidence": {"fever": "absent", "fever": "present"}}',
     "expect": {"status": 400, "error_field": "evidence.fever", "red_flags": ["fever"]}},
    {"id": "duplicate-key-same-value", "body": '{"evidence": {"cannot_bear_weight": "present", "cannot_bear_weight": "present"}}',
     "expect": {"status": 400, "error_field": "evidence.cannot_bear_weight", "red_flags": ["cannot_bear_weight"]}},
    {"id": "duplicate-top-level-key", "body": '{"evidence": {"fever": "present"}, "evidence": {}}',
     "expect": {"status": 400, "error_field": "evidence"}},
    # item 2: one unreadable answer does not hide the readable red flags
    {"id": "unreadable-sex-with-red-flag", "evidence": {"sex": "other", "cannot_bear_weight": "present"},
     "expect": {"status": 400, "red_flags": ["cannot_bear_weight"], "triage_at_least": "urgent", "error_field": "sex"}},
    # An unknown field is refused by the one-case channels (a typo could hide an answer); a survey file's
    # other columns (ids, notes) are passed through unscored by the batch scorer, with a warning.
    {"id": "unknown-variable-with-fever", "evidence": {"clinic_note": "present", "fever": "present", "pain_groin": "present"},
     "expect": {"status": 400, "red_flags": ["fever"], "triage_at_least": "urgent", "error_field": "clinic_note",
                "not_refused_by": ["batch", "score-file"]}},
    # A field that misspells a variable (could be the fever column itself): refused everywhere, naming it;
    # a table is refused as a whole (issue 14), so nothing is scored under a wrong header.
    {"id": "misspelt-variable", "evidence": {"fevr": "present", "pain_groin": "present"},
     "expect": {"status": 400, "no_level": True, "error_field": "fevr"}},
    {"id": "unreadable-answer-no-red-flag", "evidence": {"sex": "other", "pain_groin": "present"},
     "expect": {"status": 400, "no_level": True, "error_field": "sex"}},
    # item 3: numbers beyond any float range: a clear 400 naming the field, never a 500
    {"id": "age-beyond-float", "body": '{"evidence": {"age": 1e309}}', "expect": {"status": 400, "error_field": "age"}},
    {"id": "age-huge-integer", "body": '{"evidence": {"age": ' + HUGE_INT + "}}",
     "expect": {"status": 400, "error_field": "age"}},
    {"id": "hours-beyond-float", "body": '{"evidence": {"weekly_training_hours": -1e999}}',
     "expect": {"status": 400, "error_field": "weekly_training_hours"}},
    {"id": "huge-integer-in-a-finding-with-red-flag",
     "body": '{"evidence": {"swelling": ' + HUGE_INT + ', "deformity": "present"}}',
     "expect": {"status": 400, "error_field": "swelling", "red_flags": ["deformity"], "triage_at_least": "emergency"}},
    # item 4: outside the population
    {"id": "child-groin-pain", "evidence": {"age": 12, "pain_groin": "present"},
     "expect": {"status": 200, "outside_population": True, "triage_at_least": "see_clinician"}},
    {"id": "child-ordinary-soreness", "evidence": {**ORDINARY_SORENESS, "age": 15},
     "expect": {"status": 200, "outside_population": True, "triage_at_least": "see_clinician"}},
    {"id": "very-old-runner", "evidence": {**ORDINARY_SORENESS, "age": 85},
     "expect": {"status": 200, "outside_population": True, "triage_at_least": "see_clinician"}},
    {"id": "young-adult-inside", "evidence": {**ORDINARY_SORENESS, "age": 18},
     "expect": {"status": 200, "outside_population": False, "triage_at_most": "self_care"}},
    # item 5: a must-not-miss condition that cannot be excluded
    {"id": "stress-fracture-not-excluded",
     "evidence": {"sex": "female", "age": 34, "pain_lateral_hip": "absent", "pain_lying_on_side": "present",
                  "night_pain": "absent"},
     "expect": {"status": 200, "triage_at_least": "see_clinician", "red_flags": ["stress_fracture_not_excluded"]}},
    # item 6: thin cases are provisional; no answers, no level
    {"id": "groin-pain-only", "evidence": {"sex": "female", "age": 27, "pain_groin": "present"},
     "expect": {"status": 200, "provisional": True, "triage_at_least": "see_clinician"}},
    {"id": "nothing-answered", "evidence": {}, "expect": {"status": 200, "provisional": True, "no_level": True}},
    {"id": "only-unknowns", "evidence": {"sex": None, "fever": "unknown", "age": None},
     "expect": {"status": 200, "provisional": True, "no_level": True}},
    # red flags in every channel
    {"id": "cannot-bear-weight", "evidence": {**ORDINARY_SORENESS, "cannot_bear_weight": "present"},
     "expect": {"status": 200, "red_flags": ["cannot_bear_weight"], "triage_at_least": "emergency"}},
    {"id": "fever-as-boolean", "evidence": {"fever": True, "age": 40},
     "expect": {"status": 200, "red_flags": ["fever"], "triage_at_least": "urgent"}},
    # the held-out check's other side: ordinary soreness stays self care
    {"id": "ordinary-soreness", "evidence": ORDINARY_SORENESS,
     "expect": {"status": 200, "triage_at_most": "self_care", "outside_population": False}},
]


def load_cases() -> list[dict[str, Any]]:
    """The essential cases, then the shared file's (a shared case replaces the copy of the same id)."""
    cases = {c["id"]: c for c in ESSENTIAL}
    if SHARED.is_file():
        from model.priors import read_yaml  # refuses duplicate keys, keeps yes/no as text

        for case in read_yaml(SHARED) or []:
            merged = dict(case)
            if case["id"] in cases:  # keep our sharper expectations where the shared file says less
                merged["expect"] = {**cases[case["id"]]["expect"], **case.get("expect", {})}
            cases[case["id"]] = merged
    return list(cases.values())


CASES = load_cases()
