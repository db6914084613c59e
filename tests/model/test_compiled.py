"""The one compiled network: every exact algorithm reads the same tables, built once, from the
model's parameters or read from a pgmpy network, and the engine built from it equals pgmpy."""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from model import load_model
from model.inference.compiled import CompiledNetwork
from model.inference.draw_engine import DrawEngine
from model.inference.engine import Engine
from tests.model.test_engine_exact import TOL, evidence_for, toy_spec
from tests.toy_priors import write_priors

warnings.filterwarnings("ignore", category=FutureWarning)


@pytest.fixture(scope="module")
def model():
    return load_model()


def _codes(engine: Engine, evidence: dict[str, str]) -> tuple[np.ndarray, np.ndarray]:
    rf = [engine.risk_factor_states[j].index(evidence[r]) if r in evidence else -1
          for j, r in enumerate(engine.risk_factor_ids)]
    fd = [engine.finding_states[j].index(evidence[f]) if f in evidence else -1 for j, f in enumerate(engine.finding_ids)]
    return np.array([rf]), np.array([fd])


def test_the_model_compiles_once_and_every_algorithm_reads_that(model):
    """The engine's factors are the compiled network's own objects (no second compile step); the
    per-draw engine's network is the same class with a draw axis."""
    compiled = model.compiled
    assert isinstance(compiled, CompiledNetwork) and compiled.draws == 1
    assert model.engine.compiled is compiled
    assert all(a is b for a, b in zip(model.engine.factors, compiled.factors, strict=True))
    assert model.engine.factor_of is compiled.factor_of
    assert np.array_equal(model.engine.joint_rc, compiled.joint_grid(0))
    draws = model.reasoner.draw_engine.network
    assert isinstance(draws, CompiledNetwork) and draws.draws > 1
    assert draws.conditions == compiled.conditions and draws.finding_ids == compiled.finding_ids
    assert [f.members for f in draws.factors] == [f.members for f in compiled.factors]


def test_joint_grid_is_the_product_of_the_tables(model):
    """J[R, C] sums to one, and one entry equals the hand product P(r) prod_c P(c | parents)."""
    c = model.compiled
    joint = c.joint_grid()
    assert joint.shape == (int(np.prod(c.rf_cards)), 2 ** len(c.conditions))
    assert joint.sum() == pytest.approx(1.0, abs=1e-12)
    g, config = 7, 0b101  # grid row 7, conditions 0 and 2 present
    r = c.risk_grid[g]
    expected = np.prod([c.rf_probs[rid][0][r[j]] for j, rid in enumerate(c.rf_ids)])
    for j, cid in enumerate(c.conditions):
        rf_par, c_par = c.condition_parents[cid]
        index = [r[c.rf_ids.index(p)] for p in rf_par] + [0 if config >> c.conditions.index(p) & 1 else 1 for p in c_par]
        on = c.condition_tables[cid][0][tuple(index)]
        expected *= on if config >> j & 1 else 1.0 - on
    assert joint[g, config] == pytest.approx(expected, rel=1e-12)


def test_reading_the_pgmpy_network_gives_the_same_compiled_tables(model):
    ref = CompiledNetwork.from_pgmpy(model.network, model.risk_factor_ids, model.conditions, model.finding_ids)
    ours = model.compiled
    assert ref.rf_states == ours.rf_states and ref.finding_states == ours.finding_states
    assert ref.condition_parents == ours.condition_parents
    for r in ours.rf_ids:
        assert np.abs(ref.rf_probs[r] - ours.rf_probs[r]).max() < 1e-15
    for cid in ours.conditions:
        assert np.abs(ref.condition_tables[cid] - ours.condition_tables[cid]).max() < 1e-15
    assert [(f.members, f.parents) for f in ref.factors] == [(f.members, f.parents) for f in ours.factors]
    assert max(np.abs(a.table - b.table).max() for a, b in zip(ref.factors, ours.factors, strict=True)) < 1e-15
    assert np.array_equal(ref.pattern_weight, ours.pattern_weight)
    assert [g.members for g in ref.groups] == [g.members for g in ours.groups]
    assert max(np.abs(a.table - b.table).max() for a, b in zip(ref.groups, ours.groups, strict=True)) < 1e-15


def test_the_engine_of_one_draw_equals_that_draw_of_the_per_draw_engine(model):
    """Engine(compiled, draw=d) on a network compiled with hundreds of draws is the batch engine
    of draw d: the same posteriors as the per-draw methods give for that draw (in double
    precision: the reasoning's own draw engine computes in single, see test_grouped_draws)."""
    draws = DrawEngine(model.priors, model.reasoner.draw_parameters)
    case = model.parse_evidence({"sex": "female", "age": 45, "pain_lateral_hip": "present",
                                 "pain_lying_on_side": "present", "night_pain": "absent"})
    per_draw = draws.marginals(case)
    for d in (0, 17, draws.draws - 1, -1):
        engine = Engine(draws.network, draw=d)
        rf, fd = _codes(engine, case)
        assert np.abs(engine.posterior(rf, fd).marginals[0] - per_draw[d]).max() < TOL
    with pytest.raises(IndexError, match="out of range"):
        Engine(draws.network, draw=draws.draws)


