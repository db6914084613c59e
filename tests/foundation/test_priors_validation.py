"""Loading validates everything: copy the bundled priors, break one thing at a time, and the
``PriorsError`` names the file, the key and what is wrong."""

from __future__ import annotations

import re

import pytest

from model import PriorsError, load_priors
from model.priors import read_yaml

from .conftest import edit_yaml


def load_error(directory) -> str:
    with pytest.raises(PriorsError) as info:
        load_priors(directory)
    return str(info.value)


def problems(message: str) -> list[str]:
    """The problem lines of an 'invalid priors (N problem(s)):' message, checking N."""
    head, *lines = message.split("\n")
    count = int(re.match(r"invalid priors \((\d+) problem\(s\)\):$", head).group(1))
    lines = [line.strip() for line in lines]
    assert len(lines) == count
    return lines


def test_unbroken_copy_round_trips(priors_copy, priors_dir):
    """The copy + edit helper itself changes nothing: re-dumped files load to the same numbers."""
    for name in ("risk_factors.yaml", "conditions.yaml", "findings.yaml", "red_flags.yaml", "scale.yaml"):
        edit_yaml(priors_copy, name, lambda data: None)
    original, copy = load_priors(priors_dir), load_priors(priors_copy)
    assert [(p.path, p.value, p.low, p.high, p.quote, p.reason) for p in copy.all_priors()] == [
        (p.path, p.value, p.low, p.high, p.quote, p.reason) for p in original.all_priors()
    ]


def test_probability_outside_0_1(priors_copy):
    edit_yaml(priors_copy, "conditions.yaml", lambda d: d["conditions"]["gtps"]["base_rate"].update(value=1.5))
    assert problems(load_error(priors_copy)) == [
        "conditions.yaml: conditions.gtps.base_rate: probability 1.5 is outside [0, 1]",
        "conditions.yaml: conditions.gtps.base_rate: range [0.08, 0.25] does not contain the value 1.5",
    ]


def test_negative_link_probability(priors_copy):
    edit_yaml(
        priors_copy,
        "findings.yaml",
        lambda d: d["findings"]["stiffness"]["causes"]["osteoarthritis"].update(value=-0.1, range=[-0.2, 0.5]),
    )
    lines = problems(load_error(priors_copy))
    assert "findings.yaml: findings.stiffness.causes.osteoarthritis: probability -0.1 is outside [0, 1]" in lines
    assert "findings.yaml: findings.stiffness.causes.osteoarthritis: range [-0.2, 0.5] goes outside [0, 1]" in lines


def test_range_not_containing_value(priors_copy):
    edit_yaml(priors_copy, "findings.yaml", lambda d: d["findings"]["pain_lateral_hip"]["leak"].update(range=[0.15, 0.2]))
    assert problems(load_error(priors_copy)) == [
        "findings.yaml: findings.pain_lateral_hip.leak: range [0.15, 0.2] does not contain the value 0.1"
    ]


def test_relative_risk_range_not_containing_value(priors_copy):
    edit_yaml(
        priors_copy,
        "conditions.yaml",
        lambda d: d["overuse_risk_factors"]["rest_days"]["relative_risk"]["under_2"].update(range=[1.0, 2.0]),
    )
    lines = problems(load_error(priors_copy))
    assert set(lines) == {
        "conditions.yaml: overuse_risk_factors.rest_days.relative_risk.under_2: range [1.0, 2.0] does not contain the value 2.5"
    }


def test_stated_prior_missing_quote(priors_copy):
    edit_yaml(priors_copy, "conditions.yaml", lambda d: d["conditions"]["stress_fracture"]["base_rate"].pop("quote"))
    assert problems(load_error(priors_copy)) == [
        "conditions.yaml: conditions.stress_fracture.base_rate: a stated prior needs `quote` (verbatim text from its source)"
    ]


def test_stated_prior_missing_source(priors_copy):
    edit_yaml(priors_copy, "conditions.yaml", lambda d: d["conditions"]["stress_fracture"]["base_rate"].pop("source"))
    assert problems(load_error(priors_copy)) == [
        "conditions.yaml: conditions.stress_fracture.base_rate: a stated prior needs `source` (the article's file name)"
    ]


def test_verbal_prior_missing_quote(priors_copy):
    edit_yaml(priors_copy, "findings.yaml", lambda d: d["findings"]["pain_lateral_hip"]["causes"]["gtps"].pop("quote"))
    assert problems(load_error(priors_copy)) == [
        "findings.yaml: findings.pain_lateral_hip.causes.gtps: a verbal prior needs `quote` (verbatim text from its source)"
    ]


def test_verbal_word_not_in_scale(priors_copy):
    edit_yaml(priors_copy, "findings.yaml", lambda d: d["findings"]["pain_lateral_hip"]["causes"]["gtps"].update(word="perhaps"))
    lines = problems(load_error(priors_copy))
    assert lines[0].startswith(
        "findings.yaml: findings.pain_lateral_hip.causes.gtps: word 'perhaps' is not in scale.yaml `words` "
        "(allowed: always, usually,"
    )
    assert "often" in lines[0] and "rarely" in lines[0]


