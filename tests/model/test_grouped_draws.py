"""The per-draw posteriors behind the intervals (``model.inference.grouped_draws``, planned per case
structure by ``model.inference.grouped_plan``) equal the general tensor contraction under every
draw: on both bench mixes of the bundled network, on random networks with the richer forms, with
plans reused across cases, and where the evidence is impossible under some draws (NaN rows).
The planned pieces (product trees, two-clique messages, bit sums) are checked against brute force.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from model import load_model
from model.inference import grouped_draws
from model.inference.draw_engine import DrawEngine
from model.inference.draws import draw_values
from model.inference.grouped_draws import GroupedDraws, _bit_sums, _run_merge, _single_safe, _two_scope_marginals
from model.inference.grouped_plan import _merge_plan, _product_tree, _two_scope_plan
from model.parameters import build_parameters
from model.simulate import simulate
from tests.model.test_engine_exact import evidence_for, toy_spec
from tests.toy_priors import write_priors

TOL = 1e-12
SINGLE_TOL = 1e-5  # single precision (float32 arrays): about 1e-6 off, measured at most 2e-6 on the bench mixes


def random_mix(m, n: int, seed: int) -> list[dict[str, str]]:
    """The bench's random mix: 6 to 16 answers on variables drawn at random, states uniform."""
    rng = np.random.default_rng(seed)
    names = list(m.evidence_order)
    out = []
    for _ in range(n):
        chosen = rng.choice(len(names), size=int(rng.integers(6, 17)), replace=False)
        out.append({names[i]: str(rng.choice(m.variables[names[i]].states)) for i in sorted(chosen)})
    return out


def simulated_mix(m, n: int, seed: int) -> list[dict[str, str]]:
    """The bench's simulated mix: runners drawn from the network, 30% of answers missing."""
    frame = simulate(m, n, seed=seed, missing=0.3)[m.evidence_order]
    return [{k: v for k, v in row.items() if isinstance(v, str)} for row in frame.to_dict("records")]


def assert_equal_draws(grouped: np.ndarray, full: np.ndarray) -> None:
    assert grouped.shape == full.shape
    assert np.array_equal(np.isnan(grouped), np.isnan(full))
    assert np.nan_to_num(np.abs(grouped - full)).max() < TOL


@pytest.mark.parametrize("mix", ["simulated", "random"])
def test_both_bench_mixes_equal_the_contraction(model, mix):
    """In double precision to 1e-12; in single precision (the reasoning's) to float32's rounding."""
    engine = DrawEngine(model.priors, model.reasoner.draw_parameters)
    single = model.reasoner.draw_engine.grouped
    assert (engine.grouped.precision, single.precision) == ("double", "single")
    cases = simulated_mix(model, 30, seed=11) if mix == "simulated" else random_mix(model, 30, seed=12)
    assert sum(len(ev) for ev in cases) > 30 * 5  # real cases, not empty ones
    worst = 0.0
    for ev in cases:
        full = engine.marginals(ev, method="contraction")
        assert_equal_draws(engine.marginals(ev, method="grouped"), full)
        fast = single.marginals(*engine.network.codes(ev))
        assert fast.dtype == np.float64 and np.array_equal(np.isnan(fast), np.isnan(full))
        worst = max(worst, float(np.nan_to_num(np.abs(fast - full)).max()))
    assert 0 < worst < SINGLE_TOL  # single precision, not double: off by rounding, and by rounding only


def test_a_plan_is_reused_for_cases_of_the_same_structure(model):
    """Same unanswered risk factors and the same coupled scopes, other states: one plan, each
    case its own numbers (equal to the contraction)."""
    engine = DrawEngine(model.priors, build_parameters(model.priors, draw_values(model.priors, 16, seed=3)))
    grouped = engine.grouped
    a = {"age": 40, "sex": "female", "pain_lateral_hip": "present", "pain_groin": "present", "onset": "gradual"}
    b = {"age": 58, "sex": "male", "pain_lateral_hip": "present", "pain_groin": "present", "onset": "gradual"}
    a, b = (model.parse_evidence(ev) for ev in (a, b))
    first = engine.marginals(a)
    plans = len(grouped._plans)
    second = engine.marginals(b)
    assert len(grouped._plans) == plans  # the same structure: no new plan
    assert np.abs(first - second).max() > 0.01
    assert_equal_draws(first, engine.marginals(a, method="contraction"))
    assert_equal_draws(second, engine.marginals(b, method="contraction"))
    assert_equal_draws(engine.marginals(a), first)  # a cached plan gives the same numbers again


