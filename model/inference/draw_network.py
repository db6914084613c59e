"""The network compiled ONCE for many parameter sets (draws): every per-draw algorithm reads it.

``DrawNetwork`` holds the network's shape and numbers with a draw axis D, built from
:class:`model.parameters.Parameters` (the same arithmetic as the pgmpy reference network):

- risk factors: ``rf_probs[r]`` (card, D) population distribution;
- conditions: ``condition_parents`` / ``condition_tables`` (D, *parent cards) P(present | parents)
  as in ``Parameters`` (read by the general contraction), and the same conditions grouped into
  ``groups`` (:class:`ConditionGroup`, connected by ``caused_by``: fai -> labral_tear), each with
  its members' joint given its risk factors (read by the fast exact method);
- evidence factors: ``factors`` (``model.inference.compiled.compile_factors``: a finding, or a
  group of findings linked by ``depends_on``, as one table over its answer patterns), with their
  condition parents as indices, and the pattern weights that turn a case's finding codes into
  one answer pattern per factor.

Readers: ``model.inference.grouped_draws`` (the exact per-draw posteriors behind intervals and
sensitivity) and ``model.inference.draw_engine`` (the general tensor contraction kept as the
reference). Arrays of groups keep the draws on their LAST axis: the per-case products then
run over contiguous rows of D.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..parameters import Parameters, condition_order
from ..priors import Priors
from .compiled import EvidenceFactor, factors_from_parameters


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


class DrawNetwork:
    """The network's tables under every draw of a :class:`Parameters` (see the module docstring)."""

    def __init__(self, priors: Priors, params: Parameters) -> None:
        self.priors = priors
        self.draws = d = params.draws
        self.conditions = list(priors.conditions)
        self.rf_ids = list(priors.risk_factors)
        self.rf_states = [list(priors.risk_factors[r].states) for r in self.rf_ids]
        self.rf_cards = [len(s) for s in self.rf_states]
        self.finding_ids = list(priors.findings)
        self.finding_states = [list(priors.findings[f].states) for f in self.finding_ids]
        cpos = {c: j for j, c in enumerate(self.conditions)}
        rpos = {r: j for j, r in enumerate(self.rf_ids)}
        # Risk factors, draws first (as Parameters) and draws last (card, D).
        self.rf_probs = {r: np.broadcast_to(params.risk_factor_probs[r], (d, self.rf_cards[j]))
                         for j, r in enumerate(self.rf_ids)}
        self.rf_probs_last = [np.ascontiguousarray(self.rf_probs[r].T) for r in self.rf_ids]
        # Conditions as Parameters has them (the contraction's operands).
        self.condition_parents = {c: params.condition_parents[c] for c in self.conditions}
        self.condition_tables = {c: np.broadcast_to(params.condition_tables[c], (d, *params.condition_tables[c].shape[1:]))
                                 for c in self.conditions}
        # caused_by groups with their joint tables.
        self.groups = [self._group(members, params, cpos, rpos) for members in caused_by_groups(priors, params)]
        self.group_of = np.zeros(len(self.conditions), dtype=np.intp)
        for gi, g in enumerate(self.groups):
            self.group_of[list(g.members)] = gi
        users = np.zeros(len(self.rf_ids), dtype=int)
        for g in self.groups:
            users[list(g.rf_axes)] += 1
        # A risk factor used by one group only is summed into that group when unanswered.
        self.rf_shared = users > 1
        # Evidence factors and how a case's finding codes pick a pattern in each.
        self.factors: list[EvidenceFactor] = factors_from_parameters(priors, params)
        self.factor_parents = [tuple(cpos[c] for c in f.parents) for f in self.factors]
        fpos = {f: i for i, f in enumerate(self.finding_ids)}
        self.pattern_weight = np.zeros((len(self.finding_ids), len(self.factors)), dtype=np.int64)
        for fi, factor in enumerate(self.factors):
            for i, m in enumerate(factor.members):
                self.pattern_weight[fpos[m], fi] = 3**i

    def _group(self, members: list[str], params: Parameters, cpos: dict[str, int], rpos: dict[str, int]) -> ConditionGroup:
        d = self.draws
        rf_axes = tuple(sorted({rpos[r] for c in members for r in params.condition_parents[c][0]}))
        cards = [self.rf_cards[r] for r in rf_axes]
        size = len(members)
        table = np.ones((d, *cards, *(2,) * size))
        for config in np.ndindex(*(2,) * size):  # config[i] = 1 <=> member i present
            for i, cid in enumerate(members):
                rf_par, c_par = params.condition_parents[cid]
                on = params.condition_tables[cid]
                if c_par:  # condition-parent axes come last, index 0 = present
                    on = on[(Ellipsis, *[0 if config[members.index(p)] else 1 for p in c_par])]
                on = np.broadcast_to(on, (d, *on.shape[1:]))
                order = sorted(range(len(rf_par)), key=lambda j: rf_axes.index(rpos[rf_par[j]]))
                on = on.transpose(0, *[1 + j for j in order])
                on = on.reshape(d, *[self.rf_cards[r] if self.rf_ids[r] in rf_par else 1 for r in rf_axes])
                table[(Ellipsis, *config)] *= on if config[i] else 1.0 - on
        return ConditionGroup(tuple(cpos[c] for c in members), rf_axes, np.ascontiguousarray(np.moveaxis(table, 0, -1)))

    def codes(self, evidence: Mapping[str, str]) -> tuple[np.ndarray, np.ndarray]:
        """(n_rf,) and (n_findings,) state codes of parsed evidence, -1 = unanswered."""
        rf = np.array([self.rf_states[j].index(evidence[r]) if r in evidence else -1 for j, r in enumerate(self.rf_ids)],
                      dtype=np.int64)
        fd = np.array([self.finding_states[j].index(evidence[f]) if f in evidence else -1
                       for j, f in enumerate(self.finding_ids)], dtype=np.int64)
        return rf, fd

    def patterns(self, finding_codes: np.ndarray) -> np.ndarray:
        """(n_factors,) each evidence factor's answer pattern (0 = none of its findings answered)."""
        return (np.asarray(finding_codes, dtype=np.int64) + 1) @ self.pattern_weight


def caused_by_groups(priors: Priors, params: Parameters) -> list[list[str]]:
    """Connected components of the caused_by links, each listed parents first."""
    root = {c: c for c in priors.conditions}

    def find(c: str) -> str:
        while root[c] != c:
            c = root[c]
        return c

    for cid in priors.conditions:
        for parent in params.condition_parents[cid][1]:
            root[find(cid)] = find(parent)
    groups: dict[str, list[str]] = {}
    for cid in condition_order(priors):
        groups.setdefault(find(cid), []).append(cid)
    return list(groups.values())
