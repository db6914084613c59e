"""E-step: expected family counts against counting (complete data) and pgmpy (missing data)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from model.learning import Observed, expected_counts
from model.simulate import simulate

from .conftest import observed_rows


def test_complete_rows_give_the_empirical_counts(bundled):
    frame = simulate(bundled, 600, seed=3)
    obs = observed_rows(bundled, frame, 0.0, np.random.default_rng(0))
    counts = expected_counts(bundled.engine, bundled.parameters, obs, dtype=np.float64).tables
    # a risk factor: its state counts
    assert counts[("rf", "age_band")].tolist() == pytest.approx(
        [int((frame.age_band == s).sum()) for s in bundled.variables["age_band"].states], abs=1e-6)
    # a condition with a condition parent: (labral_tear, fai) cells
    table = counts[("cond", "labral_tear")]
    for i, j in itertools.product((0, 1), (0, 1)):
        expected = ((frame.true_labral_tear == 1 - i) & (frame.true_fai == 1 - j)).sum()
        assert table[i, j] == pytest.approx(expected, abs=1e-6)
    # a finding: its first state with every parent present / every parent absent
    parents = bundled.parameters.finding_parents["pain_groin"]
    table = counts[("find", "pain_groin")]
    for state_idx, state in enumerate(("present", "absent")):
        for cfg in ((0,) * len(parents), (1,) * len(parents)):
            sel = frame.pain_groin == state
            for p, v in zip(parents, cfg, strict=True):
                sel &= frame[f"true_{p}"] == 1 - v
            assert table[(state_idx, *cfg)] == pytest.approx(int(sel.sum()), abs=1e-6)
    assert sum(t.sum() for k, t in counts.items() if k[0] == "cond") == pytest.approx(600 * len(bundled.conditions))


def test_missing_answers_and_labels_match_pgmpy_posteriors(bundled, small_sample):
    """Expected counts of three families are sums of pgmpy's exact joint posteriors, to 1e-9."""
    from pgmpy.inference import VariableElimination

    frame, obs = small_sample
    rows = np.arange(12)
    sub = obs.take(rows)
    counts = expected_counts(bundled.engine, bundled.parameters, sub, dtype=np.float64)
    ve = VariableElimination(bundled.network)
    fam_fai = ["fai", "age_band", "high_impact_sport_history"]
    want_fai = np.zeros((2, 4, 2))
    loglik = 0.0
    for i in rows:
        evidence = {}
        for j, v in enumerate(bundled.risk_factor_ids):
            if sub.rf_codes[i, j] >= 0:
                evidence[v] = bundled.variables[v].states[sub.rf_codes[i, j]]
        for j, v in enumerate(bundled.finding_ids):
            if sub.finding_codes[i, j] >= 0:
                evidence[v] = bundled.variables[v].states[sub.finding_codes[i, j]]
        for j, c in enumerate(bundled.conditions):
            if sub.labels[i, j] >= 0:
                evidence[c] = ("present", "absent")[sub.labels[i, j]]
        free = [v for v in fam_fai if v not in evidence]
        q = ve.query(free, evidence=evidence, show_progress=False) if free else None
        for idx in itertools.product(range(2), range(4), range(2)):
            state = dict(zip(fam_fai, [("present", "absent")[idx[0]], bundled.variables["age_band"].states[idx[1]],
                                       ("yes", "no")[idx[2]]], strict=True))
            if any(evidence.get(v, s) != s for v, s in state.items()):
                continue
            want_fai[idx] += q.get_value(**{v: state[v] for v in free}) if free else 1.0
        answers = {v: s for v, s in evidence.items() if v not in bundled.conditions}
        labelled = {v: s for v, s in evidence.items() if v in bundled.conditions}
        rf, fd = bundled.codes(answers)
        loglik += float(bundled.engine.posterior(rf, fd).log_evidence[0])  # log P(answers)
        if labelled:  # + log P(labels | answers)
            q = ve.query(list(labelled), evidence=answers or None, show_progress=False)
            loglik += float(np.log(q.get_value(**labelled)))
    assert np.allclose(counts.tables[("cond", "fai")], want_fai, atol=1e-9)
    # pain_groin (argues against three conditions) is in a group with worse_twisting: its counts
    # come from every row that answers either
    want_groin = _family_posterior_sum(bundled, ve, sub, "pain_groin")
    assert np.allclose(counts.tables[("find", "pain_groin")], want_groin, atol=1e-9)
    assert counts.loglik == pytest.approx(loglik, abs=1e-8)


