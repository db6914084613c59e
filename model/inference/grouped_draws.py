"""Posteriors of one case under every parameter draw, enumerating only what the answers couple.

Why: intervals re-score each case under a few hundred parameter sets. A general contraction over
all ``2**K`` condition configurations and every unanswered risk factor costs 10-40 ms a case; most
of that work is not needed, because of the network's shape (``model.inference.draw_network``):

- Given the risk factors, the conditions are independent, except within ``caused_by`` groups
  (fai -> labral_tear), which are handled as one variable.
- An answered evidence factor's likelihood P(pattern | parents) that is log-linear in a parent's
  presence (the ratio present/absent is the same whatever the other parents, under every draw:
  a noisy-OR finding answered in its second state, an inhibiting link) only re-weights that
  condition's odds. The rest of the table couples its remaining parents.
- So only the groups with a coupled member are enumerated jointly (one array axis per member,
  draws last); every other group sums in closed form.
- An unanswered risk factor used by one group only is summed into that group's table (once, at
  construction, as an extra index of its axis). The shared ones form a small grid; those a
  coupled group uses ("crossed") are eliminated one by one while the coupled groups that use them
  are multiplied in (variable elimination, greedy order), giving a prior factor over their members.
- The likelihood tables and the prior factor are multiplied in a greedy order that merges small
  scopes first, so only a few products touch the full array of coupled configurations; when two
  scopes remain, messages between them (a two-clique junction tree) give the marginals without
  that full array.

Everything is exact (products and sums of non-negative numbers, no expansion with signs, nothing
pruned), vectorised over the draws; tested against the general contraction and against pgmpy.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .draw_network import DrawNetwork

SEPARABLE_RTOL = 1e-12  # a parent whose present/absent ratio varies less than this is log-linear


class GroupedDraws:
    """Exact posteriors for one case under every draw of a :class:`DrawNetwork`."""

    def __init__(self, net: DrawNetwork) -> None:
        self.net = net
        self.draws = net.draws
        self._splits: dict[tuple[int, int], tuple] = {}
        # Each group's table with one more index on every private risk-factor axis (a risk factor
        # no other group uses): that risk factor summed out (weighted by its distribution). An
        # answered risk factor picks its state, an unanswered private one the extra index: a view.
        self._extended = []
        for g in net.groups:
            table = g.table
            for at, r in enumerate(g.rf_axes):
                if net.rf_shared[r]:
                    continue
                probs = net.rf_probs_last[r]
                shape = [1] * table.ndim
                shape[at], shape[-1] = probs.shape[0], self.draws
                summed = (table * probs.reshape(shape)).sum(axis=at, keepdims=True)
                table = np.concatenate([table, summed], axis=at)
            self._extended.append(np.ascontiguousarray(table))

    # ------------------------------------------------------------------ cached pieces
    def split(self, fi: int, pattern: int) -> tuple[tuple[int, ...], np.ndarray, list[tuple[int, np.ndarray]]]:
        """An answered evidence factor as (coupled parents (condition indices), their table
        (2, ..., 2, D) with axis j <-> coupled parent j, index 1 = present, and per log-linear
        parent (condition, (D,) ratio present/absent)). With no coupled parent the table is (D,).
        Cached per (factor, pattern)."""
        key = (fi, pattern)
        hit = self._splits.get(key)
        if hit is not None:
            return hit
        net = self.net
        parents = list(net.factor_parents[fi])
        d = self.draws
        table = np.broadcast_to(net.factors[fi].table[:, pattern], (d, *(2,) * len(parents)))
        table = np.moveaxis(table, 0, -1)[(slice(None, None, -1),) * len(parents)]  # index 1 = present
        separable: list[tuple[int, np.ndarray]] = []
        for c in list(parents):
            a = parents.index(c)
            on, off = np.take(table, 1, axis=a), np.take(table, 0, axis=a)
            if not ((on > 0).all() and (off > 0).all()):
                continue
            ratio = (on / off).reshape(-1, d)
            if np.abs(ratio - ratio[:1]).max() <= SEPARABLE_RTOL * np.abs(ratio).max():
                separable.append((c, np.ascontiguousarray(ratio[0])))
                table = off
                parents.remove(c)
        hit = (tuple(parents), np.ascontiguousarray(table), separable)
        self._splits[key] = hit
        return hit

    def group_table(self, gi: int, rf_codes: np.ndarray) -> tuple[np.ndarray, tuple[int, ...]]:
        """A group's table with its answered risk factors picked and its unanswered private ones
        summed: (*cards of the remaining (shared, unanswered) risk factors, 2, ..., 2, D) (a view),
        and those risk factors."""
        net = self.net
        g = net.groups[gi]
        index, remaining = [], []
        for r in g.rf_axes:
            code = int(rf_codes[r])
            if code >= 0:
                index.append(code)
            elif net.rf_shared[r]:
                index.append(slice(None))
                remaining.append(r)
            else:
                index.append(net.rf_cards[r])  # the summed-out index
        return self._extended[gi][tuple(index)], tuple(remaining)

    # ------------------------------------------------------------------ one case
    def marginals(self, rf_codes: np.ndarray, finding_codes: np.ndarray) -> np.ndarray:
        """(D, K) P(condition present | evidence) for every draw (NaN where the evidence is
        impossible under that draw). ``rf_codes`` (n_rf,), ``finding_codes`` (n_findings,): state
        indices in the network's order, -1 = unanswered (``DrawNetwork.codes``)."""
        net, d = self.net, self.draws
        k = len(net.conditions)
        rf_codes = np.asarray(rf_codes, dtype=np.int64)
        patterns = net.patterns(finding_codes)
        lam = np.ones((k, d))  # per condition: the product of the log-linear answers' ratios
        const = np.ones(d)  # factors shared by every configuration: only matter when 0
        likelihood: list[tuple[tuple[int, ...], np.ndarray]] = []
        coupled_conditions: set[int] = set()
        reweighted: set[int] = set()
        for fi in np.flatnonzero(patterns).tolist():
            parents, table, separable = self.split(fi, int(patterns[fi]))
            for c, ratio in separable:
                lam[c] *= ratio
                reweighted.add(c)
            if parents:
                likelihood.append((parents, table))
                coupled_conditions.update(parents)
            else:
                const = const * table
        coupled = sorted({int(net.group_of[c]) for c in coupled_conditions})
        tables = {}  # group -> (table with lam applied, its shared unanswered risk factors)
        for gi, g in enumerate(net.groups):
            table, rfs = self.group_table(gi, rf_codes)
            if reweighted.intersection(g.members):
                table = table * _odds_factors(lam, g.members, d)
            tables[gi] = (table, rfs)
        out = np.empty((k, d))

        # Uncoupled groups in closed form over the grid of shared unanswered risk factors.
        shared = sorted({r for gi in tables for r in tables[gi][1]})
        ns = len(shared)
        spos = {r: i for i, r in enumerate(shared)}
        weight = np.ones((1,) * ns + (d,))
        for r in shared:
            weight = weight * _place(net.rf_probs_last[r], [spos[r]], ns)
        shares: list[tuple[int, np.ndarray]] = []  # uncoupled members whose share varies over the grid
        coupled_set = set(coupled)
        for gi, g in enumerate(net.groups):
            if gi in coupled_set:
                continue
            table, rfs = tables[gi]
            nr, size = len(rfs), len(g.members)
            member_axes = tuple(range(nr, nr + size))
            z = table.sum(axis=member_axes)
            if nr:
                weight = weight * _place(z, [spos[r] for r in rfs], ns)
            for i, c in enumerate(g.members):
                y = np.take(table, 1, axis=nr + i).sum(axis=tuple(range(nr, nr + size - 1)))
                share = np.divide(y, z, out=np.zeros_like(y), where=z > 0)
                if nr:
                    shares.append((c, _place(share, [spos[r] for r in rfs], ns)))
                else:
                    out[c] = share  # the same in every cell: exactly its marginal
                    const = const * (z > 0)
        grid_axes = tuple(range(ns))
        if not coupled:
            total = weight.sum(axis=grid_axes) if ns else weight.reshape(d)
            for c, share in shares:
                out[c] = (weight * share).sum(axis=grid_axes)
            return _normalise(out, total, const, [c for c, _ in shares])

        # Channels over the crossed cells (shared risk factors a coupled group uses): 0 = the weight
        # (P(cell) x the uncoupled groups' z), then one per uncoupled member that varies (its numerator).
        crossed = sorted({r for gi in coupled for r in tables[gi][1]})
        summed = tuple(spos[r] for r in shared if r not in crossed)
        channels = np.stack([weight.sum(axis=summed)] + [(weight * s).sum(axis=summed) for _, s in shares])
        dependent = [gi for gi in coupled if tables[gi][1]]
        independent = [gi for gi in coupled if not tables[gi][1]]
        order = _elimination_order(dependent, {gi: tables[gi][1] for gi in dependent},
                                   {gi: len(net.groups[gi].members) for gi in dependent}, net.rf_cards)
        # Axes of the coupled configurations: the dependent groups' members in elimination order, then the rest.
        members = [c for gi, _ in order for c in net.groups[gi].members] + \
                  [c for gi in independent for c in net.groups[gi].members]
        u = len(members)
        axis = {c: i for i, c in enumerate(members)}
        u_dep = sum(len(net.groups[gi].members) for gi, _ in order)
        # Variable elimination over the crossed risk factors: (channels, *crossed cells, *dependent members, D).
        nc = len(crossed)
        cpos = {r: i for i, r in enumerate(crossed)}
        prior = channels.reshape(channels.shape[0], *channels.shape[1:-1], *(1,) * u_dep, d)
        for gi, done in order:
            table, rfs = tables[gi]
            placed = _place(table, [1 + cpos[r] for r in rfs] + [1 + nc + axis[c] for c in net.groups[gi].members],
                            1 + nc + u_dep)
            prior = prior * placed
            if done:
                prior = prior.sum(axis=tuple(1 + cpos[r] for r in done), keepdims=True)
        prior = prior.reshape(prior.shape[0], *prior.shape[1 + nc:-1], *(1,) * (u - u_dep), d)  # (channels, members.., D)

        # The likelihood and the independent groups' tables, merged in a greedy order.
        factors = [(sum(1 << axis[c] for c in parents), _place(table, [axis[c] for c in parents], u))
                   for parents, table in likelihood]
        for gi in independent:
            table, _ = tables[gi]
            factors.append((sum(1 << axis[c] for c in net.groups[gi].members),
                            _place(table, [axis[c] for c in net.groups[gi].members], u)))
        dep_mask = (1 << u_dep) - 1
        if shares:
            rest = _product(factors, u)
            joint = rest * prior[0]
            # numerators of the varying uncoupled members: their channel against the rest summed over
            # the members outside the prior factor
            reduced = np.broadcast_to(rest, (2,) * u + (d,)).sum(axis=tuple(range(u_dep, u)), keepdims=True) \
                if u > u_dep else rest
            numerators = (prior[1:] * reduced[None]).reshape(len(shares), -1, d).sum(axis=1)
            for (c, _), numerator in zip(shares, numerators, strict=True):
                out[c] = numerator
        else:
            merged = _merge(factors + [(dep_mask, prior[0])], u)
            if len(merged) == 2:  # two scopes: pass messages between them, never build the full array
                out[members], total = _two_scope_marginals(merged, u)
                return _normalise(out, total, const, members)
            joint = _multiply(merged)
        joint = np.broadcast_to(joint, (2,) * u + (d,)).reshape(2**u, d)
        total = joint.sum(axis=0)
        out[members] = _member_bits(u) @ joint
        return _normalise(out, total, const, [c for c, _ in shares] + members)


