"""The plan of one case *structure* for :mod:`model.inference.grouped_draws`.

Which risk factors are unanswered and which conditions each answered evidence factor couples fix
everything but the numbers: which groups are coupled, the grid of shared unanswered risk factors,
the variable-elimination order over the crossed ones, where each table's axes go, the order in
which the factors are merged, and the final reduction. ``GroupedDraws`` caches plans by structure,
so a case only runs the array arithmetic. What a plan shares with others is cached by what fixes
it: a :class:`Grid` (grid weight, variable elimination) by the unanswered shared risk factors, a
:class:`Skeleton` by those and the coupled groups closed over the grid (:meth:`Grid.close`), a
likelihood placement by its member axes, the two-clique message axes by the scopes of each part's
last product's operands (that product is never built: ``grouped_draws._two_scope_marginals``),
their einsum subscripts by scope, a product tree by its operands' scopes (local positions).

Nearly every case has a structure of its own (300 distinct in 300 cases of either bench mix), so
its :class:`CasePlan` is new: pure Python, about 0.05 ms (random mix) to 0.09-0.12 ms (simulated
mix, 10-20 scopes over about 11 member axes) per case (``GroupedDraws.plan`` of 300 new structures
timed alone, OMP_NUM_THREADS=1; inside the case loop, after the array arithmetic, 0.07 and
0.11-0.12 ms), most of it the greedy merge into parts and the greedy product trees (each step
scans every pair of live operands: O(n**3) for n of about 10, faster in pure Python at that size
than a heap, pruning by scope size, or per-operand nearest partners, tried). The plan is exact
bookkeeping: it changes no number, only which arrays are multiplied and summed in which order
(``tests/model/test_grouped_plan.py`` checks the merge and the product programs against what they
must be, and the planned posteriors against the general contraction).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .compiled import CompiledNetwork

TREE_CACHE_SIZE = 4096  # product trees kept by their operands' scopes (about 0.3 kB each)
TWO_CACHE_SIZE = 1024  # two-clique message axes kept by (scope a, scope b, u, D)
PLACE_CACHE_SIZE = 4096  # likelihood placements kept by (member axes, u, D)


def group_index(net: CompiledNetwork, unanswered: tuple[bool, ...]) -> list[tuple[tuple, tuple[tuple[int, int], ...], tuple[int, ...]]]:
    """Per group: the index template into its extended table (``GroupedDraws``: an answered risk
    factor's position is filled with the case's code, an unanswered shared one is a full slice,
    an unanswered private one the summed-out index), the [(position, risk factor)] to fill, and
    the group's members. ``unanswered`` (n_rf,): True where a risk factor is unanswered."""
    out = []
    shared, cards = net.rf_shared, net.rf_cards
    everything = slice(None)
    for g in net.groups:
        size = len(g.members)  # the extended tables keep the member axes first
        template: list = [everything] * size
        fill: list[tuple[int, int]] = []
        for pos, r in enumerate(g.rf_axes, size):
            if not unanswered[r]:
                template.append(0)
                fill.append((pos, r))
            else:  # a shared one: a full slice; a private one: the summed-out index
                template.append(everything if shared[r] else cards[r])
        out.append((tuple(template), tuple(fill), g.members))
    return out


