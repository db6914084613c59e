"""The case plans of ``model.inference.grouped_plan`` (faster algorithms, caches keyed by what fixes
each piece) equal the plans of the straightforward first implementation
(``tests/model/grouped_plan_reference.py``, kept unchanged) attribute by attribute, so the
per-draw posteriors are bit-identical: on both bench mixes of the bundled network, on random
networks, and for the merge and product trees on random scope lists. The caches stay bounded."""

from __future__ import annotations

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
from model.inference.grouped_plan import _merge_plan, _product_tree, _two_scope_plan
from model.parameters import build_parameters
from tests.model import grouped_plan_reference as reference
from tests.model.test_engine_exact import evidence_for, toy_spec
from tests.model.test_grouped_draws import random_mix, simulated_mix
from tests.toy_priors import write_priors


def _structures(grouped, cases):
    """The (unanswered, scopes) plan key of each case, in order (recorded from ``plan``)."""
    keys = []
    plan = grouped.plan

    def record(unanswered, scopes):
        keys.append((unanswered, scopes))
        return plan(unanswered, scopes)

    grouped.plan = record
    try:
        for rf_codes, finding_codes in cases:
            grouped.marginals(rf_codes, finding_codes)
    finally:
        del grouped.plan
    return keys


def _reference_plan(grouped, unanswered, scopes):
    net = grouped.net
    shared = tuple(u and s for u, s in zip(unanswered, grouped._shared, strict=True))
    coupled = tuple(sorted({grouped._group_of[c] for scope in scopes for c in scope}))
    skeleton = reference.Skeleton(net, shared, coupled, {})
    return reference.CasePlan(skeleton, scopes, reference.group_index(net, unanswered))


def assert_same_plan(new, old) -> None:
    names = set(old.__dict__) - {"placements"}  # the skeleton's own cache of placements
    assert names <= set(new.__dict__)
    for name in sorted(names):
        a, b = getattr(new, name), getattr(old, name)
        if isinstance(b, np.ndarray):
            assert a.shape == b.shape and np.array_equal(a, b), name
        else:
            assert a == b, name


def _codes(m, evidence):
    v = m.reasoner.variants(m.parse_evidence(evidence))
    return v.rf_codes, v.finding_codes


@pytest.mark.parametrize("mix", ["simulated", "random"])
def test_plans_equal_the_reference_and_numbers_are_bit_identical(model, mix):
    cases = simulated_mix(model, 60, seed=21) if mix == "simulated" else random_mix(model, 60, seed=22)
    grouped = grouped_draws.GroupedDraws(model.reasoner.draw_engine.network)
    codes = [_codes(model, ev) for ev in cases]
    keys = _structures(grouped, codes)
    assert len(set(keys)) > 40  # mostly new structures, as on the bench
    coupled = 0
    for (rf, findings), key in zip(codes, keys, strict=True):
        new, old = grouped.plan(*key), _reference_plan(grouped, *key)
        assert_same_plan(new, old)
        coupled += bool(new.coupled)
        ours = grouped.marginals(rf, findings)
        grouped._plans[key] = old  # the same case scored from the reference plan
        theirs = grouped.marginals(rf, findings)
        grouped._plans[key] = new
        assert np.array_equal(ours, theirs, equal_nan=True)  # bit-identical, not just close
    assert coupled > 40


@settings(max_examples=25, deadline=None)
@given(spec=toy_spec(), data=st.data())
def test_random_networks_plans_equal_the_reference(spec, data):
    with tempfile.TemporaryDirectory() as tmp:
        m = load_model(write_priors(Path(tmp), spec))
        engine = DrawEngine(m.priors, build_parameters(m.priors, draw_values(m.priors, 3, seed=1)))
        grouped = engine.grouped
        for _ in range(4):
            codes = engine.network.codes(data.draw(evidence_for(m)))
            for key in _structures(grouped, [codes]):
                assert_same_plan(grouped.plan(*key), _reference_plan(grouped, *key))


scope_lists = st.integers(1, 9).flatmap(lambda u: st.tuples(
    st.just(u), st.lists(st.integers(0, (1 << u) - 1), min_size=1, max_size=22)))


@settings(max_examples=300, deadline=None)
@given(case=scope_lists)
def test_merge_and_product_trees_equal_the_reference(case):
    """Random scope lists (duplicates, empty scopes, subsets and all): the same parts in the same
    order, the same product programs."""
    u, masks = case
    parts = _merge_plan(list(masks), u)
    assert parts == reference._merge_plan.__wrapped__(tuple(masks), u)
    for _, part in parts:
        scopes = tuple(masks[i] for i in part)
        assert (part, _product_tree(scopes)) == reference._product_tree.__wrapped__(scopes, part)


def test_two_scope_plans_are_cached_by_their_scopes():
    _two_scope_plan.cache_clear()
    first = _two_scope_plan(0b0111, 0b1100, 4, 3)
    assert _two_scope_plan(0b0111, 0b1100, 4, 3) is first
    assert first == reference._two_scope_plan(0b0111, 0b1100, 4, 3)
    assert _two_scope_plan.cache_info().hits == 1


def test_the_caches_stay_bounded(model, monkeypatch):
    """Past the cache size a cache starts again: never more entries than the bound, and a plan
    built after a reset equals the reference still."""
    monkeypatch.setattr(grouped_draws, "PLAN_CACHE_SIZE", 8)
    grouped = grouped_draws.GroupedDraws(model.reasoner.draw_engine.network)
    sizes = []
    for ev in random_mix(model, 40, seed=5):
        rf, findings = _codes(model, ev)
        grouped.marginals(rf, findings)
        sizes.append((len(grouped._plans), len(grouped._skeletons), len(grouped._grids), len(grouped._indices)))
    assert max(max(s[:3]) for s in sizes) <= 8
    assert max(s[0] for s in sizes) == 8  # it filled up and started again
    key = next(iter(grouped._plans))
    assert_same_plan(grouped._plans[key], _reference_plan(grouped, *key))
    assert _product_tree.cache_info().maxsize is not None and _product_tree.cache_info().currsize <= _product_tree.cache_info().maxsize