def _normalise(numerators: np.ndarray, total: np.ndarray, const: np.ndarray, scaled: list[int]) -> np.ndarray:
    """(D, K): the rows ``scaled`` of ``numerators`` (K, D) over the total (the other rows are
    already marginals); NaN for draws under which the evidence is impossible (the total is 0, or a
    factor shared by every configuration is, which otherwise cancels)."""
    possible = (total > 0) & (const > 0)
    if scaled:
        numerators[scaled] = numerators[scaled] / np.where(possible, total, 1.0)
    out = numerators.T.copy()
    out[~possible] = np.nan
    return out


def _place(table: np.ndarray, axes: list[int], n: int) -> np.ndarray:
    """A view of ``table`` (a_0, ..., a_m, D), contiguous, as an array of n + 1 dimensions whose
    axis ``axes[j]`` is the table's axis j and every other axis has length 1 (for broadcasting).
    No copy."""
    shape = [1] * n + [table.shape[-1]]
    strides = [0] * n + [table.strides[-1]]
    for j, a in enumerate(axes):
        shape[a] = table.shape[j]
        strides[a] = table.strides[j]
    return as_strided(table, shape=shape, strides=strides, writeable=False)


def _odds_factors(lam: np.ndarray, members: tuple[int, ...], d: int) -> np.ndarray:
    """(2, ..., 2, D): per member configuration (axis i <-> member i, index 1 = present), the
    product of the present members' likelihood ratios ``lam`` (K, D)."""
    out = np.stack([np.ones(d), lam[members[0]]])
    for c in members[1:]:  # each new member's axis goes just before the draws
        out = np.stack([out, out * lam[c]], axis=-2)
    return out


