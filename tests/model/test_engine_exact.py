"""The compiled engine agrees with pgmpy's VariableElimination to 1e-9, on the bundled network
and on random small networks built through the same priors format."""

from __future__ import annotations

import dataclasses
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from model import EvidenceError, load_model
from tests.toy_priors import write_priors

warnings.filterwarnings("ignore", category=FutureWarning)
TOL = 1e-9


def pgmpy_posteriors(m, evidence: dict[str, str]) -> np.ndarray:
    from pgmpy.inference import VariableElimination

    ve = VariableElimination(m.network)
    res = ve.query(list(m.conditions), evidence=evidence or None, joint=False, show_progress=False)
    return np.array([res[c].get_value(**{c: "present"}) for c in m.conditions])


def engine_posteriors(m, evidence: dict[str, str]) -> np.ndarray:
    result = m.infer([evidence])
    return result.marginals[0]


@st.composite
def evidence_for(draw, m, p_answer: float | None = None):
    """Random evidence: each variable unknown or one of its states."""
    rate = draw(st.sampled_from([0.0, 0.2, 0.5, 0.9, 1.0])) if p_answer is None else p_answer
    ev = {}
    for vid, var in m.variables.items():
        if draw(st.floats(0, 1)) < rate:
            ev[vid] = draw(st.sampled_from(list(var.states)))
    return ev


def test_no_evidence_equals_pgmpy(model):
    assert np.abs(engine_posteriors(model, {}) - pgmpy_posteriors(model, {})).max() < TOL


def test_only_risk_factors_and_every_variable(model):
    rng = np.random.default_rng(1)
    for _ in range(5):
        rf_only = {v: str(rng.choice(model.variables[v].states)) for v in model.risk_factor_ids}
        everything = {v: str(rng.choice(var.states)) for v, var in model.variables.items()}
        for ev in (rf_only, everything):
            assert np.abs(engine_posteriors(model, ev) - pgmpy_posteriors(model, ev)).max() < TOL


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_evidence_equals_pgmpy(model, data):
    ev = data.draw(evidence_for(model))
    assert np.abs(engine_posteriors(model, ev) - pgmpy_posteriors(model, ev)).max() < TOL


def test_batch_chunking_and_dedupe_match_single_rows(model):
    """Many rows at once (several chunks, repeated rows) give the same answers row by row."""
    rng = np.random.default_rng(7)
    n = 300
    rf = np.stack([rng.integers(-1, len(model.variables[v].states), n) for v in model.risk_factor_ids], axis=1)
    fd = np.stack([rng.integers(-1, 2, n) for _ in model.finding_ids], axis=1)
    rf[150:], fd[150:] = rf[:150], fd[:150]  # every row repeated once
    engine = model.engine
    old = engine.chunk_rows
    try:
        engine.chunk_rows = 64
        batch = engine.posterior(rf, fd)
    finally:
        engine.chunk_rows = old
    single = np.vstack([engine.posterior(rf[i:i + 1], fd[i:i + 1]).marginals for i in range(n)])
    assert np.abs(batch.marginals - single).max() < 1e-12
    assert np.allclose(batch.marginals[:150], batch.marginals[150:])


def test_score_equals_pgmpy_on_rows(model):
    rows = [
        {"sex": "female", "age": 45, "pain_lying_on_side": "yes"},
        {"age": 22, "mechanical_symptoms": True, "pain_groin": "present", "high_impact_sport_history": "yes"},
        {},
    ]
    scored = model.score(pd.DataFrame(rows))
    for i, row in enumerate(rows):
        expected = pgmpy_posteriors(model, model.parse_evidence(row))
        got = scored.loc[i, [f"p_{c}" for c in model.conditions]].to_numpy(dtype=float)
        assert np.abs(got - expected).max() < TOL


