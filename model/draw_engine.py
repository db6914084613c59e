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

from .engine_math import safe_log
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
        self.symbol_rf = {self.sym[r]: r for r in priors.risk_factors}
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
        self._init_factored(params)

    # ------------------------------------------------------------------ factored path
    def _init_factored(self, params: Parameters) -> None:
        """Per-draw tables for the factored path (see ``model.factored``), used when every risk
        factor is answered. Probabilities of 0 enter as log(0) = NEG, which the enumeration and
        the closed form (logaddexp) handle exactly."""
        k = len(self.conditions)
        cpos = {c: j for j, c in enumerate(self.conditions)}
        self.cond_parents = [[cpos[p] for p in params.condition_parents[c][1]] for c in self.conditions]
        self.rf_parents = [list(params.condition_parents[c][0]) for c in self.conditions]
        self.cond_tables = [params.condition_tables[c] for c in self.conditions]
        self.cluster_mask = 0
        for c, parents in enumerate(self.cond_parents):
            if parents:
                self.cluster_mask |= 1 << c
                for p in parents:
                    self.cluster_mask |= 1 << p
        # Per (finding, state): log P over parent configs (D, 2^npar; bit j <=> parent j present),
        # and, where log-linear in every draw, its per-condition log-odds shift (D, K).
        self.features: dict[tuple[str, str], tuple[list[int], np.ndarray, np.ndarray | None]] = {}
        for fid, fd in self.priors.findings.items():
            parents = [cpos[c] for c in params.finding_parents[fid]]
            npar = len(parents)
            bits = (np.arange(2**npar)[:, None] >> np.arange(npar)[None, :]) & 1
            on = params.finding_tables[fid].reshape(self.draws if params.finding_tables[fid].shape[0] == self.draws else 1, -1)
            on = np.broadcast_to(on, (self.draws, on.shape[1]))
            # table index of a parent config: C order over parents, axis index 0 = present
            flat = np.zeros(2**npar, dtype=np.intp)
            for j in range(npar):
                flat = flat * 2 + (1 - bits[:, j])
            for s_index, state in enumerate(fd.states):
                probs = on[:, flat] if s_index == 0 else 1.0 - on[:, flat]
                logp = safe_log(probs)
                beta = None
                if (probs > 0).all():
                    b = np.stack([logp[:, 1 << j] - logp[:, 0] for j in range(npar)], axis=1) if npar else np.zeros((self.draws, 0))
                    if np.abs(logp[:, :1] + b @ bits.T - logp).max() < 1e-12:
                        beta = np.zeros((self.draws, k))
                        beta[:, parents] = b
                self.features[(fid, state)] = (parents, logp, beta)

    def _factored(self, evidence: Mapping[str, str]) -> np.ndarray:
        d, k = self.draws, len(self.conditions)
        rf_index = {r: self.priors.risk_factors[r].states.index(evidence[r]) for r in self.priors.risk_factors}
        linear = np.zeros((d, k))
        mask = self.cluster_mask
        coupled = []
        for fid in self.priors.findings:
            if fid in evidence:
                parents, logp, beta = self.features[(fid, evidence[fid])]
                if beta is not None:
                    linear += beta
                else:
                    coupled.append((parents, logp))
                    for p in parents:
                        mask |= 1 << p
        # P(c present | this row's risk factors, condition-parent config) per draw: (D, 2^npar)
        p1 = []
        for c in range(k):
            t = self.cond_tables[c]
            t = np.broadcast_to(t, (d, *t.shape[1:]))[(slice(None), *[rf_index[r] for r in self.rf_parents[c]])]
            npar = len(self.cond_parents[c])
            bits = (np.arange(2**npar)[:, None] >> np.arange(npar)[None, :]) & 1
            flat = np.zeros(2**npar, dtype=np.intp)
            for j in range(npar):
                flat = flat * 2 + (1 - bits[:, j])
            p1.append(t.reshape(d, -1)[:, flat])
        marg = np.empty((d, k))
        for c in range(k):
            l1 = safe_log(p1[c][:, 0]) + linear[:, c]
            l0 = safe_log(1.0 - p1[c][:, 0])
            marg[:, c] = np.exp(l1 - np.logaddexp(l1, l0))
        members = [c for c in range(k) if mask >> c & 1]
        if not members:
            return marg
        u = len(members)
        pos = {c: i for i, c in enumerate(members)}
        cfg = ((np.arange(2**u)[:, None] >> np.arange(u)[None, :]) & 1).astype(float)
        shift = linear[:, members].copy()
        const = np.zeros(d)
        for i, c in enumerate(members):  # priors without condition parents are linear in the config
            if not self.cond_parents[c]:
                l1, l0 = safe_log(p1[c][:, 0]), safe_log(1.0 - p1[c][:, 0])
                shift[:, i] += l1 - l0
                const += l0
        logw = shift @ cfg.T + const[:, None]
        for i, c in enumerate(members):
            if self.cond_parents[c]:
                pcfg = np.zeros(2**u, dtype=np.intp)
                for j, p in enumerate(self.cond_parents[c]):
                    pcfg |= cfg[:, pos[p]].astype(np.intp) << j
                on = p1[c][:, pcfg]
                logw += np.where(cfg[None, :, i] == 1, safe_log(on), safe_log(1.0 - on))
        for parents, logp in coupled:
            pcfg = np.zeros(2**u, dtype=np.intp)
            for j, p in enumerate(parents):
                pcfg |= cfg[:, pos[p]].astype(np.intp) << j
            logw += logp[:, pcfg]
        w = np.exp(logw - logw.max(axis=1, keepdims=True))
        marg[:, members] = (w @ cfg) / w.sum(axis=1, keepdims=True)
        return marg

    def _plan(self, key: tuple, terms: list[str], operands: list[np.ndarray]):
        plan = self._plans.get(key)
        if plan is None:
            plan = oe.contract_expression(",".join(terms) + "->" + self.output, *[o.shape for o in operands],
                                          optimize="greedy")
            if len(self._plans) > 512:
                self._plans.clear()
            self._plans[key] = plan
        return plan

    def marginals(self, evidence: Mapping[str, str], factored: bool = True) -> np.ndarray:
        """(D, K) P(condition present | evidence) for every draw (NaN where impossible)."""
        if factored and all(r in evidence for r in self.priors.risk_factors):
            return self._factored(evidence)
        # Answered risk factors are sliced out of the condition factors (not just masked), so the
        # contraction only sums over the unanswered ones; P(answered) is a per-draw constant.
        rf_ids = list(self.priors.risk_factors)
        known = {r: self.priors.risk_factors[r].states.index(evidence[r]) for r in rf_ids if r in evidence}
        operands: list[np.ndarray] = []
        terms: list[str] = []
        for rid in rf_ids:
            if rid not in known:
                operands.append(self.rf_probs[rid])
                terms.append(self.rf_terms[rf_ids.index(rid)])
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
        answered = tuple(f for f in self.priors.findings if f in evidence)
        for fid in answered:
            on, off = self.finding_factors[fid]
            operands.append(on if self.priors.findings[fid].states.index(evidence[fid]) == 0 else off)
            terms.append(self.finding_terms[fid])
        operands = [np.broadcast_to(o, (self.draws, *o.shape[1:])) for o in operands]
        key = (tuple(sorted(known)), answered)
        joint = self._plan(key, terms, operands)(*operands).reshape(self.draws, -1).astype(np.float64)
        total = joint.sum(axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            return (joint @ self.present) / total