def _elimination_order(dependent: list[int], rfs: dict[int, tuple[int, ...]], sizes: dict[int, int],
                       cards: list[int]) -> list[tuple[int, tuple[int, ...]]]:
    """The dependent groups in a greedy order that keeps the (cells x configurations) array small,
    each with the crossed risk factors that can be summed right after it (no group still to come
    uses them)."""
    left = list(dependent)
    live = {r for gi in dependent for r in rfs[gi]}
    width, order = 0, []
    while left:
        costs = []
        for gi in left:  # cells x configurations once gi is in and the risk factors it finishes are summed
            kept = [r for r in live if any(r in rfs[g] for g in left if g != gi)]
            costs.append((float(np.prod([cards[r] for r in kept])) * 2.0 ** (width + sizes[gi]), gi))
        gi = min(costs)[1]
        left.remove(gi)
        width += sizes[gi]
        done = tuple(sorted(r for r in live if not any(r in rfs[g] for g in left)))
        live -= set(done)
        order.append((gi, done))
    return order


def _product(factors: list[tuple[int, np.ndarray]], u: int) -> np.ndarray:
    """The product of factors given as (scope bitmask over the u axes, broadcastable array)."""
    return _multiply(_merge(factors, u))


def _multiply(merged: list[tuple[int, np.ndarray]]) -> np.ndarray:
    """The product of merged factors, largest scope first."""
    merged = sorted(merged, key=lambda f: -f[0].bit_count())
    out = merged[0][1]
    for _, table in merged[1:]:
        out = out * table
    return out


