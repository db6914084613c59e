"""The batch engine: exact posteriors of many evidence rows at once, vectorised.

It reads ONE parameter set (a draw) of the compiled network
(:class:`model.inference.compiled.CompiledNetwork`: ``J[R, C]``, the evidence factors and their
pattern weights, the condition tables) and derives from those tables only its own arrays: the
log-likelihood rows of the factors' answer patterns, their blocks, the separable split and the
factored path's inputs. It never reads a CPD.

pgmpy's VariableElimination answers one case in milliseconds and has no batch query. The network
has a shape that makes exact batch inference cheap: a few root risk factors (R), a handful of
binary conditions (C) whose parents are risk factors or other conditions, and findings (F) whose
parents are conditions only (or other findings of their group). So, with ``2**K`` joint condition
configurations:

    P(C, e) = [sum over R consistent with e_R of P(R) P(C | R)] * prod_f P(e_f | C)

The bracket depends on the row only through its risk-factor answer pattern: rows are scored in
pattern order, each pattern's log prior row is computed once (a sum of at most 16 rows of the
compiled ``J[R, C]`` or one row of a marginal table) and kept in a bounded cache. The product is
one sparse product: a row picks one row per block of evidence factors (log P(answers | C)) and
its prior row. Stored rows are shifted to a maximum of 0, so the sum exponentiates without a
max pass (a row with a tiny total is redone with its own maximum). Conditions with no parent and
no child (see ``separable.py``) are summed out in closed form for every row whose table rows are
additive in them, so most rows enumerate ``2**(K - |P|)`` configurations; the others add only
their coupling rows at full width. Normalising over ``C`` gives every condition's exact
posterior. Rows are processed in bounded chunks and identical rows are scored once.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import multiprocessing
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from .compiled import CompiledNetwork
from .engine_math import NEG, ZERO_EVIDENCE, safe_log
from .factored import FactoredPath
from .separable import SeparableSplit


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
PRIOR_CACHE_BYTES = 24 * 2**20  # log prior rows of risk-factor patterns kept (narrow rows where possible)
SCRATCH_ROWS = 512  # rows whose prior rows are looked up at once (their uncached patterns go here)
MARGINAL_CACHE_ROWS = 2048  # rows of risk-factor marginal tables kept (21 MiB used with today's 8 risk factors)
PARALLEL_MIN_ROWS = 20_000  # distinct rows from which a call is split over threads (hipdx score's chunks are smaller)
SMALL_TOTAL = 1e-200  # below this a row's sum of exp(shifted log weights) is redone with its own maximum


class Engine:
    """Exact posteriors of the binary conditions for many evidence rows at once.

    Build it from a compiled network: ``Engine(compiled, draw=0)`` (``HipModel`` does so with its
    point parameters), or with :meth:`from_parameters` / :meth:`from_network` (the pgmpy reference).

    Evidence is passed as integer state codes in the network's own state order, ``-1`` for
    unknown: ``rf_codes`` (n, number of risk factors), ``finding_codes`` (n, number of findings).
    """

    def __init__(self, compiled: CompiledNetwork, draw: int = 0, chunk_rows: int = 512,
                 factored_chunk_rows: int = 16384, factored_min_rows: int = 16) -> None:
        """The engine of one parameter set (``draw``) of a :class:`CompiledNetwork`.

        Every table comes from ``compiled``: ``J[R, C]`` (:meth:`CompiledNetwork.joint_grid`), the
        evidence factors and their pattern weights, the condition tables of the factored path and
        of the separable split. Raises ``IndexError`` if ``draw`` is not one of its draws.
        """
        if not -compiled.draws <= draw < compiled.draws:
            raise IndexError(f"draw {draw} out of range: the compiled network has {compiled.draws} draw(s)")
        self.compiled = compiled
        self.draw = draw = draw % compiled.draws
        self.chunk_rows = chunk_rows
        self.factored_chunk_rows = factored_chunk_rows
        self.factored_min_rows = factored_min_rows
        self.risk_factor_ids = list(compiled.rf_ids)
        self.risk_factor_states = [list(s) for s in compiled.rf_states]
        self.condition_ids = list(compiled.conditions)
        self.finding_ids = list(compiled.finding_ids)
        self.finding_states = [list(s) for s in compiled.finding_states]
        k = len(self.condition_ids)
        # Condition configurations: bit j of the config index set <=> condition j present.
        self.configs = ((np.arange(2**k)[:, None] >> np.arange(k)[None, :]) & 1).astype(float)  # (2^K, K)
        present_idx = 1 - self.configs.astype(np.intp)  # state index per condition (0 = present)

        self.rf_cards = np.array(compiled.rf_cards, dtype=np.intp)
        self.grid = compiled.risk_grid  # (G, n_rf)
        p_grid = compiled.grid_prior(draw)
        rf_pos = {r: j for j, r in enumerate(self.risk_factor_ids)}
        cond_pos = {c: j for j, c in enumerate(self.condition_ids)}
        cond_rf_parents = [[rf_pos[p] for p in compiled.condition_parents[c][0]] for c in self.condition_ids]
        cond_cond_parents = [[cond_pos[p] for p in compiled.condition_parents[c][1]] for c in self.condition_ids]
        cond_tables = compiled.present_tables(draw)  # P(present | risk-factor parents, condition parents)
        joint = compiled.joint_grid(draw)  # J[R, C]
        self.joint_rc = joint  # (G, 2^K)
        self._marginal_cache: dict[int, np.ndarray] = {}
        self._narrow_marginal_cache: dict[int, np.ndarray] = {}
        self._offsets_cache: dict[int, np.ndarray] = {}

        # Evidence factors (a dependent group of findings is one factor over its answer patterns):
        # the compiled ones, at this draw.
        self.factors = [f if compiled.draws == 1 else dataclasses.replace(f, table=f.table[draw:draw + 1])
                        for f in compiled.factors]
        self.factor_of = compiled.factor_of
        pattern_weight = compiled.pattern_weight
        rows, offsets, features = [], [], []
        for factor in self.factors:
            offsets.append(len(rows))
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
            self.factor_offsets[self.factor_of[i]] + pattern_weight[i, self.factor_of[i]] - 1 for i in range(len(self.finding_ids))],
            dtype=np.intp)
        self.log_lik = np.array(rows).reshape(-1, 2**k)  # (S, 2^K)
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
        # The batch product reads one array of rows: the blocks' rows, then a bounded cache of the
        # log prior rows of risk-factor answer patterns, then scratch rows for the patterns of the
        # rows being scored that are not cached. Every row is stored minus its maximum (kept in
        # ``_row_shift``), so a row's sum of at most one row per block and its prior row is <= 0
        # and exponentiates without overflow.
        block_rows_all = np.concatenate(block_rows)
        self.n_block_rows = offset
        weights, block_shift = _normalise_rows(block_rows_all)
        # Conditions summed out in closed form for rows whose every table row is additive in them
        # (see separable.py). With such conditions the arrays are ``_narrow_q``/``_narrow_b`` (each row restricted
        # to the other conditions' configurations, plus its betas; ``_additive`` marks the rows
        # that allow it) and the cache holds narrow rows only: ``_weights`` keeps the blocks'
        # full rows and, per chunk, the full prior rows that its full-path rows need (a narrow
        # prior row spreads over P's bits in one pass).
        separable = [c for c in SeparableSplit.separable_conditions(cond_rf_parents, cond_cond_parents)
                     if 0 < float(cond_tables[c].reshape(-1)[0]) < 1]
        self._split = SeparableSplit(k, separable) if separable else None
        width = 2**k if self._split is None else self._split.width + len(separable)
        self._prior_cache_rows = max(int(PRIOR_CACHE_BYTES) // (8 * width), 0)
        size = self.n_block_rows + self._prior_cache_rows + SCRATCH_ROWS
        self._row_shift = np.zeros(size)
        self._row_shift[:self.n_block_rows] = block_shift
        self._additive = np.zeros(size, dtype=bool)
        # Columns of ``_weights`` in stored order: the configurations themselves, or with separable
        # conditions, P's combination-major (block s = ``q_columns + offsets[s]``).
        self._stored_order = np.arange(2**k)
        if self._split is None:
            self._weights = np.empty((size, 2**k))
            self._weights[:self.n_block_rows] = weights
        else:
            self._stored_order = np.concatenate([self._split.q_columns + off for off in self._split.offsets])
            self._weights = np.empty((self.n_block_rows + SCRATCH_ROWS, 2**k))
            self._weights[:self.n_block_rows] = weights[:, self._stored_order]
            packed, self._additive[:self.n_block_rows] = self._split.decompose(weights)
            self._narrow_q = np.zeros((size, self._split.width))  # each row at P = 0, over Q's configurations
            self._narrow_b = np.zeros((size, len(separable)))  # its betas (log odds shift of each P member)
            self._narrow_q[:self.n_block_rows] = packed[:, :self._split.width]
            self._narrow_b[:self.n_block_rows] = packed[:, self._split.width:]
            # The prior is exactly P(C_Q, r) * prod_p P(c_p) for these parentless, childless
            # conditions: pattern priors are summed over Q's configurations only (4x narrower),
            # then spread over P's bits with their constant log odds.
            pi = np.array([float(cond_tables[c].reshape(-1)[0]) for c in separable])
            self._prior_log_odds = np.log(pi) - np.log1p(-pi)
            self._joint_q = np.ascontiguousarray(joint[:, self._split.q_columns])  # J at P = 0
        self._stored_configs = np.ascontiguousarray(self.configs[self._stored_order])
        self._slot_of: dict[int, int] = {}  # pattern key -> cache slot
        self._next_slot = 0
        # Block combination of each row: (finding code + 1) weighted per (finding, block).
        block_weight = np.zeros((len(self.finding_ids), len(self._blocks)))
        for b, (members, strides, _) in enumerate(self._blocks):
            for f, stride in zip(members, strides, strict=True):
                block_weight[:, b] += pattern_weight[:, f] * stride
        self._block_weight = block_weight
        self._block_first = np.array([first for _, _, first in self._blocks], dtype=np.int64)
        # Row-major weights turning a fully answered risk-factor pattern into its grid row.
        self._grid_radix = np.concatenate([np.cumprod(self.rf_cards[::-1])[::-1][1:], [1]]).astype(np.int64)
        # The compiled condition tables have the risk-factor-first axis order the factored path reads.
        factored = FactoredPath(k, cond_rf_parents, cond_cond_parents, cond_tables, self.grid, safe_log(p_grid), features)
        self.factored = factored if factored.usable else None
        # The dense path writes per-call state (scratch prior rows, the prior cache): one call at a
        # time per engine. A large call is split over ``threads`` independent copies of the engine
        # (numpy releases the GIL in the products and exps), each with its own state.
        self.threads = max(1, min(multiprocessing.cpu_count(), 4))
        self._lock = threading.Lock()
        self._copies: list[Engine] = []

    def __deepcopy__(self, memo: dict) -> Engine:
        """A copy with its own per-call state (caches, scratch rows) sharing the compiled network,
        which no engine writes."""
        memo[id(self.compiled)] = self.compiled
        new = object.__new__(type(self))
        memo[id(self)] = new
        new.__setstate__(copy.deepcopy(self.__getstate__(), memo))
        return new

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        del state["_lock"], state["_copies"]
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
        self._copies = []

    # ----------------------------------------------------------------------------------------
    @classmethod
    def from_parameters(cls, priors, params, chunk_rows: int = 512) -> Engine:
        """The engine of draw 0 of :class:`model.parameters.Parameters`, compiled through
        :meth:`CompiledNetwork.from_parameters` (no pgmpy import: batch and HTTP workers need the
        engine, not the reference network). ``from_network`` on the built network gives the same
        tables (tested)."""
        return cls(CompiledNetwork.from_parameters(priors, params), chunk_rows=chunk_rows)

    @classmethod
    def from_network(cls, network, risk_factor_ids, condition_ids, finding_ids, chunk_rows: int = 512) -> Engine:
        """The engine of a pgmpy ``DiscreteBayesianNetwork`` of the three-layer shape, its CPDs
        read by :meth:`CompiledNetwork.from_pgmpy` (pgmpy's own state names; conditions binary
        with states ``present``/``absent``), so the engine answers exactly what the network says.
        """
        return cls(CompiledNetwork.from_pgmpy(network, risk_factor_ids, condition_ids, finding_ids), chunk_rows=chunk_rows)

    # ----------------------------------------------------------------------------------------
    def posterior(self, rf_codes: np.ndarray, finding_codes: np.ndarray, joint: bool = False,
                  dedupe: bool = True, factored: bool | None = None, threads: int | None = None) -> EngineResult:
        """Exact posteriors for every row; chunked so memory stays bounded for any n.

        ``rf_codes`` (n, risk factors) and ``finding_codes`` (n, findings) are state codes, -1 =
        unknown. With ``dedupe`` identical rows are scored once. Rows are processed in the order
        of their risk-factor answer pattern, so a chunk needs few prior rows (each computed once
        per pattern and kept in a bounded cache); results come back in the caller's order.
        ``factored``: send rows with every risk factor answered through :class:`FactoredPath`;
        by default only when the network has no separable condition (with them the dense path
        measured about twice as fast on fully answered rows).
        ``threads``: a call with at least ``PARALLEL_MIN_ROWS`` distinct rows is split over this many
        threads (default ``self.threads``: the machine's CPUs, at most 4), each on its own
        copy of the engine (made once, on first use); the numbers are the same as with one thread.
        Thread-safe: concurrent calls on one engine take turns (its scratch rows are per call).
        """
        if factored is None:
            factored = self._split is None
        rf_codes = np.asarray(rf_codes, dtype=np.int64).reshape(-1, len(self.risk_factor_ids))
        finding_codes = np.asarray(finding_codes, dtype=np.int64).reshape(-1, len(self.finding_ids))
        n = rf_codes.shape[0]
        if n > 64:
            if dedupe:  # unique rows, sorted with the risk factors as the leading bytes
                both = np.ascontiguousarray(np.concatenate([rf_codes, finding_codes], axis=1).astype(np.int8))
                keys = both.view(np.dtype((np.void, both.shape[1]))).reshape(-1)
                _, order, inverse = np.unique(keys, return_index=True, return_inverse=True)
                inverse = inverse.reshape(-1)
            else:
                order = np.argsort((rf_codes + 1) @ self._pattern_radix, kind="stable")
                inverse = np.empty(n, dtype=np.intp)
                inverse[order] = np.arange(n)
            res = self._posterior_parts(rf_codes[order], finding_codes[order], joint, factored, threads)
            return EngineResult(res.marginals[inverse], res.log_evidence[inverse],
                                None if res.joint is None else res.joint[inverse])
        with self._lock:
            return self._posterior_rows(rf_codes, finding_codes, joint, factored)

    def _posterior_parts(self, rf_codes: np.ndarray, finding_codes: np.ndarray, joint: bool, factored: bool,
                         threads: int | None) -> EngineResult:
        """Rows (already in pattern order) in one call, or, from ``PARALLEL_MIN_ROWS`` rows, in
        ``threads`` contiguous parts scored at once by independent copies of this engine."""
        n = rf_codes.shape[0]
        parts = max(1, min(int(self.threads if threads is None else threads), n // (PARALLEL_MIN_ROWS // 2) or 1))
        if n < PARALLEL_MIN_ROWS or parts == 1:
            with self._lock:
                return self._posterior_rows(rf_codes, finding_codes, joint, factored)
        with self._lock:
            while len(self._copies) < parts - 1:
                self._copies.append(copy.deepcopy(self))
            engines = [self, *self._copies[:parts - 1]]
        bounds = np.linspace(0, n, parts + 1).astype(int)

        def run(i: int) -> EngineResult:
            eng, lo, hi = engines[i], bounds[i], bounds[i + 1]
            with eng._lock:
                return eng._posterior_rows(rf_codes[lo:hi], finding_codes[lo:hi], joint, factored)

        with ThreadPoolExecutor(max_workers=parts - 1) as pool:
            futures = [pool.submit(run, i) for i in range(1, parts)]
            results = [run(0), *(f.result() for f in futures)]
        return EngineResult(np.concatenate([r.marginals for r in results]),
                            np.concatenate([r.log_evidence for r in results]),
                            None if not joint else np.concatenate([r.joint for r in results]))

    def _posterior_rows(self, rf_codes: np.ndarray, finding_codes: np.ndarray, joint: bool,
                        factored: bool) -> EngineResult:
        n = rf_codes.shape[0]
        marg = np.empty((n, len(self.condition_ids)))
        loge = np.empty(n)
        jnt = np.empty((n, self.configs.shape[0])) if joint else None
        if factored and not joint and self.factored is not None:
            for start in range(0, n, self.factored_chunk_rows):
                stop = min(n, start + self.factored_chunk_rows)
                marg[start:stop], loge[start:stop] = self._chunk_routed(rf_codes[start:stop], finding_codes[start:stop])
            return EngineResult(marg, loge, None)
        for rows, slots, start in self._dense_chunks(rf_codes, np.arange(n)):
            stop = start + len(rows)
            m, le, jt = self._chunk(finding_codes[start:stop], slots, joint)
            marg[start:stop], loge[start:stop] = m, le
            if joint:
                jnt[start:stop] = jt
        return EngineResult(marg, loge, jnt)

    def _dense_chunks(self, rf_codes: np.ndarray, rows: np.ndarray):
        """Yield (rows of a dense chunk, their prior rows in ``_weights``, position in ``rows``).

        Prior rows are looked up for ``SCRATCH_ROWS`` rows at a time (fewer, larger lookups); the
        dense work runs ``chunk_rows`` rows at a time, small enough for the (chunk, 2^K) array to
        stay in cache."""
        step = max(1, int(self.chunk_rows))
        for outer in range(0, len(rows), SCRATCH_ROWS):
            block = rows[outer:outer + SCRATCH_ROWS]
            slots = self._prior_slots(rf_codes[block])
            for start in range(0, len(block), step):
                yield block[start:start + step], slots[start:start + step], outer + start

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
        for rows, slots, _ in self._dense_chunks(rf_codes, partial):
            marg[rows], loge[rows], _ = self._chunk(finding_codes[rows], slots, False)
        return marg, loge

    def _chunk(self, finding_codes: np.ndarray, prior_slots: np.ndarray, joint: bool):
        """Marginals, log P(evidence) and (with ``joint``) the posterior over configurations of
        a chunk of rows, given each row's prior row in ``_weights`` (:meth:`_prior_slots`).

        log P(C, e) per row = its risk-factor pattern's log prior + one row per block of answered
        evidence factors: one sparse product (a row has a handful of non-zeros). Stored rows are
        shifted to a maximum of 0, so the sum is <= 0 and its exp cannot overflow; the shifts are
        added back to log P(e). A row whose exp-sum is tiny (far below every row's own maximum)
        is redone with its own maximum subtracted, as a log-sum-exp would.
        """
        n = finding_codes.shape[0]
        cols = np.empty((n, len(self._blocks) + 1), dtype=np.int64)
        combo = ((finding_codes + 1).astype(float) @ self._block_weight).astype(np.int64)  # exact small integers
        np.copyto(cols[:, :-1], np.where(combo > 0, self._block_first[None, :] + combo, 0))
        cols[:, -1] = prior_slots
        shift = self._row_shift[cols].sum(axis=1)
        marg = np.empty((n, len(self.condition_ids)))
        log_evidence = np.empty(n)
        narrow = np.zeros(n, dtype=bool)
        if self._split is not None and not joint:
            narrow = self._additive[cols].all(axis=1)
        jt = None
        if narrow.any():
            rows = np.nonzero(narrow)[0]
            done = self._narrow_rows(cols[rows], shift[rows])
            marg[rows[done[0]]], log_evidence[rows[done[0]]] = done[1], done[2]
            narrow[rows[~done[0]]] = False  # too small a total: the full enumeration below
        full = np.nonzero(~narrow)[0]
        if len(full):
            m, le, jt = self._full_rows(cols[full], shift[full], joint)
            marg[full], log_evidence[full] = m, le
        bad = ~(log_evidence >= ZERO_EVIDENCE)
        if bad.any():
            marg[bad] = np.nan
            log_evidence[bad] = -np.inf
            if jt is not None:
                jt[bad] = np.nan
        return marg, log_evidence, jt

    @staticmethod
    def _design(cols: np.ndarray, width: int) -> sparse.csr_matrix:
        """(n, width) 0/1 matrix with ones at each row's non-zero ``cols``."""
        nonzero = cols > 0
        indices = cols[nonzero]  # row-major: each row's columns together
        indptr = np.zeros(cols.shape[0] + 1, dtype=np.int64)
        np.cumsum(nonzero.sum(axis=1), out=indptr[1:])
        return sparse.csr_matrix((np.ones(len(indices)), indices, indptr), shape=(cols.shape[0], width))

    def _narrow_rows(self, cols: np.ndarray, shift: np.ndarray):
        """Rows whose table rows are all additive in the separable conditions: (done (n,) bool,
        marginals, log P(e)) of the rows done; a row with too small a total is left to the full
        enumeration."""
        split = self._split
        design = self._design(cols, self._narrow_q.shape[0])
        w = design @ self._narrow_q  # (n, width): log weight of Q's configurations with P absent
        betas = design @ self._narrow_b  # (n, |P|): log odds of each separable condition
        np.exp(w, out=w)
        total = w.sum(axis=1)
        done = total >= SMALL_TOTAL
        if not done.all():
            w, betas, total, shift = w[done], betas[done], total[done], shift[done]
        marg = np.empty((len(total), split.k))
        marg[:, split.others] = (w @ split.q_only) / total[:, None]
        marg[:, split.separable] = 1.0 / (1.0 + np.exp(-betas))
        log_evidence = shift + np.log(total) + np.logaddexp(0.0, betas).sum(axis=1)
        return done, marg, log_evidence

    def _full_log_weights(self, cols: np.ndarray) -> np.ndarray:
        """(n, 2^K) log P(C, e) - shift of rows given their ``cols``, columns in stored order.

        Without separable conditions: one sparse product over ``_weights``. With them, only the
        rows that are not additive (the few answers coupling a separable condition, e.g. a pain
        site that two conditions cause) are added at full width; the additive rest is summed over
        Q's configurations and its betas, then spread over P's 2^|P| blocks of the stored order
        (block s = configurations ``q_columns + offsets[s]``) in one broadcast addition."""
        split = self._split
        if split is None:
            return self._design(cols, self._weights.shape[0]) @ self._weights
        additive = self._additive[cols]
        coupled = np.where(additive, 0, cols)
        prior = np.nonzero(coupled[:, -1] > 0)[0]
        if len(prior):
            coupled[prior, -1] = self._full_priors(coupled[prior, -1])
        logw = self._design(coupled, self._weights.shape[0]) @ self._weights
        design = self._design(np.where(additive, cols, 0), self._narrow_q.shape[0])
        blocks = logw.reshape(len(cols), len(split.offsets), split.width)
        blocks += (design @ self._narrow_q)[:, None, :]
        blocks += ((design @ self._narrow_b) @ split.on.T)[:, :, None]
        return logw

    def _full_rows(self, cols: np.ndarray, shift: np.ndarray, joint: bool):
        """Enumeration over every condition configuration: (marginals, log P(e), joint or None)."""
        w = self._full_log_weights(cols)
        np.exp(w, out=w)
        total = w.sum(axis=1)
        small = np.nonzero(~(total >= SMALL_TOTAL))[0]
        if len(small):
            again = self._full_log_weights(cols[small])
            top = again.max(axis=1)
            again = np.exp(again - top[:, None])
            w[small] = again
            total[small] = again.sum(axis=1)
            shift = shift.copy()
            shift[small] += top
        marg = (w @ self._stored_configs) / total[:, None]
        log_evidence = shift + np.log(total)
        jt = None
        if joint:
            jt = np.empty_like(w)
            jt[:, self._stored_order] = w / total[:, None]
        return marg, log_evidence, jt

    def _prior_slots(self, rf_codes: np.ndarray) -> np.ndarray:
        """(n,) the row of ``_weights`` holding each row's risk-factor pattern's shifted log prior.

        A pattern not cached yet is computed (:meth:`prior_rows`) into a free cache slot when it
        has at least two rows here (rows come sorted by pattern, so those are the frequent ones)
        and the cache is not full; otherwise into the scratch rows, which serve this chunk only.
        """
        keys = (rf_codes + 1) @ self._pattern_radix
        uniq, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
        slot_of = self._slot_of
        slots = np.array([slot_of.get(key, -1) for key in uniq.tolist()], dtype=np.int64)
        miss = np.nonzero(slots < 0)[0]
        if len(miss):
            keep = miss[counts[miss] >= 2][:self._prior_cache_rows - self._next_slot]
            scratch = np.setdiff1d(miss, keep)
            slots[keep] = self._next_slot + np.arange(len(keep))
            self._next_slot += len(keep)
            slot_of.update(zip(uniq[keep].tolist(), slots[keep].tolist(), strict=True))
            slots[scratch] = self._prior_cache_rows + np.arange(len(scratch))
            new = uniq[miss]
            patterns = (new[:, None] // self._pattern_radix[None, :]) % (self.rf_cards[None, :] + 1) - 1
            rows = self.n_block_rows + slots[miss]
            if self._split is None:
                self._weights[rows], self._row_shift[rows] = _normalise_rows(safe_log(self.prior_rows(patterns)))
            else:
                self._store_split_prior(rows, patterns)
        return self.n_block_rows + slots[inverse.reshape(-1)]

    def _store_split_prior(self, rows: np.ndarray, patterns: np.ndarray) -> None:
        """Write the patterns' shifted narrow log prior rows into rows ``rows`` of ``_narrow_q``/``_narrow_b``
        (their full rows are spread over P's bits when a chunk needs them: :meth:`_full_priors`).

        The shift is the full row's maximum, max over C_Q of log P(C_Q, P = 0, r) plus every
        positive log odds of P (the full row is the narrow one plus P's bits times their log odds).
        """
        log_q = safe_log(self._summed_rows(patterns, self._joint_q, self._narrow_marginal_cache))  # (m, width)
        top = log_q.max(axis=1)
        shift = np.where(top > NEG / 2, top + np.maximum(self._prior_log_odds, 0.0).sum(), 0.0)
        self._row_shift[rows] = shift
        self._narrow_q[rows] = log_q - shift[:, None]
        self._narrow_b[rows] = self._prior_log_odds[None, :]
        self._additive[rows] = (log_q > NEG / 2).all(axis=1)

    def _full_priors(self, rows: np.ndarray) -> np.ndarray:
        """The full shifted log prior rows of the narrow prior rows ``rows`` (n,), written into
        the scratch rows of ``_weights``; returns each one's row there (valid for this chunk)."""
        split = self._split
        uniq, inverse = np.unique(rows, return_inverse=True)
        base = self._narrow_q[uniq]
        full = self._weights[self.n_block_rows:self.n_block_rows + len(uniq)].reshape(len(uniq), len(split.offsets), -1)
        for s, on in enumerate(split.on):  # stored order: block s holds P's combination s
            full[:, s] = base + float(on @ self._prior_log_odds)
        return self.n_block_rows + inverse.reshape(-1)

    def prior_rows(self, patterns: np.ndarray) -> np.ndarray:
        """(m, 2^K) P(C, answered risk factors) for m risk-factor answer patterns (-1 = unknown).

        See :meth:`_summed_rows` (here with ``J`` itself)."""
        return self._summed_rows(patterns, self.joint_rc, self._marginal_cache)

    def _summed_rows(self, patterns: np.ndarray, joint: np.ndarray, cache: dict) -> np.ndarray:
        """(m, columns of ``joint``) ``joint`` (rows = risk-factor grid) summed over each pattern's
        consistent rows: with ``J``, P(C, answered risk factors).

        Exact sum over the unanswered risk factors' states. Patterns with few completions
        (``prod of U's cards <= 16``, U = the unanswered set) sum their consistent rows of ``J``,
        all of them in one sparse product; the others, grouped by U, read one row of the (small,
        cached) marginal table ``S_U``, ``J`` summed over U's axes. Either way a pattern costs at
        most 16 row additions, never a pass over the grid.
        """
        patterns = np.asarray(patterns, dtype=np.int64).reshape(-1, len(self.risk_factor_ids))
        n_rf = patterns.shape[1]
        out = np.empty((patterns.shape[0], joint.shape[1]))
        completions = np.prod(np.where(patterns < 0, self.rf_cards[None, :], 1), axis=1)
        few = np.nonzero(completions <= 16)[0]
        if len(few):
            sub = patterns[few]
            base = np.maximum(sub, 0) @ self._grid_radix  # (m,) grid row with the unanswered at state 0
            masks, inverse = np.unique((sub < 0) @ (1 << np.arange(n_rf, dtype=np.int64)), return_inverse=True)
            offsets = np.stack([self._completion_offsets(int(mask)) for mask in masks.tolist()])[inverse.reshape(-1)]
            valid = offsets >= 0  # (m, 16): each pattern's consistent grid rows = base + offsets
            rows = np.nonzero(valid)[0]
            design = sparse.csr_matrix((np.ones(len(rows)), (base[:, None] + offsets)[valid], np.concatenate(
                [[0], np.cumsum(valid.sum(axis=1))])), shape=(len(few), len(self.grid)))
            out[few] = design @ joint
        many = np.nonzero(completions > 16)[0]
        if len(many):
            unknown = (patterns[many] < 0) @ (1 << np.arange(n_rf, dtype=np.int64))
            for mask in np.unique(unknown).tolist():
                rows = many[unknown == mask]
                free = [j for j in range(n_rf) if mask >> j & 1]
                known = [j for j in range(n_rf) if not mask >> j & 1]
                table = self._marginal_table(int(mask), free, joint, cache)
                if known:
                    radix = np.concatenate([np.cumprod(self.rf_cards[known][::-1])[::-1][1:], [1]]).astype(np.int64)
                    out[rows] = table[patterns[np.ix_(rows, known)] @ radix]
                else:
                    out[rows] = table[0]
        return out

    def _completion_offsets(self, mask: int) -> np.ndarray:
        """(16,) grid-row offsets of every state combination of the risk factors in ``mask``
        (at most 16 of them), padded with -1; cached per mask."""
        hit = self._offsets_cache.get(mask)
        if hit is None:
            free = [j for j in range(len(self.rf_cards)) if mask >> j & 1]
            combos = np.array(list(itertools.product(*[range(self.rf_cards[j]) for j in free])), dtype=np.int64)
            found = combos.reshape(len(combos), -1) @ self._grid_radix[free] if free else np.zeros(1, dtype=np.int64)
            hit = np.full(16, -1, dtype=np.int64)
            hit[:len(found)] = found
            self._offsets_cache[mask] = hit
        return hit

    def _marginal_table(self, mask: int, free: list[int], joint: np.ndarray, cache: dict) -> np.ndarray:
        """(prod of the answered risk factors' cards, columns of ``joint``) ``S_U``: ``joint``
        summed over the risk factors ``free`` (bit j of ``mask``), answered ones in row-major
        order. Only called with more than 16 completions, so every table has fewer than 32 rows;
        kept in ``cache`` (at most ``MARGINAL_CACHE_ROWS`` rows in all)."""
        hit = cache.get(mask)
        if hit is None:
            grid = joint.reshape(*self.rf_cards, -1)
            hit = grid.sum(axis=tuple(free)).reshape(-1, joint.shape[1])
            if sum(len(t) for t in cache.values()) + len(hit) > MARGINAL_CACHE_ROWS:  # bounded memory
                cache.clear()
            cache[mask] = hit
        return hit


def _normalise_rows(log_rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rows minus their maximum, the maxima): a row that is impossible everywhere (maximum at
    the log(0) stand-in) is kept as it is with shift 0, so it still marks its rows impossible."""
    top = log_rows.max(axis=1)
    top = np.where(top > NEG / 2, top, 0.0)
    return log_rows - top[:, None], top

