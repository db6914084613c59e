"""Posteriors of one case under every parameter draw, enumerating only what the answers couple.

Why: intervals re-score each case under a few hundred parameter sets. A general contraction over
all ``2**K`` condition configurations and every unanswered risk factor costs 10-40 ms a case; most
of that work is not needed, because of the network's shape (``model.inference.compiled``):

- Given the risk factors, the conditions are independent, except within ``caused_by`` groups
  (fai -> labral_tear), which are handled as one variable.
- An answered evidence factor's likelihood P(pattern | parents) that is log-linear in a parent's
  presence (the ratio present/absent is the same whatever the other parents, under every draw:
  a noisy-OR finding answered in its second state, an inhibiting link) only re-weights that
  condition's odds. The rest of the table couples its remaining parents.
- So only the groups with a coupled member are enumerated jointly (one array axis per member,
  draws last), with, when there are any, the groups that depend on an unanswered shared risk
  factor (one prior factor for all of them); every other group sums in closed form.
- An unanswered risk factor used by one group only is summed into that group's table (once, at
  construction, as an extra index of its axis). The shared ones form a small grid; those a
  coupled group uses ("crossed") are eliminated while the coupled groups that use them are
  multiplied in (variable elimination, greedy order), giving a prior factor over their members.
  The risk factors are independent a priori, so each enters with the first group that uses it;
  a step that finishes risk factors is one einsum (product and sum, no temporary of the product).
- The likelihood tables and the prior factor are merged into parts (small scopes first); each
  part is multiplied along a tree of smallest joint scopes, so only a few products touch the
  large arrays. With two parts (more are folded into two), messages between them (a two-clique
  junction tree) give the marginals without the array of all coupled configurations: each part
  summed over its own axes, and contracted with the other's message (one einsum a side). A
  part's last product is not built either: its two operands go into those einsums directly.
- Everything that depends only on the case's *structure* (its unanswered risk factors and the
  coupled scopes of its answers) is planned once and cached (``model.inference.grouped_plan``);
  every (factor, answer pattern) split is computed at construction. A case runs only the array
  arithmetic: about 0.6 ms on the bench mixes (0.8 ms for a new structure, the plan included;
  OMP_NUM_THREADS=1), against 2-3 ms before the plans. At these sizes a numpy call costs a few
  us, so calls that write nothing new are avoided (the product of the factors shared by every
  configuration is only computed when the product of their smallest entries is not positive).
- Products are made in C order (``np.multiply(..., order="C")``). numpy's default (K) follows
  the operands' layout: a product with a transposed likelihood view or a sliced table then
  comes out in a layout that every later product and einsum on it iterates slowly (C order:
  about 40 us less a case, sim mix; einsums are left in K order: C order makes them far slower).
- No multi-threaded BLAS call: the last sums over configurations use a product with a small 0/1
  matrix (under OpenBLAS's threading threshold); threads on arrays this small only wait.

Everything is exact (products and sums of non-negative numbers, no expansion with signs, nothing
pruned), vectorised over the draws; tested against the general contraction and against pgmpy
(``tests/model/test_grouped_draws.py``, ``tests/model/test_engine_exact.py``).

Precision. In ``double`` (the default) the arithmetic is in float64. In ``single`` (what the
reasoning's intervals use) the arrays that grow with the coupled configurations are float32: half
the bytes to move, and the per-case arithmetic is moved by the bytes (about 30% faster on the
bench mixes). Each draw's posterior then carries a relative rounding error of about 1e-6 (measured
on the bench mixes: at most 2e-6 against double), while the intervals' own Monte Carlo error, from
128 draws, is about 1e-2. What single precision could get wrong is underflow: a product below
float32's smallest normal number (about 1.2e-38) is lost. A case is therefore kept in single
precision only when that cannot matter: the likelihood ratios above 1 (the only factors above 1)
bound how far a product can fall before it rises again, so the mass that underflow could lose is
at most (configurations x that bound x 1.2e-38), and it must stay below 1e-7 of every draw's total
(single precision's own rounding); and the factors shared by every configuration (only their
positivity is read) stay in float64. Otherwise, and whenever some draw makes the evidence
impossible (that is always decided in double precision), the case is recomputed in double
precision (``SINGLE_LOSS``; on the bench mixes, no case needs it).
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np

from .compiled import CompiledNetwork
from .grouped_plan import CasePlan, Grid, Skeleton, group_index

SEPARABLE_RTOL = 1e-12  # a parent whose present/absent ratio varies less than this is log-linear
BITS_BY_PRODUCT = 7  # (m + 1) x 2**m x D under OpenBLAS's threading threshold
PLAN_CACHE_SIZE = 1024  # case structures kept (about 11 kB a plan with its share of skeletons)
PRECISIONS = {"double": np.float64, "single": np.float32}
SINGLE_TINY = float(np.finfo(np.float32).tiny)  # float32's smallest normal number (about 1.2e-38)
SINGLE_LOSS = 1e-7  # single precision: mass that underflow may lose, relative to a draw's total


class GroupedDraws:
    """Exact posteriors for one case under every draw of a :class:`CompiledNetwork`.

    Everything that depends only on a case's *structure* (which risk factors are unanswered, the
    coupled scopes of its answers) is planned once (:class:`model.inference.grouped_plan.CasePlan`,
    cached by that structure): per case only the array arithmetic runs.
    """

    def __init__(self, net: CompiledNetwork, precision: str = "double") -> None:
        """``precision``: "double" (float64) or "single" (float32 arrays, a case that could
        underflow recomputed in double; see the module docstring). Raises ValueError otherwise."""
        if precision not in PRECISIONS:
            raise ValueError(f"precision: {precision!r} is not one of {', '.join(PRECISIONS)}")
        self.net = net
        self.precision = precision
        self.dtype = dtype = PRECISIONS[precision]
        self._single = precision == "single"
        self._double: GroupedDraws | None = None  # single precision's fallback, made when first needed
        self.draws = net.draws
        self._ones = np.ones(self.draws, dtype=dtype)
        self._rf_probs = [np.ascontiguousarray(p, dtype=dtype) for p in net.rf_probs_last]
        self._plans: dict[tuple, CasePlan] = {}
        self._skeletons: dict[tuple, Skeleton] = {}  # by (shared unanswered, closed coupled groups)
        self._grids: dict[tuple[bool, ...], Grid] = {}  # by shared unanswered risk factors (2**n_shared at most)
        self._weights: dict[tuple[int, ...], np.ndarray] = {}  # grid weights by shared risk factors
        self._group_of = [int(g) for g in net.group_of]
        self._shared = [bool(s) for s in net.rf_shared]
        self._indices: dict[tuple[bool, ...], list] = {}  # group_index by unanswered risk factors (2**n_rf at most)
        # Each group's table with one more index on every private risk-factor axis (a risk factor
        # no other group uses): that risk factor summed out (weighted by its distribution). An
        # answered risk factor picks its state, an unanswered private one the extra index: a view.
        # Axes: (2, ..., 2 (members), *risk factors (cards, +1 if private), D).
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
            nr = len(g.rf_axes)
            # members first, then the risk factors, draws last: an elimination step then sums
            # risk-factor axes next to the draws (einsum accumulates in cache, about twice as fast)
            table = np.ascontiguousarray(np.moveaxis(table, list(range(nr)), list(range(table.ndim - 1 - nr, table.ndim - 1))),
                                         dtype=dtype)
            table.flags.writeable = False  # per-case views of it are never written
            self._extended.append(table)
        # Every answered evidence factor, split once: [factor][pattern] (pattern 0 = unanswered).
        self._split_list = [[None] + [self._split(fi, p) for p in range(1, f.n_patterns)]
                            for fi, f in enumerate(net.factors)]
        # per factor and pattern, the smallest entry of its table (a lower bound of products), and
        # the product of its log-linear ratios' largest values above 1 (how far they can raise one)
        self._split_low = [[None] + [float(table.min()) for _, table, _ in splits[1:]] for splits in self._split_list]
        self._split_rise = [[None] + [math.prod(max(1.0, float(r.max())) for _, r in separable) for _, _, separable in splits[1:]]
                            for splits in self._split_list]

    # ------------------------------------------------------------------ cached pieces
    def split(self, fi: int, pattern: int) -> tuple[tuple[int, ...], np.ndarray, list[tuple[int, np.ndarray]]]:
        """An answered evidence factor as (coupled parents (condition indices), their table
        (2, ..., 2, D) with axis j <-> coupled parent j, index 1 = present, and per log-linear
        parent (condition, (D,) ratio present/absent)), in the working precision. With no coupled
        parent the table is (D,), in float64 (only its positivity is read). Computed for every
        (factor, pattern >= 1) at construction."""
        return self._split_list[fi][pattern]

    def _split(self, fi: int, pattern: int) -> tuple[tuple[int, ...], np.ndarray, list[tuple[int, np.ndarray]]]:
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
                separable.append((c, np.ascontiguousarray(ratio[0], dtype=self.dtype)))
                table = off
                parents.remove(c)
        table = np.ascontiguousarray(table, dtype=self.dtype if parents else np.float64)
        table.flags.writeable = False
        return tuple(parents), table, separable

    def plan(self, unanswered: tuple[bool, ...], scopes: tuple[tuple[int, ...], ...]) -> CasePlan:
        """The cached plan of a case structure: which risk factors are unanswered (n_rf,), and the
        coupled parents of each answered evidence factor that has any (in factor order). Its
        shared pieces are cached by what fixes them: the :class:`Grid` by the unanswered shared
        risk factors, the :class:`Skeleton` by those and the closed coupled groups
        (:meth:`Grid.close`), :func:`group_index` by the unanswered risk factors."""
        key = (unanswered, scopes)
        plan = self._plans.get(key)
        if plan is None:
            if len(self._plans) >= PLAN_CACHE_SIZE:
                self._plans.clear()
            shared_unanswered = tuple(u and s for u, s in zip(unanswered, self._shared, strict=True))
            grid = self._grids.get(shared_unanswered)
            if grid is None:
                if len(self._grids) >= PLAN_CACHE_SIZE:
                    self._grids.clear()
                grid = self._grids[shared_unanswered] = Grid(self.net, shared_unanswered, self._weights, self._rf_probs)
            group_of = self._group_of
            coupled = grid.close(tuple({group_of[c] for scope in scopes for c in scope}))
            skey = (shared_unanswered, coupled)
            skeleton = self._skeletons.get(skey)
            if skeleton is None:
                if len(self._skeletons) >= PLAN_CACHE_SIZE:
                    self._skeletons.clear()
                skeleton = self._skeletons[skey] = Skeleton(grid, coupled)
            index = self._indices.get(unanswered)
            if index is None:
                index = self._indices[unanswered] = group_index(self.net, unanswered)
            plan = self._plans[key] = CasePlan(skeleton, scopes, index)
        return plan

    # ------------------------------------------------------------------ one case
    def marginals(self, rf_codes: np.ndarray, finding_codes: np.ndarray) -> np.ndarray:
        """(D, K) P(condition present | evidence) for every draw (NaN where the evidence is
        impossible under that draw), float64 (in single precision with float32's rounding).
        ``rf_codes`` (n_rf,), ``finding_codes`` (n_findings,): state indices in the network's
        order, -1 = unanswered (``CompiledNetwork.codes``)."""
        net, d = self.net, self.draws
        codes = np.asarray(rf_codes, dtype=np.int64).tolist()
        patterns = ((np.asarray(finding_codes, dtype=np.int64) + 1) @ net.pattern_weight).tolist()
        lam: dict[int, np.ndarray] = {}  # per condition: the product of the log-linear answers' ratios
        # Factors shared by every configuration only matter where their product is 0. The
        # product of their smallest entries bounds it from below (rounding is monotonic): when
        # that is positive, so is the product under every draw, and it is not computed.
        constant, low, rise = [], 1.0, 1.0  # rise: how far the log-linear ratios can raise a product
        scopes, likelihood = [], []
        for splits, lows, rises, pattern in zip(self._split_list, self._split_low, self._split_rise, patterns, strict=True):
            if not pattern:
                continue
            parents, table, separable = splits[pattern]
            rise *= rises[pattern]
            for c, ratio in separable:
                have = lam.get(c)
                lam[c] = ratio if have is None else have * ratio
            if parents:
                scopes.append(parents)
                likelihood.append(table)
            else:
                constant.append(table)
                low *= lows[pattern]
        plan = self.plan(tuple(c < 0 for c in codes), tuple(scopes))
        ok = None  # else (D,) False where the evidence is impossible under that draw
        if constant and not low > 0:
            const = constant[0]
            for table in constant[1:]:
                const = const * table
            ok = const > 0
        out = np.empty((len(net.conditions), d))

        tables = []  # per group: its table with the answers picked and lam applied
        for gi, (template, fill, members) in enumerate(plan.group_index):
            index = list(template)
            for pos, r in fill:
                index[pos] = codes[r]
            table = self._extended[gi][tuple(index)]
            if lam and not lam.keys().isdisjoint(members):
                if len(members) == 1:  # (1, ratio) on its member axis: _odds_factors in one call
                    odds = np.concatenate((self._ones, lam[members[0]])).reshape(plan.odds_shape[gi])
                else:
                    odds = _odds_factors(lam, members, self._ones).reshape(plan.odds_shape[gi])
                table = np.multiply(table, odds, order="C")
            tables.append(table)

        # Uncoupled groups in closed form over the grid of shared unanswered risk factors.
        weight = plan.weight
        shares: list[tuple[int, np.ndarray]] = []  # uncoupled members whose share varies over the grid
        for gi, nr, member_axes, rest_axes, share_shape in plan.uncoupled:
            table = tables[gi]
            z = table.sum(axis=member_axes) if member_axes else table
            positive = z > 0
            if nr:
                weight = weight * z.reshape(share_shape)
            for i, c in enumerate(net.groups[gi].members):
                y = table[(slice(None),) * i + (1,)]
                if rest_axes[i]:
                    y = y.sum(axis=rest_axes[i])
                share = np.divide(y, z, out=np.zeros_like(y), where=positive)
                if nr:
                    shares.append((c, share.reshape(share_shape)))
                else:
                    out[c] = share  # the same in every cell: exactly its marginal
            if not nr:
                ok = positive if ok is None else ok & positive
        if not plan.coupled:
            total = weight.reshape(-1, d).sum(axis=0)
            if self._single and not _single_safe(total, weight.size // d, rise, ok):
                return self._in_double(rf_codes, finding_codes)
            for c, share in shares:
                out[c] = (weight * share).reshape(-1, d).sum(axis=0)
            return _normalise(out, total, ok, [c for c, _ in shares])

        assert not shares, "with a coupled group, every group on the grid is eliminated"
        prior = None  # all ones until the first step: that step's table is the prior (not a product with ones)
        # Variable elimination over the crossed risk factors: (1, *dependent members, *live cells, D).
        for kind, groups, how in plan.steps:
            operands = []
            for gi, intro in groups:
                table = tables[gi]
                for _, probs in intro:
                    table = np.multiply(table, probs, order="C")
                operands.append(table)
            if kind == "einsum":
                subscripts, shapes, alone = how
                if shapes is not None:
                    operands = [np.multiply(operands[0].reshape(shapes[0]), operands[1].reshape(shapes[1]), order="C")]
                prior = np.einsum(subscripts, prior, *operands) if prior is not None else np.einsum(alone, *operands)[None]
            elif prior is None:
                prior = operands[0].reshape(how[1])  # (never written: merged products are fresh)
            else:
                prior = np.multiply(prior.reshape(how[0]), operands[0].reshape(how[1]), order="C")
        if prior is None:  # no risk factor crossed
            prior = self._ones
        prior = prior.reshape(plan.prior_final)  # on the u member axes + D

        # The likelihood and the independent groups' tables, merged in a greedy order.
        factors = [table.transpose(perm).reshape(shape) if perm else table.reshape(shape)
                   for table, (perm, shape) in zip(likelihood, plan.likelihood_place, strict=True)]
        for gi, shape in plan.independent_place:
            factors.append(tables[gi].reshape(shape))
        factors.append(prior)
        if plan.two is not None:  # two parts: pass messages between them, never build the full array
            parts = _run_merge(factors, plan.merge, open_last=True)
            rows, total = _two_scope_marginals(parts, plan.two, plan.u, d)
            if self._single and not _single_safe(total, 1 << plan.u, rise, ok):
                return self._in_double(rf_codes, finding_codes)
            return _normalise(out, total, ok, plan.two_members, rows)
        joint = _run_merge(factors, plan.merge)[0]  # one part: the product of everything
        if joint.shape != plan.full_shape:
            joint = np.broadcast_to(joint, plan.full_shape)
        rows, total = _bit_sums(joint, plan.u, d)
        if self._single and not _single_safe(total, 1 << plan.u, rise, ok):
            return self._in_double(rf_codes, finding_codes)
        return _normalise(out, total, ok, plan.members, rows)

    def _in_double(self, rf_codes: np.ndarray, finding_codes: np.ndarray) -> np.ndarray:
        """Single precision's fallback: the case in double precision (a twin made once)."""
        if self._double is None:
            self._double = GroupedDraws(self.net)
        return self._double.marginals(rf_codes, finding_codes)


def _single_safe(total: np.ndarray, configurations: int, rise: float, ok: np.ndarray | None = None) -> bool:
    """Whether a case computed in single precision can be kept: every factor but the log-linear
    ratios is at most 1, so a product lost to underflow (below ``SINGLE_TINY``) would have ended
    below ``rise`` x ``SINGLE_TINY``; the ``configurations`` of them together must stay below
    ``SINGLE_LOSS`` of every draw's ``total`` (D,). Not safe either: a total of 0 or NaN, or a
    draw under which ``ok`` (D,) (the shared factors' product is positive) is False; double
    precision decides whether the evidence is impossible under a draw."""
    if ok is not None and not ok.all():
        return False
    low = float(total.min())
    return low * SINGLE_LOSS >= configurations * rise * SINGLE_TINY  # False for NaN


def _normalise(numerators: np.ndarray, total: np.ndarray, ok: np.ndarray | None, scaled: list[int],
               rows: np.ndarray | None = None) -> np.ndarray:
    """(D, K): the rows ``scaled`` of ``numerators`` (K, D) over the total (the other rows are
    already marginals; ``rows`` (len(scaled), D), when given, are those rows' numerators, not yet
    in ``numerators``); NaN for draws under which the evidence is impossible (the total is 0, or
    ``ok`` (D,), a factor shared by every configuration being positive, is False)."""
    if ok is None and total.min() > 0:  # every draw possible (one call instead of two)
        possible, every = None, True
    else:
        possible = total > 0
        if ok is not None:
            possible &= ok
        every = bool(possible.all())
    if scaled:
        if rows is None:
            rows = numerators[scaled]
        numerators[scaled] = rows / (total if every else np.where(possible, total, 1.0))
    out = numerators.T.copy()
    if not every:
        out[~possible] = np.nan
    return out


def _odds_factors(lam: dict[int, np.ndarray], members: tuple[int, ...], ones: np.ndarray) -> np.ndarray:
    """(2, ..., 2, D): per member configuration (axis i <-> member i, index 1 = present), the
    product of the present members' likelihood ratios ``lam`` (condition -> (D,); missing = 1)."""
    d = ones.shape[0]
    out = np.concatenate((ones, lam.get(members[0], ones))).reshape(2, d)
    for c in members[1:]:  # each new member's axis goes just before the draws
        out = np.stack([out, out * lam.get(c, ones)], axis=-2)
    return out


def _run_merge(factors: list[np.ndarray], merge: list[tuple], open_last: bool = False) -> list:
    """The merged factors of a plan: each the product of its factors, along the part's program
    (``model.inference.grouped_plan._product_tree``). With ``open_last``, each part is instead
    the tuple of its last product's operands (one: a part of one factor), that product not built
    (:func:`_two_scope_marginals` contracts them directly)."""
    out = []
    for indices, steps in merge:
        ops = [factors[i] for i in indices]
        if open_last and steps:  # (steps: one fewer than the factors)
            *steps, (last_i, last_j, _) = steps
        for i, j, in_place in steps:
            if in_place:
                ops[i] *= ops[j]
                ops.append(ops[i])
            else:
                ops.append(np.multiply(ops[i], ops[j], order="C"))
        if not open_last:
            out.append(ops[-1])
        else:
            out.append((ops[last_i], ops[last_j]) if len(indices) > 1 else (ops[0],))
    return out


def _two_scope_marginals(parts: list[tuple[np.ndarray, ...]], two: tuple, u: int, d: int) -> tuple[np.ndarray, np.ndarray]:
    """(u, D) sums of the product of two factors a, b with each axis present (rows in the order
    of the axes of S, then a only, then b only: ``two[-3:]``), and (D,) its total,
    from the factors and their messages over the shared axes S (a two-clique junction tree),
    never building the product: with a_S, b_S each factor summed over its own axes, the S rows
    and the total come from a_S * b_S, an a-only row from a contracted with b_S (one einsum),
    a b-only row likewise. Each factor is given as the operands of its last product (``parts``,
    :func:`_run_merge` with ``open_last``), so that product is never built either: a_S is then
    one einsum of the two operands, the a-only rows one einsum of the two and b_S (which reads
    them once each instead of writing and twice reading their product: about 20 us less a case
    on the bench mixes). ``two``: the plan's axes (``grouped_plan._two_scope_plan``)."""
    a_side, b_side, shared, only_a, only_b = two
    a, a_s = _message(parts[0], a_side)
    b, b_s = _message(parts[1], b_side)
    rows, total = _bit_sums(a_s * b_s, len(shared), d)
    if not (only_a or only_b):
        return rows, total
    pieces = [rows]
    if only_a:
        pieces.append(_bit_sums(np.einsum(a_side[2], *a, b_s), len(only_a), d)[0])
    if only_b:
        pieces.append(_bit_sums(np.einsum(b_side[2], *b, a_s), len(only_b), d)[0])
    return np.concatenate(pieces), total


def _message(ops: tuple[np.ndarray, ...], side: tuple) -> tuple[list[np.ndarray], np.ndarray]:
    """A part's operands on their squeezed shapes, and the part summed over its own axes (its
    message to the other part), from ``side`` (``grouped_plan._two_scope_plan``)."""
    shapes, summed, _ = side
    ops = [x.reshape(shape) for x, shape in zip(ops, shapes, strict=True)]
    if len(ops) == 2:
        return ops, np.einsum(summed, *ops)
    return ops, (ops[0].sum(axis=summed) if summed else ops[0])


def _bit_sums(joint: np.ndarray, m: int, d: int) -> tuple[np.ndarray, np.ndarray]:
    """(m, D) the sums of ``joint`` (an array of m axes of 2 (after dropping axes of 1) and D last)
    over the configurations with axis i at index 1, and (D,) its total. Down to 2**BITS_BY_PRODUCT
    configurations axis by axis (the index-1 half summed, then the two halves added), the rest as
    one product with the 0/1 configuration bits: a matrix that small stays on one BLAS thread
    (a threaded product of these sizes waits on its threads, badly on a busy machine)."""
    bits = joint.dtype.char  # the 0/1 matrix in the joint's precision (a mixed product would convert the joint)
    if m <= BITS_BY_PRODUCT:  # one product (rows: a view of it)
        sums = _bits_and_ones(m, bits) @ joint.reshape(-1, d)
        return sums[:-1], sums[-1]
    rows = np.empty((m, d), dtype=joint.dtype)
    flat = np.ascontiguousarray(joint).reshape(-1, d)
    i = 0
    while m - i > BITS_BY_PRODUCT:
        half = flat.reshape(2, -1, d)
        np.sum(half[1], axis=0, out=rows[i])
        flat = np.add(half[0], half[1])
        i += 1
    sums = _bits_and_ones(m - i, bits) @ flat
    rows[i:] = sums[:-1]
    return rows, sums[-1]


@cache
def _bits_and_ones(m: int, dtype: str = "d") -> np.ndarray:
    """(m + 1, 2**m) of ``dtype`` (a numpy type code): row i is 1 where axis i is at index 1 in
    configuration x (C order, so axis 0 is the top bit); the last row is all ones."""
    bits = (np.arange(2**m)[None, :] >> np.arange(m - 1, -1, -1)[:, None]) & 1
    return np.vstack([bits, np.ones((1, 2**m), dtype=bits.dtype)]).astype(dtype)