class Grid:
    """What a case's unanswered shared risk factors alone fix (cached by ``GroupedDraws`` per
    ``unanswered``, (n_rf,) True where a shared risk factor is unanswered; the others are not
    read): per group its remaining (shared, unanswered) risk factors, the shape of its odds
    factors, the grid weight (``weights``: the network's cache, :func:`_grid_weight`), the groups
    on the grid (``dependent``), per group its closed-form entry when it is not coupled, and, once
    asked for (:meth:`elimination`), the variable elimination over the grid."""

    def __init__(self, net: CompiledNetwork, unanswered: tuple[bool, ...], weights: dict[tuple[int, ...], np.ndarray],
                 rf_probs: list[np.ndarray] | None = None) -> None:
        self.net = net
        # per risk factor (card, D) its distribution, in the precision of the arithmetic (the network's by default)
        self.rf_probs = net.rf_probs_last if rf_probs is None else rf_probs
        d = net.draws
        groups = net.groups
        cards = net.rf_cards
        # Each group's remaining (shared, unanswered) risk factors; its table is (members, those, D).
        remaining = self.remaining = [tuple(r for r in g.rf_axes if unanswered[r] and net.rf_shared[r]) for g in groups]
        self.odds_shape = [(*(2,) * len(g.members), *(1,) * len(rest), d) for g, rest in zip(groups, remaining, strict=True)]
        self.dependent = tuple(gi for gi in range(len(groups)) if remaining[gi])
        shared = sorted({r for rest in remaining for r in rest})
        ns = len(shared)
        spos = {r: i for i, r in enumerate(shared)}
        self.weight = _grid_weight(net, tuple(shared), weights, self.rf_probs)

        def on_grid(rfs: tuple[int, ...]) -> tuple[int, ...]:
            shape = [1] * ns + [d]
            for r in rfs:
                shape[spos[r]] = cards[r]
            return tuple(shape)

        self.closed_form = []  # per group, its entry of Skeleton.uncoupled
        for gi, g in enumerate(groups):
            nr, size = len(remaining[gi]), len(g.members)
            self.closed_form.append((gi, nr, tuple(range(size)), [tuple(range(size - 1))] * size, on_grid(remaining[gi])))
        self._elimination: tuple | None = None

    def close(self, coupled: tuple[int, ...]) -> tuple[int, ...]:
        """The coupled groups (sorted) of a case whose answers couple the groups ``coupled``: none
        when none is; else those and every group on the grid (it joins the elimination: one more
        member axis of the prior factor, no likelihood on it; the cells then enter lazily, with
        one channel)."""
        if not coupled:
            return ()
        return tuple(sorted(set(coupled).union(self.dependent)))

    def elimination(self) -> tuple[list, list[int], int]:
        """(steps, the dependent groups' members in elimination order, their number): the variable
        elimination over the crossed risk factors (see :class:`CasePlan`), the same for every
        coupled case of this grid (every group on the grid is then coupled). Built once."""
        if self._elimination is None:
            self._elimination = self._eliminate()
        return self._elimination

    def _eliminate(self) -> tuple[list, list[int], int]:
        net, remaining, dependent = self.net, self.remaining, list(self.dependent)
        groups, cards, d = net.groups, net.rf_cards, net.draws
        crossed = sorted({r for gi in dependent for r in remaining[gi]})
        order = _elimination_order(dependent, {gi: remaining[gi] for gi in dependent},
                                   {gi: len(groups[gi].members) for gi in dependent}, cards)
        members = [c for gi, _ in order for c in groups[gi].members]  # the first member axes
        # Variable elimination over the crossed risk factors. Labels: Y a leading axis of 1, a
        # capital per risk factor, a small letter per member axis, Z the draws. No uncoupled group
        # is left on the grid, so the cell weight is the product of the risk factors' own
        # distributions (the others sum to one): each risk factor enters with the first group that
        # uses it (its distribution multiplied into that group's table).
        rf_letter = {r: chr(ord("A") + j) for j, r in enumerate(crossed)}
        member_letter = {c: chr(ord("a") + i) for i, c in enumerate(members)}
        live: list[int] = []
        # A group that finishes no risk factor is a broadcast product, except just before one that
        # does: then ONE einsum multiplies both groups' tables into the prior and sums the finished
        # risk factors (no temporary of that product, the largest array of the elimination).
        # Layouts: the prior (Y, members so far, live risk factors (sorted), Z), a group's table
        # (its members, its risk factors (sorted), Z): the summed axes sit next to the draws.
        out: list = []
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
                    intro.append((r, self.rf_probs[r].reshape(shape)))  # a read-only view
            before = sorted(set(live) | set(g_rfs))
            fuse_next = not done and k + 1 < len(steps) and bool(steps[k + 1][1])
            if done or fuse_next:
                if not out or out[-1][0] != "pending":
                    out.append(("pending", [], "Y" + labels(so_far, live) + "Z", []))
                _, groups_in, inputs, held = out[-1]
                groups_in.append((gi, tuple(intro)))
                held.append((g_rfs, g_members))
                out[-1] = ("pending", groups_in, inputs, held)
            else:  # a broadcast product (both label orders agree: members, then risk factors sorted)
                prior_shape = (1, *(2,) * len(so_far), *(1,) * size, *(cards[r] if r in live else 1 for r in before), d)
                table_shape = (1, *(1,) * len(so_far), *(2,) * size, *(cards[r] if r in g_rfs else 1 for r in before), d)
                out.append(("product", ((gi, tuple(intro)),), (prior_shape, table_shape)))
            live = [r for r in before if r not in done]
            so_far += g_members
            if done:
                _, groups_in, inputs, held = out[-1]
                # two tables are multiplied together first (small), then one two-operand einsum
                rfs = sorted({r for g_rfs_, _ in held for r in g_rfs_})
                ms = [c for _, g_members_ in held for c in g_members_]
                shapes = None
                if len(held) == 2:
                    shapes = tuple((*(2 if c in g_members_ else 1 for c in ms),
                                    *(cards[r] if r in g_rfs_ else 1 for r in rfs), d) for g_rfs_, g_members_ in held)
                inputs += "," + labels(ms, rfs) + "Z"
                output = "Y" + labels(so_far, live) + "Z"
                # the first step (the prior still all ones): its subscripts without the prior too
                alone = inputs[3:] + "->" + output[1:] if inputs.startswith("YZ,") else None
                out[-1] = ("einsum", tuple(groups_in), (inputs + "->" + output, shapes, alone))
        assert not live, "every crossed risk factor is summed"
        return out, members, len(members)


