"""The case plans as first written (commit 30274d3), kept unchanged as the reference of
``test_grouped_plan.py``: one Skeleton per (shared unanswered, coupled groups as answered), the
elimination rebuilt per skeleton, a heap merge of the parts, product trees cached with their
factor indices. ``model.inference.grouped_plan`` must build plans equal to these, so its numbers
are bit-identical. Not imported by the package."""

from __future__ import annotations

import heapq
from functools import lru_cache

import numpy as np

from model.inference.compiled import CompiledNetwork


def group_index(net: CompiledNetwork, unanswered: tuple[bool, ...]) -> list[tuple[tuple, tuple[tuple[int, int], ...], tuple[int, ...]]]:
    """Per group: the index template into its extended table (``GroupedDraws``: an answered risk
    factor's position is filled with the case's code, an unanswered shared one is a full slice,
    an unanswered private one the summed-out index), the [(position, risk factor)] to fill, and
    the group's members. ``unanswered`` (n_rf,): True where a risk factor is unanswered."""
    out = []
    for g in net.groups:
        template: list = []
        fill: list[tuple[int, int]] = []
        for pos, r in enumerate(g.rf_axes):
            if not unanswered[r]:
                template.append(0)
                fill.append((pos, r))
            elif net.rf_shared[r]:
                template.append(slice(None))
            else:
                template.append(net.rf_cards[r])  # the summed-out index
        size = len(g.members)  # the extended tables keep the member axes first
        out.append(((slice(None),) * size + tuple(template), tuple((size + pos, r) for pos, r in fill), g.members))
    return out


