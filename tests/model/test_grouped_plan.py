"""The case plans of ``model.inference.grouped_plan``: what a plan must be, whatever algorithm builds it.

- The merge of a case's factors is a partition of them into parts, each part's scope the union
  of its factors' scopes, merged until any two parts together span every coupled condition.
- Each part's product program is valid (every operand used once, the last one spans the part)
  and greedy (each product joins the two live operands of smallest joint scope, lowest pair on a
  tie); an in-place product only where the result keeps its left operand's scope.
- Planned per-draw posteriors equal the general contraction on both bench mixes, and the caches
  stay bounded (a plan rebuilt after a reset gives the same numbers, bit for bit).
"""

from __future__ import annotations

import itertools
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import model.inference.grouped_draws as grouped_draws
from model import load_model
from model.inference.draw_engine import DrawEngine
from model.inference.draws import draw_values
from model.inference.grouped_plan import _last_operands, _merge_plan, _product_tree, _two_scope_plan
from model.parameters import build_parameters
from tests.model.test_engine_exact import evidence_for, toy_spec
from tests.model.test_grouped_draws import random_mix, simulated_mix
from tests.toy_priors import write_priors


def assert_valid_merge(masks: list[int], u: int, parts: list[tuple[int, tuple[int, ...]]]) -> None:
    """``parts`` (scope, factor indices) of :func:`_merge_plan` for factor scopes ``masks``."""
    indices = [i for _, part in parts for i in part]
    assert sorted(indices) == list(range(len(masks)))  # every factor in exactly one part
    for scope, part in parts:
        union = 0
        for i in part:
            union |= masks[i]
        assert scope == union
        assert [masks[i].bit_count() for i in part] == sorted((masks[i].bit_count() for i in part), reverse=True)
    assert [s.bit_count() for s, _ in parts] == sorted((s.bit_count() for s, _ in parts), reverse=True)
    full = (1 << u) - 1
    for (a, _), (b, _) in itertools.combinations(parts, 2):
        assert a | b == full  # merging stopped only when every pair would span everything


def assert_valid_greedy_program(masks: tuple[int, ...], steps: tuple[tuple[int, int, bool], ...]) -> None:
    """``steps`` of :func:`_product_tree`: each joins two live operands, of smallest joint scope."""
    scope, made, live = list(masks), [False] * len(masks), set(range(len(masks)))
    assert len(steps) == max(len(masks) - 1, 0)
    for i, j, in_place in steps:
        assert i in live and j in live and i != j
        best = min((scope[a] | scope[b]).bit_count() for a, b in itertools.combinations(sorted(live), 2))
        union = scope[i] | scope[j]
        assert union.bit_count() == best  # greedy: the cheapest product next
        assert in_place == (made[i] and union == scope[i])  # in place only into a product made here
        live -= {i, j}
        live.add(len(scope))
        scope.append(union)
        made.append(True)
    everything = 0
    for m in masks:
        everything |= m
    assert len(live) == 1 and scope[live.pop()] == everything


def _codes(m, evidence):
    v = m.reasoner.variants(m.parse_evidence(evidence))
    return v.rf_codes, v.finding_codes


@pytest.mark.parametrize("mix", ["simulated", "random"])
def test_planned_posteriors_equal_the_contraction(model, mix):
    cases = simulated_mix(model, 60, seed=21) if mix == "simulated" else random_mix(model, 60, seed=22)
    engine = model.reasoner.draw_engine
    grouped = grouped_draws.GroupedDraws(engine.network)
    for ev in cases:
        planned = grouped.marginals(*_codes(model, ev))
        full = engine.marginals(ev, method="contraction")
        assert np.array_equal(np.isnan(planned), np.isnan(full))
        assert np.nanmax(np.abs(planned - full)) < 1e-12
    coupled = 0
    for plan in grouped._plans.values():
        coupled += bool(plan.coupled)
        if plan.coupled:  # every factor (likelihood, independent groups, the prior) in one part
            n = len(plan.likelihood_place) + len(plan.independent_place) + 1
            assert sorted(i for indices, _ in plan.merge for i in indices) == list(range(n))
            assert all(len(steps) == len(indices) - 1 for indices, steps in plan.merge)
    assert len(grouped._plans) > 40 and coupled > 40  # mostly new, coupled structures, as on the bench


