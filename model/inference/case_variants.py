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

MAX_LOG_DIVISION = 600.0  # |log-likelihood| bound under which dividing a row out cannot overflow or underflow
ADD_ROWS = 64  # grid-row additions done one by one in place (no gathered copy); more read the slab at once
SLAB_ROWS = 16  # grid rows a prior row may sum; a pattern with more completions reads a marginal table


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
    """``J[R, C]`` summed over a set of risk factors, cached per set, and the grid-row offsets of
    a set's completions (state combinations). A prior row whose unanswered risk factors have more
    than ``SLAB_ROWS`` completions reads its table; one with fewer sums at most ``SLAB_ROWS``
    consistent grid rows. Only sets with more than ``SLAB_ROWS`` completions are kept: each table
    has fewer than ``len(grid) / SLAB_ROWS`` rows of 2^K. One per engine (the reasoner keeps it);
    the same sums as ``Engine.prior_rows``."""

    def __init__(self, engine: Engine) -> None:
        self.joint = engine.joint_rc  # (G, 2^K); grid rows in row-major order of the risk factors
        self.log_lik_source = engine.log_lik
        self.grid = engine.joint_rc.reshape(*engine.rf_cards.tolist(), -1)
        self.cards = engine.rf_cards.tolist()
        self.radix = [math.prod(self.cards[j + 1:]) for j in range(len(self.cards))]  # grid-row stride per risk factor
        self._tables: dict[tuple[int, ...], np.ndarray] | None = None
        self._offsets: dict[tuple[int, ...], np.ndarray] = {}
        self._states: dict[tuple[int, ...], list[tuple[int, ...]]] = {}
        # For an answer left out by division (CaseVariants.without): every feature row's
        # likelihood and its inverse, and the configurations with a column of ones (marginals and
        # total in one product). Used only where exact enough: no log(0) stand-in in the row, and
        # the log-likelihoods' spread over all factors too small for exp() to underflow.
        log_lik = engine.log_lik
        spread = float(np.ptp(log_lik, axis=1).max()) * int(engine.factor_of.max() + 1) if log_lik.size else 0.0
        self.divisible = ~engine.feature_has_zero & (np.abs(log_lik).max(axis=1) < MAX_LOG_DIVISION)
        self.division_safe = spread < MAX_LOG_DIVISION
        self._liks: tuple[np.ndarray, np.ndarray] | None = None  # one attribute: set at once (threads)
        self.configs_and_one = np.concatenate([engine.configs, np.ones((engine.configs.shape[0], 1))], axis=1)
        # Per finding: its step in its factor's feature numbering (a factor's feature = its offset
        # + sum over its answered findings of (code + 1) * step - 1, as Engine.feature_index numbers
        # them) and the number that means "nothing of the factor answered" (offset - 1). Leaving
        # finding f (code c) out of a factor's feature is then feature - (c + 1) * step[f].
        first = np.array([engine.single_feature(f, 0) for f in range(len(engine.finding_states))], dtype=np.intp)
        self.none_answered = engine.factor_offsets[engine.factor_of] - 1
        self.step = first - self.none_answered

    def likelihoods(self) -> tuple[np.ndarray, np.ndarray]:
        """(exp(log_lik), exp(-log_lik)), each (features, 2^K); made on first use (2 x 2.4 MB
        here). Rows that are not ``divisible`` are never read."""
        liks = self._liks
        if liks is None:
            safe = np.where(self.divisible[:, None], self.log_lik_source, 0.0)
            liks = self._liks = (np.exp(safe), np.exp(-safe))
        return liks

    def _build(self) -> dict[tuple[int, ...], np.ndarray]:
        """Every table with more than ``SLAB_ROWS`` completions, made on first use (all at once:
        about 0.1 s and 22 MB for this network), so no case pays for a missing one later."""
        tables = {}
        for size in range(1, len(self.cards) + 1):
            for free in itertools.combinations(range(len(self.cards)), size):
                if math.prod(self.cards[j] for j in free) > SLAB_ROWS:
                    tables[free] = self.grid.sum(axis=free)
        return tables

    def table(self, free: tuple[int, ...]) -> np.ndarray | None:
        """``J`` summed over the risk factors ``free`` (sorted), shape (cards of the others, 2^K);
        None when ``free`` has at most ``SLAB_ROWS`` completions (sum grid rows instead)."""
        if self._tables is None:
            self._tables = self._build()
        return self._tables.get(free)

    def completions(self, free: tuple[int, ...]) -> np.ndarray:
        """(completions,) grid-row offsets of every state combination of the risk factors
        ``free`` (row-major); cached per set (at most 2^n_rf sets)."""
        hit = self._offsets.get(free)
        if hit is None:
            hit = np.zeros(1, dtype=np.intp)
            for j in free:
                hit = (hit[:, None] + np.arange(self.cards[j]) * self.radix[j]).reshape(-1)
            self._offsets[free] = hit
        return hit

    def states(self, free: tuple[int, ...]) -> list[tuple[int, ...]]:
        """Per completion of ``free`` (the order of :meth:`completions`), the state of each."""
        hit = self._states.get(free)
        if hit is None:
            hit = self._states[free] = list(itertools.product(*[range(self.cards[j]) for j in free]))
        return hit

    def sum_rows(self, rows: list[int]) -> np.ndarray:
        """(2^K,) the grid rows ``rows`` of ``J`` added one by one in place (no gathered copy)."""
        joint = self.joint
        out = joint[rows[0]].copy()
        for r in rows[1:]:
            out += joint[r]
        return out

    def row(self, rf_codes: np.ndarray | list[int], keep: int | None = None) -> np.ndarray:
        """(2^K,) P(C, answered risk factors) for codes with -1 = unanswered; with ``keep`` (an
        unanswered risk factor), (its states, 2^K): that one is not summed."""
        codes = rf_codes if isinstance(rf_codes, list) else np.asarray(rf_codes).reshape(-1).tolist()
        free = tuple(j for j, c in enumerate(codes) if c < 0 and j != keep)
        table = self.table(free)
        if table is not None:
            return table[tuple(c if j != keep else slice(None) for j, c in enumerate(codes) if j not in free)]
        base = sum(c * self.radix[j] for j, c in enumerate(codes) if j not in free and j != keep)
        offsets = self.completions(free)
        offsets = (base + offsets).tolist()
        if keep is None:
            return self.sum_rows(offsets)
        step = self.radix[keep]
        return np.stack([self.sum_rows([o + s * step for o in offsets]) for s in range(self.cards[keep])])


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
        self._feature_rows = self.feature_of[self.feature_of >= 0]
        # the answered rows added in order (a reduction over axis 0 adds row by row, as the engine does)
        self.log_lik = engine.log_lik[self._feature_rows].sum(axis=0) if len(self._feature_rows) else \
            np.zeros(engine.log_lik.shape[1])
        self._top = float(self.log_lik.max())
        self._exp_lik = np.exp(self.log_lik - self._top)  # (2^K,) shared by every risk-factor variant
        self._codes = self.rf_codes.tolist()
        self._free = tuple(j for j, c in enumerate(self._codes) if c < 0)
        cards = self.tables.cards
        self._completions = math.prod(cards[j] for j in self._free)
        self.prior = self.tables.row(self._codes)
        self._set: dict[int, np.ndarray] | None = None
        self._left_out: dict[int, np.ndarray] = {}
        self._base: VariantResult | None = None

    @property
    def features(self) -> dict[int, int]:
        """Answered evidence factor -> its feature (a dependent group of findings is one factor)."""
        answered = np.flatnonzero(self.feature_of >= 0)
        return dict(zip(answered.tolist(), self.feature_of[answered].tolist(), strict=True))

    def _variant_rows(self) -> None:
        """P(C, answered risk factors) for the case with each answered risk factor left out
        (``_left_out``), and with each unanswered one in each of its states (``_set``): once.
        A row with more than ``SLAB_ROWS`` completions is a table row; the others are sums of
        grid rows: those of the unanswered set (the slab, read once) for ``_set``, and the case's
        prior plus the rows of the other states for ``_left_out``."""
        if self._set is not None:
            return
        t, codes, free = self.tables, self._codes, self._free
        cards, radix = t.cards, t.radix
        self._set = {}
        # every unanswered risk factor's rows in one array (free order): risk_factor_weights reads them at once
        self._set_rows = np.empty((sum(cards[j] for j in free), self.prior.shape[0]))
        from_slab = []
        at = 0
        for j in free:
            self._set[j] = self._set_rows[at:at + cards[j]]
            at += cards[j]
            table = t.table(tuple(a for a in free if a != j))
            if table is not None:  # its axes: the answered risk factors and j (as MarginalTables.row reads it)
                self._set[j][:] = table[tuple(c if c >= 0 else slice(None) for a, c in enumerate(codes) if c >= 0 or a == j)]
            else:
                from_slab.append(j)
        base = sum(c * radix[j] for j, c in enumerate(codes) if c >= 0)
        joint = t.joint
        if from_slab:
            offsets = (base + t.completions(free)).tolist()
            if len(offsets) * len(from_slab) <= ADD_ROWS:  # add each grid row to its state's row in place
                states = t.states(free)  # per completion, the state of each unanswered risk factor
                targets = [(self._set[j], free.index(j)) for j in from_slab]
                for rows, _ in targets:
                    rows[:] = 0.0
                for row, state in zip(offsets, states, strict=True):
                    grid_row = joint[row]
                    for rows, i in targets:
                        rows[state[i]] += grid_row
            else:  # at most SLAB_ROWS * 4 rows, read once: (*cards of the unanswered, 2^K)
                slab = joint[offsets].reshape(*[cards[j] for j in free], -1)
                for j in from_slab:
                    i = free.index(j)
                    pre, post = math.prod(slab.shape[:i]), math.prod(slab.shape[i + 1:-1])
                    part = slab.reshape(pre, cards[j], -1).sum(axis=0) if pre > 1 else slab.reshape(cards[j], -1)
                    self._set[j][:] = part.reshape(cards[j], post, -1).sum(axis=1) if post > 1 else part.reshape(cards[j], -1)
        completions = None
        for j, c in enumerate(codes):
            if c < 0:
                continue
            table = t.table(tuple(sorted(free + (j,))))
            if table is not None:  # its axes: the other answered risk factors
                self._left_out[j] = table[tuple(b for a, b in enumerate(codes) if b >= 0 and a != j)]
                continue
            # the case's own prior plus the grid rows with this risk factor in each of its other states
            if completions is None:
                completions = (base + t.completions(free)).tolist()
            row = self._left_out[j] = self.prior.copy()
            for other in range(cards[j]):
                if other != c:
                    shift = (other - c) * radix[j]
                    for offset in completions:
                        row += joint[offset + shift]

    def _posterior(self, priors: np.ndarray, log_lik: np.ndarray | None, joint: bool = True) -> VariantResult:
        """Rows of P(C, risk factors) times rows of exp(log-likelihood) (``None``: the case's own
        row), normalised; ``joint=False`` leaves the posterior joint out."""
        if log_lik is None:
            top = self._top
            weights = priors * self._exp_lik
        else:
            top = log_lik.max(axis=-1)
            weights = np.exp(log_lik - top[:, None])
            weights *= priors
        total = weights.sum(axis=1)
        # zero total, or every configuration carries a log(0) stand-in (as in the engine)
        impossible = (total <= 0) | (top < ZERO_EVIDENCE)
        if impossible.any():
            safe = np.where(impossible, 1.0, total)
            log_evidence = np.where(impossible, -np.inf, np.log(safe) + top)
        else:
            safe = total
            log_evidence = np.log(total) + top
        marginals = weights @ self.engine.configs
        marginals /= safe[:, None]
        posterior_joint = None
        if joint:
            posterior_joint = weights / safe[:, None]
        if impossible.any():
            marginals[impossible] = np.nan
            if posterior_joint is not None:
                posterior_joint[impossible] = np.nan
        return VariantResult(marginals, posterior_joint, log_evidence)

    def base(self) -> VariantResult:
        """The case itself (one row; computed once)."""
        if self._base is None:
            weights = self.prior * self._exp_lik  # (2^K,) P(C, e) / exp(_top)
            total = float(weights.sum())
            if total <= 0 or self._top < ZERO_EVIDENCE:  # impossible: as _posterior says it
                self._base = self._posterior(self.prior[None, :], None)
            else:
                self._base = VariantResult((weights @ self.engine.configs)[None, :] / total, (weights / total)[None, :],
                                           np.array([math.log(total) + self._top]))
            self._weights = weights
        return self._base

    def left_out_features(self, findings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For answered findings (engine indices, (n,)): the feature of each one's evidence
        factor in the case, and the factor's feature with that finding left out (-1 when no
        other finding of the factor is answered), both (n,), as ``Engine.feature_index`` would
        number them, by arithmetic on the numbering instead of a pattern product per finding."""
        t = self.tables
        feature = self.feature_of[self.engine.factor_of[findings]]
        replacement = feature - (self.finding_codes[findings] + 1) * t.step[findings]
        replacement[replacement == t.none_answered[findings]] = -1
        return feature, replacement

    def without(self, risk_factors: Sequence[int], findings: Sequence[int]) -> tuple[VariantResult, VariantResult]:
        """The case with one answer left out: one row per listed risk factor, then per finding
        (engine indices of answered variables). Marginals and log-evidence (no joint).

        A left-out finding divides its likelihood row out of the case's weights (and multiplies
        the row of its factor's other answers in): P(C | e without f) is proportional to
        P(C, e) / P(f | C). Marginals and totals of every variant then come from one product
        with the configurations, never a pass of exp() per variant. Falls back to
        :meth:`without_by_rows` where a row has a log(0) stand-in (division is undefined there)
        or the case is impossible."""
        t = self.tables
        findings = np.asarray(findings, dtype=np.intp)
        n = len(findings)
        feature, replacement = self.left_out_features(findings)
        has = np.flatnonzero(replacement >= 0)
        divisible = t.divisible
        if not (t.division_safe and divisible[feature].all() and divisible[replacement[has]].all()) \
                or self.base().impossible[0]:
            return self.without_by_rows(risk_factors, findings)
        self._variant_rows()
        n_rf = len(risk_factors)
        # rows of P(C, e without the answer) / exp(top), one per variant: a left-out risk factor's
        # prior row times the case's likelihood; a left-out finding's P(f | C)^-1 (times its
        # factor's other answers) times the case's weights. One product with the configurations
        # (and a column of ones) then gives every variant's marginals and total.
        rows = np.empty((n_rf + n, self.log_lik.shape[0]))
        if n_rf:
            left_out = self._left_out
            for i, j in enumerate(risk_factors):
                rows[i] = left_out[j]
            rows[:n_rf] *= self._exp_lik
        if n:
            lik, inverse = t.likelihoods()
            found = rows[n_rf:]
            np.take(inverse, feature, axis=0, out=found, mode="clip")  # valid rows; "raise" would copy first
            if len(has):
                found[has] *= lik[replacement[has]]
            found *= self._weights
        sums = rows @ t.configs_and_one
        total = sums[:, -1]
        marginals = sums[:, :-1]
        marginals /= total[:, None]
        log_evidence = np.log(total)
        log_evidence += self._top
        return (VariantResult(marginals[:n_rf], None, log_evidence[:n_rf]),
                VariantResult(marginals[n_rf:], None, log_evidence[n_rf:]))

    def without_by_rows(self, risk_factors: Sequence[int], findings: Sequence[int]) -> tuple[VariantResult, VariantResult]:
        """:meth:`without` computed row by row: each variant's log-likelihood summed again and
        exponentiated (the general path, for rows with a log(0) stand-in)."""
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
            features = self.features
            for i in np.flatnonzero(~exact).tolist():  # a log(0) stand-in swamps the sum: add up the other rows
                f = int(factor[i])
                others = [r for g, r in features.items() if g != f] + ([int(replacement[i])] if replacement[i] >= 0 else [])
                log_liks[i] = engine.log_lik[others].sum(axis=0) if others else 0.0
        return rf_part, self._posterior(self.prior[None, :], log_liks, joint=False)

    @property
    def top(self) -> float:
        """The case's largest log-likelihood: weights are relative to exp(top)."""
        return self._top

    def risk_factor_weights(self, risk_factors: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """P(C, answered risk factors, e) / exp(``top``) with each listed unanswered risk factor
        answered, one row per state (rows, 2^K), and the first row of each risk factor. The raw
        weights of :meth:`with_risk_factors` (its totals are ``log_evidence - top``)."""
        self._variant_rows()
        cards = self.tables.cards
        starts = np.array(list(itertools.accumulate([0] + [cards[j] for j in risk_factors[:-1]])) if len(risk_factors) else [],
                          dtype=np.intp)
        if not len(risk_factors):
            return np.empty((0, self.log_lik.shape[0])), starts
        if list(risk_factors) == list(self._free):  # the usual call: every unanswered one, in order
            return self._set_rows * self._exp_lik, starts
        return np.concatenate([self._set[j] for j in risk_factors]) * self._exp_lik, starts

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