class Skeleton:
    """What a case's unanswered shared risk factors and its coupled groups fix (see
    :class:`CasePlan`). ``unanswered`` (n_rf,): True where a risk factor is unanswered (only the
    shared ones are read); ``weights``: the network's cache of grid weights (:func:`_grid_weight`)."""

    def __init__(self, net: CompiledNetwork, unanswered: tuple[bool, ...], coupled: tuple[int, ...],
                 weights: dict[tuple[int, ...], np.ndarray]) -> None:
        d = net.draws
        groups = net.groups
        cards = net.rf_cards
        # Each group's remaining (shared, unanswered) risk factors; its table is (members, those, D).
        remaining = [tuple(r for r in g.rf_axes if unanswered[r] and net.rf_shared[r]) for g in groups]
        self.odds_shape = [(*(2,) * len(g.members), *(1,) * len(rest), d) for g, rest in zip(groups, remaining, strict=True)]
        if coupled:
            # An uncoupled group on the grid joins the elimination too (one more member axis of the
            # prior factor, no likelihood on it): the cells then enter lazily, with one channel.
            coupled = tuple(sorted(set(coupled) | {gi for gi in range(len(groups)) if remaining[gi]}))
        self.coupled = coupled
        coupled_set = set(coupled)
        self.placements: dict[tuple[int, ...], tuple] = {}  # CasePlan's likelihood placements by scope

        shared = sorted({r for rest in remaining for r in rest})
        ns = len(shared)
        spos = {r: i for i, r in enumerate(shared)}
        self.weight = _grid_weight(net, tuple(shared), weights)

        def on_grid(rfs: tuple[int, ...]) -> tuple[int, ...]:
            shape = [1] * ns + [d]
            for r in rfs:
                shape[spos[r]] = cards[r]
            return tuple(shape)

        self.uncoupled = []
        for gi, g in enumerate(groups):
            if gi in coupled_set:
                continue
            nr, size = len(remaining[gi]), len(g.members)
            member_axes = tuple(range(size))
            rest_axes = [tuple(range(size - 1))] * size
            self.uncoupled.append((gi, nr, member_axes, rest_axes, on_grid(remaining[gi])))
        if not coupled:
            return

        crossed = sorted({r for gi in coupled for r in remaining[gi]})
        dependent = [gi for gi in coupled if remaining[gi]]
        independent = [gi for gi in coupled if not remaining[gi]]
        order = _elimination_order(dependent, {gi: remaining[gi] for gi in dependent},
                                   {gi: len(groups[gi].members) for gi in dependent}, cards)
        # Axes of the coupled configurations: the dependent groups' members in elimination order, then the rest.
        members = [c for gi, _ in order for c in groups[gi].members] + [c for gi in independent for c in groups[gi].members]
        self.members = members
        u = self.u = len(members)
        self.axis = {c: i for i, c in enumerate(members)}
        u_dep = self.u_dep = sum(len(groups[gi].members) for gi, _ in order)
        # Variable elimination over the crossed risk factors. Labels: Y a leading axis of 1, a
        # capital per risk factor, a small letter per member axis, Z the draws. No uncoupled group
        # is left on the grid, so the cell weight is the product of the risk factors' own
        # distributions (the others sum to one): each risk factor enters with the first group that
        # uses it (its distribution multiplied into that group's table).
        rf_letter = {r: chr(ord("A") + j) for j, r in enumerate(crossed)}
        member_letter = {c: chr(ord("a") + i) for c, i in self.axis.items()}
        live: list[int] = []
        # A group that finishes no risk factor is a broadcast product, except just before one that
        # does: then ONE einsum multiplies both groups' tables into the prior and sums the finished
        # risk factors (no temporary of that product, the largest array of the elimination).
        # Layouts: the prior (Y, members so far, live risk factors (sorted), Z), a group's table
        # (its members, its risk factors (sorted), Z): the summed axes sit next to the draws.
        self.steps = []
        so_far: list[int] = []
        steps = list(order)

        def labels(members_: list[int], rfs_: list[int]) -> str:
            return "".join(member_letter[c] for c in members_) + "".join(rf_letter[r] for r in rfs_)

        for k, (gi, done) in enumerate(steps):
            g_rfs = list(remaining[gi])
            g_members = list(groups[gi].members)
            size = len(g_members)
            intro = []
            for pos, r in enumerate(g_rfs):
                if r not in live:
                    shape = [1] * (size + len(g_rfs) + 1)
                    shape[size + pos], shape[-1] = cards[r], d
                    intro.append((r, tuple(shape)))
            before = sorted(set(live) | set(g_rfs))
            fuse_next = not done and k + 1 < len(steps) and bool(steps[k + 1][1])
            if done or fuse_next:
                if not self.steps or self.steps[-1][0] != "pending":
                    self.steps.append(("pending", [], "Y" + labels(so_far, live) + "Z", []))
                _, groups_in, inputs, held = self.steps[-1]
                groups_in.append((gi, tuple(intro)))
                held.append((g_rfs, g_members))
                self.steps[-1] = ("pending", groups_in, inputs, held)
            else:  # a broadcast product (both label orders agree: members, then risk factors sorted)
                prior_shape = (1, *(2,) * len(so_far), *(1,) * size, *(cards[r] if r in live else 1 for r in before), d)
                table_shape = (1, *(1,) * len(so_far), *(2,) * size, *(cards[r] if r in g_rfs else 1 for r in before), d)
                self.steps.append(("product", ((gi, tuple(intro)),), (prior_shape, table_shape)))
            live = [r for r in before if r not in done]
            so_far += g_members
            if done:
                _, groups_in, inputs, held = self.steps[-1]
                # two tables are multiplied together first (small), then one two-operand einsum
                rfs = sorted({r for g_rfs_, _ in held for r in g_rfs_})
                ms = [c for _, g_members_ in held for c in g_members_]
                shapes = None
                if len(held) == 2:
                    shapes = tuple((*(2 if c in g_members_ else 1 for c in ms),
                                    *(cards[r] if r in g_rfs_ else 1 for r in rfs), d) for g_rfs_, g_members_ in held)
                inputs += "," + labels(ms, rfs) + "Z"
                output = "Y" + labels(so_far, live) + "Z"
                self.steps[-1] = ("einsum", tuple(groups_in), (inputs + "->" + output, shapes))
        assert not live, "every crossed risk factor is summed"
        self.prior_final = (*(2,) * u_dep, *(1,) * (u - u_dep), d)
        self.full_shape = (2,) * u + (d,)
        self.independent_place = []
        self.independent_masks = []
        for gi in independent:
            shape = [1] * u + [d]
            for c in groups[gi].members:
                shape[self.axis[c]] = 2
            self.independent_place.append((gi, tuple(shape)))
            self.independent_masks.append(sum(1 << self.axis[c] for c in groups[gi].members))


