"""MAP-EM: priors from value and range, no data leaves the cited numbers, the log posterior never falls."""

from __future__ import annotations

import numpy as np
import pytest

from model.learning import Observed, ParameterSpace, learn


def test_learnable_numbers_are_the_ones_feeding_tables(bundled):
    space = ParameterSpace(bundled.priors)
    paths = {p for u in space.units for p in u.paths}
    # triage thresholds and the population note feed no table: never learned
    assert "likely_injury_threshold" in space.fixed and "likely_injury_threshold" not in paths
    assert all(r.threshold.path in space.fixed for r in bundled.priors.posterior_rules)
    assert "findings.pain_lateral_hip.causes.gtps" in paths and "conditions.gtps.base_rate" in paths
    # a shared overuse relative risk feeds every overuse condition's table
    unit = next(u for u in space.units if u.paths == ["overuse_risk_factors.rest_days.relative_risk.under_2"])
    assert {("cond", c) for c, cond in bundled.priors.conditions.items() if cond.overuse} <= unit.tables
    # coordinates in one colour share no table
    for colour in space.colours:
        seen = set()
        for j in colour:
            assert not (seen & space.coord_tables[j])
            seen |= space.coord_tables[j]


def test_prior_strength_follows_the_range(bundled):
    """A narrow (stated) range gives a stronger prior than a wide (assumed) one at the same value."""
    space = ParameterSpace(bundled.priors)
    strength = {u.paths[0]: u.prior_cases for u in space.units}
    # stated: rest days 2.5 [2.0, 3.0]; assumed: gtps age 40-49 relative risk 2.0 [1.4, 3.0]
    assert strength["overuse_risk_factors.rest_days.relative_risk.under_2"] > 2 * strength[
        "conditions.gtps.risk_factors.age_band.relative_risk.40_49"]
    # the Beta's strength: a + b = 1 / (p (1-p) sd_logit^2), range = central 95% on the logit scale
    p = bundled.priors.findings["pain_lateral_hip"].leak  # 0.10 in [0.04, 0.20]
    sd = (np.log(0.2 / 0.8) - np.log(0.04 / 0.96)) / (2 * 1.959963984540054)
    assert strength[p.path] == pytest.approx(1 / (0.1 * 0.9 * sd**2), rel=1e-9)


def test_no_rows_returns_the_cited_numbers(bundled):
    n_rf, n_f, k = len(bundled.risk_factor_ids), len(bundled.finding_ids), len(bundled.conditions)
    empty = Observed(np.zeros((0, n_rf), dtype=np.int64), np.zeros((0, n_f), dtype=np.int64), np.zeros((0, k), dtype=np.int8))
    result = learn(bundled.priors, empty, max_iter=3)
    for path, n in result.numbers.items():
        assert n.value == pytest.approx(n.prior_value, abs=1e-6), path
        assert n.effective_cases == pytest.approx(n.prior_cases, rel=1e-3), path


def test_log_posterior_never_decreases_and_data_move_numbers(small_result):
    result = small_result
    assert len(result.history) == result.iterations >= 2
    assert all(b >= a - 1e-6 for a, b in zip(result.history, result.history[1:], strict=False))
    moved = result.moved()
    assert abs(moved[0].change) > 0.05
    for n in result.numbers.values():  # every learned number sits inside its own learned range
        assert n.range[0] <= n.value <= n.range[1]
        assert n.effective_cases >= n.prior_cases - 1e-6
    # a risk factor's learned distribution still sums to one
    dist = [result.values[p] for p in result.values if p.startswith("risk_factors.age_band.distribution.")]
    assert sum(dist) == pytest.approx(1.0, abs=1e-12)
