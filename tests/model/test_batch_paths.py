"""The batch engine's paths give the same exact numbers: the narrow enumeration (conditions with no
parent and no child summed out in closed form), the full enumeration, the tiny-total fallback,
any prior-cache state; on the bundled network and on random networks, against pgmpy."""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from model import load_model
from model.inference import engine as engine_module
from model.inference.engine_math import NEG
from model.inference.separable import SeparableSplit
from tests.model.test_engine_exact import TOL, pgmpy_posteriors, toy_spec
from tests.toy_priors import write_priors

warnings.filterwarnings("ignore", category=FutureWarning)


@pytest.fixture(scope="module")
def model():
    return load_model()


def _random_rows(engine, n: int, seed: int, p_answer: float = 0.6):
    rng = np.random.default_rng(seed)
    rf = np.stack([rng.integers(0, c, n) for c in engine.rf_cards], axis=1)
    rf[rng.random(rf.shape) > p_answer] = -1
    fd = np.where(rng.random((n, len(engine.finding_ids))) < p_answer,
                  rng.integers(0, 2, (n, len(engine.finding_ids))), -1)
    return rf, fd


def _narrow_share(engine, rf, fd) -> float:
    """Share of rows whose table rows are all additive (the narrow path)."""
    slots = engine._prior_slots(rf)
    combo = ((fd + 1).astype(float) @ engine._block_weight).astype(np.int64)
    cols = np.concatenate([np.where(combo > 0, engine._block_first[None, :] + combo, 0), slots[:, None]], axis=1)
    return float(engine._additive[cols].all(axis=1).mean())


def _engine_without_split(m, monkeypatch):
    monkeypatch.setattr(SeparableSplit, "separable_conditions", staticmethod(lambda rf, cc: []))
    plain = engine_module.Engine.from_parameters(m.priors, m.parameters)
    monkeypatch.undo()
    assert plain._split is None
    return plain


def test_bundled_network_has_separable_conditions_and_most_rows_take_the_narrow_path(model):
    engine = model.engine
    names = [engine.condition_ids[c] for c in engine._split.separable]
    assert names == ["lumbar_referred_pain", "piriformis_syndrome"]
    assert engine._split.width == 2 ** (len(engine.condition_ids) - 2)
    rf, fd = _random_rows(engine, 400, seed=1, p_answer=0.5)
    share = _narrow_share(engine, rf, fd)
    assert 0.05 < share < 0.95  # both paths are used by such a batch


def test_narrow_path_equals_full_enumeration_and_pgmpy(model, monkeypatch):
    engine = model.engine
    plain = _engine_without_split(model, monkeypatch)
    rf, fd = _random_rows(engine, 600, seed=2)
    fast = engine.posterior(rf, fd, factored=False)
    full = plain.posterior(rf, fd, factored=False)
    joint = engine.posterior(rf, fd, joint=True)  # the joint is always the full enumeration
    assert np.abs(fast.marginals - full.marginals).max() < 1e-12
    assert np.abs(fast.log_evidence - full.log_evidence).max() < 1e-9
    assert np.abs(joint.marginals - fast.marginals).max() < 1e-12
    assert np.abs(joint.joint.sum(axis=1) - 1).max() < 1e-12
    for i in range(0, 600, 61):
        ev = {v: model.variables[v].states[c] for v, c in zip(model.risk_factor_ids, rf[i], strict=True) if c >= 0}
        ev.update({f: model.variables[f].states[c] for f, c in zip(model.finding_ids, fd[i], strict=True) if c >= 0})
        assert np.abs(fast.marginals[i] - pgmpy_posteriors(model, ev)).max() < TOL


def test_tiny_totals_are_redone_with_their_own_maximum(model, monkeypatch):
    """With the threshold above every total, every narrow row falls back to the full path and
    every full row is redone with its maximum subtracted: the numbers do not change."""
    rf, fd = _random_rows(model.engine, 300, seed=4)
    usual = model.engine.posterior(rf, fd, factored=False)
    monkeypatch.setattr(engine_module, "SMALL_TOTAL", np.inf)
    cautious = engine_module.Engine.from_parameters(model.priors, model.parameters).posterior(rf, fd, factored=False)
    assert np.abs(usual.marginals - cautious.marginals).max() < 1e-12
    assert np.abs(usual.log_evidence - cautious.log_evidence).max() < 1e-9