class CasePlan:
    """Index bookkeeping of one case structure (see the module docstring).

    Built from the :class:`Skeleton` of the case's unanswered shared risk factors and coupled
    groups, ``scopes``: per answered evidence factor with coupled parents (factor order), those
    parents (condition indices), and ``index``: :func:`group_index` of the case's unanswered risk
    factors (kept as ``group_index``). Attributes (read by ``GroupedDraws.marginals``; D = draws,
    "grid" = the shared unanswered risk factors in network order); from the skeleton:

    - ``weight``: (*grid cards, D) P(grid cell), read-only;
    - ``uncoupled``: per uncoupled group (group, number of its grid axes, its member axes, per member
      the member axes left after picking it, shape of a per-cell array placed on the grid);
    - ``coupled``: coupled groups (when any group is, every group on the grid is too);
    - ``steps`` / ``prior_final``: the variable elimination over the crossed risk factors (a
      leading 1, *dependent members, *live cells, D): per step its kind ("product": a broadcast
      product, with the prior's and the table's shapes; "einsum": one or two groups multiplied in
      and the risk factors finished summed, with the subscripts and, for two, the shapes that
      broadcast them into one table first) and the groups it multiplies in, each with the risk
      factors entering with it (risk factor, shape placing its distribution on the group's
      table); then the prior factor's shape on the u member axes + D;
    - ``independent_place``: (group, shape) placing each coupled group without a grid axis on the u
      member axes + D;
    - ``members`` (u condition indices of the member axes), ``u``, ``u_dep`` (the first u_dep are
      the dependent groups' members), ``full_shape`` ((2,) * u + (D,));

    and from the scopes:

    - ``likelihood_place``: (axis permutation or None, shape) placing each coupled likelihood table;
    - ``merge``: the factors (likelihood, independent groups, then the prior) merged into parts,
      largest scope first (more than two folded into the largest and the product of the rest);
      each part's product as a program (:func:`_product_tree`);
    - ``two``: when two parts remain, their axes for the two-clique messages; else None.
    """

    def __init__(self, skeleton: Skeleton, scopes: tuple[tuple[int, ...], ...], index: list) -> None:
        self.__dict__.update(skeleton.__dict__)
        self.group_index = index
        if not self.coupled:
            return
        u, d, axis = self.u, self.full_shape[-1], self.axis
        masks: list[int] = []
        self.likelihood_place = []
        known = skeleton.placements  # by scope: the same for every case of this skeleton
        for scope in scopes:
            hit = known.get(scope)
            if hit is None:
                targets = [axis[c] for c in scope]
                perm = sorted(range(len(targets)), key=targets.__getitem__)
                shape = [1] * u + [d]
                for t in targets:
                    shape[t] = 2
                identity = perm == list(range(len(targets)))
                hit = known[scope] = ((None if identity else (*perm, len(targets)), tuple(shape)),
                                      sum(1 << t for t in targets))
            self.likelihood_place.append(hit[0])
            masks.append(hit[1])
        masks.extend(self.independent_masks)
        masks.append((1 << self.u_dep) - 1)  # the prior factor over the dependent members
        parts = _merge_plan(tuple(masks), u)
        if len(parts) > 2:
            # more than two parts: the largest, and the product of the others (the messages between
            # these two still never build the product of all, nor sum it axis by axis)
            rest = tuple(sorted((i for _, part in parts[1:] for i in part), key=lambda i: -masks[i].bit_count()))
            union = 0
            for i in rest:
                union |= masks[i]
            parts = [parts[0], (union, rest)]
        self.merge = [_product_tree(tuple(masks[i] for i in part), part) for _, part in parts]
        self.two = None
        if len(parts) == 2:
            self.two = _two_scope_plan(parts[0][0], parts[1][0], u, d)