def test_verbal_word_not_in_its_quote(priors_copy):
    edit_yaml(priors_copy, "findings.yaml", lambda d: d["findings"]["pain_lateral_hip"]["causes"]["gtps"].update(word="often"))
    assert problems(load_error(priors_copy)) == [
        "findings.yaml: findings.pain_lateral_hip.causes.gtps: word 'often' does not occur in its quote"
    ]


def test_verbal_value_disagreeing_with_the_scale(priors_copy):
    edit_yaml(priors_copy, "findings.yaml", lambda d: d["findings"]["pain_lateral_hip"]["causes"]["gtps"].update(value=0.6))
    assert problems(load_error(priors_copy)) == [
        "findings.yaml: findings.pain_lateral_hip.causes.gtps: value 0.6 differs from the scale: "
        "word 'usually' -> probable = 0.85"
    ]


def test_assumption_missing_reason(priors_copy):
    edit_yaml(priors_copy, "risk_factors.yaml", lambda d: d["risk_factors"]["sex"]["distribution"]["male"].pop("reason"))
    assert problems(load_error(priors_copy)) == [
        "risk_factors.yaml: risk_factors.sex.distribution.male: an assumption needs `reason` (one line saying why this value)"
    ]


def test_unknown_condition_in_finding_causes(priors_copy):
    def rename(d):
        causes = d["findings"]["pain_lying_on_side"]["causes"]
        causes["gtpz"] = causes.pop("gtps")

    edit_yaml(priors_copy, "findings.yaml", rename)
    assert problems(load_error(priors_copy)) == [
        "findings.yaml: findings.pain_lying_on_side.causes.gtpz: unknown condition 'gtpz' (allowed: gtps, itb_syndrome, "
        "muscle_strain, tendinopathy, labral_tear, fai, stress_fracture, osteoarthritis, lumbar_referred_pain, "
        "piriformis_syndrome, muscle_soreness) (did you mean 'gtps'?)"
    ]


def test_unknown_state_in_relative_risk(priors_copy):
    def rename(d):
        rr = d["conditions"]["gtps"]["risk_factors"]["sex"]["relative_risk"]
        rr["femal"] = rr.pop("female")

    edit_yaml(priors_copy, "conditions.yaml", rename)
    assert problems(load_error(priors_copy)) == [
        "conditions.yaml: conditions.gtps.risk_factors.sex.relative_risk.femal: unknown state 'femal' of sex "
        "(allowed: female, male) (did you mean 'female'?)",
        "conditions.yaml: conditions.gtps.risk_factors.sex.relative_risk: no relative risk for state(s) female "
        "(give 1.0 for no effect)",
    ]


def test_unknown_risk_factor_in_condition(priors_copy):
    def rename(d):
        rfs = d["conditions"]["fai"]["risk_factors"]
        rfs["age_bnad"] = rfs.pop("age_band")

    edit_yaml(priors_copy, "conditions.yaml", rename)
    (line,) = problems(load_error(priors_copy))
    assert line.startswith(
        "conditions.yaml: conditions.fai.risk_factors.age_bnad: unknown risk factor 'age_bnad' (allowed: age_band, sex,"
    )
    assert line.endswith("(did you mean 'age_band'?)")


def test_cycle_in_caused_by(priors_copy):
    edit_yaml(
        priors_copy,
        "conditions.yaml",
        lambda d: d["conditions"]["fai"].update(
            caused_by={"labral_tear": {"value": 0.1, "kind": "assumption", "reason": "test", "range": [0.05, 0.2]}}
        ),
    )
    (line,) = problems(load_error(priors_copy))
    assert re.fullmatch(
        r"conditions\.yaml: conditions\.(fai|labral_tear)\.caused_by: cycle among conditions: "
        r"(fai -> labral_tear -> fai|labral_tear -> fai -> labral_tear)",
        line,
    ), line


def test_unknown_condition_in_caused_by(priors_copy):
    edit_yaml(
        priors_copy,
        "conditions.yaml",
        lambda d: d["conditions"]["labral_tear"]["caused_by"].update(
            {"fia": {"value": 0.1, "kind": "assumption", "reason": "test", "range": [0.05, 0.2]}}
        ),
    )
    (line,) = problems(load_error(priors_copy))
    assert line.startswith("conditions.yaml: conditions.labral_tear.caused_by.fia: unknown condition 'fia' (allowed: gtps,")
    assert line.endswith("(did you mean 'fai'?)")


def test_condition_with_no_findings(priors_copy):
    def drop(d):
        for finding in d["findings"].values():
            finding["causes"].pop("piriformis_syndrome", None)

    edit_yaml(priors_copy, "findings.yaml", drop)
    assert problems(load_error(priors_copy)) == [
        "conditions.yaml: conditions.piriformis_syndrome: condition has no findings: "
        "no finding in findings.yaml lists it under `causes`"
    ]


def test_distribution_not_summing_to_one(priors_copy):
    edit_yaml(
        priors_copy, "risk_factors.yaml", lambda d: d["risk_factors"]["rest_days"]["distribution"]["under_2"].update(value=0.45)
    )
    assert problems(load_error(priors_copy)) == [
        "risk_factors.yaml: risk_factors.rest_days.distribution: probabilities sum to 1.1, not 1"
    ]


