"""Clinical reasoning means what it says: effects are posterior differences, intervals contain
the point estimate and widen with the priors' ranges, the next question is the one brute force
finds, sensitivity swings are real re-computations."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest

from model import load_model
from model.hipmodel import HipModel
from model.inference.draw_engine import DrawEngine
from model.parameters import build_parameters
from model.priors import Priors
from model.reasoning import Reasoner, ReasoningSettings
from tests.toy_priors import write_priors

GTPS_CASE = {"sex": "female", "age": 45, "pain_lying_on_side": "present", "pain_lateral_hip": "present",
             "mechanical_symptoms": "absent"}


def test_effect_is_the_difference_of_two_posteriors(model):
    d = model.diagnose(GTPS_CASE).to_dict(decimals=None)  # exact values
    full = model.posterior(GTPS_CASE)
    for cond in d["conditions"]:
        assert {e["variable"] for e in cond["evidence"]} == set(model.parse_evidence(GTPS_CASE))
        for e in cond["evidence"]:
            without = {k: v for k, v in GTPS_CASE.items() if k != e["variable"] and not (e["variable"] == "age_band" and k == "age")}
            expected = full[cond["id"]] - model.posterior(without)[cond["id"]]
            assert e["effect"] == pytest.approx(expected, abs=1e-12)
            p0 = model.posterior(without)[cond["id"]]
            p1 = full[cond["id"]]
            assert e["likelihood_ratio"] == pytest.approx((p1 / (1 - p1)) / (p0 / (1 - p0)), rel=1e-9)
        # largest |effect| first (to 12 decimals: an answer with no path has an effect of 0 up to
        # rounding), ties by variable name
        keys = [(-round(abs(e["effect"]), 12), e["variable"]) for e in cond["evidence"]]
        assert keys == sorted(keys)


def test_answers_without_effect_are_listed_by_name(model):
    """An answer with no path to a condition changes it by 0 up to rounding (about 1e-17); such
    answers are listed by variable name, whatever the rounding noise says."""
    case = {**GTPS_CASE, "fever": "absent", "night_pain": "absent", "rest_days_per_week": 2}
    d = model.diagnose(case).to_dict(decimals=None)
    tied = 0
    for cond in d["conditions"]:
        zero = [e["variable"] for e in cond["evidence"] if abs(e["effect"]) < 1e-12]
        tied += len(zero) > 1
        assert zero == sorted(zero)
        assert [e["variable"] for e in cond["evidence"]][len(cond["evidence"]) - len(zero):] == zero  # they come last
    assert tied  # the case has such ties


def test_effects_cite_the_linking_priors(model):
    d = model.diagnose(GTPS_CASE).to_dict()
    gtps = next(c for c in d["conditions"] if c["id"] == "gtps")
    lying = next(e for e in gtps["evidence"] if e["variable"] == "pain_lying_on_side")
    # lateral hip pain is answered too: lying on that side adds less than it would alone (one clue, not two)
    assert lying["link"] == "direct" and lying["effect"] > 0.01
    src = lying["sources"][0]
    assert src["prior"] == "findings.pain_lying_on_side.causes.gtps" and src["source"].endswith(".txt") and src["quote"]
    sex = next(e for e in gtps["evidence"] if e["variable"] == "sex")
    assert sex["sources"][0]["prior"] == "conditions.gtps.risk_factors.sex.relative_risk.female"


def test_an_inhibiting_link_is_cited_as_a_direct_link(model):
    d = model.diagnose({"pain_worsens_during_run": "present"}).to_dict()
    sore = next(c for c in d["conditions"] if c["id"] == "muscle_soreness")
    item = next(e for e in sore["evidence"] if e["variable"] == "pain_worsens_during_run")
    assert item["effect"] < 0 and item["link"] == "direct"
    assert item["sources"][0]["prior"] == "findings.pain_worsens_during_run.argues_against.muscle_soreness"


def test_intervals_contain_the_point_and_are_deterministic(model):
    a = model.diagnose(GTPS_CASE).to_dict()
    b = model.diagnose(GTPS_CASE).to_dict()
    for ca, cb in zip(a["conditions"], b["conditions"], strict=True):
        lo, hi = ca["interval"]
        assert 0 <= lo <= ca["probability"] <= hi <= 1
        assert ca["interval"] == cb["interval"]
    assert a["reasoning"]["draws"] == 128 and a["reasoning"]["interval_level"] == 0.9


def _widen(priors: Priors, factor: float) -> Priors:
    """The same priors with every range stretched away from its value by ``factor``."""

    def w(p):
        if p.is_probability:
            return dataclasses.replace(p, low=max(0.0, p.value - factor * (p.value - p.low)),
                                       high=min(1.0, p.value + factor * (p.high - p.value)))
        return dataclasses.replace(p, low=p.value * (p.low / p.value) ** factor, high=p.value * (p.high / p.value) ** factor)

    rfs = {k: dataclasses.replace(r, distribution={s: w(p) for s, p in r.distribution.items()}) for k, r in priors.risk_factors.items()}
    conds = {
        k: dataclasses.replace(
            c, base_rate=w(c.base_rate), caused_by={p: w(v) for p, v in c.caused_by.items()},
            effects=tuple(dataclasses.replace(e, relative_risk={s: w(v) for s, v in e.relative_risk.items()}) for e in c.effects))
        for k, c in priors.conditions.items()
    }
    finds = {k: dataclasses.replace(f, leak=w(f.leak), causes={c: w(v) for c, v in f.causes.items()}) for k, f in priors.findings.items()}
    return dataclasses.replace(priors, risk_factors=rfs, conditions=conds, findings=finds)


def test_intervals_widen_when_the_priors_ranges_widen(model):
    wide = HipModel(_widen(model.priors, 1.8))
    narrow = HipModel(_widen(model.priors, 0.5))
    for case in (GTPS_CASE, {"age": 24, "pain_groin": "present", "mechanical_symptoms": "present"}, {}):
        widths = {}
        for name, m in (("narrow", narrow), ("base", model), ("wide", wide)):
            d = m.diagnose(case).to_dict()
            widths[name] = np.mean([c["interval"][1] - c["interval"][0] for c in d["conditions"]])
        assert widths["narrow"] < widths["base"] < widths["wide"]


def test_top_two_swap_flag(model):
    d = model.diagnose({}).to_dict()
    r = d["reasoning"]
    assert r["top_two"] == [d["conditions"][0]["id"], d["conditions"][1]["id"]]
    assert 0 <= r["top_two_swap_fraction"] <= 1
    assert r["top_two_may_swap"] == (r["top_two_swap_fraction"] >= 0.05)


# --------------------------------------------------------------------------- next question
TOY = {
    "risk_factors": {"r0": {"states": ["a", "b"], "probs": [0.4, 0.6]}},
    "conditions": {
        "c0": {"base_rate": 0.3, "effects": {"r0": {"reference": "a", "rr": {"b": 1.8}}}},
        "c1": {"base_rate": 0.2, "caused_by": {"c0": 0.3}},
        "c2": {"base_rate": 0.1},
    },
    "findings": {
        "f0": {"leak": 0.05, "causes": {"c0": 0.9}},
        "f1": {"leak": 0.1, "causes": {"c1": 0.6, "c2": 0.7}},
        "f2": {"leak": 0.3, "causes": {"c0": 0.2, "c2": 0.25}},
        "f3": {"leak": 0.02, "causes": {"c2": 0.95}},
    },
}


def _brute_force_eig(m, evidence: dict[str, str], var: str) -> float:
    """I(C; var | e) in bits from pgmpy joint queries over all conditions."""
    from pgmpy.inference import VariableElimination

    ve = VariableElimination(m.network)

    def joint_entropy(ev):
        f = ve.query(list(m.conditions), evidence=ev or None, joint=True, show_progress=False)
        p = f.values.reshape(-1)
        return -sum(x * math.log2(x) for x in p if x > 0)

    p_var = ve.query([var], evidence=evidence or None, show_progress=False)
    eig = joint_entropy(evidence)
    for state in m.variables[var].states:
        eig -= p_var.get_value(**{var: state}) * joint_entropy({**evidence, var: state})
    return eig


@pytest.mark.parametrize("evidence", [{}, {"f0": "present"}, {"r0": "b", "f2": "absent"}, {"f1": "present", "f3": "absent"}])
def test_next_question_matches_brute_force(tmp_path: Path, evidence):
    m = load_model(write_priors(tmp_path, TOY))
    reasoner = Reasoner(m, ReasoningSettings(max_questions=10, draws=20))
    parsed = m.parse_evidence(evidence)
    questions, _ = reasoner.next_questions(parsed, m.infer([parsed]).marginals[0])
    brute = {v: _brute_force_eig(m, parsed, v) for v in m.variables if v not in parsed}
    assert {q["variable"] for q in questions} == set(brute)
    for q in questions:
        assert q["expected_information_gain"] == pytest.approx(brute[q["variable"]], abs=1e-9)
    assert questions[0]["variable"] == max(brute, key=brute.get)


def test_must_not_miss_questions_come_first_while_plausible(tmp_path: Path):
    spec = dict(TOY, posterior_rules=[{"condition": "c2", "threshold": 0.3}])
    m = load_model(write_priors(tmp_path, spec))
    reasoner = Reasoner(m, ReasoningSettings(max_questions=10, draws=20))
    plausible = m.parse_evidence({"f1": "present"})  # c2 is now well above a third of 0.3
    questions, stop = reasoner.next_questions(plausible, m.infer([plausible]).marginals[0])
    assert questions[0]["variable"] == "f3" and "must-not-miss" in questions[0]["reason"]
    assert not stop
    ruled_out = m.parse_evidence({"f3": "absent", "f1": "absent"})
    point = m.infer([ruled_out]).marginals[0]
    assert point[m.conditions.index("c2")] < 0.1
    questions, _ = reasoner.next_questions(ruled_out, point)
    assert all("must-not-miss" not in q["reason"] for q in questions)


def test_should_stop_when_everything_is_answered(model):
    everything = {v: var.states[1] for v, var in model.variables.items()}
    d = model.diagnose(everything).to_dict()
    assert d["next_questions"] == [] and d["reasoning"]["should_stop"] is True
    d = model.diagnose({}).to_dict()
    assert d["reasoning"]["should_stop"] is False and d["next_questions"]


def test_red_flag_questions_lead_when_unanswered(model):
    d = model.diagnose(GTPS_CASE).to_dict()
    first = d["next_questions"][0]
    assert first["variable"] in {"cannot_bear_weight", "severe_pain", "deformity", "fever"} or "must-not-miss" in first["reason"]
    assert all(set(q) >= {"variable", "question", "states", "expected_information_gain", "priority", "reason"}
               for q in d["next_questions"])


# --------------------------------------------------------------------------- sensitivity
def test_sensitivity_swings_are_recomputed_posteriors(model):
    table = model.sensitivity(GTPS_CASE, "gtps")
    assert (table["swing"] == (table["posterior_at_high"] - table["posterior_at_low"]).abs()).all()
    assert list(table["swing"]) == sorted(table["swing"], reverse=True)
    top = table.iloc[0]
    params = build_parameters(model.priors, {top["prior"]: np.array([top["low"], top["high"]])})
    check = DrawEngine(model.priors, params).marginals(model.parse_evidence(GTPS_CASE))[:, model.conditions.index("gtps")]
    assert check == pytest.approx([top["posterior_at_low"], top["posterior_at_high"]], abs=1e-12)
    assert table["posterior"].iloc[0] == pytest.approx(model.posterior(GTPS_CASE)["gtps"], abs=1e-12)
    with pytest.raises(ValueError, match="unknown condition"):
        model.sensitivity(GTPS_CASE, "gtsp")


def test_draw_methods_are_checked(model):
    engine = model.reasoner.draw_engine
    with pytest.raises(ValueError, match="unknown method 'fast'; allowed: auto, grouped, contraction"):
        engine.marginals({}, method="fast")


@pytest.mark.parametrize("p_answer", [0.0, 0.15, 0.4, 0.8, 1.0])
def test_grouped_draws_equal_the_full_contraction(model, p_answer):
    """Enumerating only the coupled groups gives the contraction's numbers, whatever is answered
    (unanswered risk factors private to one group, shared ones, none, all)."""
    rng = np.random.default_rng(int(p_answer * 100))
    engine = DrawEngine(model.priors, model.reasoner.draw_parameters)  # double precision
    single = model.reasoner.draw_engine  # the reasoning's: single precision
    assert (engine.grouped.precision, single.grouped.precision) == ("double", "single")
    for _ in range(6):
        ev = {v: str(rng.choice(var.states)) for v, var in model.variables.items() if rng.random() < p_answer}
        grouped = engine.marginals(ev, method="grouped")
        full = engine.marginals(ev, method="contraction")
        assert np.isnan(grouped).sum() == np.isnan(full).sum() == 0
        assert np.abs(grouped - full).max() < 1e-12
        assert np.abs(single.marginals(ev) - full).max() < 1e-5  # float32 rounding only


def test_interval_quantiles_are_scipys_harrell_davis_and_numpys_percentiles():
    from scipy.stats.mstats import hdquantiles

    from model.reasoning.quantiles import harrell_davis_weights, quantiles

    rng = np.random.default_rng(3)
    values = rng.random((128, 11))
    hd = quantiles(values, (0.05, 0.95))
    assert np.abs(hd - np.asarray(hdquantiles(values, prob=[0.05, 0.95], axis=0))).max() < 1e-12
    assert np.abs(quantiles(values, (0.05, 0.95), "linear") - np.percentile(values, [5, 95], axis=0)).max() < 1e-15
    # the weights sum to one and favour the order statistics near the level
    w = harrell_davis_weights(128, (0.05, 0.95))
    assert np.allclose(w.sum(axis=1), 1.0) and w[0].argmax() == 5 and w[1].argmax() == 122  # the Beta mode (a - 1) / (n - 1) of x_(i)
    assert quantiles(values, (0.0, 1.0)).tolist() == [values.min(axis=0).tolist(), values.max(axis=0).tolist()]
    values[7, 4] = np.nan  # a draw under which the evidence is impossible is left out
    values[:, 9] = np.nan  # no valid draw: NaN
    got = quantiles(values, (0.05, 0.95))
    expected = np.asarray(hdquantiles(np.ma.masked_invalid(values), prob=[0.05, 0.95], axis=0).filled(np.nan))
    assert np.abs(got - expected)[:, [k for k in range(11) if k != 9]].max() < 1e-12 and np.isnan(got[:, 9]).all()
    lin = quantiles(values, (0.05, 0.95), "linear")
    assert np.abs(lin[:, :9] - np.nanpercentile(values[:, :9], [5, 95], axis=0)).max() < 1e-15
    with pytest.raises(ValueError, match="estimator: 'median' is not one of harrell_davis, linear"):
        quantiles(values, (0.05,), "median")
    with pytest.raises(ValueError, match="levels"):
        quantiles(values, (5.0,))


def test_draws_are_a_latin_hypercube_with_common_random_numbers(model):
    from model.inference.draws import draw_values, network_priors, quantile

    chosen = [p for p in network_priors(model.priors) if p.high > p.low]
    values = draw_values(model.priors, 128, seed=4)
    again = draw_values(model.priors, 128, seed=4)
    assert all(np.array_equal(values[p], again[p]) for p in values)  # a seed fixes them all
    for p in chosen[:40]:
        # the uniform behind each draw (the prior's quantile function is increasing): one per stratum
        grid = np.linspace(0.0, 1.0, 4097)
        u = np.interp(values[p.path], quantile(p, grid), grid)
        strata = np.floor(np.clip(u, 0, 1 - 1e-12) * 128).astype(int)
        assert sorted(strata.tolist()) == list(range(128)), p.path
    plain = draw_values(model.priors, 128, seed=4, sampling="independent")
    u = np.array([np.interp(plain[p.path], quantile(p, np.linspace(0, 1, 4097)), np.linspace(0, 1, 4097)) for p in chosen[:40]])
    assert max(len(set(np.floor(row * 128).astype(int).tolist())) for row in u) < 128  # independent draws repeat strata
    with pytest.raises(ValueError, match="sampling: 'sobol' is not one of latin_hypercube, independent"):
        draw_values(model.priors, 8, sampling="sobol")
    with pytest.raises(ValueError, match="quantile_estimator"):
        Reasoner(model, ReasoningSettings(draws=8, quantile_estimator="median"))
