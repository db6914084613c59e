"""Posteriors of one case under every parameter draw, enumerating only what the answers couple.

Why: intervals re-score each case under a few hundred parameter sets. A general contraction over
all ``2**K`` condition configurations and every unanswered risk factor costs ~15 ms a case; most
of that work is not needed, because of the network's shape:

- Given the risk factors, the conditions are independent, except within ``caused_by`` groups
  (fai -> labral_tear), which are handled as one variable with ``2**size`` states.
- Every finding is a noisy-OR. An answer in its second state (e.g. *absent*) has probability
  ``(1 - leak) * prod over present causes (1 - link)``: one factor per condition, so it only
  re-weights each condition. Only answers in the first state (e.g. *present*) couple their causes.
- So only the groups that contain a cause of a first-state answer (the *coupled* groups) are
  enumerated jointly; every other group sums in closed form.
- An unanswered risk factor used by one group only is summed into that group's table. The others
  are summed over a grid; those that a coupled group uses are crossed with the coupled
  configurations, and each is summed out as soon as the last coupled group using it is multiplied
  in (variable elimination, in a greedy order that keeps the array small).

Everything is exact (no expansion with signs, so no cancellation), vectorised over the draws.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from math import prod

import numpy as np

from ..parameters import Parameters, condition_order
from ..priors import Priors
from .compiled import factors_from_parameters


@dataclass(frozen=True)
class _Group:
    """Conditions linked by ``caused_by``: ``members`` (condition indices, parents first),
    ``rf_axes`` (risk factors any member depends on, in risk-factor order) and ``table``
    (D, *cards of rf_axes, 2**len(members)), the members' joint given those risk factors, config
    bit i <=> member i present."""

    members: tuple[int, ...]
    rf_axes: tuple[str, ...]
    table: np.ndarray


@dataclass(frozen=True)
class _Layout:
    """One case's structure: findings answered in the first state (that have causes), in the
    second, and first-state ones without causes (a constant); the coupled groups; the answered
    risk factors; the shared grid's risk factors and those crossed with the coupled configs."""

    first: list[str]
    second: list[str]
    constant: list[str]
    coupled: list[int]
    known: dict[str, int]
    shared: list[str]
    crossed: set[str]
    general: list[tuple[int, int]]  # answered general evidence factors: (index, answer pattern)


