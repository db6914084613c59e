"""Explanations (the differential): the top joint states of the conditions, checked against
pgmpy's MAP query (the first) and against brute-force enumeration of the whole network (all)."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest

from model import load_model
from tests.toy_priors import write_priors

warnings.filterwarnings("ignore", category=FutureWarning)
TOL = 1e-9

CASES = [
    {},
    {"sex": "female", "age": 45, "pain_lateral_hip": "present", "pain_lying_on_side": "present"},
    {"sex": "female", "age": 28, "pain_groin": "present", "night_pain": "present"},
    {"onset": "gradual", "pain_buttock_deep": "present", "pain_lower_back": "present", "worse_twisting": "absent",
     "improves_with_warmup": "present"},
]


def _config(present: list[str], conditions: list[str]) -> dict[str, str]:
    return {c: ("present" if c in present else "absent") for c in conditions}


@pytest.mark.parametrize("evidence", CASES)
def test_first_explanation_is_pgmpys_map_and_all_match_its_joint(model, evidence):
    from pgmpy.inference import VariableElimination

    parsed = model.parse_evidence(evidence)
    expl = model.explanations(evidence)
    assert len(expl) == 5
    assert [e["probability"] for e in expl] == sorted((e["probability"] for e in expl), reverse=True)
    ve = VariableElimination(model.network)
    conditions = list(model.conditions)
    mpe = ve.map_query(conditions, evidence=parsed or None, show_progress=False)
    assert mpe == _config(expl[0]["present"], conditions)
    joint = ve.query(conditions, evidence=parsed or None, joint=True, show_progress=False)
    for e in expl:
        assert abs(joint.get_value(**_config(e["present"], conditions)) - e["probability"]) < TOL
    # nothing left out: the fifth is at least as probable as every configuration not listed
    values = np.sort(joint.values.reshape(-1))[::-1]
    assert abs(values[4] - expl[4]["probability"]) < TOL


def test_diagnosis_carries_the_explanations(model):
    case = CASES[1]
    d = model.diagnose(case).to_dict(decimals=None)  # exact values (the API body rounds for readers)
    assert d["explanations"][0]["present"] == ["gtps"]  # "GTPS alone" reads better than GTPS with soreness
    for other in (model.explanations(case), model.diagnose(case, reasoning=False).to_dict(decimals=None)["explanations"]):
        assert [e["present"] for e in other] == [e["present"] for e in d["explanations"]]
        assert np.allclose([e["probability"] for e in other], [e["probability"] for e in d["explanations"]], rtol=0, atol=TOL)


def _brute_force_joint(m, evidence: dict[str, str]) -> dict[tuple[str, ...], float]:
    """P(present set | evidence) by summing the product of every CPD over every full assignment."""
    net = m.network
    variables = list(net.nodes())
    cpds = {v: net.get_cpds(v) for v in variables}
    states = {v: list(cpds[v].state_names[v]) for v in variables}
    free = [v for v in variables if v not in evidence]
    totals: dict[tuple[str, ...], float] = {}
    for values in itertools.product(*[states[v] for v in free]):
        full = {**evidence, **dict(zip(free, values, strict=True))}
        p = 1.0
        for cpd in cpds.values():
            p *= cpd.get_value(**{u: full[u] for u in cpd.variables})
        key = tuple(c for c in m.conditions if full[c] == "present")
        totals[key] = totals.get(key, 0.0) + p
    z = sum(totals.values())
    return {k: v / z for k, v in totals.items()}


SPEC = {
    "risk_factors": {"r0": {"states": ["a", "b"], "probs": [0.4, 0.6]}},
    "conditions": {"c0": {"base_rate": 0.2, "effects": {"r0": {"reference": "a", "rr": {"b": 2.0}}}},
                   "c1": {"base_rate": 0.3, "caused_by": {"c0": 0.4}},
                   "c2": {"base_rate": 0.25}},
    "findings": {"f0": {"leak": 0.05, "causes": {"c0": 0.8, "c2": 0.3}},
                 "f1": {"leak": 0.1, "causes": {"c1": 0.6}, "depends_on": {"f0": 0.5}, "argues_against": {"c2": 0.7}},
                 "f2": {"leak": 0.2, "causes": {"c2": 0.7}, "argues_against": {"c0": 0.4}}},
}


@pytest.mark.parametrize("evidence", [{}, {"f1": "present"}, {"f0": "absent", "f1": "present", "r0": "b"},
                                      {"f2": "present", "f1": "absent"}])
def test_all_explanations_equal_brute_force_on_a_network_with_the_new_forms(tmp_path, evidence):
    m = load_model(write_priors(tmp_path / "p", SPEC))
    brute = _brute_force_joint(m, evidence)
    expl = m.explanations(evidence, top=8)  # every configuration of the three conditions
    assert len(expl) == 8
    for e in expl:
        assert abs(brute[tuple(e["present"])] - e["probability"]) < TOL
    assert expl[0]["probability"] == pytest.approx(max(brute.values()), abs=TOL)