# --------------------------------------------------------------------------- random networks
@st.composite
def toy_spec(draw):
    """A random small network in the priors format: 1-3 risk factors, 2-4 conditions (maybe one
    caused_by link), 2-5 findings; every condition has a finding."""
    prob = st.floats(0.02, 0.9).map(lambda x: round(x, 3))
    rfs = {}
    for i in range(draw(st.integers(1, 3))):
        k = draw(st.integers(2, 3))
        raw = [draw(st.floats(0.1, 1.0)) for _ in range(k)]
        probs = [round(x / sum(raw), 6) for x in raw]
        probs[-1] = round(1 - sum(probs[:-1]), 6)
        rfs[f"r{i}"] = {"states": [f"s{j}" for j in range(k)], "probs": probs}
    n_cond = draw(st.integers(2, 4))
    conds = {}
    for i in range(n_cond):
        effects = {}
        for rid, r in rfs.items():
            if draw(st.booleans()):
                effects[rid] = {"reference": r["states"][0],
                                "rr": {s: round(draw(st.floats(0.3, 3.0)), 3) for s in r["states"][1:]}}
        conds[f"c{i}"] = {"base_rate": round(draw(st.floats(0.03, 0.4)), 3), "effects": effects}
    if n_cond >= 2 and draw(st.booleans()):
        conds["c1"]["caused_by"] = {"c0": draw(prob)}
    findings = {}
    cond_ids = list(conds)
    for i in range(draw(st.integers(2, 5))):
        causes = draw(st.lists(st.sampled_from(cond_ids), min_size=0, max_size=len(cond_ids), unique=True))
        findings[f"f{i}"] = {"leak": draw(prob), "causes": {c: draw(prob) for c in causes}}
    for j, c in enumerate(cond_ids):  # every condition needs at least one finding
        if not any(c in f["causes"] for f in findings.values()):
            findings[f"g{j}"] = {"leak": draw(prob), "causes": {c: draw(prob)}}
    # The richer forms: inhibiting links (argues_against) and finding-to-finding arcs (depends_on,
    # to an earlier finding; chains and shared parents make groups of up to 4).
    names, arcs = list(findings), 0
    for i, fid in enumerate(names):
        f = findings[fid]
        others = [c for c in cond_ids if c not in f["causes"]]
        if others and draw(st.booleans()):
            f["argues_against"] = {c: draw(prob) for c in draw(st.lists(st.sampled_from(others), min_size=1, max_size=2, unique=True))}
        if i > 0 and arcs < 3 and draw(st.integers(0, 2)) == 0:  # at most 3 arcs: groups of at most 4
            f["depends_on"] = {draw(st.sampled_from(names[:i])): draw(prob)}
            arcs += 1
    return {"risk_factors": rfs, "conditions": conds, "findings": findings}


@settings(max_examples=25, deadline=None)
@given(spec=toy_spec(), data=st.data())
def test_random_networks_equal_pgmpy(spec, data):
    with tempfile.TemporaryDirectory() as tmp:
        m = load_model(write_priors(Path(tmp), spec))
        for _ in range(3):
            ev = data.draw(evidence_for(m))
            assert np.abs(engine_posteriors(m, ev) - pgmpy_posteriors(m, ev)).max() < TOL


@settings(max_examples=25, deadline=None)
@given(spec=toy_spec(), data=st.data())
def test_random_networks_draw_methods_agree_and_equal_pgmpy(spec, data):
    """The per-draw methods behind the intervals: grouped == contraction under every draw, and
    draw by draw equal to pgmpy on the network built from that draw's parameters."""
    from model.inference.draw_engine import DrawEngine
    from model.inference.draws import draw_values
    from model.network import build_network
    from model.parameters import build_parameters

    with tempfile.TemporaryDirectory() as tmp:
        m = load_model(write_priors(Path(tmp), spec))
        params = build_parameters(m.priors, draw_values(m.priors, 3, seed=data.draw(st.integers(0, 99))))
        engine = DrawEngine(m.priors, params)
        for _ in range(2):
            ev = data.draw(evidence_for(m))
            grouped = engine.marginals(ev, method="grouped")
            full = engine.marginals(ev, method="contraction")
            # NaN marks a draw under which the evidence is impossible (e.g. a link drawn at 1): both agree
            assert np.array_equal(np.isnan(grouped), np.isnan(full))
            # TOL, not 1e-12: both compute 1 - (1 - leak) * prod(1 - link), whose rounding differs by
            # the order of the products; with a draw near leak 0 and small links that is ~1e-11 here
            assert np.nan_to_num(np.abs(grouped - full)).max() < TOL
        if np.isnan(grouped[-1]).any():
            return
        one = dataclasses.replace(params, draws=1, **{
            f: {k: v[-1:] for k, v in getattr(params, f).items()}
            for f in ("risk_factor_probs", "condition_tables", "finding_tables", "scale", "finding_against")})
        one = dataclasses.replace(one, finding_inhibitors={k: (a[-1:], b[-1:]) for k, (a, b) in params.finding_inhibitors.items()})
        m.network = build_network(m.priors, one)
        assert np.abs(grouped[-1] - pgmpy_posteriors(m, ev)).max() < TOL