@settings(max_examples=25, deadline=None)
@given(spec=toy_spec(), data=st.data())
def test_random_networks_planned_posteriors_equal_the_contraction(spec, data):
    with tempfile.TemporaryDirectory() as tmp:
        m = load_model(write_priors(Path(tmp), spec))
        engine = DrawEngine(m.priors, build_parameters(m.priors, draw_values(m.priors, 3, seed=1)))
        for _ in range(4):
            ev = data.draw(evidence_for(m))
            planned = engine.grouped.marginals(*engine.network.codes(ev))
            full = engine.marginals(ev, method="contraction")
            assert np.array_equal(np.isnan(planned), np.isnan(full))
            if not np.isnan(full).all():
                assert np.nanmax(np.abs(planned - full)) < 1e-12


scope_lists = st.integers(1, 9).flatmap(lambda u: st.tuples(
    st.just(u), st.lists(st.integers(0, (1 << u) - 1), min_size=1, max_size=22)))


@settings(max_examples=300, deadline=None)
@given(case=scope_lists)
def test_merge_parts_and_product_programs_are_valid_and_greedy(case):
    """Random scope lists (duplicates, empty scopes, subsets and all)."""
    u, masks = case
    parts = _merge_plan(list(masks), u)
    assert_valid_merge(list(masks), u, parts)
    for _, part in parts:
        scopes = tuple(masks[i] for i in part)
        assert_valid_greedy_program(scopes, _product_tree(scopes))


def test_merge_and_program_by_hand():
    # scopes over 4 axes: {0,1}, {1}, {2,3}, {3}: the subsets fold in; the two parts span all 4
    parts = _merge_plan([0b0011, 0b0010, 0b1100, 0b1000], 4)
    assert sorted(parts) == [(0b0011, (0, 1)), (0b1100, (2, 3))]
    # {0}, {1}, {0,1,2}: {0} x {1} first (joint scope 2 axes), then the fresh product (operand 3,
    # left) times {0,1,2}
    assert _product_tree((0b001, 0b010, 0b111)) == ((0, 1, False), (3, 2, False))
    # the operands of that last product (left open for the two-clique messages): {0,1} and {0,1,2}
    assert _last_operands((0b001, 0b010, 0b111), ((0, 1, False), (3, 2, False))) == (0b011, 0b111)
    assert _last_operands((0b101,), ()) == (0b101,)  # a part of one factor: no product


def test_two_scope_plans_are_cached_by_their_scopes():
    _two_scope_plan.cache_clear()
    first = _two_scope_plan((0b0111,), (0b0100, 0b1000), 4, 3)
    assert _two_scope_plan((0b0111,), (0b0100, 0b1000), 4, 3) is first
    assert _two_scope_plan.cache_info().hits == 1
    # axes 0-3: a = {0,1,2}, b = {2,3}: shared {2}, a only {0,1}, b only {3}
    assert first[-3:] == ([2], [0, 1], [3])


def test_the_caches_stay_bounded(model, monkeypatch):
    """Past the cache size a cache starts again: never more entries than the bound, and a plan
    rebuilt after a reset gives the same numbers."""
    monkeypatch.setattr(grouped_draws, "PLAN_CACHE_SIZE", 8)
    grouped = grouped_draws.GroupedDraws(model.reasoner.draw_engine.network)
    sizes, first = [], {}
    cases = random_mix(model, 40, seed=5)
    for ev in cases:
        codes = _codes(model, ev)
        first[id(ev)] = grouped.marginals(*codes)
        sizes.append((len(grouped._plans), len(grouped._skeletons), len(grouped._grids), len(grouped._indices)))
    assert max(max(s[:3]) for s in sizes) <= 8
    assert max(s[0] for s in sizes) == 8  # it filled up and started again
    for ev in cases[:10]:  # their plans were dropped: rebuilt, the same numbers
        assert np.array_equal(grouped.marginals(*_codes(model, ev)), first[id(ev)], equal_nan=True)
    info = _product_tree.cache_info()
    assert info.maxsize is not None and info.currsize <= info.maxsize