class Skeleton:
    """What a case's unanswered shared risk factors (its :class:`Grid`) and its coupled groups
    (``coupled``, closed by :meth:`Grid.close`; closed again here) fix (see :class:`CasePlan`);
    cached by ``GroupedDraws`` by the grid and the closed coupled groups."""

    def __init__(self, grid: Grid, coupled: tuple[int, ...]) -> None:
        groups = grid.net.groups
        d = grid.net.draws
        self.odds_shape = grid.odds_shape
        self.weight = grid.weight
        coupled = self.coupled = grid.close(coupled)
        coupled_set = set(coupled)
        self.placements: dict[tuple[int, ...], tuple] = {}  # CasePlan's likelihood placements by scope
        self.uncoupled = [entry for entry in grid.closed_form if entry[0] not in coupled_set]
        if not coupled:
            return
        self.steps, dependent_members, u_dep = grid.elimination()
        independent = [gi for gi in coupled if not grid.remaining[gi]]
        # Axes of the coupled configurations: the dependent groups' members in elimination order, then the rest.
        members = self.members = dependent_members + [c for gi in independent for c in groups[gi].members]
        u = self.u = len(members)
        self.axis = {c: i for i, c in enumerate(members)}
        self.u_dep = u_dep
        self.prior_final = (*(2,) * u_dep, *(1,) * (u - u_dep), d)
        self.full_shape = (2,) * u + (d,)
        self.prior_mask = (1 << u_dep) - 1  # the prior factor's scope: the dependent members
        self.independent_place = []
        self.independent_masks = []
        for gi in independent:
            shape = [1] * u + [d]
            for c in groups[gi].members:
                shape[self.axis[c]] = 2
            self.independent_place.append((gi, tuple(shape)))
            self.independent_masks.append(sum(1 << self.axis[c] for c in groups[gi].members))

    def place(self, scope: tuple[int, ...]) -> tuple[tuple, int]:
        """((axis permutation or None, shape) placing a likelihood table of coupled parents
        ``scope`` on the u member axes + D, its scope bitmask), kept in ``placements``."""
        hit = self.placements.get(scope)
        if hit is None:
            axis = self.axis
            hit = self.placements[scope] = _placement(tuple([axis[c] for c in scope]), self.u, self.full_shape[-1])
        return hit