def test_float32_counts_are_close_to_float64(bundled, small_sample):
    _, obs = small_sample
    a = expected_counts(bundled.engine, bundled.parameters, obs, dtype=np.float64)
    b = expected_counts(bundled.engine, bundled.parameters, obs)
    for key in a.tables:
        assert np.allclose(a.tables[key], b.tables[key], rtol=1e-5, atol=1e-4), key
    assert b.loglik == pytest.approx(a.loglik, abs=1e-3)


def test_a_row_with_nothing_observed_has_probability_one(bundled):
    n_rf, n_f, k = len(bundled.risk_factor_ids), len(bundled.finding_ids), len(bundled.conditions)
    obs = Observed(np.full((1, n_rf), -1), np.full((1, n_f), -1), np.full((1, k), -1, dtype=np.int8))
    counts = expected_counts(bundled.engine, bundled.parameters, obs, dtype=np.float64)
    assert counts.loglik == pytest.approx(0.0, abs=1e-12)
    # its expected counts are the prior: P(gtps present) summed over its family
    assert counts.tables[("cond", "gtps")][0].sum() == pytest.approx(bundled.prior_probabilities["gtps"], abs=1e-12)


def _row_evidence(model, obs: Observed, i: int) -> dict[str, str]:
    """Row ``i`` of ``obs`` as pgmpy evidence (state names), unknown values left out."""
    evidence = {}
    for j, v in enumerate(model.risk_factor_ids):
        if obs.rf_codes[i, j] >= 0:
            evidence[v] = model.variables[v].states[obs.rf_codes[i, j]]
    for j, v in enumerate(model.finding_ids):
        if obs.finding_codes[i, j] >= 0:
            evidence[v] = model.variables[v].states[obs.finding_codes[i, j]]
    for j, c in enumerate(model.conditions):
        if obs.labels[i, j] >= 0:
            evidence[c] = ("present", "absent")[obs.labels[i, j]]
    return evidence


def _family_posterior_sum(model, ve, obs: Observed, finding: str) -> np.ndarray:
    """sum over the rows that answer any finding of ``finding``'s evidence group of pgmpy's exact
    P(finding, its parents | row), as (2, 2, ...) in the parents' order, index 0 = first state."""
    group = next(f.members for f in model.engine.factors if finding in f.members)
    family = [finding, *model.parameters.finding_parents[finding]]
    want = np.zeros((2,) * len(family))
    for i in range(len(obs)):
        evidence = _row_evidence(model, obs, i)
        if not any(m in evidence for m in group):
            continue
        free = [v for v in family if v not in evidence]
        q = ve.query(free, evidence=evidence, show_progress=False) if free else None
        for cfg in itertools.product(range(2), repeat=len(family)):
            state = {v: (("present", "absent") if v in model.conditions else model.variables[v].states)[c]
                     for v, c in zip(family, cfg, strict=True)}
            if any(evidence.get(v, st) != st for v, st in state.items()):
                continue
            want[cfg] += q.get_value(**{v: state[v] for v in free}) if free else 1.0
    return want


@pytest.mark.parametrize("finding", [
    "pain_lying_on_side",  # depends_on pain_lateral_hip (a group of four findings)
    "night_pain",  # depends_on pain_lying_on_side and argues_against muscle_soreness
    "improves_with_warmup",  # argues_against stress_fracture and itb_syndrome (a group of one)
    "worse_twisting",  # depends_on pain_groin (a group of two)
])
def test_dependent_and_inhibited_families_match_pgmpy(bundled, small_sample, finding):
    """The new table forms' expected counts are sums of pgmpy's exact joint posteriors, to 1e-9:
    members of a dependent group may be answered or missing (a missing parent finding is inferred)."""
    from pgmpy.inference import VariableElimination

    _, obs = small_sample
    sub = obs.take(np.arange(16))
    params = bundled.parameters
    assert params.finding_depends[finding] or params.finding_against[finding].shape[1] > 0
    counts = expected_counts(bundled.engine, params, sub, dtype=np.float64).tables[("find", finding)]
    want = _family_posterior_sum(bundled, VariableElimination(bundled.network), sub, finding)
    assert counts.shape == want.shape
    assert want.sum() > 0
    assert np.allclose(counts, want, atol=1e-9)


def test_the_sample_has_a_missing_member_next_to_an_answered_one(bundled, small_sample):
    """The pgmpy comparison above covers rows where a depended-on finding is missing but a member
    of its group is answered (so the missing member is inferred, not skipped)."""
    _, obs = small_sample
    codes = obs.finding_codes[:16]
    hip, lying = bundled.finding_ids.index("pain_lateral_hip"), bundled.finding_ids.index("pain_lying_on_side")
    assert ((codes[:, hip] < 0) & (codes[:, lying] >= 0)).any()
    assert ((codes[:, hip] >= 0) & (codes[:, lying] < 0)).any()
