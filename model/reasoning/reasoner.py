"""Clinical reasoning around a posterior: why, how sure, and what to ask next.

- **Why**: each answer's effect on each condition = the posterior with all answers minus the
  posterior without that one answer, with the priors (source + quote) that link them, and the
  Bayes factor of that answer in context.
- **How sure**: the case is re-scored under a few hundred parameter sets drawn from the priors'
  ranges (``model.draws``); the 5th-95th percentiles form each condition's interval.
- **What next**: unanswered questions ranked by expected information gain over the joint of the
  conditions, with questions that could reveal a must-not-miss condition or a red flag first while
  that is still plausible; ``should_stop`` when nothing is worth asking.
- **Sensitivity**: which priors move a condition's posterior most across their ranges.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd
from scipy.special import entr

from ..inference.case_variants import CaseVariants, MarginalTables
from ..inference.draw_engine import DrawEngine
from ..inference.draws import draw_values, sweep_values
from ..parameters import build_parameters
from ..priors import Prior

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
LN2 = float(np.log(2.0))


@dataclass(frozen=True)
class ReasoningSettings:
    """Knobs of the reasoning, with the defaults a clinician-facing answer uses."""

    draws: int = 200
    seed: int = 0
    interval_level: float = 0.90
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


def _percentiles(values: np.ndarray, qs: list[float]) -> np.ndarray:
    """Per column, numpy's default (linear) percentiles, ignoring NaN (a draw under which the
    evidence is impossible). One sort instead of np.nanpercentile's Python loop over columns."""
    if np.isnan(values).any():
        return np.nanpercentile(values, qs, axis=0)
    ordered = np.sort(values, axis=0)
    pos = np.asarray(qs, dtype=float) / 100.0 * (len(ordered) - 1)
    below = np.floor(pos).astype(int)
    above = np.minimum(below + 1, len(ordered) - 1)
    frac = (pos - below)[:, None]
    return ordered[below] + frac * (ordered[above] - ordered[below])


def _entropy_terms(p: np.ndarray) -> np.ndarray:
    """-p log2 p elementwise (0 log 0 = 0; rounding below 0 counts as 0), via scipy's entr."""
    return entr(np.maximum(p, 0.0)) / LN2


def _binary_entropy_bits(p: np.ndarray) -> np.ndarray:
    return _entropy_bits(np.stack([p, 1.0 - p], axis=-1))


