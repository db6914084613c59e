"""The factored fast path of the engine, for rows whose risk factors are all answered.

With every risk factor known, the conditions are independent a priori except within clusters
linked by ``caused_by`` (e.g. fai -> labral_tear). A finding whose observed state has a
probability that is log-linear in its parents' presence (a noisy-OR finding observed *absent*;
any single-parent finding) factorises onto single conditions: it only re-weights each condition's
odds. Only findings observed in a state that does not factorise (a noisy-OR finding observed
*present*) couple their parents. So each row needs exact enumeration only over the conditions
coupled that way (plus the caused_by clusters), and every other condition has a closed-form
posterior. Rows are grouped by their coupled set, so each group is one small dense computation.
"""

from __future__ import annotations

import numpy as np

from .engine_math import ZERO_EVIDENCE, safe_log


class FactoredPath:
    """Exact posteriors for fully answered risk factors, exploiting noisy-OR factorisation."""

    def __init__(self, k: int, cond_rf_parents: list[list[int]], cond_cond_parents: list[list[int]],
                 cond_tables: list[np.ndarray], grid: np.ndarray, log_p_grid: np.ndarray,
                 features: list[tuple[list[int], np.ndarray]]) -> None:
        """
        - ``cond_rf_parents[c]`` / ``cond_cond_parents[c]``: parent indices (risk factors / conditions)
          in the axis order of ``cond_tables[c]``, P(c present | parents) of shape (*cards) (a
          condition parent's axis: index 0 = present), as ``CompiledNetwork.present_tables`` gives.
        - ``grid``: (G, n_rf) every risk-factor configuration; ``log_p_grid``: (G,) log P(config).
        - ``features``: per (finding, state) feature, (condition parents, table of P(state | parents)
          over parent configurations with parent axis index 0 = present).
        """
        self.k = k
        self.log_p_grid = log_p_grid
        g = len(grid)
        # P(c present | risk-factor row g, condition-parent config) with config bit i <=> parent i present.
        self.p1: list[np.ndarray] = []
        for c in range(k):
            table = np.asarray(cond_tables[c], dtype=float)
            npar = len(cond_cond_parents[c])
            cfg_bits = (np.arange(2**npar)[:, None] >> np.arange(npar)[None, :]) & 1
            index = [grid[:, j][:, None] for j in cond_rf_parents[c]] + [(1 - cfg_bits[:, i])[None, :] for i in range(npar)]
            self.p1.append(np.broadcast_to(table[tuple(index)] if index else table, (g, 2**npar)).copy())
        self.log_p1 = [safe_log(t) for t in self.p1]
        self.log_p0 = [safe_log(1.0 - t) for t in self.p1]
        # Column 0 (all condition parents absent) of every condition, side by side: (G, K).
        self.log_p1_base = np.stack([t[:, 0] for t in self.log_p1], axis=1)
        self.log_p0_base = np.stack([t[:, 0] for t in self.log_p0], axis=1)
        self.cond_parents = [list(p) for p in cond_cond_parents]
        # Probabilities of exactly 0 or 1 would need log(0) inside a sum of coefficients; such
        # networks are served by the engine's full path instead (see ``usable``).
        self.usable = all(((t > 0) & (t < 1)).all() for t in self.p1)
        # log P(c = x | parents = y) as a multilinear polynomial in the bits (x, y): Moebius
        # coefficients per risk-factor row; monomial bit 0 = c itself, bit j + 1 = parent j.
        self.coef = [_moebius(self.log_p1[c], self.log_p0[c], len(self.cond_parents[c])) for c in range(k)]
        self._basis_cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._feature_cache: dict[tuple[int, int], np.ndarray] = {}
        # Clusters linked by caused_by: always enumerated together (they are never independent).
        self.cluster_mask = 0
        for c in range(k):
            if self.cond_parents[c]:
                self.cluster_mask |= 1 << c
                for p in self.cond_parents[c]:
                    self.cluster_mask |= 1 << p
        # Features: factorising ones -> (alpha, beta); the others couple their parents.
        n_feat = len(features)
        self.alpha = np.zeros(n_feat)
        self.beta = np.zeros((n_feat, k))
        self.coupling = np.zeros(n_feat, dtype=bool)
        self.feature_mask = np.zeros(n_feat, dtype=np.int64)
        self.feature_parents: list[list[int]] = []
        self.feature_log: list[np.ndarray] = []
        for i, (parents, table) in enumerate(features):
            npar = len(parents)
            cfg_bits = (np.arange(2**npar)[:, None] >> np.arange(npar)[None, :]) & 1
            probs = np.asarray(table, dtype=float)[tuple((1 - cfg_bits[:, j]) for j in range(npar))] if npar else \
                np.asarray(table, dtype=float).reshape(1)
            logp = safe_log(probs)
            if not (probs > 0).all():
                self.coupling[i] = True
                self.feature_mask[i] = sum(1 << p for p in parents)
                self.feature_parents.append(list(parents))
                self.feature_log.append(logp)
                continue
            # Parents whose log-ratio is the same in every configuration of the others only shift
            # their condition's log odds (beta); the rest (if any) couple, through a smaller row.
            arr = logp.reshape((2,) * npar) if npar else logp.reshape(())  # axis a <-> parent npar - 1 - a
            axes = list(range(npar - 1, -1, -1))  # the parent index of each remaining axis
            for j in range(npar):
                a = axes.index(j)
                diff = np.take(arr, 1, axis=a) - np.take(arr, 0, axis=a)
                if diff.size == 0 or np.ptp(diff) < 1e-12:
                    self.beta[i, parents[j]] = float(diff.reshape(-1)[0])
                    arr = np.take(arr, 0, axis=a)
                    axes.pop(a)
            remaining = [parents[j] for j in sorted(axes)]
            if not remaining:
                self.alpha[i] = float(arr)
                self.feature_parents.append([])
                self.feature_log.append(np.array([float(arr)]))
                continue
            self.coupling[i] = True
            self.feature_mask[i] = sum(1 << p for p in remaining)
            self.feature_parents.append(remaining)
            self.feature_log.append(arr.reshape(-1))

    def posterior(self, grid_index: np.ndarray, onehot: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Marginals (n, K) and log P(evidence) (n,) for rows given by their risk-factor grid row
        and their one-hot observed (finding, state) features."""
        n, k = onehot.shape[0], self.k
        linear = onehot @ self.beta  # (n, K): log odds shift of each condition from factorising answers
        log_ev = self.log_p_grid[grid_index] + onehot @ self.alpha
        masks = np.zeros(n, dtype=np.int64)
        coupled_cols = np.nonzero(self.coupling)[0]
        if len(coupled_cols):
            rows, cols = np.nonzero(onehot[:, coupled_cols])
            np.bitwise_or.at(masks, rows, self.feature_mask[coupled_cols[cols]])
        masks |= self.cluster_mask
        # Closed form for every condition first (correct for those outside the coupled set).
        l1 = self.log_p1_base[grid_index] + linear
        singles_log_z = np.logaddexp(l1, self.log_p0_base[grid_index])
        with np.errstate(invalid="ignore"):
            marg = np.exp(l1 - singles_log_z)
        uniq, inverse = np.unique(masks, return_inverse=True)
        inverse = inverse.reshape(-1)
        bits = (masks[:, None] >> np.arange(k)[None, :]) & 1
        log_ev += (singles_log_z * (1 - bits)).sum(axis=1)
        for gi, mask in enumerate(uniq.tolist()):
            rows = np.nonzero(inverse == gi)[0]
            members = [c for c in range(k) if mask >> c & 1]
            m_marg, m_logz = self._enumerate(members, mask, grid_index[rows], linear[rows], onehot[rows])
            marg[np.ix_(rows, members)] = m_marg
            log_ev[rows] += m_logz
        bad = log_ev < ZERO_EVIDENCE
        if bad.any():
            marg[bad] = np.nan
            log_ev[bad] = -np.inf
        return marg, log_ev

    def _basis(self, mask: int, members: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """Configs of the coupled set, and the value of every prior monomial in each (cached)."""
        hit = self._basis_cache.get(mask)
        if hit is None:
            u = len(members)
            pos = {c: i for i, c in enumerate(members)}
            cfg = ((np.arange(2**u)[:, None] >> np.arange(u)[None, :]) & 1).astype(float)  # (2^u, u)
            rows = [cfg.T]
            for c in members:
                idx = [pos[c]] + [pos[p] for p in self.cond_parents[c]]
                for m in range(2 ** len(idx)):
                    sel = [idx[j] for j in range(len(idx)) if m >> j & 1]
                    rows.append(cfg[:, sel].prod(axis=1)[None, :])
            hit = (cfg, np.vstack(rows))
            self._basis_cache[mask] = hit
        return hit

    def _feature_row(self, mask: int, members: list[int], cfg: np.ndarray, f: int) -> np.ndarray:
        """log P(feature | parents) for every config of the coupled set (cached)."""
        key = (mask, int(f))
        row = self._feature_cache.get(key)
        if row is None:
            pos = {c: i for i, c in enumerate(members)}
            pcfg = np.zeros(cfg.shape[0], dtype=np.intp)
            for j, p in enumerate(self.feature_parents[f]):
                pcfg |= cfg[:, pos[p]].astype(np.intp) << j
            row = self.feature_log[f][pcfg]
            self._feature_cache[key] = row
        return row

    def _enumerate(self, members: list[int], mask: int, grid_index: np.ndarray, linear: np.ndarray,
                   onehot: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Exact marginals over the coupled ``members`` for rows sharing that coupled set."""
        cfg, static = self._basis(mask, members)
        blocks_x = [linear[:, members]] + [self.coef[c][grid_index] for c in members]
        blocks_b = [static]
        used = np.nonzero(self.coupling & (onehot.any(axis=0)))[0]
        if len(used):
            blocks_x.append(onehot[:, used])
            blocks_b.append(np.vstack([self._feature_row(mask, members, cfg, f) for f in used]))
        logw = np.hstack(blocks_x) @ np.vstack(blocks_b)
        top = logw.max(axis=1)
        w = np.exp(logw - top[:, None])
        total = w.sum(axis=1)
        return (w @ cfg) / total[:, None], top + np.log(total)


def _moebius(log_p1: np.ndarray, log_p0: np.ndarray, npar: int) -> np.ndarray:
    """(G, 2**(1 + npar)) coefficients a_m with log P(c = x | y) = sum_m a_m * prod of the bits in m,
    where bit 0 of m is x and bit j + 1 is parent j (y's config index has bit j = parent j)."""
    g = log_p1.shape[0]
    values = np.empty((g, 2 ** (1 + npar)))
    for m in range(2 ** (1 + npar)):
        y = m >> 1
        values[:, m] = log_p1[:, y] if m & 1 else log_p0[:, y]
    for bit in range(1 + npar):  # in-place Moebius transform over the subset lattice
        step = 1 << bit
        for m in range(2 ** (1 + npar)):
            if m & step:
                values[:, m] -= values[:, m ^ step]
    return values