@settings(max_examples=30, deadline=None)
@given(spec=toy_spec(), data=st.data())
def test_random_networks_every_structure_equals_the_contraction(spec, data):
    """Random networks (inhibiting links, dependent findings, caused_by), evidence from none to
    everything answered, each case scored twice (the second from the cached plan)."""
    with tempfile.TemporaryDirectory() as tmp:
        m = load_model(write_priors(Path(tmp), spec))
        params = build_parameters(m.priors, draw_values(m.priors, 5, seed=data.draw(st.integers(0, 99))))
        engine = DrawEngine(m.priors, params)
        single = GroupedDraws(engine.network, "single")
        for _ in range(4):
            ev = data.draw(evidence_for(m))
            full = engine.marginals(ev, method="contraction")
            for _ in range(2):
                # the contraction's own rounding (1 - (1 - leak) prod(1 - link)) differs by ~1e-11 at worst
                grouped = engine.marginals(ev, method="grouped")
                assert np.array_equal(np.isnan(grouped), np.isnan(full))
                assert np.nan_to_num(np.abs(grouped - full)).max() < 1e-9
                fast = single.marginals(*engine.network.codes(ev))
                assert np.array_equal(np.isnan(fast), np.isnan(full))
                assert np.nan_to_num(np.abs(fast - full)).max() < SINGLE_TOL


def test_impossible_evidence_under_some_draws_gives_nan_rows(model):
    """A finding whose answer has probability zero under some draws (its table zeroed there):
    those draws' rows are NaN, the others are the contraction's numbers. Also an answer that is
    impossible only when a parent is absent (a zero inside a coupled table): no NaN, exact."""
    params = build_parameters(model.priors, draw_values(model.priors, 12, seed=5))
    engine = DrawEngine(model.priors, params)
    net = engine.network
    fi = next(i for i, f in enumerate(net.factors) if f.members == ("pain_groin", "worse_twisting"))
    factor = net.factors[fi]
    pattern = factor.pattern({"pain_groin": 0})  # pain_groin present, worse_twisting unanswered
    factor.table[[1, 4, 7], pattern] = 0.0
    gi = next(i for i, f in enumerate(net.factors) if f.members == ("pain_buttock_deep",))
    deep = net.factors[gi]
    deep.table[:, deep.pattern({"pain_buttock_deep": 0}), ..., 1] = 0.0  # impossible without the last parent
    engine.grouped = GroupedDraws(net)
    for ev in ({"pain_groin": "present"},
               {"pain_groin": "present", "age": 30, "pain_buttock_deep": "present", "night_pain": "present"},
               {"pain_groin": "present", "sex": "female", "rest_days": "under_2", "stiffness": "present"}):
        parsed = model.parse_evidence(ev)
        grouped = engine.marginals(parsed)
        full = engine.marginals(parsed, method="contraction")
        assert_equal_draws(grouped, full)
        assert np.isnan(grouped).all(axis=1).tolist() == [d in (1, 4, 7) for d in range(12)]
        # single precision: a draw's total of 0 is never decided in float32 (the case is redone in double)
        assert_same(GroupedDraws(net, "single").marginals(*net.codes(parsed)), grouped)
    parsed = model.parse_evidence({"pain_buttock_deep": "present", "sex": "male"})
    grouped = engine.marginals(parsed)
    assert not np.isnan(grouped).any()
    assert_equal_draws(grouped, engine.marginals(parsed, method="contraction"))
    last = net.conditions.index(deep.parents[-1])
    assert np.allclose(grouped[:, last], 1.0)  # only its last parent explains it
    single = GroupedDraws(net, "single")
    fast = single.marginals(*net.codes(parsed))  # a zero inside a coupled table: kept in single precision
    assert single._double is None and not np.isnan(fast).any() and np.abs(fast - grouped).max() < SINGLE_TOL