def test_zero_probability_evidence_is_a_clear_error(tmp_path):
    spec = {
        "risk_factors": {"r0": {"states": ["a", "b"], "probs": [0.5, 0.5]}},
        "conditions": {"c0": {"base_rate": 0.2}},
        "findings": {"f0": {"leak": 0.1, "causes": {"c0": 0.5}}, "never": {"leak": 0.0, "causes": {}}},
    }
    m = load_model(write_priors(tmp_path, spec))
    with pytest.raises(EvidenceError, match="probability zero"):
        m.diagnose({"never": "present"})
    scored = m.score(pd.DataFrame({"never": ["present", "absent"], "f0": ["present", "present"]}))
    assert scored.loc[0, "error"].startswith("evidence has probability zero")
    assert np.isnan(scored.loc[0, "p_c0"])
    assert scored.loc[1, "error"] is None and 0 < scored.loc[1, "p_c0"] < 1


def test_factored_path_equals_full_enumeration(model):
    """Rows with every risk factor answered take the factored path; it must equal the full one."""
    assert model.engine.factored is not None
    rng = np.random.default_rng(11)
    n = 2000
    rf = np.stack([rng.integers(0, len(model.variables[v].states), n) for v in model.risk_factor_ids], axis=1)
    rf[:200, 0] = -1  # a few partly answered rows take the full path inside the same call
    fd = np.where(rng.random((n, len(model.finding_ids))) < 0.6, rng.integers(0, 2, (n, len(model.finding_ids))), -1)
    fast = model.engine.posterior(rf, fd, factored=True, dedupe=False)
    full = model.engine.posterior(rf, fd, factored=False, dedupe=False)
    assert np.abs(fast.marginals - full.marginals).max() < 1e-12
    assert np.abs(fast.log_evidence - full.log_evidence).max() < 1e-9


def test_engine_from_parameters_equals_engine_compiled_from_the_pgmpy_network(model):
    """The model compiles its engine from the CPD arrays; compiling pgmpy's network gives the same tables."""
    from model.inference.engine import Engine

    from_net = Engine.from_network(model.network, model.risk_factor_ids, model.conditions, model.finding_ids)
    ours = model.engine
    assert np.abs(from_net.joint_rc - ours.joint_rc).max() < 1e-15
    assert np.abs(from_net.log_lik - ours.log_lik).max() < 1e-12
    assert from_net.finding_states == ours.finding_states and from_net.risk_factor_states == ours.risk_factor_states


def test_loading_the_model_does_not_import_pgmpy():
    import subprocess
    import sys

    code = "import sys; from model import load_model; m = load_model(); m.diagnose({'age': 40}); print('pgmpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_case_variants_equal_engine_rows(model):
    """The reasoning's one-answer variants (left out, or a risk factor answered) are the engine's
    posteriors of those rows, joints and log-evidence differences included."""
    from model.inference.case_variants import CaseVariants

    rng = np.random.default_rng(8)
    engine = model.engine
    for _ in range(12):
        ev = {v: str(rng.choice(var.states)) for v, var in model.variables.items() if rng.random() < rng.choice([0.3, 0.7, 1.0])}
        rf, fd = model.codes(ev)
        variants = CaseVariants(engine, rf[0], fd[0])
        base = engine.posterior(rf, fd, joint=True)
        assert np.abs(variants.base().marginals - base.marginals).max() < 1e-12
        assert np.abs(variants.base().joint - base.joint).max() < 1e-12
        answered_rf = [j for j in range(rf.shape[1]) if rf[0, j] >= 0]
        answered_fd = [f for f in range(fd.shape[1]) if fd[0, f] >= 0]
        rf_part, fd_part = variants.without(answered_rf, answered_fd)
        for i, j in enumerate(answered_rf):
            r = rf.copy()
            r[0, j] = -1
            assert np.abs(rf_part.marginals[i] - engine.posterior(r, fd).marginals[0]).max() < 1e-12
        for i, f in enumerate(answered_fd):
            d = fd.copy()
            d[0, f] = -1
            assert np.abs(fd_part.marginals[i] - engine.posterior(rf, d).marginals[0]).max() < 1e-12
        unanswered = [j for j in range(rf.shape[1]) if rf[0, j] < 0]
        res, spans = variants.with_risk_factors(unanswered)
        for j, span in zip(unanswered, spans, strict=True):
            rows = np.repeat(rf, span.stop - span.start, axis=0)
            rows[:, j] = np.arange(span.stop - span.start)
            want = engine.posterior(rows, np.repeat(fd, len(rows), axis=0), joint=True)
            assert np.abs(res.marginals[span] - want.marginals).max() < 1e-12
            assert np.abs(res.joint[span] - want.joint).max() < 1e-12
            got_lr = res.log_evidence[span] - variants.base().log_evidence[0]
            assert np.abs(got_lr - (want.log_evidence - base.log_evidence[0])).max() < 1e-9


