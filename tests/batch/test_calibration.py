"""Scoring simulated runners is calibrated: in each probability decile, the mean prediction is
close to the observed frequency of the true condition. A biased scorer fails the same check."""

from __future__ import annotations

import numpy as np
import pytest

from model.simulate import simulate

N = 40_000


def calibration_failures(pred: np.ndarray, truth: np.ndarray, name: str, min_rows: int = 100) -> list[str]:
    """Bins of width 0.1; a bin with enough rows fails when |mean predicted - observed| exceeds
    4 binomial standard errors + 0.01."""
    failures = []
    bins = np.minimum((pred * 10).astype(int), 9)
    for b in range(10):
        sel = bins == b
        n = int(sel.sum())
        if n < min_rows:
            continue
        p, obs = pred[sel].mean(), truth[sel].mean()
        se = np.sqrt(max(p * (1 - p), 1e-4) / n)
        if abs(p - obs) > 4 * se + 0.01:
            failures.append(f"{name} bin {b / 10:.1f}: predicted {p:.3f}, observed {obs:.3f}, n={n}")
    return failures


@pytest.fixture(scope="module")
def scored(model):
    df = simulate(model, N, seed=2024, missing=0.15)
    return df, model.score(df[model.evidence_order])


def _all_failures(model, df, probs):
    out = []
    for c in model.conditions:
        out += calibration_failures(probs(c), df[f"true_{c}"].to_numpy(), c)
    return out


def test_engine_is_calibrated_on_simulated_runners(model, scored):
    df, res = scored
    assert res["error"].isna().all()
    assert _all_failures(model, df, lambda c: res[f"p_{c}"].to_numpy()) == []


@pytest.mark.parametrize("bias", ["squared", "plus_0.1", "shrunk_to_prior"])
def test_a_biased_scorer_fails_the_same_check(model, scored, bias):
    df, res = scored

    def biased(c):
        p = res[f"p_{c}"].to_numpy()
        if bias == "squared":
            return p**2
        if bias == "plus_0.1":
            return np.minimum(p + 0.1, 1.0)
        return 0.5 * p + 0.5 * model.prior_probabilities[c]

    assert len(_all_failures(model, df, biased)) >= 3
