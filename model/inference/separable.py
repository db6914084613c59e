"""Conditions that a batch row can sum out in closed form: a narrower enumeration for most rows.

Some conditions have no risk-factor parent, no condition parent and no condition child (today
``lumbar_referred_pain`` and ``piriformis_syndrome``): a priori they are independent Bernoulli
variables, whatever risk factors are answered. For such a *separable* set P, a table row over
the ``2**K`` condition configurations (an evidence block's log-likelihood, or a pattern's log
prior) is often additive in P's bits:

    row(C) = row(C_Q, P = 0) + sum_{p in P} beta_p * c_p          (exactly, up to rounding)

(a noisy-OR finding observed absent, any finding whose parents avoid P, the prior). When every
row that a batch row adds is additive, the row's weight factorises,

    w(C) = exp(sum of restricted rows)(C_Q) * prod_p exp(a_p * c_p),   a_p = sum of the betas,

so the conditions in P have the closed-form posterior sigmoid(a_p), contribute
``log(1 + exp(a_p))`` to log P(evidence), and only the ``2**(K - |P|)`` configurations of the
other conditions Q are enumerated (4 times fewer with two such conditions). A row with any
non-additive table row (e.g. a noisy-OR finding of a condition in P observed present, which
couples its parents) takes the full enumeration. Both are exact.
"""

from __future__ import annotations

import numpy as np

from .engine_math import NEG

ADDITIVE_TOL = 1e-11  # largest |row(C) - reconstruction| (in log units) accepted as additive


class SeparableSplit:
    """Split of the condition configurations into the separable set P and the rest Q.

    ``separable``: indices of the conditions in P (bit ``p`` of a configuration index);
    ``k``: number of conditions. Attributes: ``q_columns`` (2**(K-|P|),) the configurations with
    every P bit 0, in index order; ``q_configs`` (2**(K-|P|), K) their condition bits (P columns 0);
    ``others`` the conditions in Q and ``q_only`` their columns of ``q_configs``.
    """

    def __init__(self, k: int, separable: list[int]) -> None:
        self.k = k
        self.separable = list(separable)
        index = np.arange(2**k)
        p_bits = np.zeros(2**k, dtype=np.int64)
        for p in self.separable:
            p_bits |= index & (1 << p)
        self.q_columns = np.nonzero(p_bits == 0)[0]
        self.width = len(self.q_columns)
        self.q_configs = ((self.q_columns[:, None] >> np.arange(k)[None, :]) & 1).astype(float)
        self.others = [c for c in range(k) if c not in self.separable]
        self.q_only = np.ascontiguousarray(self.q_configs[:, self.others])  # (width, K - |P|)
        # Offset of every combination s of P's bits, and which P members s switches on.
        combos = np.arange(2 ** len(self.separable))
        self.on = ((combos[:, None] >> np.arange(len(self.separable))[None, :]) & 1).astype(float)  # (2^|P|, |P|)
        self.offsets = (self.on.astype(np.int64) << np.array(self.separable, dtype=np.int64)[None, :]).sum(axis=1)

    @staticmethod
    def separable_conditions(cond_rf_parents: list[list[int]], cond_cond_parents: list[list[int]]) -> list[int]:
        """Conditions with no risk-factor parent, no condition parent and no condition child."""
        children = {p for parents in cond_cond_parents for p in parents}
        return [c for c in range(len(cond_rf_parents))
                if not cond_rf_parents[c] and not cond_cond_parents[c] and c not in children]

    def decompose(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(packed (m, width + |P|), additive (m,)) for log rows (m, 2**K).

        ``packed[:, :width]`` is each row at P = 0 (over Q's configurations), ``packed[:, width:]``
        the betas; ``additive`` says whether the row equals ``restricted + P bits @ betas`` within
        ``ADDITIVE_TOL`` in every configuration and has no log(0) entry. Rows that are not
        additive get zeros (they are never read).
        """
        rows = np.asarray(rows, dtype=float)
        restricted = rows[:, self.q_columns]  # (m, width)
        betas = rows[:, self.q_columns[0] + (1 << np.array(self.separable, dtype=np.int64))] - rows[:, [self.q_columns[0]]]
        additive = (rows > NEG / 2).all(axis=1)
        for s in range(len(self.offsets)):
            expected = restricted + (betas @ self.on[s])[:, None]
            additive &= np.abs(rows[:, self.q_columns + self.offsets[s]] - expected).max(axis=1) <= ADDITIVE_TOL
        packed = np.concatenate([restricted, betas], axis=1)
        packed[~additive] = 0.0
        return packed, additive
