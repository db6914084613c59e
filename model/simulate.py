"""Forward-sample synthetic runners from the model's own probability tables.

Ancestral sampling, vectorised over runners: risk factors from their population distributions,
then conditions in topological order (``fai`` before ``labral_tear``) from their tables given the
sampled parents, then findings from their noisy-OR tables given the sampled conditions. The result
holds every evidence variable as state names (optionally with answers blanked at random) and the
hidden truth as ``true_<condition>`` 0/1 columns: demo data, benchmark data, and the ground truth
for the calibration test. Pure numpy/pandas: writing files is the command's job.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .parameters import condition_order


def _rng(seed: int | np.random.Generator | None) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def _categorical(rng: np.random.Generator, probs: np.ndarray, n: int) -> np.ndarray:
    """n draws of a state index from one probability vector (inverse CDF)."""
    cdf = np.cumsum(probs)
    return np.minimum(np.searchsorted(cdf, rng.random(n) * cdf[-1], side="right"), len(probs) - 1)


def _table_lookup(table: np.ndarray, parent_codes: list[np.ndarray], n: int) -> np.ndarray:
    """P(first state | parents) for each of n rows; ``table`` without its draw axis."""
    if not parent_codes:
        return np.broadcast_to(np.asarray(table, dtype=float).reshape(()), (n,))
    return table[tuple(parent_codes)]


def sample_codes(m, n: int, seed: int | np.random.Generator | None = None) -> dict[str, np.ndarray]:
    """State indices (in each variable's state order) for every evidence variable, and each
    condition's index (0 = present, 1 = absent, as in the tables), for n sampled runners."""
    rng = _rng(seed)
    params = m.parameters
    codes: dict[str, np.ndarray] = {}
    for rid in m.risk_factor_ids:
        codes[rid] = _categorical(rng, params.risk_factor_probs[rid][0], n)
    for cid in condition_order(m.priors):
        rf_par, c_par = params.condition_parents[cid]
        p_present = _table_lookup(params.condition_tables[cid][0], [codes[p] for p in (*rf_par, *c_par)], n)
        codes[cid] = (rng.random(n) >= p_present).astype(np.intp)  # 0 = present
    for fid in m.finding_ids:
        p_first = _table_lookup(params.finding_tables[fid][0], [codes[p] for p in params.finding_parents[fid]], n)
        codes[fid] = (rng.random(n) >= p_first).astype(np.intp)  # 0 = first state (present / sudden)
    return codes


def simulate(m, n: int, seed: int | np.random.Generator | None = None, missing: float = 0.0) -> pd.DataFrame:
    """n synthetic runners: one column per evidence variable (state names; a blank answer is
    missing (NaN) at rate ``missing``, independently per cell), then ``true_<condition>`` (0/1).

    Deterministic for an integer seed; pass a ``numpy.random.Generator`` to continue a stream
    (the file-writing command samples a large n in chunks that way).
    """
    if not 0.0 <= missing <= 1.0:
        raise ValueError(f"missing must be between 0 and 1, got {missing!r}")
    n = int(n)
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    rng = _rng(seed)
    codes = sample_codes(m, n, rng)
    columns: dict[str, np.ndarray] = {}
    for vid in m.evidence_order:
        states = np.array(m.variables[vid].states, dtype=object)
        values = states[codes[vid]]
        if missing > 0:
            values[rng.random(n) < missing] = None
        columns[vid] = values
    for cid in m.conditions:
        columns[f"true_{cid}"] = (1 - codes[cid]).astype(np.int64)
    return pd.DataFrame(columns)