class Reasoner:
    """Reasoning for one loaded model; the parameter draws are compiled once, at construction."""

    def __init__(self, model: CaseModel, settings: ReasoningSettings | None = None) -> None:
        self.model = model
        self.settings = settings or ReasoningSettings()
        priors = model.priors
        self.draw_parameters = build_parameters(priors, draw_values(priors, self.settings.draws, self.settings.seed))
        self.draw_engine = DrawEngine(priors, self.draw_parameters)
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
        self._sources: dict[tuple[str, str], list[list[dict[str, str]]]] = {}
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
        row = {v: i for i, v in enumerate(rf_vars)}
        row.update({v: len(rf_vars) + i for i, v in enumerate(finding_vars)})
        without = np.concatenate([rf_part.marginals, finding_part.marginals])[[row[v] for v in answered]]  # (n_answers, K)
        effect = point[None, :] - without
        with np.errstate(divide="ignore", invalid="ignore"):
            factor = _odds(point)[None, :] / _odds(without)
        # Per condition: largest absolute effect first, ties by variable name (one lexsort for all).
        name_rank = np.argsort(np.argsort(answered))
        order = np.lexsort((np.broadcast_to(name_rank, (len(m.conditions), len(answered))), -np.abs(effect.T))).tolist()
        effects, factors, finite = effect.T.tolist(), factor.T.tolist(), np.isfinite(factor).T.tolist()
        linked = [self._linked_sources(var, parsed[var]) for var in answered]  # per answer, per condition
        states = [parsed[var] for var in answered]
        out: dict[str, list[dict[str, Any]]] = {}
        for j, cid in enumerate(m.conditions):
            eff, fac, fin = effects[j], factors[j], finite[j]
            items = []
            for i in order[j]:
                sources = linked[i][j]
                link = "direct" if sources else "indirect"
                if fin[i]:
                    items.append({"variable": answered[i], "state": states[i], "effect": eff[i], "likelihood_ratio": fac[i],
                                  "link": link, "sources": sources})
                else:
                    items.append({"variable": answered[i], "state": states[i], "effect": eff[i], "link": link,
                                  "sources": sources})
            out[cid] = items
        return out

    def variants(self, parsed: Mapping[str, str]) -> CaseVariants:
        """The case's own tables, shared by effects and next questions."""
        rf, fd = self.model.codes(parsed)
        return CaseVariants(self.model.engine, rf[0], fd[0], self._tables)

    def _linked_sources(self, variable: str, state: str) -> list[list[dict[str, str]]]:
        """For one answer, per condition (in order), the priors that link them directly (empty
        when only indirect). Cached: the same answers recur in every diagnosis; the lists are
        shared between diagnoses, so treat them as read-only."""
        key = (variable, state)
        if key not in self._sources:
            self._sources[key] = [self._find_sources(variable, state, c) for c in self.model.conditions]
        return self._sources[key]

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
        tail = (1.0 - self.settings.interval_level) / 2 * 100
        lo, hi = _percentiles(draws, [tail, 100 - tail])
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
        m, s = self.model, self.settings
        engine = m.engine
        candidates = [v for v in m.evidence_order if v not in parsed]
        if not candidates:
            return [], True
        variants = variants or self.variants(parsed)
        base = variants.base()
        joint = np.nan_to_num(base.joint[0])  # (2^K,) over condition configs, bit j <=> condition j present
        h_base = float(_entropy_bits(joint))
        cpos = {c: j for j, c in enumerate(m.conditions)}
        plausible = [c for c, t in self.must_not_miss.items() if point[cpos[c]] >= t * s.must_not_miss_plausible]
        # Findings, all at once: P(state | e), E[H(F | C) | e] and P(c | e, state) are products with the joint.
        offsets = self._offsets
        cond = self._case_likelihoods(variants)
        state_probs = self._lik_times(cond, joint)  # (n_finding_states,)
        totals = np.add.reduceat(state_probs, offsets)
        with np.errstate(invalid="ignore", divide="ignore"):
            state_p = np.nan_to_num(state_probs / np.repeat(totals, self._n_states))
        expected_entropy = self._finding_entropy @ joint  # E[H(F | C) | e] per finding
        if cond is not None:
            expected_entropy[cond[0]] = cond[3] @ joint
        finding_eig = np.add.reduceat(_entropy_terms(state_p), offsets) - expected_entropy
        finding_mnm = np.zeros(len(engine.finding_ids))
        h_now = {c: float(_binary_entropy_bits(np.array(point[cpos[c]]))) for c in plausible}  # H(c | e) in bits
        for c in plausible:
            with np.errstate(invalid="ignore", divide="ignore"):
                after = np.nan_to_num(self._lik_times(cond, joint * engine.configs[:, cpos[c]]) / state_probs)
            finding_mnm += h_now[c] - np.add.reduceat(state_p * _binary_entropy_bits(after), offsets)
        # Risk factors: one posterior (with its joint) per state of each unanswered one, in one call.
        rf_vars = [v for v in candidates if v in self._rf_pos]
        rf_res, rf_spans = variants.with_risk_factors([self._rf_pos[v] for v in rf_vars])
        with np.errstate(invalid="ignore", over="ignore"):
            rf_weight = np.nan_to_num(np.exp(rf_res.log_evidence - base.log_evidence[0]))
        rf_entropy = _entropy_bits(np.nan_to_num(rf_res.joint))  # H(C | e, r) per row
        rf_mnm = [_binary_entropy_bits(np.nan_to_num(rf_res.marginals[:, cpos[c]])) for c in plausible]
        rf_span = dict(zip(rf_vars, rf_spans, strict=True))
        scored = []
        for var in candidates:
            states = m.variables[var].states
            if var in self._rf_pos:
                rows = rf_span[var]
                p = rf_weight[rows] / rf_weight[rows].sum()
                eig = h_base - float(np.dot(p, rf_entropy[rows]))
                mnm_bits = sum(float(h_now[c] - np.dot(p, h[rows])) for c, h in zip(plausible, rf_mnm, strict=True))
            else:
                f = self._finding_index[var]
                p = state_p[offsets[f]:offsets[f] + len(states)]
                eig, mnm_bits = float(finding_eig[f]), float(finding_mnm[f])
            reveal = 0.0
            for rule in self._red_flag_rules_by_variable.get(var, ()):
                if all(parsed.get(v) == st for v, st in rule.when.items() if v != var):
                    reveal = max(reveal, float(p[states.index(rule.when[var])]))
            urgent = mnm_bits >= s.min_must_not_miss_bits or reveal >= s.min_red_flag_probability
            scored.append((var, max(eig, 0.0), (1.0 + mnm_bits + reveal) if urgent else max(eig, 0.0), urgent,
                           mnm_bits >= s.min_must_not_miss_bits, reveal >= s.min_red_flag_probability))
        scored.sort(key=lambda q: (-q[2], q[0]))
        should_stop = not any(q[3] for q in scored) and max(q[1] for q in scored) < s.stop_below_bits
        top = []
        for var, eig, priority, _, must_not_miss, red_flag in scored[: s.max_questions]:
            if must_not_miss:
                reason = "could reveal a must-not-miss condition (" + ", ".join(plausible) + ")"
            elif red_flag:
                reason = "red-flag screening: the answer could change the triage level"
            else:
                reason = "most informative about the conditions"
            top.append({"variable": var, "question": m.variables[var].question, "states": list(m.variables[var].states),
                        "expected_information_gain": eig, "priority": priority, "reason": reason})
        return top, should_stop

    def _case_likelihoods(self, variants: CaseVariants) -> tuple[list[int], np.ndarray, np.ndarray, np.ndarray] | None:
        """Where the case changes the compiled P(F = s | C): an unanswered finding whose evidence
        factor has answered members is conditioned on them, P(F = s | C, those answers) = the
        ratio of two pattern rows. Returns None when no finding is, else (those findings, their
        (finding, state) rows, P(F = s | C, answers) for those rows (rows, 2^K), and H(F | C,
        answers) in bits for those findings (findings, 2^K))."""
        engine = self.model.engine
        codes = variants.finding_codes
        base = variants.feature_of  # per factor, the case's feature (-1: none of its findings answered)
        pending = [f for f in np.flatnonzero(codes < 0).tolist() if base[engine.factor_of[f]] >= 0]
        if not pending:
            return None
        pairs = [(f, s) for f in pending for s in range(self._n_states[f])]
        rows = np.repeat(codes[None, :], len(pairs), axis=0)
        rows[np.arange(len(pairs)), [f for f, _ in pairs]] = [s for _, s in pairs]
        factors = engine.factor_of[[f for f, _ in pairs]]
        with_f = engine.feature_index(rows)[np.arange(len(pairs)), factors]
        cond = np.exp(engine.log_lik[with_f] - engine.log_lik[base[factors]])
        cond = np.where(cond < 1e-300, 0.0, cond)
        entropy, at = [], 0
        for f in pending:
            n = int(self._n_states[f])
            entropy.append(_entropy_bits(cond[at:at + n].T))
            at += n
        index = [int(self._offsets[f]) + s for f, s in pairs]
        return pending, np.array(index, dtype=np.intp), cond, np.stack(entropy)

    def _lik_times(self, cond: tuple | None, vector: np.ndarray) -> np.ndarray:
        """P(F = s | C, the case's answers) @ vector, per (finding, state) row."""
        out = self._lik @ vector
        if cond is not None:
            out[cond[1]] = cond[2] @ vector
        return out

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
