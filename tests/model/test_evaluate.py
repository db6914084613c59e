"""``hipdx evaluate``: figures per case and overall, computed from the model's own posteriors."""

from __future__ import annotations

import json
import math

import pytest
import yaml

from model.learning.cases import CaseError, evaluate
from service.cli import main

CASES = [
    {"id": "A", "evidence": {"pain_lateral_hip": "present", "pain_lying_on_side": "present", "sex": "female", "age": 45},
     "expect": ["gtps"], "top1": True},
    {"id": "B", "evidence": {"pain_after_run": "present", "stiffness": "present", "symptoms_over_1_week": "absent"},
     "expect": ["muscle_soreness"], "triage_at_most": "self_care"},
    {"id": "C", "evidence": {"cannot_bear_weight": "present"}, "expect": [], "outside_model": True,
     "triage_at_least": "urgent"},
]


def test_figures_follow_the_posteriors(model):
    results, summary = evaluate(model, CASES)
    for case, res in zip(CASES, results, strict=True):
        post = model.posterior(case["evidence"])
        ranked = sorted(post, key=lambda c: (-post[c], c))
        assert [c for c, _ in res.top] == ranked[:3]
        if case["expect"]:
            rank = min(ranked.index(e) + 1 for e in case["expect"])
            assert res.rank == rank and res.top3 == (rank <= 3)
            assert res.log_p_expected == pytest.approx(math.log(max(post[e] for e in case["expect"])))
        assert res.confident_miss == (ranked[0] not in case["expect"] and post[ranked[0]] >= 0.9)
    assert summary.with_expect == 2 and summary.with_triage == 2
    assert summary.top3 == sum(bool(r.top3) for r in results)
    assert results[2].triage == "emergency" and results[2].safe_triage is True
    logs = [r.log_p_expected for r in results[:2]]
    assert summary.mean_log_p_expected == pytest.approx(sum(logs) / 2)


def test_triage_bounds_are_checked_both_ways(model):
    cases = [{"id": "X", "evidence": {"cannot_bear_weight": "present"}, "expect": [], "triage_at_most": "see_clinician"}]
    (res,), summary = evaluate(model, cases)
    assert res.safe_triage is False and summary.safe_triage == 0 and summary.with_triage == 1


def test_bad_cases_name_the_case_and_field(model):
    with pytest.raises(CaseError, match="case Z: field 'expect'"):
        evaluate(model, [{"id": "Z", "evidence": {}, "expect": ["not_a_condition"]}])
    with pytest.raises(CaseError, match="case Z: field 'triage_at_least'"):
        evaluate(model, [{"id": "Z", "evidence": {}, "expect": [], "triage_at_least": "soon"}])
    with pytest.raises(CaseError, match="duplicate id"):
        evaluate(model, [{"id": "Z", "evidence": {}, "expect": []}] * 2)


def test_unreadable_evidence_is_reported_in_its_case(model):
    (res,), summary = evaluate(model, [{"id": "E", "evidence": {"sex": "robot"}, "expect": ["gtps"]}])
    assert "sex" in res.error and summary.errors == ["E"]


def test_cli_text_and_json(tmp_path, capsys):
    path = tmp_path / "cases.yaml"
    path.write_text(yaml.safe_dump(CASES), encoding="utf-8")
    assert main(["evaluate", str(path), "--format", "json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert [c["id"] for c in body["cases"]] == ["A", "B", "C"]
    assert body["summary"]["with_expect"] == 2
    assert main(["evaluate", str(path)]) == 0
    out = capsys.readouterr().out
    assert "top-3:" in out and "safe triage:" in out and out.count("\n") >= 6
    bad = tmp_path / "bad.yaml"
    bad.write_text("- id: [unclosed", encoding="utf-8")
    assert main(["evaluate", str(bad)]) == 2
    assert "not valid YAML" in capsys.readouterr().err
