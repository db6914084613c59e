"""Posteriors of one case and of its one-answer variants, from the case's own tables.

Why: the reasoning around a diagnosis needs the case's posterior and joint, the posterior with
each answer left out (effects), and the posterior with each unanswered risk factor answered
(next-question gains). Sent through the engine as rows, each variant repeats the findings'
likelihood product and the risk-factor prior lookup. Here the findings' log-likelihood over the
``2**K`` condition configurations is summed once; a variant then only swaps the risk-factor prior
(a sum over the grid's unanswered axes) or drops one finding's row. Every prior row the case needs
(the case's, each answered risk factor left out, each unanswered one in each state) is made at
construction in one pass: from the slab of the engine's ``J[R, C]`` that the answered risk
factors select when it is small, else through ``Engine.prior_rows`` (its cached marginal tables).
Same arithmetic as the engine's full path, so the same numbers to rounding (tested against it).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .engine import Engine
from .engine_math import ZERO_EVIDENCE

SLAB_ROWS = 64  # grid rows a prior may sum from the case's slab; more go through Engine.prior_rows


@dataclass(frozen=True)
class VariantResult:
    """``marginals`` (n, K); ``joint`` (n, 2**K) posterior over condition configurations (None when
    not asked for);
    ``log_evidence`` (n,) up to a constant shared by variants with the same findings (so their
    differences are log likelihood ratios). Rows whose evidence is impossible are NaN / -inf."""

    marginals: np.ndarray
    joint: np.ndarray | None
    log_evidence: np.ndarray

    @property
    def impossible(self) -> np.ndarray:
        return ~np.isfinite(self.log_evidence)


class MarginalTables:
    """``J[R, C]`` summed over a set of risk factors, cached per set: read for priors whose
    unanswered risk factors have more than ``SLAB_ROWS`` completions (one of them possibly kept),
    so only sets with more than ``SLAB_ROWS // 4`` completions are kept: each table has fewer
    than ``len(grid) * 4 / SLAB_ROWS`` rows of 2^K. One per engine (the reasoner keeps it); the
    same sums as ``Engine.prior_rows``."""

    def __init__(self, engine: Engine) -> None:
        self.grid = engine.joint_rc.reshape(*engine.rf_cards.tolist(), -1)
        self.cards = engine.rf_cards.tolist()
        self._tables: dict[tuple[int, ...], np.ndarray] | None = None

    def _build(self) -> dict[tuple[int, ...], np.ndarray]:
        """Every table with more than ``SLAB_ROWS // 4`` completions, made on first use (all at
        once: about 0.1 s and 20 MB for this network), so no case pays for a missing one later."""
        tables = {}
        for size in range(1, len(self.cards) + 1):
            for free in itertools.combinations(range(len(self.cards)), size):
                if math.prod(self.cards[j] for j in free) > SLAB_ROWS // 4:
                    tables[free] = self.grid.sum(axis=free)
        return tables

    def row(self, rf_codes: np.ndarray, keep: int | None = None) -> np.ndarray:
        """(2^K,) P(C, answered risk factors) for codes with -1 = unanswered; with ``keep`` (an
        unanswered risk factor), (its states, 2^K): that one is not summed."""
        if self._tables is None:
            self._tables = self._build()
        free = tuple(j for j, c in enumerate(rf_codes.tolist()) if c < 0 and j != keep)
        table = self._tables.get(free)
        if table is None:  # few completions (not asked for by CaseVariants): sum them here
            table = self.grid.sum(axis=free) if free else self.grid
        return table[tuple(int(c) if c >= 0 else slice(None) for j, c in enumerate(rf_codes.tolist()) if j not in free)]


class CaseVariants:
    """One case, given as engine codes (-1 = unanswered), and its variants. ``tables``: the
    engine's :class:`MarginalTables` (shared between cases; a new one when not given)."""

    def __init__(self, engine: Engine, rf_codes: Sequence[int], finding_codes: Sequence[int],
                 tables: MarginalTables | None = None) -> None:
        self.engine = engine
        self.tables = tables if tables is not None else MarginalTables(engine)
        self.rf_codes = np.asarray(rf_codes, dtype=np.int64).reshape(-1)
        self.finding_codes = np.asarray(finding_codes, dtype=np.int64).reshape(-1)
        self.feature_of = engine.feature_index(self.finding_codes[None, :])[0]  # per factor, -1 = unanswered
        # answered evidence factor -> its feature (a dependent group of findings is one factor)
        self.features = {int(fi): int(x) for fi, x in enumerate(self.feature_of.tolist()) if x >= 0}
        rows = engine.log_lik[list(self.features.values())]
        self.log_lik = rows.sum(axis=0) if len(rows) else np.zeros(engine.log_lik.shape[1])
        self._top = float(self.log_lik.max())
        self._exp_lik = np.exp(self.log_lik - self._top)  # (2^K,) shared by every risk-factor variant
        cards = engine.rf_cards
        self._free = np.flatnonzero(self.rf_codes < 0).tolist()
        self._completions = int(np.prod(cards[self._free])) if self._free else 1
        self._grid = engine.joint_rc.reshape(*cards.tolist(), -1)
        self._slab = None
        if self._completions <= SLAB_ROWS:  # (*cards of the unanswered, 2^K): the grid rows the answers select
            self._slab = self._grid[tuple(int(c) if c >= 0 else slice(None) for c in self.rf_codes.tolist())]
            self.prior = self._slab.reshape(-1, self._slab.shape[-1]).sum(axis=0)
        else:
            self.prior = self.tables.row(self.rf_codes)
        self._set: dict[int, np.ndarray] | None = None
        self._left_out: dict[int, np.ndarray] = {}
        self._base: VariantResult | None = None

    def _variant_rows(self) -> None:
        """P(C, answered risk factors) for the case with each answered risk factor left out
        (``_left_out``), and with each unanswered one in each of its states (``_set``): once."""
        if self._set is not None:
            return
        engine, rf = self.engine, self.rf_codes
        cards = engine.rf_cards
        answered = np.flatnonzero(rf >= 0).tolist()
        free, completions, grid = self._free, self._completions, self._grid
        self._set = {}
        index = [int(c) if c >= 0 else slice(None) for c in rf.tolist()]
        if self._slab is not None:
            for i, j in enumerate(free):
                self._set[j] = self._slab.sum(axis=tuple(a for a in range(len(free)) if a != i))
        else:
            for j in free:
                self._set[j] = self.tables.row(rf, keep=j)
        for j in answered:
            if completions * cards[j] <= SLAB_ROWS:
                index[j] = slice(None)
                wider = grid[tuple(index)]
                index[j] = int(rf[j])
                self._left_out[j] = wider.reshape(-1, wider.shape[-1]).sum(axis=0)
            else:
                pattern = rf.copy()
                pattern[j] = -1
                self._left_out[j] = self.tables.row(pattern)

    def rf_prior(self, rf_codes: np.ndarray, keep: int | None = None) -> np.ndarray:
        """(2^K,) P(C, answered risk factors): ``J`` summed over the unanswered risk factors
        (``Engine.prior_rows``); with ``keep`` (an unanswered risk factor), (its states, 2^K):
        that risk factor is not summed."""
        if keep is None:
            return self.engine.prior_rows(np.asarray(rf_codes)[None, :])[0]
        patterns = np.repeat(np.asarray(rf_codes, dtype=np.int64)[None, :], int(self.engine.rf_cards[keep]), axis=0)
        patterns[:, keep] = np.arange(patterns.shape[0])
        return self.engine.prior_rows(patterns)

    def _posterior(self, priors: np.ndarray, log_lik: np.ndarray | None, joint: bool = True) -> VariantResult:
        """Rows of P(C, risk factors) times rows of exp(log-likelihood) (``None``: the case's own
        row), normalised; ``joint=False`` leaves the posterior joint out."""
        if log_lik is None:
            top = np.array([self._top])
            weights = priors * self._exp_lik
        else:
            top = log_lik.max(axis=-1)
            weights = priors * np.exp(log_lik - top[:, None])
        total = weights.sum(axis=1)
        # zero total, or every configuration carries a log(0) stand-in (as in the engine)
        impossible = (total <= 0) | (np.broadcast_to(top, total.shape) < ZERO_EVIDENCE)
        safe = np.where(impossible, 1.0, total)
        log_evidence = np.where(impossible, -np.inf, np.log(safe) + top)
        marginals = (weights @ self.engine.configs) / safe[:, None]
        marginals[impossible] = np.nan
        posterior_joint = None
        if joint:
            posterior_joint = weights / safe[:, None]
            posterior_joint[impossible] = np.nan
        return VariantResult(marginals, posterior_joint, log_evidence)

    def base(self) -> VariantResult:
        """The case itself (one row; computed once)."""
        if self._base is None:
            self._base = self._posterior(self.prior[None, :], None)
        return self._base

    def without(self, risk_factors: Sequence[int], findings: Sequence[int]) -> tuple[VariantResult, VariantResult]:
        """The case with one answer left out: one row per listed risk factor, then per finding
        (engine indices of answered variables). Marginals only."""
        self._variant_rows()
        priors = np.stack([self._left_out[j] for j in risk_factors]) if len(risk_factors) else \
            np.empty((0, self.log_lik.shape[0]))
        rf_part = self._posterior(priors, None, joint=False)
        engine = self.engine
        findings = np.asarray(findings, dtype=np.intp)
        n = len(findings)
        log_liks = np.empty((n, self.log_lik.shape[0]))
        if n:
            factor = engine.factor_of[findings]
            feature = self.feature_of[factor]
            codes = np.repeat(self.finding_codes[None, :], n, axis=0)
            codes[np.arange(n), findings] = -1
            replacement = engine.feature_index(codes)[np.arange(n), factor]  # the factor's other answers, or -1
            exact = ~engine.feature_has_zero[feature]  # no log(0) stand-in: subtracting the row is exact enough
            log_liks[:] = self.log_lik - engine.log_lik[feature]
            has = exact & (replacement >= 0)
            log_liks[has] += engine.log_lik[replacement[has]]
            for i in np.flatnonzero(~exact).tolist():  # a log(0) stand-in swamps the sum: add up the other rows
                f = int(factor[i])
                others = [r for g, r in self.features.items() if g != f] + ([int(replacement[i])] if replacement[i] >= 0 else [])
                log_liks[i] = engine.log_lik[others].sum(axis=0) if others else 0.0
        return rf_part, self._posterior(self.prior[None, :], log_liks, joint=False)

    def with_risk_factors(self, risk_factors: Sequence[int]) -> tuple[VariantResult, list[slice]]:
        """The case with each listed unanswered risk factor answered, one row per state (all in
        one result), and the rows of each risk factor."""
        self._variant_rows()
        spans, at = [], 0
        for j in risk_factors:
            card = int(self.engine.rf_cards[j])
            spans.append(slice(at, at + card))
            at += card
        priors = np.concatenate([self._set[j] for j in risk_factors]) if len(risk_factors) else \
            np.empty((0, self.log_lik.shape[0]))
        return self._posterior(priors, None), spans
