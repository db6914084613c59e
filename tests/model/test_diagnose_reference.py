"""A full diagnosis equals a straightforward reference, number by number (1e-9).

The fast diagnose path (the case's own tables, the grouped per-draw method, vectorised variants)
is checked here against the plainest possible computation of the same quantities, kept in this
file: every variant of the case is a row through the batch engine (itself equal to pgmpy, see
``test_engine_exact``), every draw goes through the general tensor contraction, the next-question
gains are the brute-force I(C; X | e) = H(C | e) - sum_x P(x | e) H(C | e, x), the explanations a
full sort of the posterior joint, the interval ends scipy's Harrell-Davis quantiles. On simulated
runners with 30% of answers missing, on the bench's random evidence, and on the edge cases (nothing answered, everything answered, risk factors only).

The per-draw posteriors behind the intervals are computed in single precision by default
(``ReasoningSettings.draw_precision``, ``model.inference.grouped_draws``): the diagnosis's interval
ends are checked to ``SINGLE_TOL`` and the swap fraction up to draws whose top two are closer
than that; the same reasoning in double precision is checked to 1e-9.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats.mstats import hdquantiles

from service.bench import random_evidence

TOL = 1e-9
SINGLE_TOL = 1e-5  # float32 per-draw posteriors: about 1e-6 off the double ones (measured: at most 2e-6)


def _entropy_bits(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.nan_to_num(p), 0.0, None)
    with np.errstate(divide="ignore", invalid="ignore"):
        return -np.where(p > 0, p * np.log2(np.where(p > 0, p, 1.0)), 0.0).sum(axis=-1)


def _binary_bits(p: np.ndarray) -> np.ndarray:
    p = np.asarray(p, dtype=float)
    return _entropy_bits(np.stack([p, 1.0 - p], axis=-1))


class Reference:
    """The diagnosis's numbers computed row by row (no shared tables, no shortcuts)."""

    def __init__(self, m) -> None:
        self.m = m
        self.settings = m.reasoner.settings

    def rows(self, cases: list[dict[str, str]], joint: bool = False):
        return self.m.infer(cases, joint=joint)

    def posterior(self, parsed):
        res = self.rows([parsed], joint=True)
        return res.marginals[0], res.joint[0], res.log_evidence[0]

    def explanations(self, joint: np.ndarray, top: int = 5) -> list[dict]:
        configs = self.m.engine.configs
        order = np.lexsort((np.arange(len(joint)), configs.sum(axis=1), -joint))[:top]
        return [{"present": [c for c, bit in zip(self.m.conditions, configs[i], strict=True) if bit],
                 "probability": float(joint[i])} for i in order]

    def draws(self, parsed) -> np.ndarray:
        return self.m.reasoner.draw_engine.marginals(parsed, method="contraction")

    def intervals(self, parsed, point, margin: float = 0.0):
        """(lo, hi, top two, swap fraction, its range when the draws' top two may be off by
        ``margin``)."""
        draws = self.draws(parsed)
        tail = (1 - self.settings.interval_level) / 2
        # scipy's Harrell-Davis quantiles (the reasoning's default estimator), draws with NaN left out
        lo, hi = np.asarray(hdquantiles(np.ma.masked_invalid(draws), prob=[tail, 1 - tail], axis=0).filled(np.nan))
        lo, hi = np.minimum(lo, point), np.maximum(hi, point)
        top = np.argsort(-point, kind="stable")[:2]
        gap = draws[:, top[1]] - draws[:, top[0]]
        swap = float(np.mean(gap > 0))
        return lo, hi, [self.m.conditions[i] for i in top], swap, (float(np.mean(gap > margin)), float(np.mean(gap > -margin)))

    def effects(self, parsed, point) -> dict[str, dict[str, tuple[float, float | None]]]:
        answered = list(parsed)
        if not answered:
            return {c: {} for c in self.m.conditions}
        without = self.rows([{k: v for k, v in parsed.items() if k != var} for var in answered]).marginals
        out: dict[str, dict[str, tuple[float, float | None]]] = {}
        for j, c in enumerate(self.m.conditions):
            out[c] = {}
            for i, var in enumerate(answered):
                p0 = without[i, j]
                with np.errstate(divide="ignore", invalid="ignore"):
                    lr = (point[j] / (1 - point[j])) / (p0 / (1 - p0))
                out[c][var] = (float(point[j] - p0), float(lr) if np.isfinite(lr) else None)
        return out

    def next_questions(self, parsed, point, joint, log_evidence):
        m, s = self.m, self.settings
        candidates = [v for v in m.evidence_order if v not in parsed]
        h_base = float(_entropy_bits(joint))
        plausible = [c for c, t in m.reasoner.must_not_miss.items()
                     if point[m.conditions.index(c)] >= t * s.must_not_miss_plausible]
        scored = {}
        for var in candidates:
            states = m.variables[var].states
            res = self.rows([{**parsed, var: st} for st in states], joint=True)
            w = np.nan_to_num(np.exp(res.log_evidence - log_evidence))
            p = w / w.sum()
            eig = h_base - float(np.dot(p, _entropy_bits(res.joint)))
            mnm = sum(float(_binary_bits(point[m.conditions.index(c)])
                            - np.dot(p, _binary_bits(np.nan_to_num(res.marginals[:, m.conditions.index(c)]))))
                      for c in plausible)
            reveal = 0.0
            for rule in m.reasoner.red_flag_rules:
                if var in rule.when and all(parsed.get(v) == st for v, st in rule.when.items() if v != var):
                    reveal = max(reveal, float(p[states.index(rule.when[var])]))
            urgent = mnm >= s.min_must_not_miss_bits or reveal >= s.min_red_flag_probability
            scored[var] = (max(eig, 0.0), (1.0 + mnm + reveal) if urgent else max(eig, 0.0), urgent)
        return scored