@lru_cache(maxsize=PLACE_CACHE_SIZE)
def _placement(targets: tuple[int, ...], u: int, d: int) -> tuple[tuple, int]:
    """:meth:`Skeleton.place` for a table whose axis j goes to member axis ``targets[j]`` (of u),
    D last: cached by those (skeletons share them)."""
    perm = sorted(range(len(targets)), key=targets.__getitem__)
    shape = [1] * u + [d]
    for t in targets:
        shape[t] = 2
    identity = perm == list(range(len(targets)))
    return (None if identity else (*perm, len(targets)), tuple(shape)), sum(1 << t for t in targets)


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
      and the risk factors finished summed, with the subscripts, for two the shapes that
      broadcast them into one table first (else None), and for the first step the subscripts
      without the prior (all ones then; else None)) and the groups it multiplies in, each with the risk
      factors entering with it (risk factor, its distribution placed on the group's table);
      then the prior factor's shape on the u member axes + D;
    - ``independent_place``: (group, shape) placing each coupled group without a grid axis on the u
      member axes + D;
    - ``members`` (u condition indices of the member axes), ``u``, ``u_dep`` (the first u_dep are
      the dependent groups' members), ``full_shape`` ((2,) * u + (D,));

    and from the scopes:

    - ``likelihood_place``: (axis permutation or None, shape) placing each coupled likelihood table;
    - ``merge``: the factors (likelihood, independent groups, then the prior) merged into parts,
      largest scope first (more than two folded into the largest and the product of the rest);
      each part as (its factor indices, its product as a program (:func:`_product_tree`));
    - ``two``: when two parts remain, their axes for the two-clique messages; else None; and
      then ``two_members``: the members in the order of its rows (shared, a only, b only).
    """

    def __init__(self, skeleton: Skeleton, scopes: tuple[tuple[int, ...], ...], index: list) -> None:
        self.__dict__.update(skeleton.__dict__)
        self.group_index = index
        if not self.coupled:
            return
        known, place = skeleton.placements, skeleton.place
        placed = [known.get(scope) or place(scope) for scope in scopes]
        self.likelihood_place = [hit[0] for hit in placed]
        masks = [hit[1] for hit in placed]
        masks += self.independent_masks
        masks.append(self.prior_mask)  # the prior factor over the dependent members
        parts = _merge_plan(masks, self.u)
        if len(parts) > 2:
            # more than two parts: the largest, and the product of the others (the messages between
            # these two still never build the product of all, nor sum it axis by axis)
            rest = tuple(sorted((i for _, part in parts[1:] for i in part), key=lambda i: -masks[i].bit_count()))
            union = 0
            for i in rest:
                union |= masks[i]
            parts = [parts[0], (union, rest)]
        self.merge, last = [], []
        for _, part in parts:
            scopes_ = tuple([masks[i] for i in part])
            steps = _product_tree(scopes_)
            self.merge.append((part, steps))
            last.append(_last_operands(scopes_, steps))
        self.two = _two_scope_plan(*last, self.u, self.full_shape[-1]) if len(parts) == 2 else None
        if self.two is not None:  # the members in the order of the two-clique rows
            self.two_members = [self.members[i] for part in self.two[-3:] for i in part]


def _last_operands(masks: tuple[int, ...], steps: tuple[tuple[int, int, bool], ...]) -> tuple[int, ...]:
    """The scopes (bitmasks) of the operands of a part's last product (its program ``steps``,
    :func:`_product_tree`, over factors of scopes ``masks``): two, or the factor's own for a part
    of one factor (no product)."""
    if not steps:
        return masks
    scope = list(masks)
    for i, j, _ in steps[:-1]:
        scope.append(scope[i] | scope[j])
    i, j, _ = steps[-1]
    return scope[i], scope[j]


@lru_cache(maxsize=TWO_CACHE_SIZE)
def _two_scope_plan(a_ops: tuple[int, ...], b_ops: tuple[int, ...], u: int, d: int) -> tuple:
    """Axes of the two-clique messages between two parts a and b, each given by the scopes
    (bitmasks over u axes) of its last product's one or two operands (:func:`_last_operands`;
    the part is their product, never built): per part (its operands' squeezed shapes, how to sum
    it over its own axes to the shared scope S (the axes for ``sum`` for one operand, einsum
    subscripts of the product for two), einsum subscripts of its operands and the other part's
    message giving its own rows); then the axes (member positions) of S, a only and b only.
    Cached by its arguments (about a third of the coupled cases of the bench mixes share them
    with an earlier one); its pieces by their masks (:func:`_axes`, :func:`_subscript`)."""
    a_mask = b_mask = 0
    for m in a_ops:
        a_mask |= m
    for m in b_ops:
        b_mask |= m
    shared = a_mask & b_mask
    to_s = _subscript(shared)

    def side(ops: tuple[int, ...], part: int) -> tuple:
        own = part & ~shared
        inputs = ",".join([_subscript(m) for m in ops])
        if len(ops) == 1:  # positions of its own axes among the part's
            summed = tuple((part & ((1 << i) - 1)).bit_count() for i in _axes(own))
        else:
            summed = f"{inputs}->{to_s}"
        return tuple([(*(2,) * m.bit_count(), d) for m in ops]), summed, f"{inputs},{to_s}->{_subscript(own)}"

    return (side(a_ops, a_mask), side(b_ops, b_mask),
            list(_axes(shared)), list(_axes(a_mask & ~shared)), list(_axes(b_mask & ~shared)))


@lru_cache(maxsize=PLACE_CACHE_SIZE)
def _axes(mask: int) -> tuple[int, ...]:
    """The axes (ascending) of a scope bitmask."""
    return tuple(i for i in range(mask.bit_length()) if mask >> i & 1)


@lru_cache(maxsize=PLACE_CACHE_SIZE)
def _subscript(mask: int) -> str:
    """einsum subscripts of an array on the axes of a scope bitmask (axis i is the letter
    ``chr(ord("a") + i)``), draws last (Z)."""
    return "".join([chr(ord("a") + i) for i in _axes(mask)]) + "Z"


def _grid_weight(net: CompiledNetwork, shared: tuple[int, ...], cache: dict[tuple[int, ...], np.ndarray],
                 rf_probs: list[np.ndarray]) -> np.ndarray:
    """(*cards of ``shared``, D) P(cell) (the risk factors are independent a priori), read-only,
    in the precision of ``rf_probs`` (per risk factor (card, D)); kept in ``cache`` (one per
    network and precision) by the set of risk factors."""
    weight = cache.get(shared)
    if weight is None:
        d, ns = net.draws, len(shared)
        weight = np.ones((1,) * ns + (d,), dtype=rf_probs[0].dtype if rf_probs else float)
        for i, r in enumerate(shared):
            shape = [1] * ns + [d]
            shape[i] = net.rf_cards[r]
            weight = weight * rf_probs[r].reshape(shape)
        weight.flags.writeable = False
        cache[shared] = weight
    return weight


def _elimination_order(dependent: list[int], rfs: dict[int, tuple[int, ...]], sizes: dict[int, int],
                       cards: list[int]) -> list[tuple[int, tuple[int, ...]]]:
    """Greedy order in which the groups ``dependent`` enter the variable elimination: each step
    the group whose entry costs least (cells of the risk factors still live x member
    configurations so far), with the risk factors it finishes; risk-factor sets as bitmasks.
    Not cached: :class:`Grid` builds its elimination once."""
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


def _merge_plan(masks: list[int], u: int) -> list[tuple[int, tuple[int, ...]]]:
    """Factors given by their scope bitmasks over the u axes, merged: a factor whose scope is
    inside another's is multiplied into the smallest such; then pairs with the smallest joint
    scope are merged while that scope is smaller than all u axes. Returns the parts as (scope,
    factor indices, largest scope first), the parts largest scope first. Not cached: the mask
    lists of the bench mixes' cases are all different."""
    counts = [m.bit_count() for m in masks]
    scope: list[int] = []
    members: list[list[int]] = []
    # largest scopes first (the later of equal sizes first): the others fold into the last part
    # made that holds them, the smallest such
    for i in reversed(sorted(range(len(masks)), key=counts.__getitem__)):
        mask = masks[i]
        for k in range(len(scope) - 1, -1, -1):
            if mask & scope[k] == mask:
                members[k].append(i)
                break
        else:
            scope.append(mask)
            members.append([i])
    full = (1 << u) - 1
    live = list(range(len(scope)))
    while len(live) > 1:
        i, j = _closest_pair(live, scope)
        union = scope[i] | scope[j]
        if union == full:  # the smallest joint scope is everything: stop
            break
        live.remove(i)
        live.remove(j)
        live.append(len(scope))
        scope.append(union)
        members.append(members[i] + members[j])
    larger = [-c for c in counts]
    parts = [(scope[k], tuple(sorted(members[k], key=larger.__getitem__))) for k in live]
    return sorted(parts, key=lambda p: -p[0].bit_count())


