"""The diagnosis's shortcuts equal the plain computations they replace.

Each fast path of the case tables and of the reasoning is checked here against the
straightforward computation of the same numbers: prior rows against the sum of every consistent
risk-factor grid row, answers left out by division against the log-likelihood summed again,
risk-factor weights against the posteriors they stand for, the cached conditioned likelihoods
against a fresh computation, the entropy against scipy's ``entr``, and the exact-spelling reading
of an answer against the general one.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import entr

from model.inference.case_variants import SLAB_ROWS, CaseVariants, MarginalTables
from model.reasoning.reasoner import LN2, _entropy_terms
from service.bench import random_evidence


def _consistent_sum(engine, codes) -> np.ndarray:
    """P(C, answered risk factors): every grid row that agrees with the answers, summed."""
    codes = np.asarray(codes)
    consistent = np.all((codes < 0) | (engine.grid == codes), axis=1)
    return engine.joint_rc[consistent].sum(axis=0)


def _patterns(engine, n: int, seed: int) -> np.ndarray:
    """Risk-factor answer patterns from all answered to none answered (every completion count)."""
    rng = np.random.default_rng(seed)
    n_rf = len(engine.rf_cards)
    patterns = np.stack([rng.integers(0, c, n) for c in engine.rf_cards], axis=1)
    patterns[rng.random((n, n_rf)) < np.linspace(0, 1, n)[:, None]] = -1
    return patterns


def test_variant_prior_rows_equal_the_grid_sums(model):
    """The case's prior, each answered risk factor left out and each unanswered one set, whether
    read from a marginal table, summed from the slab, or the case's prior plus the other states."""
    engine = model.engine
    tables = MarginalTables(engine)
    completions = set()
    for codes in _patterns(engine, 160, seed=3):
        variants = CaseVariants(engine, codes, np.full(len(model.finding_ids), -1), tables)
        completions.add(int(np.prod(engine.rf_cards[codes < 0])))
        scale = engine.joint_rc.max()
        assert np.abs(variants.prior - _consistent_sum(engine, codes)).max() <= 1e-14 * scale
        variants._variant_rows()
        for j in range(len(codes)):
            if codes[j] >= 0:
                left_out = codes.copy()
                left_out[j] = -1
                assert np.abs(variants._left_out[j] - _consistent_sum(engine, left_out)).max() <= 1e-14 * scale
            else:
                for s in range(engine.rf_cards[j]):
                    fixed = codes.copy()
                    fixed[j] = s
                    assert np.abs(variants._set[j][s] - _consistent_sum(engine, fixed)).max() <= 1e-14 * scale
    # both sides of the table threshold were exercised, from all answered to none
    assert min(completions) == 1 and max(completions) == len(engine.grid)
    assert any(1 < c <= SLAB_ROWS for c in completions) and any(SLAB_ROWS < c < len(engine.grid) for c in completions)


def test_marginal_table_row_with_a_kept_risk_factor(model):
    engine = model.engine
    tables = MarginalTables(engine)
    for codes in _patterns(engine, 60, seed=11):
        for keep in np.flatnonzero(codes < 0).tolist():
            got = tables.row(codes, keep=keep)
            for s in range(engine.rf_cards[keep]):
                fixed = codes.copy()
                fixed[keep] = s
                assert np.abs(got[s] - _consistent_sum(engine, fixed)).max() <= 1e-14 * engine.joint_rc.max()


def _cases(model, n: int = 40) -> list[dict[str, str]]:
    from model.simulate import simulate

    sim = simulate(model, n, seed=6, missing=0.3)[model.evidence_order]
    simulated = [{k: v for k, v in row.items() if isinstance(v, str)} for row in sim.to_dict("records")]
    everything = {v: var.states[0] for v, var in model.variables.items()}
    return simulated + [model.parse_evidence(c) for c in random_evidence(model, n, seed=12)] + [everything]


def _variants(model, parsed) -> CaseVariants:
    rf, fd = model.codes(parsed)
    return CaseVariants(model.engine, rf[0], fd[0], model.reasoner._tables)


def test_answers_left_out_by_division_equal_the_summed_rows(model):
    """``without`` (likelihood rows divided out) equals ``without_by_rows`` (each variant's
    log-likelihood summed again), dependent findings included."""
    grouped_seen = 0
    for parsed in _cases(model):
        variants = _variants(model, parsed)
        rf = [j for j, c in enumerate(variants.rf_codes) if c >= 0]
        fd = np.flatnonzero(variants.finding_codes >= 0)
        factor_of = model.engine.factor_of
        grouped_seen += sum(int((factor_of == factor_of[f]).sum() > 1) for f in fd)
        fast = variants.without(rf, fd)
        slow = variants.without_by_rows(rf, fd)
        for got, want in zip(fast, slow, strict=True):
            assert got.marginals.shape == want.marginals.shape
            assert np.abs(got.marginals - want.marginals).max(initial=0.0) < 1e-12
            assert np.abs(got.log_evidence - want.log_evidence).max(initial=0.0) < 1e-9
    assert grouped_seen > 0  # findings that share an evidence factor were left out too


def test_left_out_features_equal_the_engine_numbering(model):
    """The feature of each answered finding's factor with that finding left out, found by
    arithmetic on the numbering, equals ``Engine.feature_index`` of the codes with it blanked,
    for every answered finding of random cases (dependent groups with 1, 2 or more answers)."""
    engine = model.engine
    rng = np.random.default_rng(7)
    checked = with_others = 0
    for _ in range(200):
        codes = np.array([rng.integers(0, len(s)) for s in engine.finding_states])
        codes[rng.random(len(codes)) < rng.random()] = -1
        variants = CaseVariants(engine, [-1] * len(engine.rf_cards), codes, model.reasoner._tables)
        answered = np.flatnonzero(codes >= 0)
        feature, replacement = variants.left_out_features(answered)
        for i, f in enumerate(answered.tolist()):
            blank = codes.copy()
            blank[f] = -1
            g = engine.factor_of[f]
            assert feature[i] == engine.feature_index(codes[None, :])[0, g]
            assert replacement[i] == engine.feature_index(blank[None, :])[0, g]
            checked += 1
            with_others += int(replacement[i] >= 0)
    assert checked > 1000 and with_others > 50


