"""Posteriors of one case and of its one-answer variants, from the case's own tables.

Why: the reasoning around a diagnosis needs the case's posterior and joint, the posterior with
each answer left out (effects), and the posterior with each unanswered risk factor answered
(next-question gains). Sent through the engine as rows, each variant repeats the findings'
likelihood product and the risk-factor prior lookup. Here the findings' log-likelihood over the
``2**K`` condition configurations is summed once; a variant then only swaps the risk-factor prior
(a sum over the grid's unanswered axes) or drops one finding's row. Same arithmetic as the
engine's full path, so the same numbers to rounding (tested against it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .engine import Engine
from .engine_math import ZERO_EVIDENCE


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


class CaseVariants:
    """One case, given as engine codes (-1 = unanswered), and its variants."""

    def __init__(self, engine: Engine, rf_codes: Sequence[int], finding_codes: Sequence[int]) -> None:
        self.engine = engine
        self.rf_codes = np.asarray(rf_codes, dtype=np.int64).reshape(-1)
        self.finding_codes = np.asarray(finding_codes, dtype=np.int64).reshape(-1)
        feats = engine.feature_index(self.finding_codes[None, :])[0]
        # answered evidence factor -> its feature (a dependent group of findings is one factor)
        self.features = {int(fi): int(x) for fi, x in enumerate(feats) if x >= 0}
        rows = engine.log_lik[list(self.features.values())]
        self.log_lik = rows.sum(axis=0) if len(rows) else np.zeros(engine.log_lik.shape[1])
        self.prior = self.rf_prior(self.rf_codes)
        self._base: VariantResult | None = None

    def rf_prior(self, rf_codes: np.ndarray, keep: int | None = None) -> np.ndarray:
        """(2^K,) P(C, answered risk factors): ``J`` summed over the unanswered risk factors
        (``Engine.prior_rows``); with ``keep`` (an unanswered risk factor), (its states, 2^K):
        that risk factor is not summed."""
        if keep is None:
            return self.engine.prior_rows(np.asarray(rf_codes)[None, :])[0]
        patterns = np.repeat(np.asarray(rf_codes, dtype=np.int64)[None, :], int(self.engine.rf_cards[keep]), axis=0)
        patterns[:, keep] = np.arange(patterns.shape[0])
        return self.engine.prior_rows(patterns)

    def _posterior(self, priors: np.ndarray, log_lik: np.ndarray, joint: bool = True) -> VariantResult:
        """Rows of P(C, risk factors) times rows (or one row) of exp(log-likelihood), normalised;
        ``joint=False`` leaves the posterior joint out."""
        top = log_lik.max(axis=-1, keepdims=True)
        weights = priors * np.exp(log_lik - top)
        total = weights.sum(axis=1)
        # zero total, or every configuration carries a log(0) stand-in (as in the engine)
        impossible = (total <= 0) | (np.broadcast_to(top.reshape(-1), total.shape) < ZERO_EVIDENCE)
        safe = np.where(impossible, 1.0, total)
        log_evidence = np.where(impossible, -np.inf, np.log(safe) + top.reshape(-1))
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
            self._base = self._posterior(self.prior[None, :], self.log_lik[None, :])
        return self._base

    def without(self, risk_factors: Sequence[int], findings: Sequence[int]) -> tuple[VariantResult, VariantResult]:
        """The case with one answer left out: one row per listed risk factor, then per finding
        (engine indices of answered variables). Marginals only."""
        patterns = np.repeat(self.rf_codes[None, :], len(risk_factors), axis=0)
        patterns[np.arange(len(risk_factors)), list(risk_factors)] = -1
        rf_part = self._posterior(self.engine.prior_rows(patterns), self.log_lik[None, :], joint=False)
        log_liks = np.empty((len(findings), self.log_lik.shape[0]))
        engine = self.engine
        for i, f in enumerate(findings):
            factor = int(engine.factor_of[f])
            feature = self.features[factor]
            codes = self.finding_codes.copy()
            codes[f] = -1
            replacement = int(engine.feature_index(codes[None, :])[0, factor])  # the factor's other answers, or -1
            if not engine.feature_has_zero[feature]:  # no log(0) stand-in: subtracting the row is exact enough
                log_liks[i] = self.log_lik - engine.log_lik[feature]
                if replacement >= 0:
                    log_liks[i] += engine.log_lik[replacement]
            else:  # a log(0) stand-in swamps the sum: add up the other rows instead
                others = [r for g, r in self.features.items() if g != factor] + ([replacement] if replacement >= 0 else [])
                log_liks[i] = engine.log_lik[others].sum(axis=0) if others else 0.0
        return rf_part, self._posterior(self.prior[None, :], log_liks, joint=False)

    def with_risk_factors(self, risk_factors: Sequence[int]) -> tuple[VariantResult, list[slice]]:
        """The case with each listed unanswered risk factor answered, one row per state (all in
        one result), and the rows of each risk factor."""
        rows, spans = [], []
        for j in risk_factors:
            card = int(self.engine.rf_cards[j])
            spans.append(slice(len(rows), len(rows) + card))
            for state in range(card):
                codes = self.rf_codes.copy()
                codes[j] = state
                rows.append(codes)
        patterns = np.array(rows, dtype=np.int64).reshape(-1, len(self.rf_codes))
        return self._posterior(self.engine.prior_rows(patterns), self.log_lik[None, :]), spans