def test_distribution_missing_a_state(priors_copy):
    edit_yaml(priors_copy, "risk_factors.yaml", lambda d: d["risk_factors"]["sex"]["distribution"].pop("male"))
    assert problems(load_error(priors_copy)) == [
        "risk_factors.yaml: risk_factors.sex.distribution: no probability for state(s) male",
        "risk_factors.yaml: risk_factors.sex.distribution: probabilities sum to 0.5, not 1",
    ]


@pytest.mark.parametrize(
    ("name", "change", "expected"),
    [
        (
            "findings.yaml",
            lambda d: d["findings"]["pain_groin"].update(colour="red"),
            "findings.yaml: findings.pain_groin.colour: Extra inputs are not permitted",
        ),
        (
            "risk_factors.yaml",
            lambda d: d["risk_factors"]["rest_days"]["distribution"]["under_2"].update(note="hi"),
            "risk_factors.yaml: risk_factors.rest_days.distribution.under_2.note: Extra inputs are not permitted",
        ),
        (
            "red_flags.yaml",
            lambda d: d["finding_rules"][1].update(extra=1),
            "red_flags.yaml: finding_rules.1.extra: Extra inputs are not permitted",
        ),
        (
            "conditions.yaml",
            lambda d: d["conditions"]["gtps"].update(base_rates=d["conditions"]["gtps"]["base_rate"]),
            "conditions.yaml: conditions.gtps.base_rates: Extra inputs are not permitted",
        ),
    ],
    ids=["finding", "prior", "red_flag_rule", "condition"],
)
def test_unknown_key(priors_copy, name, change, expected):
    edit_yaml(priors_copy, name, change)
    assert problems(load_error(priors_copy)) == [expected]


def test_missing_required_key(priors_copy):
    edit_yaml(priors_copy, "findings.yaml", lambda d: d["findings"]["pain_groin"].pop("leak"))
    assert problems(load_error(priors_copy)) == ["findings.yaml: findings.pain_groin.leak: Field required"]


def test_unknown_finding_in_red_flag_rule(priors_copy):
    edit_yaml(priors_copy, "red_flags.yaml", lambda d: d["finding_rules"][0].update(when={"cannot_bear_weigh": "present"}))
    assert problems(load_error(priors_copy)) == [
        "red_flags.yaml: finding_rules[0] (cannot_bear_weight).when.cannot_bear_weigh: unknown finding 'cannot_bear_weigh' "
        "(did you mean 'cannot_bear_weight'?)"
    ]


def test_missing_file(priors_copy):
    (priors_copy / "findings.yaml").unlink()
    assert load_error(priors_copy) == f"findings.yaml: file not found in {priors_copy}"


def test_missing_directory(tmp_path):
    assert load_error(tmp_path / "nowhere") == f"priors directory not found: {tmp_path / 'nowhere'}"


def test_invalid_yaml(priors_copy):
    (priors_copy / "scale.yaml").write_text("name: broken\nwords: [always: certain\n", encoding="utf-8")
    message = load_error(priors_copy)
    assert message.startswith("scale.yaml: not valid YAML: ")
    assert "line 2" in message


def test_duplicate_key_is_rejected(priors_copy):
    path = priors_copy / "findings.yaml"
    text = path.read_text(encoding="utf-8")
    anchor = "  pain_groin:\n"
    assert anchor in text
    duplicate = text.replace(anchor, anchor + "    group: location\n", 1)  # `group` given twice
    path.write_text(duplicate, encoding="utf-8")
    message = load_error(priors_copy)
    assert message.startswith("findings.yaml: ") and "duplicate" in message and "group" in message


def test_strict_loader_keeps_state_names_as_strings(tmp_path):
    path = tmp_path / "states.yaml"
    path.write_text(
        "yes: 1\nno: 0\n30_39: a\n2_plus: b\n50_plus: c\nlist: [yes, no, on, off, 13_5]\nnumber: 3\nratio: 0.5\nflag: true\n",
        encoding="utf-8",
    )
    data = read_yaml(path)
    assert data == {
        "yes": 1,
        "no": 0,
        "30_39": "a",
        "2_plus": "b",
        "50_plus": "c",
        "list": ["yes", "no", "on", "off", "13_5"],
        "number": 3,
        "ratio": 0.5,
        "flag": True,
    }
    assert all(isinstance(k, str) for k in data)


def test_bundled_state_names_are_strings(model):
    assert model.priors.risk_factors["age_band"].states == ("under_30", "30_39", "40_49", "50_plus")
    for rid in (
        "recent_training_increase",
        "strength_training",
        "high_impact_sport_history",
        "low_bone_density_or_poor_nutrition",
    ):
        assert model.priors.risk_factors[rid].states == ("yes", "no")
        assert set(model.priors.risk_factors[rid].distribution) == {"yes", "no"}
    assert set(model.network.get_cpds("age_band").state_names["age_band"]) == {"under_30", "30_39", "40_49", "50_plus"}
