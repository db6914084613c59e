"""The development vignettes (../shared/vignettes/dev.yaml) and the prior changes made while studying
their misses (issue 11, items 1 and 3). Each change holds for a general reason noted in the priors;
these tests pin its direction, and the dev-set figures the issue asks for.

"Before" numbers are those of the bundled priors at the start of this work (commit 3120e3d):
top-1 7/17, top-3 14/17, textbook first 3/4, safe triage 11/11, no confident miss."""

from __future__ import annotations

import re

import pytest
import yaml

from model.learning.cases import evaluate
from tests.conftest import ROOT, SOURCES

DEV = ROOT.parent / "shared" / "vignettes" / "dev.yaml"

# 004, "When to Seek Help": the warning signs set against "occasional soreness". (Outer-knee pain is
# left out on purpose: ITB syndrome "usually" causes it, and an inhibiting link there lets soreness
# "explain" a missing knee pain in an ITB-like case; see docs/fidelity.md.)
RADIATION = ("pain_groin", "pain_anterior_thigh", "pain_lower_back", "pain_radiates_down_leg")


def _odds(p: float) -> float:
    return p / (1.0 - p)


def _bayes_factor(model, evidence: dict, condition: str) -> float:
    return _odds(model.posterior(evidence)[condition]) / _odds(model.prior_probabilities[condition])


def _ranked(posterior: dict[str, float]) -> list[str]:
    return sorted(posterior, key=lambda c: (-posterior[c], c))


def _normalise(text: str) -> str:
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"').replace("\u201d", '"')
    return re.sub(r"\s+", " ", text)


@pytest.mark.skipif(not DEV.is_file(), reason="../shared/vignettes/dev.yaml not present")
def test_dev_set_reaches_the_issue_targets(model):
    """Issue 11 target: top-3 at least 15/17, safe triage 11/11, no confident miss (measured after
    this work: top-1 8/17, top-3 16/17, textbook first 4/4). The textbook cases stay first."""
    cases = yaml.safe_load(DEV.read_text(encoding="utf-8"))
    results, summary = evaluate(model, cases)
    assert summary.errors == []
    assert summary.with_expect == 17 and summary.with_triage == 11
    assert summary.top3 >= 15, [(r.id, r.rank) for r in results if r.top3 is False]
    assert summary.safe_triage == summary.with_triage, [r.id for r in results if r.safe_triage is False]
    assert summary.confident_misses == []
    assert summary.textbook_top1 == summary.textbook == 4


@pytest.mark.parametrize("finding", RADIATION)
def test_radiating_pain_argues_against_ordinary_soreness(model, finding):
    """004 lists 'Pain that radiates into the groin, thigh, or lower back' among the warning signs set
    against occasional soreness: each such answer lowers soreness well below its prior (0.30)."""
    assert "muscle_soreness" in model.priors.findings[finding].argues_against
    prior = model.prior_probabilities["muscle_soreness"]
    assert model.posterior({finding: "present"})["muscle_soreness"] < 0.65 * prior



def test_a_missing_outer_knee_pain_does_not_make_soreness_likelier(model):
    """Outer-knee pain does not argue against soreness (left out on purpose): with an inhibiting link,
    'no outer-knee pain' in an ITB-like case would be explained by 'ITB and soreness' (soreness
    masking the knee pain) and raise soreness; without it the answer leaves soreness where it was."""
    assert "muscle_soreness" not in model.priors.findings["pain_radiates_to_lateral_knee"].argues_against
    case = {"pain_lateral_hip": "present", "worse_downhill": "present"}
    without = model.posterior(case)["muscle_soreness"]
    with_absent = model.posterior({**case, "pain_radiates_to_lateral_knee": "absent"})["muscle_soreness"]
    assert abs(with_absent - without) < 0.01

def test_low_back_and_buttock_pain_no_longer_leave_soreness_at_its_prior(model):
    """Sacral stress fracture presentation (low back + deep buttock): soreness was 0.306, second;
    now the answers move it and a pelvic stress fracture ranks in the first three."""
    p = model.posterior({"age": 21, "sex": "female", "pain_lower_back": "present", "pain_buttock_deep": "present"})
    assert p["muscle_soreness"] < 0.25
    assert "stress_fracture" in _ranked(p)[:3]


def test_pain_not_better_with_rest_argues_less_against_stress_fracture(model):
    """001 says stress fracture pain 'feels better with rest', 002 that it is 'worse when you lie
    down': P(better with rest | stress fracture alone) is 0.70 (was 0.85), so the answer moves the
    odds less than before (absent: Bayes factor 0.27 before, present: 1.35 before)."""
    finding = model.priors.findings["better_with_rest"]
    total = 1 - (1 - finding.leak.value) * (1 - finding.causes["stress_fracture"].value)
    assert total == pytest.approx(0.70)
    absent = _bayes_factor(model, {"better_with_rest": "absent"}, "stress_fracture")
    present = _bayes_factor(model, {"better_with_rest": "present"}, "stress_fracture")
    assert 0.45 < absent < 0.65 and 1.1 < present < 1.3


def test_buttock_pain_that_rest_does_not_ease_keeps_stress_fracture_in_view(model):
    """Inferior pubic ramus stress fracture with buttock pain that persisted after stopping running:
    stress fracture was 4th (0.235); it now ranks in the first three."""
    p = model.posterior({"age": 51, "sex": "female", "pain_buttock_deep": "present", "severe_pain": "present",
                         "symptoms_over_1_week": "present", "better_with_rest": "absent",
                         "localized_tenderness": "present"})
    assert p["stress_fracture"] > 0.3 and "stress_fracture" in _ranked(p)[:3]


def test_local_tenderness_counts_for_itb_syndrome(model):
    """ITB syndrome now causes local tenderness (the inflamed band is tender over the bone): the
    answer raises it above its prior, and the textbook presentation ranks it first (was 3rd)."""
    assert "itb_syndrome" in model.priors.findings["localized_tenderness"].causes
    assert _bayes_factor(model, {"localized_tenderness": "present"}, "itb_syndrome") > 1.5
    p = model.posterior({"age": 21, "sex": "male", "recent_training_increase": "yes",
                         "pain_radiates_to_lateral_knee": "present", "pain_after_run": "present",
                         "localized_tenderness": "present"})
    assert _ranked(p)[0] == "itb_syndrome" and p["itb_syndrome"] < 0.9


@pytest.mark.skipif(not SOURCES.is_dir(), reason="../shared/sources not present")
def test_the_passages_the_changes_rest_on_are_in_the_articles():
    texts = {f.name: _normalise(f.read_text(encoding="utf-8")) for f in SOURCES.glob("00*.txt")}
    assert "Pain that radiates into the groin, thigh, or lower back" in texts["004_983ba7b6c6361c1b.txt"]
    assert "It's normal for runners to feel occasional soreness" in texts["004_983ba7b6c6361c1b.txt"]
    assert "gets worse with running but feels better with rest" in texts["001_836542559a107186.txt"]
    assert "it's worse when you lie down" in texts["002_3cff6c4d9534aba2.txt"]
    assert "When the IT band becomes tight or inflamed" in texts["000_2b4fa253abe00f01.txt"]