class GroupedDraws:
    """Exact posteriors for one evidence dict under every draw of a :class:`Parameters`."""

    def __init__(self, priors: Priors, params: Parameters) -> None:
        # Every array keeps the draws on its LAST axis: broadcasts and reductions then run over
        # long contiguous rows, which is most of this method's speed.
        self.priors = priors
        self.draws = d = params.draws
        self.conditions = list(priors.conditions)
        self.rf_ids = list(priors.risk_factors)
        self.rf_cards = {r: len(priors.risk_factors[r].states) for r in self.rf_ids}
        self.rf_probs = {r: np.ascontiguousarray(np.broadcast_to(params.risk_factor_probs[r], (d, self.rf_cards[r])).T)
                         for r in self.rf_ids}  # (card, D)
        cpos = {c: j for j, c in enumerate(self.conditions)}
        self.groups = [self._group(members, params, cpos) for members in caused_by_groups(priors, params)]
        self.group_of = {c: gi for gi, g in enumerate(self.groups) for c in g.members}
        k = len(self.conditions)
        # Per finding: its causes (condition indices), (D,) 1 - leak, (K, D) 1 - link laid over all
        # conditions (1 where not a cause), and per cause (2, D) its factor absent (1) / present.
        self.findings: dict[str, tuple[list[int], np.ndarray, np.ndarray, list[np.ndarray]]] = {}
        # Evidence factors that are not a plain noisy-OR (dependent findings, inhibiting links):
        # an answered one couples all its condition parents, through its pattern table.
        self.general = [f for f in factors_from_parameters(priors, params) if not f.noisy_or]
        self.general_parents = [[cpos[c] for c in f.parents] for f in self.general]
        self._splits: dict[tuple[int, int], tuple[list[int], np.ndarray, list[tuple[int, np.ndarray]]]] = {}
        for fid, parents in params.finding_parents.items():
            if not params.is_noisy_or(fid):
                continue
            keep, links = params.finding_inhibitors[fid]
            links = np.broadcast_to(links, (d, len(parents)))
            per_condition = np.ones((k, d))
            per_condition[[cpos[c] for c in parents]] = links.T
            per_cause = [np.stack([np.ones(d), links[:, j]]) for j in range(len(parents))]
            self.findings[fid] = ([cpos[c] for c in parents], np.ascontiguousarray(np.broadcast_to(keep, (d,))),
                                  per_condition, per_cause)

    def _group(self, members: list[str], params: Parameters, cpos: dict[str, int]) -> _Group:
        rf_axes = tuple(r for r in self.rf_ids if any(r in params.condition_parents[c][0] for c in members))
        cards = [self.rf_cards[r] for r in rf_axes]
        size = len(members)
        table = np.ones((self.draws, *cards, 2**size))
        for config in range(2**size):
            for i, cid in enumerate(members):
                rf_par, c_par = params.condition_parents[cid]
                on = params.condition_tables[cid]
                if c_par:  # condition-parent axes come last, index 0 = present
                    on = on[(Ellipsis, *[0 if config >> members.index(p) & 1 else 1 for p in c_par])]
                on = np.broadcast_to(on, (self.draws, *on.shape[1:]))
                order = sorted(range(len(rf_par)), key=lambda j: rf_axes.index(rf_par[j]))
                on = on.transpose(0, *[1 + j for j in order])
                on = on.reshape(self.draws, *[self.rf_cards[r] if r in rf_par else 1 for r in rf_axes])
                table[..., config] *= on if config >> i & 1 else 1.0 - on
        return _Group(tuple(cpos[c] for c in members), rf_axes, np.ascontiguousarray(np.moveaxis(table, 0, -1)))

    # ----------------------------------------------------------------------------------------
    def _layout(self, evidence: Mapping[str, str]) -> _Layout:
        """What the case couples: the first-state answers, the coupled groups and the grids."""
        first, second, constant = [], [], []
        general = []
        for fi, factor in enumerate(self.general):
            pattern = factor.pattern({m: self.priors.findings[m].states.index(evidence[m]) for m in factor.members if m in evidence})
            if pattern:
                general.append((fi, pattern))
        for fid, fd in self.priors.findings.items():
            if fid in evidence and fid in self.findings:
                if fd.states.index(evidence[fid]) == 1:
                    second.append(fid)
                elif self.findings[fid][0]:
                    first.append(fid)
                else:
                    constant.append(fid)
        coupled = sorted({self.group_of[c] for fid in first for c in self.findings[fid][0]}
                         | {self.group_of[c] for fi, pattern in general for c in self.split(fi, pattern)[0]})
        known = {r: self.priors.risk_factors[r].states.index(evidence[r]) for r in self.rf_ids if r in evidence}
        users: dict[str, list[int]] = {}
        for gi, g in enumerate(self.groups):
            for r in g.rf_axes:
                if r not in known:
                    users.setdefault(r, []).append(gi)
        shared = [r for r in self.rf_ids if len(users.get(r, ())) > 1]
        crossed = {r for r in shared if any(gi in coupled for gi in users[r])}
        return _Layout(first, second, constant, coupled, known, shared, crossed, general)

    def _elimination_order(self, dependent: list[int], tables: list[np.ndarray],
                           crossed_axes: list[int]) -> list[tuple[int, tuple[int, ...]]]:
        """The dependent groups in a greedy order that keeps the (cells x configurations) array
        small, each with the crossed grid axes that can be summed right after it (no group still to
        come uses them)."""
        uses = {gi: {a for a in crossed_axes if tables[gi].shape[a] > 1} for gi in dependent}
        cards = {a: max(tables[gi].shape[a] for gi in dependent) for a in crossed_axes}
        left, live, width, order = list(dependent), set(crossed_axes), 0, []
        while left:
            def after(gi: int, live: set[int] = live, width: int = width) -> tuple[float, int]:
                """Cells x configurations once gi is in and the axes it finishes are summed out."""
                kept = [a for a in live if any(a in uses[g] for g in left if g != gi)]
                return prod(cards[a] for a in kept) * 2.0 ** (width + len(self.groups[gi].members)), gi
            gi = min(left, key=after)
            left.remove(gi)
            width += len(self.groups[gi].members)
            done = tuple(sorted(a for a in live if not any(a in uses[g] for g in left)))
            live -= set(done)
            order.append((gi, done))
        return order

    def split(self, fi: int, pattern: int) -> tuple[list[int], np.ndarray, list[tuple[int, np.ndarray]]]:
        """A general factor's answered pattern as (coupled parents, their table (D, 2, ..., 2), and
        per separable parent (condition, (D,) ratio present/absent)): a parent whose ratio is the
        same in every configuration of the others, under every draw (e.g. an inhibiting link on a
        first-state answer), only re-weights that condition's odds and couples nothing. Cached."""
        key = (fi, pattern)
        if key not in self._splits:
            table = self.general[fi].table[:, pattern]
            parents = list(self.general_parents[fi])
            separable: list[tuple[int, np.ndarray]] = []
            for c in list(parents):
                at = 1 + parents.index(c)
                on, off = np.take(table, 0, axis=at), np.take(table, 1, axis=at)
                if not ((on > 0).all() and (off > 0).all()):
                    continue
                ratio = on / off
                flat = ratio.reshape(ratio.shape[0], -1)
                if np.abs(flat - flat[:, :1]).max() <= 1e-12 * np.abs(flat).max():
                    separable.append((c, np.ascontiguousarray(flat[:, 0])))
                    table = off
                    parents.remove(c)
            self._splits[key] = (parents, table, separable)
        return self._splits[key]

    def _general_table(self, fi: int, pattern: int, axis: dict[int, int], u: int) -> tuple[frozenset[int], np.ndarray]:
        """A general factor's answered pattern (its coupled part) as a table over the coupled
        members' axes (index 1 = present, draws last), like a first-state noisy-OR answer."""
        parents, table, _ = self.split(fi, pattern)  # (D, 2, ..., 2), parent axis index 0 = present
        table = np.flip(table, axis=tuple(range(1, 1 + len(parents))))
        order = np.argsort([axis[c] for c in parents])
        table = np.moveaxis(np.transpose(table, [0, *(1 + order)]), 0, -1)
        shape = [1] * u + [table.shape[-1]]
        for c in parents:
            shape[axis[c]] = 2
        return frozenset(axis[c] for c in parents), table.reshape(shape)

    def marginals(self, evidence: Mapping[str, str]) -> np.ndarray:
        """(D, K) P(condition present | evidence) for every draw (NaN where impossible)."""
        d, k = self.draws, len(self.conditions)
        lay = self._layout(evidence)
        first, coupled, known, shared, crossed = lay.first, lay.coupled, lay.known, lay.shared, lay.crossed
        lam, const = np.ones((k, d)), np.ones(d)  # const: factors shared by every configuration, only matter when 0
        for fid in lay.second:
            _, keep, per_condition, _ = self.findings[fid]
            lam, const = lam * per_condition, const * keep
        for fid in lay.constant:
            const = const * (1.0 - self.findings[fid][1])
        for fi, pattern in lay.general:
            parents, table, separable = self.split(fi, pattern)
            for c, ratio in separable:
                lam[c] = lam[c] * ratio
            if not parents:
                const = const * table
        ns = len(shared)

        # Each group's table with answered risk factors picked, private ones summed in, and its
        # axes laid over the shared grid: (*grid, configs, D).
        tables = []
        for g in self.groups:
            table = g.table[tuple(known.get(r, slice(None)) for r in g.rf_axes)]
            remaining = [r for r in g.rf_axes if r not in known]
            for r in [r for r in remaining if r not in shared]:
                at = remaining.index(r)
                shape = [1] * table.ndim
                shape[at], shape[-1] = self.rf_cards[r], d
                table = (table * self.rf_probs[r].reshape(shape)).sum(axis=at)
                remaining.remove(r)
            tables.append(table.reshape(*[self.rf_cards[r] if r in remaining else 1 for r in shared], *table.shape[-2:]))

        # Uncoupled groups in closed form over the grid: z = sum over configs, and each member's
        # share of it; their product times P(cell) is the weight of each grid cell.
        grid_axes = tuple(range(ns))
        weight = np.ones((1,) * ns + (d,))
        for i, r in enumerate(shared):
            shape = [1] * ns + [d]
            shape[i] = self.rf_cards[r]
            weight = weight * self.rf_probs[r].reshape(shape)
        shares: list[tuple[int, np.ndarray]] = []
        for gi, g in enumerate(self.groups):
            if gi in coupled:
                continue
            joint = tables[gi] * _config_factors(lam, g.members)
            z = joint.sum(axis=-2)
            weight = weight * z
            for i, c in enumerate(g.members):
                y = joint[..., _present(len(g.members), i), :].sum(axis=-2)
                shares.append((c, np.divide(y, z, out=np.zeros_like(y), where=z > 0)))
        out = np.empty((k, d))
        if not coupled:
            total = weight.sum(axis=grid_axes)
            for c, share in shares:
                out[c] = (weight * share).sum(axis=grid_axes)
            return _normalise(out, total, const)

        # Coupled groups: enumerate their joint configurations (one axis per member). Groups that
        # use a crossed risk factor ("dependent") are crossed with its grid cells and the cells
        # summed out before the others and the first-state likelihood join; the cells of
        # uncrossed risk factors are summed first.
        summed = tuple(i for i, r in enumerate(shared) if r not in crossed)
        # Channels over the crossed cells: P(cell) x the uncoupled z (channel 0), and for each
        # uncoupled member the part of it where that member is present (its numerator).
        channels = [weight.sum(axis=summed, keepdims=True)] + [(weight * share).sum(axis=summed, keepdims=True)
                                                               for _, share in shares]
        crossed_axes = [i for i, r in enumerate(shared) if r in crossed]
        dependent = [gi for gi in coupled if any(tables[gi].shape[a] > 1 for a in crossed_axes)]
        independent = [gi for gi in coupled if gi not in dependent]
        dependent = self._elimination_order(dependent, tables, crossed_axes)
        # a group's members in reverse, so its config index splits into member axes in order
        members = [c for gi, _ in dependent + [(gi, ()) for gi in independent] for c in reversed(self.groups[gi].members)]
        u = len(members)
        u_dep = sum(len(self.groups[gi].members) for gi, _ in dependent)
        axis = {c: i for i, c in enumerate(members)}

        def member_table(gi: int, width: int) -> np.ndarray:
            """The group's table (*grid, configs, D) with its config split into member axes at their place."""
            g = self.groups[gi]
            size = len(g.members)
            table = tables[gi] * _config_factors(lam, g.members)
            at = axis[g.members[-1]]
            return table.reshape(*table.shape[:-2], *[1] * at, *[2] * size, *[1] * (width - at - size), d)

        # A(channel, dependent config): the dependent groups' tables multiplied in one by one, and
        # each crossed risk factor summed out as soon as no group still to come uses it (variable
        # elimination: the cells never meet all the dependent configurations at once).
        dep = np.stack(channels).reshape(len(channels), *channels[0].shape[:-1], *[1] * u_dep, d)
        for gi, done in dependent:
            dep = dep * member_table(gi, u_dep)[None]
            if done:
                dep = dep.sum(axis=tuple(1 + a for a in done), keepdims=True)
        dep = dep.reshape(len(channels), *[2] * u_dep, d)
        # I x L: the independent groups (the same in every cell) and the first-state likelihood
        rest = np.ones((1,) * u + (d,))
        for gi in independent:
            table = member_table(gi, u)
            rest = rest * table.reshape(table.shape[ns:])  # its grid axes are all 1: it uses no crossed risk factor
        extra = [self._general_table(fi, pattern, axis, u) for fi, pattern in lay.general if self.split(fi, pattern)[0]]
        for _, factor in _merged_likelihood(first, self.findings, axis, u, d, extra):
            rest = rest * factor
        rest = np.broadcast_to(rest, (2,) * u + (d,))
        joint = dep[0].reshape(*[2] * u_dep, *[1] * (u - u_dep), d) * rest  # (2,..,2, D)
        total = joint.reshape(2**u, d).sum(axis=0)
        if shares:  # an uncoupled member: its numerator channel against sum over the independent part of I x L
            per_dep = rest.reshape(2**u_dep, 2 ** (u - u_dep), d).sum(axis=1)
            numerators = (dep[1:].reshape(len(shares), 2**u_dep, d) * per_dep).sum(axis=1)
            for (c, _), numerator in zip(shares, numerators, strict=True):
                out[c] = numerator
        out[members] = _member_bits(u) @ joint.reshape(2**u, d)
        return _normalise(out, total, const)


