"""The network compiled ONCE: the one representation every exact algorithm reads.

:class:`CompiledNetwork` owns the network's shape and numbers, with a draw axis D (a point
estimate is D = 1; the parameter draws behind intervals and sensitivity are D = several hundred):

- variables: risk-factor, condition and finding ids, their states and cardinalities;
- risk factors: ``rf_probs[r]`` (D, card) population distribution (``rf_probs_last``: (card, D));
- conditions: ``condition_parents[c]`` = (risk-factor parents, condition parents) and
  ``condition_tables[c]`` (D, *risk-factor cards, 2 per condition parent) P(c present | parents),
  condition-parent axes index 0 = present; the same conditions grouped by ``caused_by``
  (``groups``, :class:`ConditionGroup`, each with its members' joint given its risk factors);
- evidence factors: ``factors`` (:func:`compile_factors`: a finding, or a group of findings linked
  by ``depends_on``, as one table over its answer patterns), their condition parents as indices
  (``factor_parents``), the finding -> factor map (``factor_of``) and the pattern weights that turn
  a case's finding codes into one answer pattern per factor (``pattern_weight``, :meth:`patterns`);
- the risk-factor grid and, per draw, ``J[R, C]`` = P(risk-factor configuration, condition
  configuration) (:meth:`risk_grid`, :meth:`joint_grid`).

It is built from :class:`model.parameters.Parameters` (:meth:`CompiledNetwork.from_parameters`:
``HipModel`` for its point parameters, the reasoning's draws for theirs) or read from the CPDs of a
pgmpy network (:meth:`CompiledNetwork.from_pgmpy`, the reference; pgmpy itself is not imported).
Readers: the batch engine (``model.inference.engine`` with its factored path and separable split,
and through it the case variants and the explanations), the per-draw methods
(``model.inference.grouped_draws``, ``model.inference.draw_engine``). None of them re-derives a
table from CPDs: this module is the only one that calls :func:`compile_factors` or reads a CPD.

Evidence factors. A finding that depends on no other finding (and on which none depends) is a
factor of its own. Findings linked by ``depends_on`` arcs (e.g. ``pain_lateral_hip ->
pain_lying_on_side``) form ONE factor over the group's *answer patterns*: every member
present/absent (first/second state) or unanswered, ``3**g`` patterns. Its table is

    P(pattern | C) = sum over the unanswered members' states of prod_i P(m_i | C, m_i's finding parents)

so, given the conditions, an answered member and an unanswered one stay dependent and nothing is
counted twice. The engine stays a one-hot matrix product: a row picks one pattern per factor.
Pattern index: ``sum_i (code_i + 1) * 3**i`` with code -1 = unanswered, 0 = first state, 1 = second
(pattern 0, nothing answered, has probability 1 and is never a feature).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ..priors.records import connected_components


@dataclass(frozen=True)
class EvidenceFactor:
    """One group of dependent findings (often a single finding).

    - ``members``: finding ids, parents before children;
    - ``parents``: the condition parents of any member (axis order of ``table``);
    - ``table``: (D, 3**g, 2, ..., 2) P(answer pattern | condition parents), parent axis index 0 =
      present;
    - ``noisy_or``: a single finding whose CPD is a plain noisy-OR of conditions (the per-draw
      fast path factorises its second state).
    """

    members: tuple[str, ...]
    parents: tuple[str, ...]
    table: np.ndarray
    noisy_or: bool

    @property
    def size(self) -> int:
        return len(self.members)

    @property
    def n_patterns(self) -> int:
        return 3 ** len(self.members)

    def weights(self) -> np.ndarray:
        """(g,) pattern weight of each member: pattern = sum (code + 1) * weight."""
        return 3 ** np.arange(len(self.members), dtype=np.int64)

    def pattern(self, codes: Mapping[str, int]) -> int:
        """Pattern index of the members' codes (missing or -1 = unanswered)."""
        return int(sum((codes.get(m, -1) + 1) * 3**i for i, m in enumerate(self.members)))

    def codes(self, pattern: int) -> list[int]:
        """The members' codes (-1 = unanswered) of a pattern index."""
        return [(pattern // 3**i) % 3 - 1 for i in range(len(self.members))]


def finding_groups(finding_ids: Sequence[str], finding_parents: Mapping[str, Sequence[str]]) -> list[list[str]]:
    """Connected components of the finding-to-finding arcs, each in the given order (the
    parents that are conditions are not findings, so they join nothing)."""
    return connected_components(list(finding_ids), finding_parents)


def compile_factors(finding_ids: Sequence[str], finding_parents: Mapping[str, Sequence[str]],
                    finding_on: Mapping[str, np.ndarray], noisy_or: Mapping[str, bool] | None = None) -> list[EvidenceFactor]:
    """The evidence factors of a network's findings.

    ``finding_on[f]``: (D, 2, ..., 2) P(first state of f | parents), parents in the order of
    ``finding_parents[f]`` (findings or conditions; every axis index 0 = first state / present).
    ``noisy_or[f]`` marks plain noisy-OR findings (default: none). Vectorised over D.
    """
    noisy_or = noisy_or or {}
    ids = set(finding_ids)
    factors = []
    for members in finding_groups(finding_ids, finding_parents):
        parents: list[str] = []
        for f in members:
            parents.extend(p for p in finding_parents[f] if p not in ids and p not in parents)
        g, u = len(members), len(parents)
        draws = np.asarray(finding_on[members[0]]).shape[0]
        # Full joint over the members' states: axes (D, m_0 .. m_{g-1}, parents ...).
        joint = np.ones((draws,) + (1,) * (g + u))
        for i, f in enumerate(members):
            on = np.asarray(finding_on[f], dtype=float)
            both = np.stack([on, 1.0 - on], axis=1)  # (D, 2 [state of f], *parent axes)
            axes = [1 + i] + [1 + members.index(p) if p in ids else 1 + g + parents.index(p) for p in finding_parents[f]]
            shape = [draws] + [1] * (g + u)
            order = np.argsort(axes)
            both = np.transpose(both, [0, *(1 + order)])
            for ax in np.array(axes)[order]:
                shape[ax] = 2
            joint = joint * both.reshape(shape)
        joint = np.broadcast_to(joint, (draws,) + (2,) * (g + u))
        # Each member axis: [unanswered (summed), first, second].
        for i in range(g):
            joint = np.concatenate([joint.sum(axis=1 + i, keepdims=True), joint], axis=1 + i)
        # Pattern index = sum (code_i + 1) * 3**i: reverse the member axes so C order gives it.
        joint = np.transpose(joint, [0, *range(g, 0, -1), *range(1 + g, 1 + g + u)])
        table = np.ascontiguousarray(joint.reshape((draws, 3**g) + (2,) * u))
        factors.append(EvidenceFactor(tuple(members), tuple(parents), table,
                                      g == 1 and bool(noisy_or.get(members[0], False))))
    return factors


@dataclass(frozen=True)
class ConditionGroup:
    """Conditions linked by ``caused_by`` (often a single condition).

    - ``members``: condition indices, parents before children;
    - ``rf_axes``: indices of the risk factors any member depends on (network order);
    - ``table``: (*cards of rf_axes, 2, ..., 2 (one axis per member, index 1 = present), D), the
      members' joint given those risk factors.
    """

    members: tuple[int, ...]
    rf_axes: tuple[int, ...]
    table: np.ndarray


class CompiledNetwork:
    """The network's tables under D parameter sets (see the module docstring).

    Build it with :meth:`from_parameters` or :meth:`from_pgmpy`; the constructor takes the tables
    themselves:

    - ``rf_states``: {risk factor: its states}, network order; ``rf_probs``: {risk factor: (D, card)
      or (card,)} its distribution;
    - ``condition_parents``: {condition: (risk-factor parents, condition parents)}, network order;
      ``condition_tables``: {condition: (D, *parent cards)} P(present | parents), risk-factor axes
      first, condition-parent axes index 0 = present;
    - ``finding_states``: {finding: its two states}; ``finding_parents``: {finding: parents}
      (conditions, or findings of its ``depends_on`` group); ``finding_on``: {finding: (D, 2, ..., 2)}
      P(first state | parents), every parent axis index 0 = first state / present;
    - ``noisy_or``: {finding: True} for a plain noisy-OR of conditions (the per-draw fast path
      factorises its second state); ``priors``: the :class:`model.priors.Priors` it came from, if any.

    Raises ``ValueError`` naming the variable when a parent is not of an allowed kind, a condition
    has a parent cycle, or a finding is not binary.
    """

    def __init__(self, rf_states: Mapping[str, Sequence[str]], rf_probs: Mapping[str, np.ndarray],
                 condition_parents: Mapping[str, tuple[Sequence[str], Sequence[str]]],
                 condition_tables: Mapping[str, np.ndarray], finding_states: Mapping[str, Sequence[str]],
                 finding_parents: Mapping[str, Sequence[str]], finding_on: Mapping[str, np.ndarray],
                 noisy_or: Mapping[str, bool] | None = None, priors=None) -> None:
        self.priors = priors
        self.rf_ids = list(rf_states)
        self.rf_states = [list(rf_states[r]) for r in self.rf_ids]
        self.rf_cards = [len(s) for s in self.rf_states]
        self.conditions = list(condition_parents)
        self.finding_ids = list(finding_states)
        self.finding_states = [list(finding_states[f]) for f in self.finding_ids]
        for f, states in zip(self.finding_ids, self.finding_states, strict=True):
            if len(states) != 2:
                raise ValueError(f"finding {f}: {len(states)} states; findings must have two")
        rpos = {r: j for j, r in enumerate(self.rf_ids)}
        cpos = {c: j for j, c in enumerate(self.conditions)}
        fpos = {f: i for i, f in enumerate(self.finding_ids)}
        for c, (rf_par, c_par) in condition_parents.items():
            for p in (*rf_par, *c_par):
                if p not in (rpos if p in rf_par else cpos) or p == c:
                    raise ValueError(f"condition {c}: parent {p!r} is not a risk factor or another condition")
        for f in self.finding_ids:
            for p in finding_parents[f]:
                if p not in cpos and p not in fpos:
                    raise ValueError(f"finding {f}: parent {p!r} is not a condition or another finding")
        draws = [np.asarray(t).shape[0] for t in (*condition_tables.values(), *finding_on.values())]
        draws += [np.asarray(p).shape[0] for p in rf_probs.values() if np.ndim(p) == 2]
        self.draws = d = max(draws, default=1)
        # Risk factors, draws first (D, card) and draws last (card, D).
        self.rf_probs = {r: np.broadcast_to(np.asarray(rf_probs[r], dtype=float).reshape(-1, self.rf_cards[j]),
                                            (d, self.rf_cards[j])) for j, r in enumerate(self.rf_ids)}
        self.rf_probs_last = [np.ascontiguousarray(self.rf_probs[r].T) for r in self.rf_ids]
        # Conditions: parents and P(present | parents) tables.
        self.condition_parents = {c: (tuple(condition_parents[c][0]), tuple(condition_parents[c][1]))
                                  for c in self.conditions}
        self.condition_tables = {}
        for c in self.conditions:
            table = np.asarray(condition_tables[c], dtype=float)
            self.condition_tables[c] = np.broadcast_to(table, (d, *table.shape[1:]))
        self.condition_order = _parents_first(self.conditions, {c: p[1] for c, p in self.condition_parents.items()})
        # caused_by groups with their joint tables.
        self.groups = [self._group(members) for members in caused_by_groups(self)]
        self.group_of = np.zeros(len(self.conditions), dtype=np.intp)
        for gi, g in enumerate(self.groups):
            self.group_of[list(g.members)] = gi
        users = np.zeros(len(self.rf_ids), dtype=int)
        for g in self.groups:
            users[list(g.rf_axes)] += 1
        # A risk factor used by one group only is summed into that group when unanswered.
        self.rf_shared = users > 1
        # Evidence factors and how a case's finding codes pick a pattern in each.
        on = {f: np.broadcast_to(np.asarray(finding_on[f], dtype=float), (d, *np.shape(finding_on[f])[1:]))
              for f in self.finding_ids}
        self.factors: list[EvidenceFactor] = compile_factors(
            self.finding_ids, {f: tuple(finding_parents[f]) for f in self.finding_ids}, on, noisy_or)
        self.factor_parents = [tuple(cpos[c] for c in f.parents) for f in self.factors]
        self.pattern_weight = np.zeros((len(self.finding_ids), len(self.factors)), dtype=np.int64)
        self.factor_of = np.zeros(len(self.finding_ids), dtype=np.intp)  # finding -> its factor
        for fi, factor in enumerate(self.factors):
            for i, m in enumerate(factor.members):
                self.pattern_weight[fpos[m], fi] = 3**i
                self.factor_of[fpos[m]] = fi

    # ------------------------------------------------------------------ builders
    @classmethod
    def from_parameters(cls, priors, params) -> CompiledNetwork:
        """Compile :class:`model.parameters.Parameters` (every draw) of ``priors``: the same
        numbers as the pgmpy reference network built from them (``model.network``)."""
        return cls(
            {r: priors.risk_factors[r].states for r in priors.risk_factors}, params.risk_factor_probs,
            {c: params.condition_parents[c] for c in priors.conditions}, params.condition_tables,
            {f: priors.findings[f].states for f in priors.findings}, params.finding_parents, params.finding_tables,
            {f: params.is_noisy_or(f) for f in priors.findings}, priors=priors)

    @classmethod
    def from_pgmpy(cls, network, risk_factor_ids: Sequence[str], condition_ids: Sequence[str],
                   finding_ids: Sequence[str]) -> CompiledNetwork:
        """Read the CPDs of a pgmpy ``DiscreteBayesianNetwork`` of the three-layer shape (D = 1).

        States keep pgmpy's own names and order, except binary conditions with states
        ``present``/``absent``, read present first; condition tables are transposed to risk-factor
        parents first. So the compiled network answers exactly what the network says.
        """
        cpds = {v: network.get_cpds(v) for v in (*risk_factor_ids, *condition_ids, *finding_ids)}
        order: dict[str, list[str]] = {}
        for v, cpd in cpds.items():
            names = [str(s) for s in cpd.state_names[v]]
            order[v] = ["present", "absent"] if v in condition_ids and set(names) == {"present", "absent"} else names
        rf_set, cond_set = set(risk_factor_ids), set(condition_ids)
        rf_probs, cond_parents, cond_tables, find_parents, find_on = {}, {}, {}, {}, {}
        for r in risk_factor_ids:
            rf_probs[r] = _cpd_values(cpds[r], order)[None]
        for c in condition_ids:
            if len(order[c]) != 2:
                raise ValueError(f"condition {c}: {len(order[c])} states; conditions must be binary")
            parents = [str(p) for p in cpds[c].variables[1:]]
            bad = [p for p in parents if p not in rf_set and p not in cond_set]
            if bad:
                raise ValueError(f"condition {c}: parent {bad[0]!r} is not a risk factor or another condition")
            rf_par = [p for p in parents if p in rf_set]
            c_par = [p for p in parents if p in cond_set]
            on = _cpd_values(cpds[c], order)[0]
            cond_parents[c] = (rf_par, c_par)
            cond_tables[c] = np.transpose(on, [parents.index(p) for p in (*rf_par, *c_par)])[None]
        for f in finding_ids:
            find_parents[f] = [str(p) for p in cpds[f].variables[1:]]
            find_on[f] = _cpd_values(cpds[f], order)[0][None]
        return cls({r: order[r] for r in risk_factor_ids}, rf_probs, cond_parents, cond_tables,
                   {f: order[f] for f in finding_ids}, find_parents, find_on)

    # ------------------------------------------------------------------ derived tables
    @cached_property
    def risk_grid(self) -> np.ndarray:
        """(G, n_rf) every risk-factor configuration (state codes), row-major over the network order."""
        return np.array(list(itertools.product(*[range(c) for c in self.rf_cards])), dtype=np.intp).reshape(
            -1, len(self.rf_ids))

    def grid_prior(self, draw: int = 0) -> np.ndarray:
        """(G,) P(risk-factor configuration) of every row of :attr:`risk_grid` under one draw."""
        p = np.ones(len(self.risk_grid))
        for j, r in enumerate(self.rf_ids):
            p *= self.rf_probs[r][draw][self.risk_grid[:, j]]
        return p

    def present_tables(self, draw: int = 0) -> list[np.ndarray]:
        """Per condition, P(present | parents) under one draw: (*risk-factor cards, 2 per condition parent)."""
        return [np.asarray(self.condition_tables[c][draw]) for c in self.conditions]

    def joint_grid(self, draw: int = 0) -> np.ndarray:
        """(G, 2**K) ``J[R, C]`` = P(R, C) under one draw: R a row of :attr:`risk_grid`, C a
        condition configuration (bit j of its index set <=> condition j present)."""
        k = len(self.conditions)
        grid = self.risk_grid
        present_idx = 1 - ((np.arange(2**k)[:, None] >> np.arange(k)[None, :]) & 1)  # (2^K, K), 0 = present
        rpos = {r: j for j, r in enumerate(self.rf_ids)}
        cpos = {c: j for j, c in enumerate(self.conditions)}
        joint = np.broadcast_to(self.grid_prior(draw)[:, None], (len(grid), 2**k)).copy()
        for j, (c, table) in enumerate(zip(self.conditions, self.present_tables(draw), strict=True)):
            rf_par, c_par = self.condition_parents[c]
            index = [grid[:, rpos[r]][:, None] for r in rf_par] + [present_idx[:, cpos[p]][None, :] for p in c_par]
            p_present = np.broadcast_to(table[tuple(index)] if index else table, (len(grid), 2**k))
            on = ((np.arange(2**k) >> j) & 1).astype(bool)[None, :]
            joint *= np.where(on, p_present, 1.0 - p_present)
        return joint

    # ------------------------------------------------------------------ cases
    def codes(self, evidence: Mapping[str, str]) -> tuple[np.ndarray, np.ndarray]:
        """(n_rf,) and (n_findings,) state codes of parsed evidence, -1 = unanswered."""
        rf = np.array([self.rf_states[j].index(evidence[r]) if r in evidence else -1 for j, r in enumerate(self.rf_ids)],
                      dtype=np.int64)
        fd = np.array([self.finding_states[j].index(evidence[f]) if f in evidence else -1
                       for j, f in enumerate(self.finding_ids)], dtype=np.int64)
        return rf, fd

    def patterns(self, finding_codes: np.ndarray) -> np.ndarray:
        """(..., n_factors) each evidence factor's answer pattern (0 = none of its findings answered)
        for finding codes (..., n_findings)."""
        return (np.asarray(finding_codes, dtype=np.int64) + 1) @ self.pattern_weight

    def _group(self, members: list[str]) -> ConditionGroup:
        d = self.draws
        rpos = {r: j for j, r in enumerate(self.rf_ids)}
        cpos = {c: j for j, c in enumerate(self.conditions)}
        rf_axes = tuple(sorted({rpos[r] for c in members for r in self.condition_parents[c][0]}))
        cards = [self.rf_cards[r] for r in rf_axes]
        size = len(members)
        table = np.ones((d, *cards, *(2,) * size))
        for config in np.ndindex(*(2,) * size):  # config[i] = 1 <=> member i present
            for i, cid in enumerate(members):
                rf_par, c_par = self.condition_parents[cid]
                on = self.condition_tables[cid]
                if c_par:  # condition-parent axes come last, index 0 = present
                    on = on[(Ellipsis, *[0 if config[members.index(p)] else 1 for p in c_par])]
                order = sorted(range(len(rf_par)), key=lambda j: rf_axes.index(rpos[rf_par[j]]))
                on = on.transpose(0, *[1 + j for j in order])
                on = on.reshape(d, *[self.rf_cards[r] if self.rf_ids[r] in rf_par else 1 for r in rf_axes])
                table[(Ellipsis, *config)] *= on if config[i] else 1.0 - on
        return ConditionGroup(tuple(cpos[c] for c in members), rf_axes, np.ascontiguousarray(np.moveaxis(table, 0, -1)))


def caused_by_groups(net: CompiledNetwork) -> list[list[str]]:
    """Connected components of the caused_by links, each listed parents first."""
    return connected_components(net.conditions, {c: net.condition_parents[c][1] for c in net.conditions},
                                order=net.condition_order)


def _parents_first(conditions: list[str], parents: Mapping[str, Sequence[str]]) -> list[str]:
    """Conditions in an order where every condition parent comes first (depth-first, as
    ``model.parameters.condition_order``); raises ``ValueError`` on a cycle."""
    order: list[str] = []
    state: dict[str, int] = {}

    def visit(c: str) -> None:
        if state.get(c) == 2:
            return
        if state.get(c) == 1:
            raise ValueError(f"condition {c}: caused_by links form a cycle")
        state[c] = 1
        for p in parents[c]:
            visit(p)
        state[c] = 2
        order.append(c)

    for c in conditions:
        visit(c)
    return order


def _cpd_values(cpd, order: Mapping[str, list[str]]) -> np.ndarray:
    """A pgmpy CPD's values as (n_states, *parent cards), every axis in the states' ``order``."""
    values = np.asarray(cpd.get_values(), dtype=float).reshape([int(c) for c in cpd.cardinality])
    index = []
    for v in cpd.variables:
        current = [str(s) for s in cpd.state_names[v]]
        index.append([current.index(s) for s in order.get(str(v), current)])
    return values[np.ix_(*index)]
