"""Posteriors of ONE case under MANY parameter sets (draws), as one tensor contraction.

The main engine is compiled for one parameter set and many cases. Intervals and sensitivity
need the opposite: one case, hundreds of parameter sets. Here every CPD carries a leading draw
axis and the whole network (risk factors summed out, findings reduced to the case's answers) is
contracted with ``opt_einsum`` along a path planned once, giving the joint over the conditions
for every draw at once.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import opt_einsum as oe

from .parameters import Parameters
from .priors import Priors


class DrawEngine:
    """Exact posteriors for one evidence dict under every draw of a :class:`Parameters`.

    Unanswered findings sum to one and are left out of the contraction; its plan is cached per
    set of answered findings (planning takes about a millisecond).
    """

    def __init__(self, priors: Priors, params: Parameters, dtype: type = np.float64) -> None:
        self.priors = priors
        self.draws = params.draws
        self.conditions = list(priors.conditions)
        self.dtype = dtype
        symbols = iter(oe.get_symbol(i) for i in range(1000))
        self.d = next(symbols)
        self.sym = {v: next(symbols) for v in list(priors.risk_factors) + self.conditions}
        self.rf_probs = {r: np.ascontiguousarray(params.risk_factor_probs[r], dtype=dtype) for r in priors.risk_factors}
        self.rf_terms = [self.d + self.sym[r] for r in priors.risk_factors]
        self.condition_factors, self.condition_terms = [], []
        for cid in self.conditions:
            rf_par, c_par = params.condition_parents[cid]
            on = params.condition_tables[cid]
            self.condition_factors.append(np.ascontiguousarray(np.stack([on, 1.0 - on], axis=1), dtype=dtype))
            self.condition_terms.append(self.d + self.sym[cid] + "".join(self.sym[p] for p in (*rf_par, *c_par)))
        self.finding_factors: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.finding_terms: dict[str, str] = {}
        for fid in priors.findings:
            on = params.finding_tables[fid]
            self.finding_factors[fid] = (np.ascontiguousarray(on, dtype=dtype), np.ascontiguousarray(1.0 - on, dtype=dtype))
            self.finding_terms[fid] = self.d + "".join(self.sym[c] for c in params.finding_parents[fid])
        self.output = self.d + "".join(self.sym[c] for c in self.conditions)
        k = len(self.conditions)
        # Joint index (C order over conditions, 0 = present) -> which conditions are present.
        bits = (np.arange(2**k)[:, None] >> np.arange(k - 1, -1, -1)[None, :]) & 1
        self.present = (bits == 0).astype(np.float64)  # (2^K, K)
        self._plans: dict[tuple[str, ...], object] = {}

    def _plan(self, answered: tuple[str, ...], operands: list[np.ndarray]):
        plan = self._plans.get(answered)
        if plan is None:
            terms = self.rf_terms + self.condition_terms + [self.finding_terms[f] for f in answered]
            plan = oe.contract_expression(",".join(terms) + "->" + self.output, *[o.shape for o in operands],
                                          optimize="greedy")
            if len(self._plans) > 512:
                self._plans.clear()
            self._plans[answered] = plan
        return plan

    def marginals(self, evidence: Mapping[str, str]) -> np.ndarray:
        """(D, K) P(condition present | evidence) for every draw (NaN where impossible)."""
        operands: list[np.ndarray] = []
        for rid, rf in self.priors.risk_factors.items():
            probs = self.rf_probs[rid]
            if rid in evidence:
                mask = np.zeros(len(rf.states), dtype=self.dtype)
                mask[rf.states.index(evidence[rid])] = 1.0
                probs = probs * mask
            operands.append(probs)
        operands += self.condition_factors
        answered = tuple(f for f in self.priors.findings if f in evidence)
        for fid in answered:
            on, off = self.finding_factors[fid]
            operands.append(on if self.priors.findings[fid].states.index(evidence[fid]) == 0 else off)
        operands = [np.broadcast_to(o, (self.draws, *o.shape[1:])) for o in operands]
        joint = self._plan(answered, operands)(*operands).reshape(self.draws, -1).astype(np.float64)
        total = joint.sum(axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            return (joint @ self.present) / total