def test_decompose_accepts_additive_rows_and_rejects_coupling_ones():
    split = SeparableSplit(3, [1])  # conditions 0, 1, 2; condition 1 separable
    bits = ((np.arange(8)[:, None] >> np.arange(3)[None, :]) & 1).astype(float)
    additive = 0.3 - 1.2 * bits[:, 1] + 0.7 * bits[:, 0] * bits[:, 2]  # interaction outside P only
    # a noisy-OR finding of conditions 0 and 1 observed present: couples them
    coupling = np.log(1 - 0.9 * 0.5 ** bits[:, 0] * 0.4 ** bits[:, 1])
    zero = additive.copy()
    zero[3] = NEG
    packed, ok = split.decompose(np.stack([additive, coupling, zero, np.zeros(8)]))
    assert ok.tolist() == [True, False, False, True]
    assert list(split.q_columns) == [0, 1, 4, 5]
    assert packed[0, :4] == pytest.approx(additive[[0, 1, 4, 5]])
    assert packed[0, 4] == pytest.approx(-1.2)
    assert np.all(packed[1] == 0) and np.all(packed[3] == 0)


def test_separable_conditions_are_the_parentless_childless_ones():
    # condition 0: a risk factor; 1: none; 2: caused by 3; 3: parent of 2; 4: none
    assert SeparableSplit.separable_conditions([[0], [], [], [], []], [[], [], [3], [], []]) == [1, 4]


def _with_separable_condition(spec: dict) -> dict:
    """The spec with one more condition that has no risk factor, no caused_by link and its own
    findings (one shared with the first condition, so some rows couple them)."""
    spec = {k: dict(v) for k, v in spec.items()}
    spec["conditions"]["lone"] = {"base_rate": 0.12, "effects": {}}
    spec["findings"]["lone_sign"] = {"leak": 0.05, "causes": {"lone": 0.7}}
    spec["findings"]["shared_sign"] = {"leak": 0.1, "causes": {"lone": 0.5, "c0": 0.6}}
    return spec


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=toy_spec(), seed=st.integers(0, 10_000))
def test_random_networks_batches_equal_pgmpy_on_every_path(spec, seed):
    """Random networks in the priors format (argues_against, depends_on groups, caused_by) with a
    separable condition: a batch (sorted, deduplicated, narrow and full rows, cached and scratch
    priors) equals pgmpy row by row."""
    with tempfile.TemporaryDirectory() as tmp:
        m = load_model(write_priors(Path(tmp), _with_separable_condition(spec)))
        engine = m.engine
        assert engine._split is not None and engine.condition_ids.index("lone") in engine._split.separable
        rf, fd = _random_rows(engine, 150, seed)
        rf[75:], fd[75:] = rf[:75], fd[:75]  # duplicates
        res = engine.posterior(rf, fd)
        assert np.array_equal(res.marginals[:75], res.marginals[75:], equal_nan=True)
        for i in range(0, 75, 9):
            ev = {v: m.variables[v].states[c] for v, c in zip(m.risk_factor_ids, rf[i], strict=True) if c >= 0}
            ev.update({f: m.variables[f].states[c] for f, c in zip(m.finding_ids, fd[i], strict=True) if c >= 0})
            assert np.abs(res.marginals[i] - pgmpy_posteriors(m, ev)).max() < TOL


def test_zero_probabilities_keep_impossible_rows_impossible_on_both_paths(tmp_path):
    spec = {
        "risk_factors": {"r0": {"states": ["a", "b"], "probs": [0.5, 0.5]}},
        "conditions": {"c0": {"base_rate": 0.2, "effects": {"r0": {"reference": "a", "rr": {"b": 2.0}}}},
                       "lone": {"base_rate": 0.1}},
        "findings": {"f0": {"leak": 0.1, "causes": {"c0": 0.5}},
                     "lone_sign": {"leak": 0.0, "causes": {"lone": 0.6}},
                     "never": {"leak": 0.0, "causes": {}}},
    }
    m = load_model(write_priors(tmp_path, spec))
    e = m.engine
    assert [e.condition_ids[c] for c in e._split.separable] == ["lone"]
    codes = {f: i for i, f in enumerate(e.finding_ids)}
    fd = np.full((100, len(e.finding_ids)), -1)
    fd[::2, codes["never"]] = 0  # present: impossible
    fd[1::4, codes["lone_sign"]] = 0  # present with leak 0: only 'lone' explains it (full path)
    fd[3::4, codes["lone_sign"]] = 1  # absent (narrow path)
    rf = np.where(np.arange(100)[:, None] % 3 == 0, -1, np.arange(100)[:, None] % 2)
    res = e.posterior(rf, fd)
    assert np.isnan(res.marginals[::2]).all() and np.isneginf(res.log_evidence[::2]).all()
    assert np.allclose(res.marginals[1::4, e.condition_ids.index("lone")], 1.0, atol=1e-12)
    for i in (1, 3, 5, 7):
        ev = {"r0": ["a", "b"][rf[i, 0]]} if rf[i, 0] >= 0 else {}
        ev.update({f: m.variables[f].states[fd[i, j]] for f, j in codes.items() if fd[i, j] >= 0})
        assert np.abs(res.marginals[i] - pgmpy_posteriors(m, ev)).max() < TOL