def _two_scope_marginals(merged: list[tuple[int, np.ndarray]], u: int) -> tuple[np.ndarray, np.ndarray]:
    """(u, D) sums of the product of two factors with each axis present, and (D,) its total, from
    the two factors and their messages over the shared axes (a two-clique junction tree): each
    factor times the other summed over its own axes."""
    (a_mask, a), (b_mask, b) = merged
    axes = range(u)
    only_a = tuple(i for i in axes if a_mask >> i & 1 and not b_mask >> i & 1)
    only_b = tuple(i for i in axes if b_mask >> i & 1 and not a_mask >> i & 1)
    belief_a = a * b.sum(axis=only_b, keepdims=True)  # scope of a
    belief_b = b * a.sum(axis=only_a, keepdims=True)  # scope of b
    d = a.shape[-1]
    out = np.empty((u, d))
    in_a = [i for i in axes if a_mask >> i & 1]
    flat_a = np.ascontiguousarray(belief_a).reshape(-1, d)
    out[in_a] = _member_bits(len(in_a)) @ flat_a
    total = flat_a.sum(axis=0)
    if only_b:
        in_b = [i for i in axes if b_mask >> i & 1]
        rows = _member_bits(len(in_b)) @ np.ascontiguousarray(belief_b).reshape(-1, d)
        for row, i in zip(rows, in_b, strict=True):
            if i in only_b:
                out[i] = row
    return out, total


def _merge(factors: list[tuple[int, np.ndarray]], u: int) -> list[tuple[int, np.ndarray]]:
    """Factors given as (scope bitmask over the u axes, broadcastable array), merged: a factor
    whose scope is inside another's is multiplied into the smallest such; then pairs with the
    smallest joint scope are merged while that scope is smaller than all u axes."""
    factors = sorted(factors, key=lambda f: f[0].bit_count())
    merged: list[tuple[int, np.ndarray]] = []
    for mask, table in reversed(factors):  # largest scopes first: the others fold into the smallest that holds them
        inside = [i for i, (have, _) in enumerate(merged) if mask & have == mask]
        if inside:
            i = inside[-1]
            merged[i] = (merged[i][0], merged[i][1] * table)
        else:
            merged.append((mask, table))
    full = (1 << u) - 1
    while len(merged) > 1:
        size, i, j = min(((a | b).bit_count(), i, j) for i, (a, _) in enumerate(merged)
                         for j, (b, _) in enumerate(merged) if i < j)
        if (merged[i][0] | merged[j][0]) == full:
            break
        (a, x), (b, y) = merged[i], merged[j]
        merged = [f for n, f in enumerate(merged) if n not in (i, j)] + [(a | b, x * y)]
    return merged


@cache
def _member_bits(u: int) -> np.ndarray:
    """(u, 2**u) 1.0 where member axis i is present in config x; C order, so axis 0 is the top bit."""
    return ((np.arange(2**u)[None, :] >> np.arange(u - 1, -1, -1)[:, None]) & 1).astype(float)
