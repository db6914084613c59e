"""A compiled, vectorised, exact inference engine for the hipdx network shape.

pgmpy's VariableElimination answers one case in milliseconds and has no batch query. The network
has a shape that makes exact batch inference cheap: a few root risk factors (R), a handful of
binary conditions (C) whose parents are risk factors or other conditions, and findings (F) whose
parents are conditions only. So, with ``2**K`` joint condition configurations:

    P(C, e) = [sum over R consistent with e_R of P(R) P(C | R)] * prod_f P(e_f | C)

The bracket depends on the row only through which risk factors were answered (few distinct
patterns in a batch; computed once per pattern from the compiled table ``J[R, C]``), and the
product is a single matrix product of the row's one-hot findings with the compiled table
``T[(f, state), C] = log P(f = state | C)``. Normalising over ``C`` gives every condition's exact
posterior. Rows are processed in bounded chunks and identical rows are scored once.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from .compiled import compile_factors
from .engine_math import NEG, ZERO_EVIDENCE, safe_log
from .factored import FactoredPath


@dataclass(frozen=True)
class EngineResult:
    """Posteriors for n rows: ``marginals`` (n, K) P(condition present | evidence);
    ``log_evidence`` (n,) log P(evidence) (``-inf`` where the evidence is impossible);
    ``joint`` (n, 2**K) posterior over condition configurations when requested."""

    marginals: np.ndarray
    log_evidence: np.ndarray
    joint: np.ndarray | None = None

    @property
    def impossible(self) -> np.ndarray:
        return ~np.isfinite(self.log_evidence)


BLOCK_ROWS = 81  # answer-pattern combinations per block of evidence factors (4 single findings)
LATTICE_BYTES = 256 * 2**20  # at most this much (virtual) memory for the per-pattern log priors


class Engine:
    """Exact posteriors of the binary conditions for many evidence rows at once.

    Evidence is passed as integer state codes in the network's own state order, ``-1`` for
    unknown: ``rf_codes`` (n, number of risk factors), ``finding_codes`` (n, number of findings).
    """

    def __init__(
        self,
        risk_factors: list[tuple[str, list[str], np.ndarray]],
        conditions: list[tuple[str, list[str], np.ndarray]],
        findings: list[tuple[str, list[str], list[str], np.ndarray]],
        chunk_rows: int = 1024,
        factored_chunk_rows: int = 16384,
        factored_min_rows: int = 16,
    ) -> None:
        """Compile from CPD tables.

        - ``risk_factors``: (id, states, probabilities) for each root risk factor.
        - ``conditions``: (id, parents, table) with ``table`` of shape (2, *parent cards): index 0
          of the first axis is *present*; parents are risk factors or other conditions (a
          condition parent's axis has 0 = present).
        - ``findings``: (id, states, parents, table) with table shape (n_states, *parent cards);
          parents are conditions.
        """
        self.chunk_rows = chunk_rows
        self.factored_chunk_rows = factored_chunk_rows
        self.factored_min_rows = factored_min_rows
        self.risk_factor_ids = [r[0] for r in risk_factors]
        self.risk_factor_states = [list(r[1]) for r in risk_factors]
        self.condition_ids = [c[0] for c in conditions]
        self.finding_ids = [f[0] for f in findings]
        self.finding_states = [list(f[1]) for f in findings]
        k = len(conditions)
        # Condition configurations: bit j of the config index set <=> condition j present.
        self.configs = ((np.arange(2**k)[:, None] >> np.arange(k)[None, :]) & 1).astype(float)  # (2^K, K)
        present_idx = 1 - self.configs.astype(np.intp)  # state index per condition (0 = present)

        cards = [len(r[1]) for r in risk_factors]
        self.rf_cards = np.array(cards, dtype=np.intp)
        self.grid = np.array(list(itertools.product(*[range(c) for c in cards])), dtype=np.intp)  # (G, n_rf)
        p_grid = np.ones(len(self.grid))
        for j, (_, _, probs) in enumerate(risk_factors):
            p_grid *= np.asarray(probs, dtype=float).reshape(-1)[self.grid[:, j]]
        rf_pos = {r: j for j, r in enumerate(self.risk_factor_ids)}
        cond_pos = {c: j for j, c in enumerate(self.condition_ids)}

        joint = np.broadcast_to(p_grid[:, None], (len(self.grid), 2**k)).copy()  # J[R, C]
        cond_rf_parents, cond_cond_parents, cond_tables = [], [], []
        for j, (cid, parents, table) in enumerate(conditions):
            cond_rf_parents.append([rf_pos[p] for p in parents if p in rf_pos])
            cond_cond_parents.append([cond_pos[p] for p in parents if p in cond_pos])
            cond_tables.append(np.asarray(table, dtype=float))
            table = np.asarray(table, dtype=float)
            index = []
            for p in parents:
                if p in rf_pos:
                    index.append(self.grid[:, rf_pos[p]][:, None])
                elif p in cond_pos and p != cid:
                    index.append(present_idx[:, cond_pos[p]][None, :])
                else:
                    raise ValueError(f"condition {cid}: parent {p!r} is not a risk factor or another condition")
            p_present = np.broadcast_to(table[(0, *index)] if index else table[0], (len(self.grid), 2**k))
            joint *= np.where(self.configs[None, :, j] == 1, p_present, 1.0 - p_present)
        self.joint_rc = joint  # (G, 2^K)
        with np.errstate(divide="ignore"):
            self.log_joint_rc = safe_log(joint)
        self._partial_cache: dict[int, np.ndarray] = {}
        self._marginal_cache: dict[int, np.ndarray] = {}

        # Findings -> evidence factors (a dependent group is one factor over its answer patterns).
        fpos = {f[0]: i for i, f in enumerate(findings)}
        for fid, _, parents, _ in findings:
            for p in parents:
                if p not in cond_pos and p not in fpos:
                    raise ValueError(f"finding {fid}: parent {p!r} is not a condition or another finding")
        self.factors = compile_factors(
            [f[0] for f in findings], {f[0]: list(f[2]) for f in findings},
            {f[0]: np.asarray(f[3], dtype=float)[0][None] for f in findings})
        rows, offsets, features = [], [], []
        self.factor_of = np.zeros(len(findings), dtype=np.intp)  # finding -> its factor
        pattern_weight = np.zeros((len(findings), len(self.factors)), dtype=np.int64)
        for fi, factor in enumerate(self.factors):
            offsets.append(len(rows))
            for i, m in enumerate(factor.members):
                self.factor_of[fpos[m]] = fi
                pattern_weight[fpos[m], fi] = 3**i
            table = factor.table[0]
            parents = [cond_pos[p] for p in factor.parents]
            index = [present_idx[:, j] for j in parents]
            for pattern in range(1, factor.n_patterns):
                features.append((parents, table[pattern]))
                probs = np.broadcast_to(table[(pattern, *index)] if index else table[pattern], (2**k,))
                rows.append(np.where(probs > 0, np.log(np.maximum(probs, 1e-300)), NEG))
        self.factor_offsets = np.array(offsets, dtype=np.intp)
        self._pattern_weight = pattern_weight
        # The feature of each (finding, state) answered alone (its factor's other members unanswered).
        self.finding_offsets = np.array([
            self.factor_offsets[self.factor_of[i]] + pattern_weight[i, self.factor_of[i]] - 1 for i in range(len(findings))],
            dtype=np.intp)
        self.log_lik = np.array(rows)  # (S, 2^K)
        self.feature_has_zero = (self.log_lik <= NEG / 2).any(axis=1)  # a state impossible in some configuration
        self.n_features = self.log_lik.shape[0]
        # Mixed-radix weights to turn a risk-factor answer pattern (with -1 = unknown) into a key.
        self._pattern_radix = np.cumprod(np.concatenate([[1], self.rf_cards[:-1] + 1])).astype(np.int64)
        # Blocks of evidence factors for the batch product: a block's row for a combination of its
        # factors' answer patterns holds the sum of their log-likelihood rows, so a row of the
        # batch has one non-zero per block instead of one per answered factor (about half as
        # many additions of 2^K-wide rows; the blocks are small enough to stay in cache).
        self._blocks: list[tuple[np.ndarray, np.ndarray, int]] = []  # (factors, strides, first row)
        block_rows = [np.zeros((1, 2**k))]
        offset = 1  # row 0: every block unanswered (never referenced, but keeps offsets simple)
        fi = 0
        n_factors = len(self.factors)
        while fi < n_factors:
            members, size = [], 1
            while fi < n_factors and size * self.factors[fi].n_patterns <= BLOCK_ROWS:
                members.append(fi)
                size *= self.factors[fi].n_patterns
                fi += 1
            if not members:  # a factor larger than a block: a block of its own
                members, size = [fi], self.factors[fi].n_patterns
                fi += 1
            strides = np.cumprod([1] + [self.factors[f].n_patterns for f in members[:-1]]).astype(np.int64)
            table = np.zeros((size, 2**k))
            combos = np.arange(size)
            for f, stride in zip(members, strides, strict=True):
                pattern = (combos // stride) % self.factors[f].n_patterns
                answered = pattern > 0
                table[answered] += self.log_lik[self.factor_offsets[f] + pattern[answered] - 1]
            self._blocks.append((np.array(members, dtype=np.intp), strides, offset))
            block_rows.append(table)
            offset += size
        self._block_log_lik = np.concatenate(block_rows)
        self.n_block_rows = offset
        # Every risk-factor answer pattern's log prior, written on first use after the feature rows
        # (one sparse product then scores a row); when the lattice of patterns would be too large,
        # distinct patterns are looked up per chunk instead.
        lattice = int(np.prod(self.rf_cards + 1))
        self._log_rows: np.ndarray | None = None
        if (self.n_block_rows + lattice) * 2**k * 8 <= LATTICE_BYTES:
            self._log_rows = np.empty((self.n_block_rows + lattice, 2**k))
            self._log_rows[:self.n_block_rows] = self._block_log_lik
            self._filled = np.zeros(lattice, dtype=bool)
        # Row-major weights turning a fully answered risk-factor pattern into its grid row.
        self._grid_radix = np.concatenate([np.cumprod(self.rf_cards[::-1])[::-1][1:], [1]]).astype(np.int64)
        # Condition tables must follow the risk-factor-first axis order the factored path assumes.
        ordered = all(
            [p for p in parents if p in rf_pos] + [p for p in parents if p in cond_pos] == list(parents)
            for _, parents, _ in conditions
        )
        factored = FactoredPath(k, cond_rf_parents, cond_cond_parents, cond_tables, self.grid, safe_log(p_grid),
                                features) if ordered else None
        self.factored = factored if factored is not None and factored.usable else None

    # ----------------------------------------------------------------------------------------
    @classmethod
    def from_parameters(cls, priors, params, chunk_rows: int = 1024) -> Engine:
        """Compile from the CPD arrays that ``model.network`` is built from (draw 0), without
        importing pgmpy: batch and HTTP workers need the engine, not the reference network.
        ``from_network`` on the built network gives the same tables (tested)."""
        rfs = [(rid, list(rf.states), params.risk_factor_probs[rid][0]) for rid, rf in priors.risk_factors.items()]
        conds = []
        for cid in priors.conditions:
            rf_par, c_par = params.condition_parents[cid]
            on = params.condition_tables[cid][0]
            conds.append((cid, [*rf_par, *c_par], np.stack([on, 1.0 - on])))
        finds = []
        for fid, fd in priors.findings.items():
            on = params.finding_tables[fid][0]
            finds.append((fid, list(fd.states), list(params.finding_parents[fid]), np.stack([on, 1.0 - on])))
        return cls(rfs, conds, finds, chunk_rows=chunk_rows)

    @classmethod
    def from_network(cls, network, risk_factor_ids, condition_ids, finding_ids, chunk_rows: int = 1024) -> Engine:
        """Compile a pgmpy ``DiscreteBayesianNetwork`` of the three-layer shape.

        Conditions must be binary with states ``present``/``absent``; their CPDs are read with
        pgmpy's own state names, so the engine answers exactly what the network says.
        """
        rfs, conds, finds = [], [], []
        for rid in risk_factor_ids:
            cpd = network.get_cpds(rid)
            rfs.append((rid, list(cpd.state_names[rid]), cpd.get_values().reshape(-1)))
        for cid in condition_ids:
            cpd = network.get_cpds(cid)
            names = list(cpd.state_names[cid])
            table = _reorder_states(cpd, ["present", "absent"] if set(names) == {"present", "absent"} else names)
            conds.append((cid, list(cpd.variables[1:]), table))
        for fid in finding_ids:
            cpd = network.get_cpds(fid)
            finds.append((fid, list(cpd.state_names[fid]), list(cpd.variables[1:]), _reorder_states(cpd, None)))
        return cls(rfs, conds, finds, chunk_rows=chunk_rows)

    # ----------------------------------------------------------------------------------------
    def posterior(self, rf_codes: np.ndarray, finding_codes: np.ndarray, joint: bool = False,
                  dedupe: bool = True, factored: bool = True) -> EngineResult:
        """Exact posteriors for every row; chunked so memory stays bounded for any n."""
        rf_codes = np.asarray(rf_codes, dtype=np.int64).reshape(-1, len(self.risk_factor_ids))
        finding_codes = np.asarray(finding_codes, dtype=np.int64).reshape(-1, len(self.finding_ids))
        n = rf_codes.shape[0]
        if dedupe and n > 64:
            both = np.ascontiguousarray(np.concatenate([rf_codes, finding_codes], axis=1).astype(np.int8))
            keys = both.view(np.dtype((np.void, both.shape[1]))).reshape(-1)
            _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
            if len(first) < n:
                res = self.posterior(rf_codes[first], finding_codes[first], joint=joint, dedupe=False, factored=factored)
                inverse = inverse.reshape(-1)
                return EngineResult(res.marginals[inverse], res.log_evidence[inverse],
                                    None if res.joint is None else res.joint[inverse])
        marg = np.empty((n, len(self.condition_ids)))
        loge = np.empty(n)
        jnt = np.empty((n, self.configs.shape[0])) if joint else None
        if factored and not joint and self.factored is not None:
            for start in range(0, n, self.factored_chunk_rows):
                stop = min(n, start + self.factored_chunk_rows)
                marg[start:stop], loge[start:stop] = self._chunk_routed(rf_codes[start:stop], finding_codes[start:stop])
            return EngineResult(marg, loge, None)
        for start in range(0, n, self.chunk_rows):
            stop = min(n, start + self.chunk_rows)
            m, le, jt = self._chunk(rf_codes[start:stop], finding_codes[start:stop], joint)
            marg[start:stop], loge[start:stop] = m, le
            if joint:
                jnt[start:stop] = jt
        return EngineResult(marg, loge, jnt)

    def feature_index(self, finding_codes: np.ndarray) -> np.ndarray:
        """(n, n_factors) the feature (row of ``log_lik``) each factor's answer pattern selects,
        -1 where none of its findings is answered."""
        patterns = (np.asarray(finding_codes, dtype=np.int64) + 1) @ self._pattern_weight
        return np.where(patterns > 0, self.factor_offsets[None, :] + patterns - 1, -1)

    def single_feature(self, finding: int, state: int) -> int:
        """The feature of one finding answered alone (the rest of its factor unanswered)."""
        return int(self.finding_offsets[finding] + state * self._pattern_weight[finding, self.factor_of[finding]])

    def _onehot(self, finding_codes: np.ndarray) -> np.ndarray:
        onehot = np.zeros((finding_codes.shape[0], self.n_features))
        feats = self.feature_index(finding_codes)
        rows, cols = np.nonzero(feats >= 0)
        onehot[rows, feats[rows, cols]] = 1.0
        return onehot

    def _chunk_routed(self, rf_codes: np.ndarray, finding_codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rows with every risk factor answered take the factored path; the others the full one."""
        # A handful of rows is cheaper through the full path's few dense operations.
        full = (rf_codes >= 0).all(axis=1) & (rf_codes.shape[0] >= self.factored_min_rows)
        marg = np.empty((rf_codes.shape[0], len(self.condition_ids)))
        loge = np.empty(rf_codes.shape[0])
        if full.any():
            marg[full], loge[full] = self.factored.posterior(rf_codes[full] @ self._grid_radix, self._onehot(finding_codes[full]))
        partial = np.nonzero(~full)[0]
        for start in range(0, len(partial), self.chunk_rows):
            rows = partial[start:start + self.chunk_rows]
            marg[rows], loge[rows], _ = self._chunk(rf_codes[rows], finding_codes[rows], False)
        return marg, loge

    def _chunk(self, rf_codes: np.ndarray, finding_codes: np.ndarray, joint: bool):
        # log P(C, e) per row = its risk-factor pattern's log prior + its answered features' log
        # likelihoods: one sparse product (a row has a handful of non-zeros among the features
        # and one among the distinct patterns), so no dense (n, 2^K) gather or one-hot product.
        n = finding_codes.shape[0]
        patterns = (np.asarray(finding_codes, dtype=np.int64) + 1) @ self._pattern_weight  # (n, factors)
        cols = np.empty((n, len(self._blocks) + 1), dtype=np.int64)
        for b, (members, strides, first) in enumerate(self._blocks):
            combo = patterns[:, members] @ strides
            cols[:, b] = np.where(combo > 0, first + combo, 0)
        if self._log_rows is not None:  # block rows and every pattern's log prior in one array
            weights, cols[:, -1] = self._log_rows, self.n_block_rows + self._lattice_keys(rf_codes)
        else:
            table, pattern_of = self._log_prior_table(rf_codes)
            weights, cols[:, -1] = np.concatenate([self._block_log_lik, table]), self.n_block_rows + pattern_of
        rows, which = np.nonzero(cols > 0)
        design = sparse.csr_matrix((np.ones(len(rows)), (rows, cols[rows, which])), shape=(n, weights.shape[0]))
        logw = design @ weights
        top = logw.max(axis=1)
        np.subtract(logw, top[:, None], out=logw)
        np.exp(logw, out=logw)
        total = logw.sum(axis=1)
        marg = (logw @ self.configs) / total[:, None]
        log_evidence = top + np.log(total)
        bad = top < ZERO_EVIDENCE
        if bad.any():
            marg[bad] = np.nan
            log_evidence[bad] = -np.inf
        jt = None
        if joint:
            jt = logw / total[:, None]
            jt[bad] = np.nan
        return marg, log_evidence, jt

    def _log_prior_table(self, rf_codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(table (P, 2^K), pattern_of (n,)): the distinct risk-factor patterns' log P(C, answered
        risk factors), and each row's index into it."""
        keys = (rf_codes + 1) @ self._pattern_radix
        uniq, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        return self._log_prior_by_pattern(rf_codes[first]), inverse.reshape(-1)

    def _lattice_keys(self, rf_codes: np.ndarray) -> np.ndarray:
        """(n,) each row's risk-factor pattern key; fills the log prior of patterns not seen yet
        into ``_log_rows`` (a lazily written array: pages never written take no memory)."""
        keys = (rf_codes + 1) @ self._pattern_radix
        new = np.unique(keys[~self._filled[keys]])
        if len(new):
            first = np.unique(keys, return_index=True)[1]
            by_key = dict(zip(keys[first].tolist(), first.tolist(), strict=True))
            patterns = rf_codes[[by_key[k] for k in new.tolist()]]
            self._log_rows[self.n_block_rows + new] = safe_log(self.prior_rows(patterns))
            self._filled[new] = True
        return keys

    def _log_prior_by_pattern(self, rf_codes: np.ndarray) -> np.ndarray:
        """(n, 2^K) log P(C, answered risk factors).

        A fully answered row is one row of the compiled ``log J``; a partly answered pattern with
        unanswered set U is one row of the marginal table ``S_U = sum over U's axes of J`` (see
        :meth:`_marginal_table`), picked by the answered risk factors. Log rows are cached per
        distinct pattern.
        """
        full = (rf_codes >= 0).all(axis=1)
        if full.all():
            return self.log_joint_rc[rf_codes @ self._grid_radix]
        out = np.empty((rf_codes.shape[0], self.log_joint_rc.shape[1]))
        if full.any():
            out[full] = self.log_joint_rc[rf_codes[full] @ self._grid_radix]
        partial = np.nonzero(~full)[0]
        keys = (rf_codes[partial] + 1) @ self._pattern_radix
        uniq, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        keys_list = [int(k) for k in uniq.tolist()]
        rows = {k: self._partial_cache[k] for k in keys_list if k in self._partial_cache}
        missing = [i for i, key in enumerate(keys_list) if key not in rows]
        if missing:
            patterns = rf_codes[partial[first[missing]]]
            log_prior = safe_log(self.prior_rows(patterns))
            new = {keys_list[i]: row for i, row in zip(missing, log_prior, strict=True)}
            rows.update(new)
            if len(self._partial_cache) + len(new) > 4096:  # bounded: at most ~64 MiB of cached log-priors
                self._partial_cache.clear()
            self._partial_cache.update(new)
        table = np.stack([rows[k] for k in keys_list])
        out[partial] = table[inverse.reshape(-1)]
        return out

    def prior_rows(self, patterns: np.ndarray) -> np.ndarray:
        """(m, 2^K) P(C, answered risk factors) for m risk-factor answer patterns (-1 = unknown).

        Exact sum over the unanswered risk factors' states, grouped by the unanswered set U: with
        few completions (``prod of U's cards <= 16``) each pattern sums its consistent rows of
        ``J``; with many, patterns read one row of the (small, cached) marginal table ``S_U``,
        ``J`` summed over U's axes. Either way a pattern no longer costs a pass over the grid.
        """
        patterns = np.asarray(patterns, dtype=np.int64).reshape(-1, len(self.risk_factor_ids))
        n_rf = patterns.shape[1]
        out = np.empty((patterns.shape[0], self.joint_rc.shape[1]))
        unknown = (patterns < 0) @ (1 << np.arange(n_rf, dtype=np.int64))
        for mask in np.unique(unknown).tolist():
            rows = np.nonzero(unknown == mask)[0]
            free = [j for j in range(n_rf) if mask >> j & 1]
            known = [j for j in range(n_rf) if not mask >> j & 1]
            completions = int(np.prod(self.rf_cards[free])) if free else 1
            if completions <= 16:
                base = np.maximum(patterns[rows], 0) @ self._grid_radix  # (r,) grid row with U at state 0
                offsets = self.grid[:, free] @ self._grid_radix[free] if free else np.zeros(1, dtype=np.int64)
                offsets = np.unique(offsets)  # (completions,) every state combination of U
                idx = base[:, None] + offsets[None, :]
                out[rows] = self.joint_rc[idx].sum(axis=1)
            else:
                table = self._marginal_table(int(mask), free)
                if known:
                    radix = np.concatenate([np.cumprod(self.rf_cards[known][::-1])[::-1][1:], [1]]).astype(np.int64)
                    out[rows] = table[patterns[np.ix_(rows, known)] @ radix]
                else:
                    out[rows] = table[0]
        return out

    def _marginal_table(self, mask: int, free: list[int]) -> np.ndarray:
        """(prod of the answered risk factors' cards, 2^K) ``S_U``: ``J`` summed over the risk
        factors ``free`` (bit j of ``mask``), answered ones in row-major order. Cached: only
        called with more than 16 completions, so every table has fewer than 32 rows."""
        hit = self._marginal_cache.get(mask)
        if hit is None:
            grid = self.joint_rc.reshape(*self.rf_cards, -1)
            hit = grid.sum(axis=tuple(free)).reshape(-1, self.joint_rc.shape[1])
            self._marginal_cache[mask] = hit
        return hit


def _reorder_states(cpd, order: list[str] | None) -> np.ndarray:
    """The CPD's values as (n_states, *parent cards), with ``var``'s states in ``order`` and each
    condition parent's states as present, absent."""
    values = cpd.get_values().reshape([cpd.cardinality[0], *cpd.cardinality[1:]])
    names = cpd.state_names
    index = []
    for axis, v in enumerate(cpd.variables):
        current = list(names[v])
        wanted = order if (axis == 0 and order) else (["present", "absent"] if set(current) == {"present", "absent"} and axis > 0 else current)
        index.append([current.index(s) for s in wanted])
    return values[np.ix_(*index)]