def _two_scope_plan(a_mask: int, b_mask: int, u: int, d: int) -> tuple:
    """Axes of the two-clique messages between two factors of scopes ``a_mask`` and ``b_mask``
    (bitmasks over u axes): the squeezed shapes, the axes each sums to give the shared scope S,
    einsum subscripts for each factor against the other's message, and the axes (member
    positions) of S, a only and b only."""
    in_a = [i for i in range(u) if a_mask >> i & 1]
    in_b = [i for i in range(u) if b_mask >> i & 1]
    shared = [i for i in in_a if i in in_b]
    only_a = [i for i in in_a if i not in shared]
    only_b = [i for i in in_b if i not in shared]
    letter = {i: chr(ord("a") + i) for i in range(u)}

    def sub(axes: list[int]) -> str:
        return "".join(letter[i] for i in axes) + "Z"

    return ((*(2,) * len(in_a), d), (*(2,) * len(in_b), d),
            tuple(in_a.index(i) for i in only_a), tuple(in_b.index(i) for i in only_b),
            f"{sub(in_a)},{sub(shared)}->{sub(only_a)}", f"{sub(in_b)},{sub(shared)}->{sub(only_b)}",
            shared, only_a, only_b)


def _grid_weight(net: CompiledNetwork, shared: tuple[int, ...], cache: dict[tuple[int, ...], np.ndarray]) -> np.ndarray:
    """(*cards of ``shared``, D) P(cell) (the risk factors are independent a priori), read-only;
    kept in ``cache`` (one per network) by the set of risk factors."""
    weight = cache.get(shared)
    if weight is None:
        d, ns = net.draws, len(shared)
        weight = np.ones((1,) * ns + (d,))
        for i, r in enumerate(shared):
            shape = [1] * ns + [d]
            shape[i] = net.rf_cards[r]
            weight = weight * net.rf_probs_last[r].reshape(shape)
        weight.flags.writeable = False
        cache[shared] = weight
    return weight


def _elimination_order(dependent: list[int], rfs: dict[int, tuple[int, ...]], sizes: dict[int, int],
                       cards: list[int]) -> list[tuple[int, tuple[int, ...]]]:
    key = (tuple(dependent), tuple(rfs[gi] for gi in dependent), tuple(sizes[gi] for gi in dependent), tuple(cards))
    order = _ORDERS.get(key)
    if order is None:
        if len(_ORDERS) >= 4096:
            _ORDERS.clear()
        order = _ORDERS[key] = _greedy_order(dependent, rfs, sizes, cards)
    return order


_ORDERS: dict[tuple, list[tuple[int, tuple[int, ...]]]] = {}


def _greedy_order(dependent: list[int], rfs: dict[int, tuple[int, ...]], sizes: dict[int, int],
                  cards: list[int]) -> list[tuple[int, tuple[int, ...]]]:
    """:func:`_elimination_order` without the cache (risk-factor sets as bitmasks)."""
    cells = _cells_table(tuple(cards))
    uses = {gi: sum(1 << r for r in rfs[gi]) for gi in dependent}
    left = list(dependent)
    live = 0
    for gi in dependent:
        live |= uses[gi]
    width, order = 0, []
    while left:
        n = len(left)
        before = [0] * (n + 1)  # OR of the risk factors of left[:i], and of left[i + 1:]
        after = [0] * (n + 1)
        for i in range(n):
            before[i + 1] = before[i] | uses[left[i]]
            after[n - 1 - i] = after[n - i] | uses[left[n - 1 - i]]
        best = None
        for i, gi in enumerate(left):  # cells x configurations once gi is in and the risk factors it finishes are summed
            cost = (cells[live & (before[i] | after[i + 1])] * 2.0 ** (width + sizes[gi]), gi)
            if best is None or cost < best:
                best = cost
        gi = best[1]
        left.remove(gi)
        width += sizes[gi]
        still = 0
        for g in left:
            still |= uses[g]
        done = live & ~still
        live &= still
        order.append((gi, tuple(r for r in range(len(cards)) if done >> r & 1)))
    return order