def test_prior_of_partly_answered_risk_factors_equals_the_grid_sum(model):
    """``Engine.prior_rows`` (consistent rows of J summed, or a marginal table read) equals the
    plain sum over every consistent risk-factor grid row, for few and for many unanswered."""
    engine = model.engine
    rng = np.random.default_rng(5)
    n_rf = len(engine.risk_factor_ids)
    patterns = np.stack([rng.integers(0, c, 400) for c in engine.rf_cards], axis=1)
    blank = rng.random((400, n_rf)) < np.linspace(0, 1, 400)[:, None]  # from all answered to none
    patterns[blank] = -1
    got = engine.prior_rows(patterns)
    completions = [int(np.prod(engine.rf_cards[p < 0])) for p in patterns]
    assert min(completions) == 1 and max(completions) == len(engine.grid)  # both branches, both ends
    assert any(1 < c <= 16 for c in completions) and any(16 < c < len(engine.grid) for c in completions)
    for p, row in zip(patterns, got, strict=True):
        consistent = np.all((p < 0) | (engine.grid == p), axis=1)
        expected = engine.joint_rc[consistent].sum(axis=0)
        assert np.abs(row - expected).max() <= 1e-14 * expected.max()
    # a batch of such rows (many distinct patterns, one call) equals pgmpy row by row
    fd = np.where(rng.random((400, len(model.finding_ids))) < 0.5, rng.integers(0, 2, (400, len(model.finding_ids))), -1)
    batch = engine.posterior(patterns, fd)
    for i in range(0, 400, 23):
        ev = {v: model.variables[v].states[c] for v, c in zip(model.risk_factor_ids, patterns[i], strict=True) if c >= 0}
        ev.update({f: model.variables[f].states[c] for f, c in zip(model.finding_ids, fd[i], strict=True) if c >= 0})
        assert np.abs(batch.marginals[i] - pgmpy_posteriors(model, ev)).max() < TOL


@pytest.mark.parametrize(("block_rows", "cache_bytes", "scratch_rows"), [(1, 0, 7), (81, 20_000, 64), (81, 24 * 2**20, 512)])
def test_batch_path_with_any_prior_cache_and_block_size_is_the_same(model, monkeypatch, block_rows, cache_bytes,
                                                                     scratch_rows):
    """The batch product with no, a tiny (always full) or the default cache of pattern priors,
    with few or many rows per lookup, with factors in blocks of any size, gives the same numbers."""
    from model.inference import engine as engine_module

    monkeypatch.setattr(engine_module, "BLOCK_ROWS", block_rows)
    monkeypatch.setattr(engine_module, "PRIOR_CACHE_BYTES", cache_bytes)
    monkeypatch.setattr(engine_module, "SCRATCH_ROWS", scratch_rows)
    plain = engine_module.Engine.from_parameters(model.priors, model.parameters, chunk_rows=100)
    assert len(plain._blocks) == len(plain.factors) if block_rows == 1 else len(plain._blocks) < len(plain.factors)
    rng = np.random.default_rng(3)
    n = 700
    rf = np.stack([rng.integers(-1, c, n) for c in model.engine.rf_cards], axis=1)
    rf[::3] = rf[0]  # a frequent pattern, so the cache admits some
    fd = np.where(rng.random((n, len(model.finding_ids))) < 0.5, rng.integers(0, 2, (n, len(model.finding_ids))), -1)
    for _ in range(2):  # the second call reads what the first cached
        a = plain.posterior(rf, fd, factored=False)
        b = model.engine.posterior(rf, fd, factored=False)
        assert np.abs(a.marginals - b.marginals).max() < 1e-12
        assert np.abs(a.log_evidence - b.log_evidence).max() < 1e-9
    assert plain._next_slot <= plain._prior_cache_rows and len(plain._slot_of) == plain._next_slot
    assert (plain._prior_cache_rows > 0) == (cache_bytes > 0)
    if cache_bytes:
        assert plain._next_slot > 0
    for i in range(0, n, 97):
        ev = {v: model.variables[v].states[c] for v, c in zip(model.risk_factor_ids, rf[i], strict=True) if c >= 0}
        ev.update({f: model.variables[f].states[c] for f, c in zip(model.finding_ids, fd[i], strict=True) if c >= 0})
        assert np.abs(a.marginals[i] - pgmpy_posteriors(model, ev)).max() < TOL