def _normalise(numerators: np.ndarray, total: np.ndarray, const: np.ndarray) -> np.ndarray:
    """(D, K) numerators (given as (K, D)) over the total; NaN for draws under which the evidence is
    impossible (the total is 0, or a factor shared by every configuration is, which otherwise cancels)."""
    possible = (total > 0) & (const > 0)
    out = (numerators / np.where(possible, total, 1.0)).T
    out[~possible] = np.nan
    return out


def _merged_likelihood(first: list[str], findings: dict, axis: dict[int, int], u: int, d: int,
                       extra: list[tuple[frozenset[int], np.ndarray]] = ()):
    """The first-state answers' likelihood as a few factors over the coupled members' axes (draws
    last): P(first state | causes) = 1 - (1 - leak) * prod (1 - link) over present causes, built on
    each finding's own causes, then factors over nested or small combined cause sets multiplied
    together while they are small, so only a few multiply the full configuration array."""
    factors: list[tuple[frozenset[int], np.ndarray]] = list(extra)
    for fid in sorted(first, key=lambda f: -len(findings[f][0])):
        parents, keep, _, per_cause = findings[fid]
        inhibit = keep.reshape(*[1] * u, d)
        for c, factor in zip(parents, per_cause, strict=True):
            shape = [1] * u + [d]
            shape[axis[c]] = 2
            inhibit = inhibit * factor.reshape(shape)
        table = 1.0 - inhibit
        axes = frozenset(axis[c] for c in parents)
        for i, (have, existing) in enumerate(factors):
            if axes <= have:
                factors[i] = (have, existing * table)
                break
        else:
            factors.append((axes, table))
    while len(factors) > 1:
        size, i, j = min((len(a | b), i, j) for i, (a, _) in enumerate(factors) for j, (b, _) in enumerate(factors) if i < j)
        if size >= u - 1:
            break
        (a, x), (b, y) = factors[i], factors[j]
        factors = [f for k, f in enumerate(factors) if k not in (i, j)] + [(a | b, x * y)]
    return factors


def _config_factors(lam: np.ndarray, members: tuple[int, ...]) -> np.ndarray:
    """(2**n, D) product of the present members' likelihood factors ``lam`` (K, D), per config (bit
    i <=> member i)."""
    factors = np.ones((1, lam.shape[1]))
    for c in members:
        factors = np.concatenate([factors, factors * lam[c]], axis=0)
    return factors


@cache
def _member_bits(u: int) -> np.ndarray:
    """(u, 2**u) 1.0 where member i is present in config x; C order, so axis 0 is the top bit."""
    return ((np.arange(2**u)[None, :] >> np.arange(u - 1, -1, -1)[:, None]) & 1).astype(float)


@cache
def _present(size: int, i: int) -> np.ndarray:
    return np.array([cfg for cfg in range(2**size) if cfg >> i & 1])


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