def test_bad_tables_are_refused_with_the_variable_named():
    rf = {"r": ["a", "b"]}
    probs = {"r": np.array([0.4, 0.6])}
    cond = {"c": (("r",), ())}
    tables = {"c": np.array([[0.1, 0.2]])}
    on = {"f": np.array([[0.9, 0.1]])}
    with pytest.raises(ValueError, match="finding f: parent 'x' is not a condition or another finding"):
        CompiledNetwork(rf, probs, cond, tables, {"f": ["present", "absent"]}, {"f": ("x",)}, on)
    with pytest.raises(ValueError, match="finding f: 3 states"):
        CompiledNetwork(rf, probs, cond, tables, {"f": ["a", "b", "c"]}, {"f": ("c",)}, on)
    with pytest.raises(ValueError, match="condition c: parent 'q' is not a risk factor or another condition"):
        CompiledNetwork(rf, probs, {"c": (("q",), ())}, tables, {"f": ["present", "absent"]}, {"f": ("c",)}, on)
    cyclic = {"c": ((), ("d",)), "d": ((), ("c",))}
    with pytest.raises(ValueError, match="cycle"):
        CompiledNetwork(rf, probs, cyclic, {"c": np.full((1, 2), 0.3), "d": np.full((1, 2), 0.3)},
                        {"f": ["present", "absent"]}, {"f": ("c",)}, on)


def _shuffled(network, risk_factors: list[str], conditions: list[str]):
    """The same network with every variable's states listed in reverse order and every
    condition's parents in reverse order (conditions before risk factors): other CPD layouts
    that mean the same distribution."""
    from pgmpy.factors.discrete import TabularCPD
    from pgmpy.models import DiscreteBayesianNetwork

    out = DiscreteBayesianNetwork(network.edges())
    out.add_nodes_from(network.nodes())
    cpds = []
    for cpd in network.get_cpds():
        var, parents = cpd.variables[0], list(cpd.variables[1:])
        if var in conditions:
            parents = parents[::-1]
        cards = [int(c) for c in cpd.cardinality]
        values = cpd.get_values().reshape(cards)
        order = [0] + [1 + list(cpd.variables[1:]).index(p) for p in parents]
        values = np.flip(np.transpose(values, order), axis=tuple(range(len(order))))
        names = {v: list(cpd.state_names[v])[::-1] for v in [var, *parents]}
        cpds.append(TabularCPD(var, cards[0], values.reshape(cards[0], -1), evidence=parents or None,
                               evidence_card=[cards[order[i]] for i in range(1, len(order))] or None, state_names=names))
    out.add_cpds(*cpds)
    out.check_model()
    return out


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=toy_spec(), data=st.data())
def test_random_pgmpy_networks_in_any_layout_compile_to_an_engine_equal_to_pgmpy(spec, data):
    """Engine.from_network on random networks (inhibiting links, dependent findings, caused_by)
    whose CPDs list states and parents in another order: its posteriors equal pgmpy's own, and
    the engine compiled from the priors."""
    from pgmpy.inference import VariableElimination

    with tempfile.TemporaryDirectory() as tmp:
        m = load_model(write_priors(Path(tmp), spec))
        net = _shuffled(m.network, m.risk_factor_ids, m.conditions)
        engine = Engine.from_network(net, m.risk_factor_ids, m.conditions, m.finding_ids)
        assert engine.risk_factor_states == [list(m.variables[r].states)[::-1] for r in m.risk_factor_ids]
        assert engine.finding_states == [list(m.variables[f].states)[::-1] for f in m.finding_ids]
        ve = VariableElimination(net)
        for _ in range(3):
            ev = data.draw(evidence_for(m))
            got = engine.posterior(*_codes(engine, ev)).marginals[0]
            res = ve.query(list(m.conditions), evidence=ev or None, joint=False, show_progress=False)
            expected = np.array([res[c].get_value(**{c: "present"}) for c in m.conditions])
            assert np.abs(got - expected).max() < TOL
            assert np.abs(got - m.engine.posterior(*_codes(m.engine, ev)).marginals[0]).max() < TOL


def test_engine_copies_share_the_compiled_network_and_give_the_same_numbers(model):
    """The thread copies of an engine keep their own caches but read the one compiled network."""
    import copy

    engine = Engine(model.compiled)
    twin = copy.deepcopy(engine)
    assert twin.compiled is engine.compiled and twin._weights is not engine._weights
    rng = np.random.default_rng(3)
    rf = np.where(rng.random((50, len(engine.rf_cards))) < 0.5, rng.integers(0, 2, (50, len(engine.rf_cards))), -1)
    fd = np.where(rng.random((50, len(engine.finding_ids))) < 0.4, rng.integers(0, 2, (50, len(engine.finding_ids))), -1)
    assert np.array_equal(twin.posterior(rf, fd).marginals, model.engine.posterior(rf, fd).marginals)