def _closest_pair(live: list[int], scope: list[int]) -> tuple[int, int]:
    """Of the ``live`` operand ids (ascending), the pair (i, j), i < j, whose joint scope (bitmask
    union of ``scope``) has the fewest axes; on a tie the lowest pair. A scan of the few pairs
    (cheaper than a heap at these sizes)."""
    best, i, j = 1 << 30, -1, -1
    for n, a in enumerate(live):  # ascending ids: the first minimum has the lowest (i, j)
        scope_a = scope[a]
        for b in live[n + 1:]:
            joint = (scope_a | scope[b]).bit_count()
            if joint < best:
                best, i, j = joint, a, b
    return i, j


@lru_cache(maxsize=TREE_CACHE_SIZE)
def _product_tree(masks: tuple[int, ...]) -> tuple[tuple[int, int, bool], ...]:
    """How to multiply the factors of one part (their scope bitmasks ``masks``) cheaply:
    repeatedly the two operands whose joint scope is smallest (the lowest pair of operand ids on a
    tie), so small scopes are multiplied together before they meet the large ones (each product
    costs 2**|scope| x D). Cached by the scopes alone (the program is in local positions).

    Returns the steps: operands 0..n-1 are the factors, step t appends operand n + t as the
    product of operands i and j, in place into i when ``True`` (i is a product made here whose
    scope already holds j's). The last operand is the part's product."""
    live = list(range(len(masks)))
    scope = list(masks)
    count = [m.bit_count() for m in masks]
    made = [False] * len(masks)
    steps = []
    while len(live) > 1:
        i, j = _closest_pair(live, scope)
        if count[j] > count[i] or (made[j] and not made[i]):
            i, j = j, i  # the larger (or the fresh) operand first
        union = scope[i] | scope[j]
        steps.append((i, j, made[i] and union == scope[i]))
        live.remove(i)
        live.remove(j)
        live.append(len(scope))
        scope.append(union)
        count.append(union.bit_count())
        made.append(True)
    return tuple(steps)