def assert_same(a: np.ndarray, b: np.ndarray) -> None:
    """Equal bit for bit (NaN where the other is NaN)."""
    assert a.shape == b.shape and np.array_equal(a, b, equal_nan=True)


def test_precision_is_checked(model):
    net = model.reasoner.draw_engine.network
    with pytest.raises(ValueError, match="precision: 'half' is not one of double, single"):
        GroupedDraws(net, "half")
    from model.reasoning import Reasoner, ReasoningSettings

    with pytest.raises(ValueError, match="draw_precision: 'float16' is not one of double, single"):
        Reasoner(model, ReasoningSettings(draw_precision="float16"))


def test_single_precision_keeps_a_case_only_where_underflow_cannot_matter():
    """The mass underflow could lose (configurations x rise x float32's smallest normal) must stay
    below SINGLE_LOSS (1e-7) of every draw's total; NaN or 0 totals go to double precision."""
    tiny = float(np.finfo(np.float32).tiny)  # 1.1754944e-38
    assert grouped_draws.SINGLE_TINY == tiny
    ok = np.array([1e-20, 0.5], dtype=np.float32)
    assert _single_safe(ok, 2048, 1.0)  # 1e-27 >= 2048 * 1.18e-38 = 2.4e-35
    assert not _single_safe(np.array([1e-28, 0.5], dtype=np.float32), 2048, 1.0)  # 1e-35 < 2.4e-35
    assert _single_safe(np.array([1e-28, 0.5]), 2, 1.0)  # 1e-35 >= 2.4e-38: few configurations
    assert not _single_safe(ok, 2048, 1e10)  # ratios above 1 could raise an underflowed product back
    assert not _single_safe(np.array([0.0, 0.5]), 1, 1.0)
    assert not _single_safe(np.array([np.nan, 0.5]), 1, 1.0)
    assert not _single_safe(ok, 2048, 1.0, np.array([True, False]))  # a draw with the evidence impossible
    assert _single_safe(ok, 2048, 1.0, np.array([True, True]))


def test_single_precision_redoes_in_double_what_it_cannot_keep(model, monkeypatch):
    """With the tolerance for lost mass at 0, no case passes the check: every case is redone in
    double precision and equals the double method bit for bit; with the real tolerance, the same
    cases stay in single precision (no double twin made)."""
    net = model.reasoner.draw_engine.network
    double = GroupedDraws(net)
    cases = simulated_mix(model, 6, seed=21) + random_mix(model, 6, seed=22) + [{}]
    kept = GroupedDraws(net, "single")
    for ev in cases:
        assert np.abs(kept.marginals(*net.codes(ev)) - double.marginals(*net.codes(ev))).max() < SINGLE_TOL
    assert kept._double is None
    monkeypatch.setattr(grouped_draws, "SINGLE_LOSS", 0.0)
    redone = GroupedDraws(net, "single")
    for ev in cases:
        assert_same(redone.marginals(*net.codes(ev)), double.marginals(*net.codes(ev)))
    assert redone._double is not None and redone._double.precision == "double"


# --------------------------------------------------------------------------- planned pieces
def _placed(rng, mask: int, u: int, d: int) -> np.ndarray:
    return rng.random([2 if mask >> i & 1 else 1 for i in range(u)] + [d]) + 0.1


