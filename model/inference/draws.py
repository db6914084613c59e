"""Alternative parameter sets drawn from the priors' uncertainty ranges.

The articles are web articles, so every number is uncertain; each prior's ``range`` says how
much. A probability is drawn from a Beta distribution with the prior's value as its mean and a
spread such that the range is roughly its central 90%; a relative risk from a log-normal with
the value as its median. Draws use common random numbers (one uniform per prior and draw, then
the inverse CDF), so widening a range widens the draws monotonically and a seed fixes them all.

The uniforms form a Latin hypercube by default (McKay, Beckman and Conover (1979), Technometrics
21(2): 239-245; ``scipy.stats.qmc.LatinHypercube``): for every prior, each of the ``draws`` equal
slices of [0, 1) holds exactly one draw, in an independent random order per prior. A posterior is
close to additive in the priors' effects, so stratifying each prior removes most of the sampling
noise of independent uniforms: with the Harrell-Davis percentiles (``model.reasoning.quantiles``),
128 Latin-hypercube draws give interval ends at least as close to a 20,000-draw reference as 200
independent draws with interpolated percentiles did (docs/benchmarks.md, "Fifth pass").
"""

from __future__ import annotations

import numpy as np
from scipy import stats
from scipy.stats import qmc

from ..priors import Prior, Priors

Z90 = 1.6448536269514722  # the 95th percentile of the standard normal


NETWORK_PATHS = ("risk_factors.", "overuse_risk_factors.", "conditions.", "findings.")
SAMPLINGS = ("latin_hypercube", "independent")


def network_priors(priors: Priors) -> list[Prior]:
    """The priors that are parameters of the network: not triage thresholds, not derivation
    inputs such as the population's hip share of injuries."""
    return [p for p in priors.all_priors() if p.path.startswith(NETWORK_PATHS)]


def quantile(prior: Prior, u: np.ndarray) -> np.ndarray:
    """The prior's value at probability levels ``u`` of its uncertainty distribution."""
    value, low, high = prior.value, prior.low, prior.high
    if high <= low:
        return np.full_like(u, value)
    if not prior.is_probability:
        sigma = (np.log(high) - np.log(low)) / (2 * Z90)
        return np.exp(np.log(value) + sigma * stats.norm.ppf(u))
    if value <= 0.0 or value >= 1.0:
        return low + (high - low) * u
    sd = (high - low) / (2 * Z90)
    concentration = max(value * (1 - value) / sd**2 - 1.0, 2.0)
    a, b = value * concentration, (1 - value) * concentration
    return stats.beta.ppf(u, a, b)


def draw_values(priors: Priors, draws: int, seed: int = 0, sampling: str = "latin_hypercube") -> dict[str, np.ndarray]:
    """(draws,) alternative values for every network prior, deterministic for ``seed``.
    ``sampling``: "latin_hypercube" (stratified, the default) or "independent" (plain uniforms,
    the first generation's draws). Raises ValueError for another sampling or fewer than 1 draw."""
    if sampling not in SAMPLINGS:
        raise ValueError(f"sampling: {sampling!r} is not one of {', '.join(SAMPLINGS)}")
    if draws < 1:
        raise ValueError(f"draws: {draws} must be at least 1")
    chosen = network_priors(priors)
    if sampling == "independent":
        uniforms = np.random.default_rng(seed).random((len(chosen), draws))
    else:  # (draws, priors) from scipy: one row per draw, each column a permutation of the strata
        uniforms = qmc.LatinHypercube(d=len(chosen), rng=np.random.default_rng(seed)).random(draws).T
    return {p.path: quantile(p, u) for p, u in zip(chosen, uniforms, strict=True)}


def sweep_values(priors: Priors) -> tuple[list[Prior], dict[str, np.ndarray]]:
    """Two parameter sets per prior: that prior at its low end, then at its high end, all others
    at their values (for one-at-a-time sensitivity, i.e. a tornado plot)."""
    chosen = [p for p in network_priors(priors) if p.high > p.low]
    n = len(chosen)
    values = {p.path: np.full(2 * n, p.value) for p in chosen}
    for i, p in enumerate(chosen):
        values[p.path][2 * i] = p.low
        values[p.path][2 * i + 1] = p.high
    return chosen, values
