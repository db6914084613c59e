"""Clinical reasoning around a posterior: why, how sure, and what to ask next.

- **Why**: each answer's effect on each condition = the posterior with all answers minus the
  posterior without that one answer, with the priors (source + quote) that link them, and the
  Bayes factor of that answer in context.
- **How sure**: the case is re-scored under 128 parameter sets drawn from the priors' ranges (a
  Latin hypercube, ``model.inference.draws``); the 5th-95th percentiles (Harrell-Davis,
  ``model.reasoning.quantiles``) form each condition's interval.
- **What next**: unanswered questions ranked by expected information gain over the joint of the
  conditions, with questions that could reveal a must-not-miss condition or a red flag first while
  that is still plausible; ``should_stop`` when nothing is worth asking.
- **Sensitivity**: which priors move a condition's posterior most across their ranges.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd

from ..inference.case_variants import CaseVariants, MarginalTables
from ..inference.draw_engine import DrawEngine
from ..inference.draws import draw_values, sweep_values
from ..inference.grouped_draws import PRECISIONS
from ..parameters import build_parameters
from ..priors import Prior
from .quantiles import ESTIMATORS, quantiles

if TYPE_CHECKING:
    from ..inference.engine import Engine, EngineResult
    from ..priors import Priors


class CaseModel(Protocol):
    """What the reasoning reads from a loaded model (``model.hipmodel.HipModel`` is one). A
    protocol, so that ``reasoning`` never imports the model that uses it (no import cycle)."""

    priors: Priors
    engine: Engine
    evidence_order: list[str]

    @property
    def conditions(self) -> list[str]: ...

    @property
    def variables(self) -> dict[str, Any]: ...

    def parse_evidence(self, evidence: Mapping[str, Any]) -> dict[str, str]: ...

    def codes(self, evidence: Mapping[str, str]) -> tuple[np.ndarray, np.ndarray]: ...

    def infer(self, evidence_rows: list[Mapping[str, str]], joint: bool = False) -> EngineResult: ...

SEVERE_LEVELS = ("emergency", "urgent")
MAX_CONDITIONED = 4096  # cached conditioned likelihood blocks (Reasoner._case_likelihoods); this network has < 100
LN2 = float(np.log(2.0))
EFFECT_DECIMALS = 12  # effects equal to this many decimals are listed by variable name
TINY = 1e-300  # below this a probability's entropy term is 0 to the precision of a double sum


@dataclass(frozen=True)
class ReasoningSettings:
    """Knobs of the reasoning, with the defaults a clinician-facing answer uses."""

    draws: int = 128  # Latin-hypercube draws: as precise as 200 independent ones (docs/benchmarks.md)
    seed: int = 0
    interval_level: float = 0.90
    sampling: str = "latin_hypercube"  # or "independent" (model.inference.draws.SAMPLINGS)
    quantile_estimator: str = "harrell_davis"  # or "linear" (model.reasoning.quantiles.ESTIMATORS)
    # the per-draw posteriors in float32 (relative error ~1e-6, far below the intervals' Monte Carlo
    # error of ~1e-2; a case that could underflow is redone in float64) or "double"
    # (model.inference.grouped_draws.PRECISIONS)
    draw_precision: str = "single"
    max_questions: int = 5
    stop_below_bits: float = 0.02  # no question worth asking below this expected gain
    must_not_miss_plausible: float = 1 / 3  # fraction of a posterior rule's threshold
    min_must_not_miss_bits: float = 0.005
    min_red_flag_probability: float = 0.005
    swap_fraction: float = 0.05  # flag the top two when they swap in at least this share of draws


def _odds(p: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return p / (1.0 - p)


def _entropy_bits(p: np.ndarray, axis: int = -1) -> np.ndarray:
    """Shannon entropy in bits along ``axis`` (0 log 0 = 0)."""
    return _entropy_terms(p).sum(axis=axis)


def _entropy_terms(p: np.ndarray) -> np.ndarray:
    """-p log2 p elementwise (0 log 0 = 0; rounding below 0 counts as 0): scipy's ``entr`` / ln 2.
    The logarithm is taken of max(p, 1e-300), so p = 0 gives 0 * log2(1e-300) = 0 (a p below
    1e-300 gives a term below 1e-297 either way) without a masked pass."""
    p = np.maximum(p, 0.0)
    out = np.log2(np.maximum(p, TINY))
    out *= p
    return np.negative(out, out=out)


def _binary_entropy_bits(p: np.ndarray) -> np.ndarray:
    """H(p) in bits elementwise: the entropy of (p, 1 - p)."""
    return _entropy_terms(p) + _entropy_terms(1.0 - p)


class Reasoner:
    """Reasoning for one loaded model; the parameter draws are compiled once, at construction."""

    def __init__(self, model: CaseModel, settings: ReasoningSettings | None = None) -> None:
        self.model = model
        self.settings = settings or ReasoningSettings()
        priors = model.priors
        if self.settings.quantile_estimator not in ESTIMATORS:
            raise ValueError(f"quantile_estimator: {self.settings.quantile_estimator!r} is not one of {', '.join(ESTIMATORS)}")
        if self.settings.draw_precision not in PRECISIONS:
            raise ValueError(f"draw_precision: {self.settings.draw_precision!r} is not one of {', '.join(PRECISIONS)}")
        values = draw_values(priors, self.settings.draws, self.settings.seed, self.settings.sampling)
        self.draw_parameters = build_parameters(priors, values)
        self.draw_engine = DrawEngine(priors, self.draw_parameters, precision=self.settings.draw_precision)
        self._sweep: tuple[list[Prior], DrawEngine] | None = None
        self.must_not_miss = {r.condition: r.threshold.value for r in priors.posterior_rules}
        self.red_flag_rules = [r for r in priors.finding_rules if r.level in SEVERE_LEVELS]
        # P(finding state | condition config) for every (finding, state) row of the engine, and
        # H(finding | config) in bits per finding: the next-question gains are products with these.
        # A finding's rows are those of it answered alone (the rest of its evidence factor unanswered).
        engine = model.engine
        self._tables = MarginalTables(engine)  # the risk-factor prior summed over many unanswered, per set
        single = [engine.single_feature(f, s) for f, states in enumerate(engine.finding_states) for s in range(len(states))]
        lik = np.exp(engine.log_lik[single])
        self._lik = np.where(lik < 1e-300, 0.0, lik)  # (n_finding_states, 2^K)
        self._n_states = np.array([len(states) for states in engine.finding_states])
        self._offsets = np.concatenate([[0], np.cumsum(self._n_states)[:-1]]).astype(np.intp)
        self._finding_entropy = np.stack([
            _entropy_bits(self._lik[start:start + n].T) for start, n in zip(self._offsets, self._n_states, strict=True)])
        self._finding_index = {f: i for i, f in enumerate(engine.finding_ids)}
        self._rf_pos = {r: i for i, r in enumerate(engine.risk_factor_ids)}
        self._rf_card = dict(zip(engine.risk_factor_ids, engine.rf_cards.tolist(), strict=True))  # states per risk factor
        # P(F = s | C) rows, then H(F | C) rows: one product with the case's joint gives both
        self._lik_and_entropy = np.concatenate([self._lik, self._finding_entropy])
        # rows of _lik_and_entropy per finding (its states, then its entropy row): a case reads only its candidates'
        self._product_rows = [np.append(self._offsets[f] + np.arange(n), len(self._lik) + f)
                              for f, n in enumerate(self._n_states.tolist())]
        self._factor_of = engine.factor_of.tolist()
        self._grouped_findings = [f for f, g in enumerate(self._factor_of) if self._factor_of.count(g) > 1]
        # P(F = s | C, answered members of F's evidence factor) and H(F | C, those answers), per
        # (F, the factor's answered feature): finitely many keys (at most the engine's features
        # times the findings of a factor), so the cache is bounded by the network itself.
        self._conditioned: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}  # (block, rows) per key
        self._name_rank = {v: i for i, v in enumerate(sorted(model.evidence_order))}  # ties in the ranking: by name
        self._sources: dict[tuple[str, str], tuple[list[list[dict[str, str]]], list[str]]] = {}
        self._red_flag_rules_by_variable: dict[str, list] = {}
        for rule in self.red_flag_rules:
            for var in rule.when:
                self._red_flag_rules_by_variable.setdefault(var, []).append(rule)

    # ------------------------------------------------------------------ why
    def effects(self, parsed: Mapping[str, str], point: np.ndarray,
                variants: CaseVariants | None = None) -> dict[str, list[dict[str, Any]]]:
        """Per condition: each answer's effect and Bayes factor, largest effect first."""
        m = self.model
        answered = list(parsed)
        if not answered:
            return {c: [] for c in m.conditions}
        variants = variants or self.variants(parsed)
        rf_vars = [v for v in answered if v in self._rf_pos]
        finding_vars = [v for v in answered if v not in self._rf_pos]
        rf_part, finding_part = variants.without([self._rf_pos[v] for v in rf_vars],
                                                 [self._finding_index[v] for v in finding_vars])
        without = np.concatenate([rf_part.marginals, finding_part.marginals])  # (n_answers, K)
        if rf_vars + finding_vars != answered:  # parsed evidence lists risk factors first; other mappings may not
            row = {v: i for i, v in enumerate(rf_vars + finding_vars)}
            without = without[[row[v] for v in answered]]
        effect = point[None, :] - without
        with np.errstate(divide="ignore", invalid="ignore"):
            factor = _odds(point)[None, :] / _odds(without)
        # Per condition: largest absolute effect first, ties by variable name (one lexsort for all).
        # Sizes are compared to 12 decimals: an answer with no path to a condition has an effect of
        # 0 up to rounding (about 1e-17), so such answers are listed by name, not by rounding noise.
        name_rank = np.array([self._name_rank[v] for v in answered])
        size = np.round(np.abs(effect.T), EFFECT_DECIMALS)
        order = np.lexsort((np.broadcast_to(name_rank, (len(m.conditions), len(answered))), -size)).tolist()
        effects, factors = effect.T.tolist(), factor.T.tolist()
        linked = [self._linked_sources(var, parsed[var]) for var in answered]  # per answer: (sources, links) per condition
        states = [parsed[var] for var in answered]
        out: dict[str, list[dict[str, Any]]] = {}
        by_condition = zip(zip(*[s[0] for s in linked], strict=True), zip(*[s[1] for s in linked], strict=True), strict=True)
        for j, (cid, (sources, links)) in enumerate(zip(m.conditions, by_condition, strict=True)):
            eff, fac = effects[j], factors[j]
            out[cid] = [{"variable": answered[i], "state": states[i], "effect": eff[i], "likelihood_ratio": fac[i],
                         "link": links[i], "sources": sources[i]} for i in order[j]]
        finite = np.isfinite(factor)
        if not finite.all():  # rare (a posterior of 0 or 1): no Bayes factor to give there
            for j, i in zip(*np.nonzero(~finite.T), strict=True):
                cid, var = m.conditions[j], answered[i]
                next(e for e in out[cid] if e["variable"] == var).pop("likelihood_ratio")
        return out

    def variants(self, parsed: Mapping[str, str]) -> CaseVariants:
        """The case's own tables, shared by effects and next questions."""
        rf, fd = self.model.codes(parsed)
        return CaseVariants(self.model.engine, rf[0], fd[0], self._tables)

    def _linked_sources(self, variable: str, state: str) -> tuple[list[list[dict[str, str]]], list[str]]:
        """For one answer, per condition (in order), the priors that link them directly (empty
        when only indirect), and the link ("direct" or "indirect"). Cached: the same answers
        recur in every diagnosis (finitely many: variables x states); the lists are shared
        between diagnoses, so treat them as read-only."""
        key = (variable, state)
        hit = self._sources.get(key)
        if hit is None:
            found = [self._find_sources(variable, state, c) for c in self.model.conditions]
            hit = self._sources[key] = (found, ["direct" if s else "indirect" for s in found])
        return hit

    def _find_sources(self, variable: str, state: str, condition: str) -> list[dict[str, str]]:
        priors = self.model.priors
        found: list[Prior] = []
        if variable in priors.findings:
            finding = priors.findings[variable]
            if condition in finding.causes:
                found.append(finding.causes[condition])
            if condition in finding.argues_against:  # an inhibiting link is a direct link too
                found.append(finding.argues_against[condition])
        elif variable in priors.risk_factors:
            for eff in priors.conditions[condition].effects:
                if eff.factor == variable:
                    # the answered state's relative risk; for the reference state, the others it is compared with
                    found.extend([eff.relative_risk[state]] if state in eff.relative_risk else eff.relative_risk.values())
        return [_cite(p) for p in found]

    def likelihood_ratios(self, evidence: Mapping[str, Any]) -> pd.DataFrame:
        """Long table (variable, state, condition, effect, likelihood_ratio, link) for notebooks."""
        parsed = self.model.parse_evidence(evidence)
        point = self.model.infer([parsed]).marginals[0]
        rows = []
        for cid, items in self.effects(parsed, point).items():
            for e in items:
                rows.append({"condition": cid, "variable": e["variable"], "state": e["state"], "effect": e["effect"],
                             "likelihood_ratio": e.get("likelihood_ratio", np.nan), "link": e["link"]})
        return pd.DataFrame(rows)

    # ------------------------------------------------------------------ how sure
    def intervals(self, parsed: Mapping[str, str], point: np.ndarray,
                  variants: CaseVariants | None = None) -> tuple[dict[str, tuple[float, float]], dict[str, Any]]:
        """Percentile intervals over the parameter draws (always containing the point estimate),
        and whether the top two conditions may swap order. ``variants`` (optional) gives the case's
        engine codes, so the answers are not encoded again."""
        if variants is None:
            draws = self.draw_engine.marginals(parsed)  # (D, K)
        else:
            draws = self.draw_engine.grouped.marginals(variants.rf_codes, variants.finding_codes)
        tail = (1.0 - self.settings.interval_level) / 2
        lo, hi = quantiles(draws, (tail, 1.0 - tail), self.settings.quantile_estimator)
        lo, hi = np.minimum(lo, point), np.maximum(hi, point)
        conds = self.model.conditions
        intervals = dict(zip(conds, zip(lo.tolist(), hi.tolist(), strict=True), strict=True))
        order = np.argsort(-point, kind="stable")
        top = order[:2].tolist()
        # the share of draws in which the second condition is above the first (NaN rows count as not)
        swap = np.count_nonzero(draws[:, top[1]] > draws[:, top[0]]) / draws.shape[0] if len(top) == 2 else 0.0
        info = {
            "interval_level": self.settings.interval_level,
            "draws": int(draws.shape[0]),
            "top_two": [conds[i] for i in top],
            "top_two_swap_fraction": swap,
            "top_two_may_swap": bool(swap >= self.settings.swap_fraction),
        }
        return intervals, info

    # ------------------------------------------------------------------ what next
    def next_questions(self, parsed: Mapping[str, str], point: np.ndarray,
                       variants: CaseVariants | None = None) -> tuple[list[dict[str, Any]], bool]:
        """Unanswered questions ranked for asking next, and whether to stop asking.

        For a finding F (a child of the conditions C), I(C; F | e) = H(F | e) - E[H(F | C)], and
        both terms come from the posterior joint over C and the compiled P(F | C): no extra
        inference. A risk factor R is a parent of C, so I(C; R | e) = H(C | e) - E_r[H(C | e, r)]
        needs one posterior per state of R.
        """
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):  # 0/0 and exp overflow are handled below
            return self._next_questions(parsed, point, variants)

    def _next_questions(self, parsed: Mapping[str, str], point: np.ndarray,
                        variants: CaseVariants | None) -> tuple[list[dict[str, Any]], bool]:
        """:meth:`next_questions` under numpy's error state (no warning for 0/0: it is set to 0)."""
        m, s = self.model, self.settings
        candidates = [v for v in m.evidence_order if v not in parsed]
        if not candidates:
            return [], True
        variants = variants or self.variants(parsed)
        base = variants.base()
        joint = base.joint[0] if not base.impossible[0] else np.zeros(base.joint.shape[1])  # (2^K,) bit j <=> condition j present
        h_base = float(_entropy_bits(joint))
        conditions = m.conditions
        plausible = [c for c, t in self.must_not_miss.items() if point[conditions.index(c)] >= t * s.must_not_miss_plausible]
        columns = [conditions.index(c) for c in plausible]
        h_now = _binary_entropy_bits(point[columns]) if plausible else np.zeros(0)  # H(c | e) in bits
        # Findings, all at once: P(state | e), E[H(F | C) | e] and P(c | e, state) are products with
        # the joint (and with the joint restricted to each plausible must-not-miss condition).
        offsets, n_states = self._offsets, self._n_states
        vectors = np.empty((joint.shape[0], 1 + len(plausible)))
        vectors[:, 0] = joint
        if plausible:
            np.multiply(joint[:, None], m.engine.configs[:, columns], out=vectors[:, 1:])
        n_rows = self._lik.shape[0]
        f_at, r_at = [], []  # candidate positions of findings and of risk factors
        for i, v in enumerate(candidates):
            (r_at if v in self._rf_pos else f_at).append(i)
        asked = [self._finding_index[candidates[i]] for i in f_at]
        if len(asked) * 2 > len(self._n_states):  # (finding states + findings, 1 + plausible)
            products = self._lik_and_entropy @ vectors
        else:  # few findings unanswered: read only their rows (the others are never looked at)
            products = np.zeros((self._lik_and_entropy.shape[0], vectors.shape[1]))
            if asked:
                read = np.concatenate([self._product_rows[f] for f in asked])
                products[read] = self._lik_and_entropy[read] @ vectors
        for _, (block, rows) in self._conditioned_blocks(variants):  # findings whose evidence factor has answered members
            products[rows] = block @ vectors
        state_probs = products[:n_rows, 0]
        totals = np.add.reduceat(state_probs, offsets)
        state_p = state_probs / np.repeat(totals, n_states)
        state_p[np.isnan(state_p)] = 0.0
        finding_eig = np.add.reduceat(_entropy_terms(state_p), offsets) - products[n_rows:, 0]
        finding_mnm = np.zeros(len(offsets))
        if plausible:
            after = products[:n_rows, 1:] / state_probs[:, None]  # P(c | e, F = s) per plausible c
            after[np.isnan(after)] = 0.0
            for i in range(len(plausible)):
                finding_mnm += h_now[i] - np.add.reduceat(state_p * _binary_entropy_bits(after[:, i]), offsets)
        # Per candidate: gain, must-not-miss bits, and the chance that it reveals a red flag.
        n = len(candidates)
        eig, mnm, reveal = np.empty(n), np.zeros(n), np.zeros(n)
        eig[f_at] = finding_eig[asked]
        mnm[f_at] = finding_mnm[asked]
        # Risk factors: one posterior (with its joint) per state of each unanswered one, in one call.
        rf_p = np.zeros(0)
        if r_at:
            weights, starts = variants.risk_factor_weights([self._rf_pos[candidates[i]] for i in r_at])
            # per row (r = one state of one unanswered risk factor): total Z, P(r | e) relative to
            # the case, H(C | e, r) = log2 Z - sum(w log2 w) / Z, and P(c | e, r) for plausible c
            total = weights.sum(axis=1)
            possible = total > 0
            logs = np.maximum(weights, TINY)  # weights are >= 0; a zero weight adds 0 * log2(TINY) = 0
            w_log_w = np.einsum("ij,ij->i", weights, np.log2(logs, out=logs))
            rf_weight = np.where(possible, np.exp(np.log(total) + variants.top - base.log_evidence[0]), 0.0)
            rf_entropy = np.where(possible, np.log2(total) - w_log_w / total, 0.0)
            rf_p = rf_weight / np.repeat(np.add.reduceat(rf_weight, starts), [self._rf_card[candidates[i]] for i in r_at])
            eig[r_at] = h_base - np.add.reduceat(rf_p * rf_entropy, starts)
            if plausible:
                rf_marg = (weights @ m.engine.configs[:, columns]) / total[:, None]
                rf_marg[~possible] = 0.0
                for i in range(len(plausible)):
                    mnm[r_at] += h_now[i] - np.add.reduceat(rf_p * _binary_entropy_bits(rf_marg[:, i]), starts)
            rf_start = dict(zip((candidates[i] for i in r_at), starts.tolist(), strict=True))
        for i, var in enumerate(candidates):
            rules = self._red_flag_rules_by_variable.get(var)
            if not rules:
                continue
            states = m.variables[var].states
            if var in self._rf_pos:
                p = rf_p[rf_start[var]:rf_start[var] + len(states)]
            else:
                at = offsets[self._finding_index[var]]
                p = state_p[at:at + len(states)]
            for rule in rules:
                if all(parsed.get(v) == st for v, st in rule.when.items() if v != var):
                    reveal[i] = max(reveal[i], float(p[states.index(rule.when[var])]))
        # The ranking in plain Python: a few dozen candidates at most (fewer calls than in numpy).
        gain = np.maximum(eig, 0.0).tolist()
        mnm_bits, reveal_p = mnm.tolist(), reveal.tolist()
        must = [b >= s.min_must_not_miss_bits for b in mnm_bits]
        flag = [p >= s.min_red_flag_probability for p in reveal_p]
        urgent = [a or b for a, b in zip(must, flag, strict=True)]
        priority = [1.0 + b + p if u else g for u, b, p, g in zip(urgent, mnm_bits, reveal_p, gain, strict=True)]
        name_rank = self._name_rank
        # highest priority first, ties by variable name; a NaN priority last (as numpy sorts it)
        order = sorted(range(n), key=lambda i: (-priority[i] if priority[i] == priority[i] else math.inf,
                                                name_rank[candidates[i]]))[: s.max_questions]
        should_stop = not any(urgent) and all(g < s.stop_below_bits for g in gain)  # False if any gain is NaN
        top = []
        for i in order:
            var = candidates[i]
            if must[i]:
                reason = "could reveal a must-not-miss condition (" + ", ".join(plausible) + ")"
            elif flag[i]:
                reason = "red-flag screening: the answer could change the triage level"
            else:
                reason = "most informative about the conditions"
            variable = m.variables[var]
            top.append({"variable": var, "question": variable.question, "states": list(variable.states),
                        "expected_information_gain": gain[i], "priority": priority[i], "reason": reason})
        return top, should_stop

    def _case_likelihoods(self, variants: CaseVariants) -> tuple[list[int], np.ndarray, np.ndarray, np.ndarray] | None:
        """Where the case changes the compiled P(F = s | C): an unanswered finding whose evidence
        factor has answered members is conditioned on them, P(F = s | C, those answers) = the
        ratio of two pattern rows. Returns None when no finding is, else (those findings, their
        (finding, state) rows, P(F = s | C, answers) for those rows (rows, 2^K), and H(F | C,
        answers) in bits for those findings (findings, 2^K))."""
        blocks = self._conditioned_blocks(variants)
        if not blocks:
            return None
        pending = [f for f, _ in blocks]
        index = np.concatenate([rows[:-1] for _, (_, rows) in blocks])
        return (pending, index, np.concatenate([block[:-1] for _, (block, _) in blocks]),
                np.stack([block[-1] for _, (block, _) in blocks]))

    def _conditioned_blocks(self, variants: CaseVariants) -> list[tuple[int, tuple[np.ndarray, np.ndarray]]]:
        """Per finding conditioned on the answered members of its evidence factor (see
        :meth:`_case_likelihoods`): (finding, (block, rows)), ``block`` = its rows P(F = s | C,
        answers) then H(F | C, answers) in bits ((states + 1, 2^K)), ``rows`` = where they go in
        ``_lik_and_entropy`` (its (finding, state) rows, then its entropy row). Cached per
        (finding, the factor's answered feature): finitely many keys."""
        engine = self.model.engine
        codes = variants.finding_codes.tolist()
        base = variants.feature_of.tolist()  # per factor, the case's feature (-1: none of its findings answered)
        factor_of = self._factor_of
        keys = [(f, base[factor_of[f]]) for f in self._grouped_findings if codes[f] < 0 and base[factor_of[f]] >= 0]
        if not keys:
            return []
        cache = self._conditioned
        got = {k: cache.get(k) for k in keys}  # read once: another thread may clear the cache meanwhile
        missing = [k for k, v in got.items() if v is None]
        if missing:
            if len(cache) + len(missing) > MAX_CONDITIONED:  # bounded (the keys are finite anyway)
                cache.clear()
            pairs = [(f, s) for f, _ in missing for s in range(self._n_states[f])]
            rows = np.repeat(variants.finding_codes[None, :], len(pairs), axis=0)
            rows[np.arange(len(pairs)), [f for f, _ in pairs]] = [s for _, s in pairs]
            factors = engine.factor_of[[f for f, _ in pairs]]
            with_f = engine.feature_index(rows)[np.arange(len(pairs)), factors]
            cond = np.exp(engine.log_lik[with_f] - engine.log_lik[variants.feature_of[factors]])
            cond = np.where(cond < 1e-300, 0.0, cond)
            at = 0
            for key in missing:
                f, n = key[0], int(self._n_states[key[0]])
                block = cond[at:at + n]
                got[key] = cache[key] = (np.concatenate([block, _entropy_terms(block).sum(axis=0)[None, :]]),
                                         self._product_rows[f])
                at += n
        return [(k[0], got[k]) for k in keys]

    # ------------------------------------------------------------------ sensitivity
    def sensitivity(self, evidence: Mapping[str, Any], condition: str) -> pd.DataFrame:
        """For one case: each prior at the low and high end of its range (others fixed), and the
        condition's posterior at each; sorted by swing (data for a tornado plot)."""
        m = self.model
        if condition not in m.conditions:
            raise ValueError(f"unknown condition {condition!r}; allowed: {', '.join(m.conditions)}")
        parsed = m.parse_evidence(evidence)
        if self._sweep is None:
            chosen, values = sweep_values(m.priors)
            self._sweep = (chosen, DrawEngine(m.priors, build_parameters(m.priors, values)))
        chosen, engine = self._sweep
        j = m.conditions.index(condition)
        post = engine.marginals(parsed)[:, j]
        base = float(m.infer([parsed]).marginals[0, j])
        frame = pd.DataFrame({
            "prior": [p.path for p in chosen], "kind": [p.kind for p in chosen], "value": [p.value for p in chosen],
            "low": [p.low for p in chosen], "high": [p.high for p in chosen],
            "posterior_at_low": post[0::2], "posterior_at_high": post[1::2],
        })
        frame["posterior"] = base
        frame["swing"] = (frame["posterior_at_high"] - frame["posterior_at_low"]).abs()
        return frame.sort_values(["swing", "prior"], ascending=[False, True], ignore_index=True)


def _cite(p: Prior) -> dict[str, str]:
    out = {"prior": p.path, "kind": p.kind, "value": f"{p.value:g}"}
    if p.source:
        out["source"] = p.source
    if p.quote:
        out["quote"] = p.quote
    if p.reason:
        out["reason"] = p.reason
    return out