def _cases(m) -> list[dict]:
    from model.simulate import simulate

    sim = simulate(m, 14, seed=4, missing=0.3)[m.evidence_order]
    simulated = [{k: v for k, v in row.items() if isinstance(v, str)} for row in sim.to_dict("records")]
    everything = {v: var.states[-1] for v, var in m.variables.items()}
    risk_only = {v: m.variables[v].states[0] for v in m.risk_factor_ids[:5]}
    return simulated + random_evidence(m, 14, seed=9) + [{}, everything, risk_only]


def test_diagnosis_equals_the_reference(model):
    ref = Reference(model)
    worst = {"posterior": 0.0, "effects": 0.0, "gains": 0.0, "explanations": 0.0}
    worst_interval = 0.0
    for case in _cases(model):
        parsed = model.parse_evidence(case)
        got = model.diagnose(case)
        point, joint, log_evidence = ref.posterior(parsed)
        by_id = {c.id: c for c in got.conditions}
        # posteriors (and the order they are listed in)
        worst["posterior"] = max(worst["posterior"], max(abs(by_id[c].probability - point[j])
                                                         for j, c in enumerate(model.conditions)))
        # explanations: the same sets, the same probabilities
        want = ref.explanations(joint)
        assert [e["present"] for e in got.explanations] == [e["present"] for e in want] or \
            np.allclose([e["probability"] for e in got.explanations], [e["probability"] for e in want], atol=TOL)
        worst["explanations"] = max(worst["explanations"], max(
            abs(a["probability"] - b["probability"]) for a, b in zip(got.explanations, want, strict=True)))
        # intervals over the same draws (128, a Latin hypercube, per-draw posteriors in single
        # precision), and the swap flag (draws whose top two are within single precision may count either way)
        lo, hi, top_two, _, (fewest, most) = ref.intervals(parsed, point, margin=SINGLE_TOL)
        for j, c in enumerate(model.conditions):
            worst_interval = max(worst_interval, abs(by_id[c].interval[0] - lo[j]), abs(by_id[c].interval[1] - hi[j]))
        info = got.extras["reasoning"]
        assert info["top_two"] == top_two
        assert fewest <= info["top_two_swap_fraction"] <= most
        # effects and Bayes factors, largest first (ties within rounding may list either first)
        want_effects = ref.effects(parsed, point)
        for c in model.conditions:
            items = by_id[c].evidence
            assert {e["variable"] for e in items} == set(parsed)
            for e in items:
                effect, lr = want_effects[c][e["variable"]]
                worst["effects"] = max(worst["effects"], abs(e["effect"] - effect))
                assert ("likelihood_ratio" in e) == (lr is not None)
                if lr is not None:
                    assert e["likelihood_ratio"] == pytest.approx(lr, rel=TOL, abs=TOL)
            sizes = [abs(e["effect"]) for e in items]
            assert all(a >= b - 1e-12 for a, b in zip(sizes, sizes[1:], strict=False))
        # next questions: gains, priorities, order and when to stop
        scored = ref.next_questions(parsed, point, joint, log_evidence)
        for q in got.next_questions:
            eig, priority, _ = scored[q["variable"]]
            worst["gains"] = max(worst["gains"], abs(q["expected_information_gain"] - eig), abs(q["priority"] - priority))
        ranked = sorted(scored, key=lambda v: (-scored[v][1], v))[: model.reasoner.settings.max_questions]
        got_order = [q["variable"] for q in got.next_questions]
        for a, b in zip(got_order, ranked, strict=True):
            assert a == b or abs(scored[a][1] - scored[b][1]) < TOL
        stop = not any(u for _, _, u in scored.values()) and (not scored or max(e for e, _, _ in scored.values()) < 0.02)
        assert info["should_stop"] == stop
    assert max(worst.values()) < TOL, worst
    assert worst_interval < SINGLE_TOL


def test_the_intervals_in_double_precision_equal_the_reference(model):
    """The reasoning's interval path (grouped per-draw posteriors, Harrell-Davis ends, widening,
    swap fraction) in double precision equals the reference to 1e-9, the swap fraction exactly."""
    from model.reasoning.reasoner import Reasoner, ReasoningSettings

    double = Reasoner(model, ReasoningSettings(draw_precision="double"))
    assert double.draw_engine.grouped.precision == "double" and model.reasoner.draw_engine.grouped.precision == "single"
    ref = Reference(model)
    worst = 0.0
    for case in _cases(model):
        parsed = model.parse_evidence(case)
        point = ref.posterior(parsed)[0]
        intervals, info = double.intervals(parsed, point, variants=double.variants(parsed))
        lo, hi, top_two, swap, _ = ref.intervals(parsed, point)
        for j, c in enumerate(model.conditions):
            worst = max(worst, abs(intervals[c][0] - lo[j]), abs(intervals[c][1] - hi[j]))
        assert info["top_two"] == top_two and info["top_two_swap_fraction"] == swap
    assert worst < TOL


def test_the_case_tables_are_used_for_a_plain_diagnosis_too(model):
    """``reasoning=False`` gives the same posterior, triage and explanations as the full diagnosis."""
    for case in random_evidence(model, 8, seed=2):
        plain, full = model.diagnose(case, reasoning=False), model.diagnose(case)
        assert [(c.id, c.probability) for c in plain.conditions] == [(c.id, c.probability) for c in full.conditions]
        assert plain.triage == full.triage and plain.explanations == full.explanations
        assert plain.next_questions is None and all(c.interval is None for c in plain.conditions)
