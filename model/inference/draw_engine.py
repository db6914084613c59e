"""Posteriors of ONE case under MANY parameter sets (draws).

The main engine is compiled for one parameter set and many cases. Intervals and sensitivity
need the opposite: one case, hundreds of parameter sets. Both methods here read one compiled
structure, :class:`model.inference.compiled.CompiledNetwork` (every table with a draw axis):

- ``grouped`` (the default): ``model.inference.grouped_draws``, which enumerates only the
  conditions the case's answers couple, planned once per case structure (about 1 ms a case here);
- ``contraction``: the whole network contracted with ``opt_einsum`` along a cached plan (risk
  factors summed out, findings reduced to the case's answers), giving the joint over the
  conditions for every draw at once (10-40 ms). Kept as the independent reference (tested equal).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import opt_einsum as oe

from ..parameters import Parameters
from ..priors import Priors
from .compiled import CompiledNetwork
from .grouped_draws import GroupedDraws

METHODS = ("auto", "grouped", "contraction")


class DrawEngine:
    """Exact posteriors for one evidence dict under every draw of a :class:`Parameters`.

    For the contraction, unanswered findings sum to one and are left out; its plan is cached per
    set of answered findings (planning takes about a millisecond).
    """

    def __init__(self, priors: Priors, params: Parameters, dtype: type = np.float64, precision: str = "double") -> None:
        """``dtype``: of the contraction's operands; ``precision``: of the grouped method
        ("double" or "single", ``model.inference.grouped_draws``; ValueError otherwise)."""
        self.priors = priors
        self.network = net = CompiledNetwork.from_parameters(priors, params)
        self.draws = net.draws
        self.conditions = net.conditions
        self.dtype = dtype
        symbols = iter(oe.get_symbol(i) for i in range(1000))
        self.d = next(symbols)
        self.sym = {v: next(symbols) for v in net.rf_ids + self.conditions}
        self.symbol_rf = {self.sym[r]: r for r in net.rf_ids}
        self.rf_probs = {r: np.ascontiguousarray(net.rf_probs[r], dtype=dtype) for r in net.rf_ids}
        self.rf_terms = [self.d + self.sym[r] for r in net.rf_ids]
        self.condition_factors, self.condition_terms = [], []
        for cid in self.conditions:
            rf_par, c_par = net.condition_parents[cid]
            on = net.condition_tables[cid]
            self.condition_factors.append(np.ascontiguousarray(np.stack([on, 1.0 - on], axis=1), dtype=dtype))
            self.condition_terms.append(self.d + self.sym[cid] + "".join(self.sym[p] for p in (*rf_par, *c_par)))
        # Evidence factors (a dependent group of findings is one table over its answer patterns).
        self.factors = net.factors
        self.factor_terms = [self.d + "".join(self.sym[c] for c in f.parents) for f in self.factors]
        self.output = self.d + "".join(self.sym[c] for c in self.conditions)
        k = len(self.conditions)
        # Joint index (C order over conditions, 0 = present) -> which conditions are present.
        bits = (np.arange(2**k)[:, None] >> np.arange(k - 1, -1, -1)[None, :]) & 1
        self.present = (bits == 0).astype(np.float64)  # (2^K, K)
        self._plans: dict[tuple[str, ...], object] = {}
        self.grouped = GroupedDraws(net, precision)

    def _plan(self, key: tuple, terms: list[str], operands: list[np.ndarray]):
        plan = self._plans.get(key)
        if plan is None:
            plan = oe.contract_expression(",".join(terms) + "->" + self.output, *[o.shape for o in operands],
                                          optimize="greedy")
            if len(self._plans) > 512:
                self._plans.clear()
            self._plans[key] = plan
        return plan

    def marginals(self, evidence: Mapping[str, str], method: str = "auto") -> np.ndarray:
        """(D, K) P(condition present | evidence) for every draw (NaN where impossible).

        ``evidence``: parsed answers (variable id -> state). Two exact methods, equal to rounding
        (tested): ``grouped`` (the default, also ``auto``) and ``contraction`` (the reference).
        """
        if method not in METHODS:
            raise ValueError(f"unknown method {method!r}; allowed: {', '.join(METHODS)}")
        if method in ("auto", "grouped"):
            return self.grouped.marginals(*self.network.codes(evidence))
        # Answered risk factors are sliced out of the condition factors (not just masked), so the
        # contraction only sums over the unanswered ones; P(answered) is a per-draw constant.
        rf_ids = self.network.rf_ids
        known = {r: self.priors.risk_factors[r].states.index(evidence[r]) for r in rf_ids if r in evidence}
        operands: list[np.ndarray] = []
        terms: list[str] = []
        for rid, term in zip(rf_ids, self.rf_terms, strict=True):
            if rid not in known:
                operands.append(self.rf_probs[rid])
                terms.append(term)
        for term, factor in zip(self.condition_terms, self.condition_factors, strict=True):
            index: list = [slice(None)] * factor.ndim
            kept = ""
            for axis, symbol in enumerate(term):
                rid = self.symbol_rf.get(symbol)
                if rid in known:
                    index[axis] = known[rid]
                else:
                    kept += symbol
            operands.append(factor[tuple(index)])
            terms.append(kept)
        answered = []
        for factor, term in zip(self.factors, self.factor_terms, strict=True):
            pattern = factor.pattern({m: self.priors.findings[m].states.index(evidence[m]) for m in factor.members if m in evidence})
            if pattern:
                answered.append(pattern)
                operands.append(np.ascontiguousarray(factor.table[:, pattern], dtype=self.dtype))
                terms.append(term)
            else:
                answered.append(0)
        answered = tuple(answered)
        operands = [np.broadcast_to(o, (self.draws, *o.shape[1:])) for o in operands]
        key = (tuple(sorted(known)), tuple(p > 0 for p in answered))
        joint = self._plan(key, terms, operands)(*operands).reshape(self.draws, -1).astype(np.float64)
        total = joint.sum(axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            return (joint @ self.present) / total