@lru_cache(maxsize=16)
def _cells_table(cards: tuple[int, ...]) -> list[float]:
    """Per bitmask of risk factors, the number of their joint cells."""
    table = [1.0] * (1 << len(cards))
    for mask in range(1, len(table)):
        low = (mask & -mask).bit_length() - 1
        table[mask] = table[mask & (mask - 1)] * cards[low]
    return table


@lru_cache(maxsize=2048)
def _merge_plan(masks: tuple[int, ...], u: int) -> list[tuple[int, tuple[int, ...]]]:
    """Factors given by their scope bitmasks over the u axes, merged: a factor whose scope is
    inside another's is multiplied into the smallest such; then pairs with the smallest joint
    scope are merged while that scope is smaller than all u axes. Returns the parts as (scope,
    factor indices, largest scope first), the parts largest scope first."""
    order = sorted(range(len(masks)), key=lambda i: masks[i].bit_count())
    merged: list[tuple[int, list[int]]] = []
    for i in reversed(order):  # largest scopes first: the others fold into the smallest that holds them
        mask = masks[i]
        inside = [j for j, (have, _) in enumerate(merged) if mask & have == mask]
        if inside:
            merged[inside[-1]][1].append(i)
        else:
            merged.append((mask, [i]))
    full = (1 << u) - 1
    scope = [mask for mask, _ in merged]
    members = [part for _, part in merged]
    alive = [True] * len(merged)
    heap = [((scope[i] | scope[j]).bit_count(), i, j) for i in range(len(scope)) for j in range(i + 1, len(scope))]
    heapq.heapify(heap)
    while heap:
        _, i, j = heapq.heappop(heap)
        if not (alive[i] and alive[j]):
            continue
        union = scope[i] | scope[j]
        if union == full:  # the smallest joint scope is everything: stop
            break
        alive[i] = alive[j] = False
        new = len(scope)
        for k in range(new):
            if alive[k]:
                heapq.heappush(heap, ((scope[k] | union).bit_count(), k, new))
        scope.append(union)
        members.append(members[i] + members[j])
        alive.append(True)
    merged = [(scope[k], members[k]) for k in range(len(scope)) if alive[k]]
    parts = [(mask, tuple(sorted(part, key=lambda i: -masks[i].bit_count()))) for mask, part in merged]
    return sorted(parts, key=lambda p: -p[0].bit_count())


@lru_cache(maxsize=2048)
def _product_tree(masks: tuple[int, ...], factors: tuple[int, ...]) -> tuple[tuple[int, ...], tuple[tuple[int, int, bool], ...]]:
    """How to multiply the factors of one part (scope bitmasks ``masks`` of the factor indices
    ``factors``) cheaply: repeatedly the two operands whose joint scope is smallest, so small scopes
    are multiplied together before they meet the large ones (each product costs 2**|scope| x D).

    Returns (factors, steps): operands 0..n-1 are the factors, step t appends operand n + t as the
    product of operands i and j, in place into i when ``True`` (i is a product made here whose
    scope already holds j's). The last operand is the part's product."""
    live = list(range(len(masks)))
    scope = list(masks)
    made = [False] * len(masks)
    steps = []
    while len(live) > 1:
        best, i, j = 1 << 30, -1, -1
        for n, a in enumerate(live):  # ascending ids: the first minimum has the lowest (i, j)
            scope_a = scope[a]
            for b in live[n + 1:]:
                joint = (scope_a | scope[b]).bit_count()
                if joint < best:
                    best, i, j = joint, a, b
        if scope[j].bit_count() > scope[i].bit_count() or (made[j] and not made[i]):
            i, j = j, i  # the larger (or the fresh) operand first
        union = scope[i] | scope[j]
        in_place = made[i] and union == scope[i]
        steps.append((i, j, in_place))
        live.remove(i)
        live.remove(j)
        live.append(len(scope))
        scope.append(union)
        made.append(True)
    return factors, tuple(steps)
