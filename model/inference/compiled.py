"""Evidence factors: the findings compiled into tables over answer patterns x condition parents.

Every exact algorithm (the batch engine, its factored path, the per-draw engines, the case
variants) reads the findings through these factors, so the findings' shape is known here only.

A finding that depends on no other finding (and on which none depends) is a factor of its own.
Findings linked by ``depends_on`` arcs (e.g. ``pain_lateral_hip -> pain_lying_on_side``) form ONE
factor over the group's *answer patterns*: every member present/absent (first/second state) or
unanswered, ``3**g`` patterns. Its table is

    P(pattern | C) = sum over the unanswered members' states of prod_i P(m_i | C, m_i's finding parents)

so, given the conditions, an answered member and an unanswered one stay dependent and nothing is
counted twice. The engine stays a one-hot matrix product: a row picks one pattern per factor.
Pattern index: ``sum_i (code_i + 1) * 3**i`` with code -1 = unanswered, 0 = first state, 1 = second
(pattern 0, nothing answered, has probability 1 and is never a feature).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np


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
    """Connected components of the finding-to-finding arcs, each in the given order."""
    ids = list(finding_ids)
    root = {f: f for f in ids}

    def find(f: str) -> str:
        while root[f] != f:
            f = root[f]
        return f

    for fid in ids:
        for p in finding_parents[fid]:
            if p in root:
                root[find(fid)] = find(p)
    groups: dict[str, list[str]] = {}
    for fid in ids:
        groups.setdefault(find(fid), []).append(fid)
    return list(groups.values())


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


def factors_from_parameters(priors, params) -> list[EvidenceFactor]:
    """The evidence factors of :class:`model.parameters.Parameters` (every draw)."""
    ids = list(priors.findings)
    return compile_factors(ids, params.finding_parents, params.finding_tables,
                           {f: params.is_noisy_or(f) for f in ids})