def test_left_out_falls_back_to_rows_where_division_is_undefined(model, monkeypatch):
    """A likelihood row with a log(0) stand-in cannot be divided out: the general path is used
    (forced here by marking every row not divisible), with the same numbers."""
    parsed = _cases(model, 4)[0]
    variants = _variants(model, parsed)
    rf = [j for j, c in enumerate(variants.rf_codes) if c >= 0]
    fd = np.flatnonzero(variants.finding_codes >= 0)
    want = variants.without(rf, fd)
    called = []
    original = CaseVariants.without_by_rows
    monkeypatch.setattr(CaseVariants, "without_by_rows", lambda self, *a: called.append(1) or original(self, *a))
    monkeypatch.setattr(variants.tables, "divisible", np.zeros_like(variants.tables.divisible))
    got = variants.without(rf, fd)
    assert called
    for a, b in zip(got, want, strict=True):
        assert np.abs(a.marginals - b.marginals).max() < 1e-12


def test_risk_factor_weights_are_the_posteriors_of_each_state(model):
    """Normalised, each row of ``risk_factor_weights`` is the posterior joint with that risk
    factor answered, and its total the evidence relative to the case (``with_risk_factors``)."""
    for parsed in _cases(model, 12):
        variants = _variants(model, parsed)
        free = [j for j, c in enumerate(variants.rf_codes) if c < 0]
        if not free:
            continue
        weights, starts = variants.risk_factor_weights(free)
        res, spans = variants.with_risk_factors(free)
        assert starts.tolist() == [sp.start for sp in spans]
        total = weights.sum(axis=1)
        assert np.abs(weights / total[:, None] - res.joint).max() < 1e-12
        assert np.abs(np.log(total) + variants.top - res.log_evidence).max() < 1e-9


def test_conditioned_likelihoods_cached_equal_a_fresh_computation(model):
    """P(F | C, the answered members of F's evidence factor) read from the reasoner's cache is
    the ratio of pattern rows computed afresh (an empty cache)."""
    reasoner = model.reasoner
    seen = 0
    for parsed in _cases(model):
        variants = _variants(model, parsed)
        cached = reasoner._case_likelihoods(variants)
        saved = dict(reasoner._conditioned)
        reasoner._conditioned.clear()
        try:
            fresh = reasoner._case_likelihoods(variants)
        finally:
            reasoner._conditioned.update(saved)
        if cached is None:
            assert fresh is None
            continue
        seen += 1
        assert cached[0] == fresh[0] and cached[1].tolist() == fresh[1].tolist()
        assert np.array_equal(cached[2], fresh[2]) and np.array_equal(cached[3], fresh[3])
        # and the ratio of pattern rows is P(F = s | C, answers): each finding's states sum to 1
        at = 0
        for f in cached[0]:
            n = int(reasoner._n_states[f])
            assert np.abs(cached[2][at:at + n].sum(axis=0) - 1.0).max() < 1e-12
            at += n
    assert seen > 0


def test_entropy_terms_equal_scipy_entr():
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(64), size=5)
    p[:, :7] = 0.0
    p[0, 7] = -1e-18  # rounding below 0 counts as 0
    got = _entropy_terms(p)
    want = entr(np.maximum(p, 0.0)) / LN2
    assert np.abs(got - want).max() < 1e-15
    assert (got[:, :7] == 0).all() and got[0, 7] == 0


def test_a_state_spelled_exactly_reads_as_the_general_reading_does(model):
    """The exact-spelling shortcut returns what normalising the text returns, for every state of
    every variable; other spellings, numbers for a numeric field, and 'unknown' still go the
    general way."""
    vocab = model.vocabulary
    for vid, var in vocab.variables.items():
        for state in var.states:
            got = vocab.read_value(vid, state)
            key = state.strip().lower().replace("-", "_").replace(" ", "_")
            assert got == vocab._spellings[vid].get(key)
            assert vocab.read_value(vid, " " + state.upper() + " ") == got
    assert vocab.read_value("pain_groin", "unknown") is None
    assert vocab.read_value("pain_groin", "yes") == "present"
    numeric = next(vid for vid, v in vocab.variables.items() if v.numeric is not None)
    field = next(f for f, v in vocab.aliases.items() if v == numeric)
    state = vocab.variables[numeric].states[0]
    with pytest.raises(Exception, match="number|numeric|not a"):
        vocab.read_value(numeric, state, field)  # a state name given in the numeric field is not a number


def test_diagnoses_in_threads_equal_one_by_one(model):
    """The reasoning's caches (marginal tables, likelihood tables, conditioned blocks, sources),
    filled lazily, give every thread the numbers of a diagnosis made alone: a fresh model is
    diagnosed from four threads at once and compared with the session model case by case."""
    from concurrent.futures import ThreadPoolExecutor

    from model.hipmodel import HipModel

    fresh = HipModel(model.priors)
    cases = random_evidence(model, 24, seed=21)
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda ev: fresh.diagnose(ev).to_dict(decimals=None), cases))
    for ev, body in zip(cases, got, strict=True):
        assert body == model.diagnose(ev).to_dict(decimals=None)
