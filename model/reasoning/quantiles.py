"""Quantiles of the per-draw posteriors: the ends of each condition's interval.

The intervals are the 5th and 95th percentiles of a case's posteriors under the parameter draws
(``model.inference.draws``). Two estimators:

- ``harrell_davis`` (the default): the Harrell-Davis estimator, a weighted sum of all the order
  statistics with Beta weights (Harrell F.E., Davis C.E. (1982), "A new distribution-free
  quantile estimator", Biometrika 69(3): 635-640). With the draws' sample sizes (about a hundred)
  its error for a tail percentile is smaller than that of one or two interpolated order
  statistics; the same as ``scipy.stats.mstats.hdquantiles`` (tested), vectorised over the
  conditions with the weights cached per (number of draws, level).
- ``linear``: numpy's default percentile (linear interpolation between two order statistics),
  the estimator of the first generation.

Draws under which the evidence is impossible give NaN posteriors; they are left out (a column's
quantile is then taken over its valid draws; NaN when none is valid).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from scipy import stats

ESTIMATORS = ("harrell_davis", "linear")


def quantiles(values: np.ndarray, levels: Sequence[float], estimator: str = "harrell_davis") -> np.ndarray:
    """(len(levels), K) quantiles of each column of ``values`` (D, K) at ``levels`` (fractions in
    [0, 1]), NaN ignored. Raises ValueError for an unknown ``estimator`` (see ``ESTIMATORS``) or a
    level outside [0, 1]."""
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator: {estimator!r} is not one of {', '.join(ESTIMATORS)}")
    levels = tuple(float(q) for q in levels)
    if any(not 0.0 <= q <= 1.0 for q in levels):
        raise ValueError(f"levels: {levels} must lie in [0, 1]")
    values = np.asarray(values, dtype=float)
    missing = np.isnan(values)
    if not missing.any():
        ordered = np.sort(values, axis=0)
        return _of_sorted(ordered, levels, estimator)
    out = np.full((len(levels), values.shape[1]), np.nan)
    for k in range(values.shape[1]):  # rare: some draws make the evidence impossible
        valid = np.sort(values[~missing[:, k], k])
        if len(valid):
            out[:, k] = _of_sorted(valid[:, None], levels, estimator)[:, 0]
    return out


def _of_sorted(ordered: np.ndarray, levels: tuple[float, ...], estimator: str) -> np.ndarray:
    n = ordered.shape[0]
    if estimator == "harrell_davis":
        return harrell_davis_weights(n, levels) @ ordered
    pos = np.asarray(levels) * (n - 1)
    below = np.floor(pos).astype(int)
    above = np.minimum(below + 1, n - 1)
    frac = (pos - below)[:, None]
    return ordered[below] + frac * (ordered[above] - ordered[below])


@lru_cache(maxsize=64)
def harrell_davis_weights(n: int, levels: tuple[float, ...]) -> np.ndarray:
    """(len(levels), n) Harrell-Davis weights of the order statistics x_(1) <= ... <= x_(n):
    w_i = I_{i/n}(a, b) - I_{(i-1)/n}(a, b), a = p (n + 1), b = (1 - p)(n + 1), I the regularised
    incomplete Beta function (Harrell and Davis 1982); level 0 and 1 give the minimum and the
    maximum. Read-only."""
    grid = np.arange(n + 1) / n
    out = np.zeros((len(levels), n))
    for i, p in enumerate(levels):
        if p <= 0.0:
            out[i, 0] = 1.0
        elif p >= 1.0:
            out[i, -1] = 1.0
        else:
            out[i] = np.diff(stats.beta.cdf(grid, p * (n + 1), (1 - p) * (n + 1)))
    out.flags.writeable = False
    return out