@settings(max_examples=60, deadline=None)
@given(u=st.integers(1, 6), masks=st.lists(st.integers(0, 63), min_size=1, max_size=7), seed=st.integers(0, 999))
def test_product_trees_equal_the_plain_product(u, masks, seed):
    rng = np.random.default_rng(seed)
    masks = [m & ((1 << u) - 1) for m in masks]
    factors = [_placed(rng, m, u, 3) for m in masks]
    parts = _merge_plan(masks, u)
    assert sorted(i for _, part in parts for i in part) == list(range(len(masks)))  # every factor once
    for mask, part in parts:
        assert mask == np.bitwise_or.reduce([masks[i] for i in part])
    merge = [(part, _product_tree(tuple(masks[i] for i in part))) for _, part in parts]
    opened = _run_merge([f.copy() for f in factors], merge, open_last=True)  # the last products left open
    for (part, _), ops in zip(merge, opened, strict=True):
        assert len(ops) == min(len(part), 2)
        product = ops[0] * ops[1] if len(ops) == 2 else ops[0]
        assert np.abs(product - _run_merge([f.copy() for f in factors], [(part, _product_tree(tuple(masks[i] for i in part)))])[0]).max() < 1e-12
    merged = _run_merge(factors, merge)
    product = np.ones([1] * u + [3])
    for f in factors:
        product = product * f
    together = np.ones([1] * u + [3])
    for m in merged:
        together = together * m
    assert np.abs(together - product).max() < 1e-12
    assert all(f.min() > 0.1 for f in factors)  # inputs are never written in place


@pytest.mark.parametrize("m", range(0, 11))
def test_bit_sums_equal_brute_force(m):
    rng = np.random.default_rng(m)
    joint = rng.random((2,) * m + (4,))
    rows, total = _bit_sums(joint, m, 4)
    flat = joint.reshape(-1, 4)
    assert np.abs(total - flat.sum(axis=0)).max() < 1e-12
    for i in range(m):
        assert np.abs(rows[i] - np.take(joint, 1, axis=i).reshape(-1, 4).sum(axis=0)).max() < 1e-12
    # in float32 the sums stay float32 (no converted copy of the joint) and agree to its rounding
    rows32, total32 = _bit_sums(joint.astype(np.float32), m, 4)
    assert rows32.dtype == total32.dtype == np.float32
    assert np.abs(total32 - total).max() <= 1e-6 * total.max() and np.abs(rows32 - rows).max(initial=0.0) <= 1e-6 * total.max()


@settings(max_examples=80, deadline=None)
@given(u=st.integers(1, 7), a=st.integers(1, 127), b=st.integers(1, 127), split=st.tuples(st.integers(0, 127), st.integers(0, 127)),
       seed=st.integers(0, 999))
def test_two_clique_messages_equal_the_full_product(u, a, b, split, seed):
    """Each part given as one factor, or as the two operands of its last product (scopes: a
    random subset of the part's and the rest, with some overlap)."""
    full = (1 << u) - 1
    a, b = a & full, b & full
    if not a or not b or (a | b) != full:
        b |= full & ~a
    rng = np.random.default_rng(seed)
    sides = []
    for mask, cut in zip((a, b), split, strict=True):
        x = cut & mask
        if not x or x == mask:  # one factor
            sides.append(((mask,), (_placed(rng, mask, u, 3),)))
        else:  # two operands: x and the rest of the part's scope, plus x's lowest axis
            y = (mask & ~x) | (x & -x if cut & 1 else 0)
            sides.append(((x, y), (_placed(rng, x, u, 3), _placed(rng, y, u, 3))))
    (a_ops, fa), (b_ops, fb) = sides
    two = _two_scope_plan(a_ops, b_ops, u, 3)
    rows, total = _two_scope_marginals([fa, fb], two, u, 3)
    order = [i for axes in two[-3:] for i in axes]  # the rows: shared axes, a only, b only
    assert sorted(order) == list(range(u)) and rows.shape == (u, 3)
    joint = np.ones((1,) * u + (3,))
    for f in fa + fb:
        joint = joint * f
    joint = np.broadcast_to(joint, (2,) * u + (3,))
    assert np.abs(total - joint.reshape(-1, 3).sum(axis=0)).max() < 1e-12
    for row, i in zip(rows, order, strict=True):
        assert np.abs(row - np.take(joint, 1, axis=i).reshape(-1, 3).sum(axis=0)).max() < 1e-12
