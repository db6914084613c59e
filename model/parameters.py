"""Turn validated priors into the network's numeric conditional probability tables.

Kept apart from pgmpy so the same arithmetic serves three users: the reference network
(``model.network``), the parameter draws behind the uncertainty intervals, and the sensitivity
analysis. Every array carries a leading *draw* axis ``D`` (``D == 1`` for the point estimate), so
hundreds of alternative parameter sets are built in one vectorised pass.

Modelling choices (stated in ``priors/conditions.yaml`` too):
- A condition's chance given its risk factors is ``min(RISK_CAP, b * product of relative risks)``,
  plus a noisy-OR term for each condition that can cause it (``caused_by``). The scale ``b`` is
  solved so that the population average equals the stated base rate.
- A finding is a noisy-OR of its causes with a leak: P(first state | conditions) =
  1 - (1 - leak) * prod over present causes (1 - link). Two richer forms (``priors/findings.yaml``):
  ``depends_on`` makes an earlier finding in its first state one more cause (a finding-to-finding
  arc), and ``argues_against`` multiplies the result by (1 - h) for each present condition that
  lowers the finding (an inhibiting link, the "noisy-AND-NOT" of Diez & Druzdzel 2006):
  P(first | parents) = [1 - (1 - leak) prod_causes (1 - link)] * prod_against (1 - h).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from .priors import RISK_CAP, Condition, Priors, PriorsError


@dataclass(frozen=True)
class Parameters:
    """Numeric CPDs with a leading draw axis.

    - ``risk_factor_probs[f]``: (D, n_states) population distribution of risk factor ``f``.
    - ``condition_parents[c]``: (risk-factor parents, condition parents), in table axis order.
    - ``condition_tables[c]``: (D, *parent cardinalities) P(c present | parents); a condition
      parent's axis has index 0 = present, 1 = absent.
    - ``finding_tables[f]``: (D, 2, 2, ...) P(first state of f | its parents), parents in the order
      of ``finding_parents[f]``: first the findings it ``depends_on`` (axis index 0 = their first
      state), then its causes, then the conditions it ``argues_against`` (index 0 = present).
    - ``scale[c]``: (D,) the solved multiplier ``b``.
    - ``finding_inhibitors[f]``: the noisy-OR behind ``finding_tables[f]``: (D,) ``1 - leak`` and
      (D, n_parents) ``1 - link`` per cause, so P(second state | causes) is their product over the
      present causes (``model.quickscore`` works on this form directly). For a finding with
      ``depends_on`` parents their links come first, as in ``finding_parents``.
    - ``finding_against[f]``: (D, n_against) ``1 - h`` per condition the finding argues against
      (the last axes of ``finding_tables[f]``); (D, 0) for a plain noisy-OR finding.
    """

    draws: int
    risk_factor_probs: dict[str, np.ndarray]
    condition_parents: dict[str, tuple[tuple[str, ...], tuple[str, ...]]]
    condition_tables: dict[str, np.ndarray]
    finding_parents: dict[str, tuple[str, ...]]
    finding_tables: dict[str, np.ndarray]
    scale: dict[str, np.ndarray]
    finding_inhibitors: dict[str, tuple[np.ndarray, np.ndarray]]
    finding_against: dict[str, np.ndarray]
    finding_depends: dict[str, tuple[str, ...]]

    def is_noisy_or(self, finding: str) -> bool:
        """True for a plain noisy-OR of conditions: no finding parent, no inhibiting link, and no
        other finding depends on it (so it is a group of one)."""
        return (not self.finding_depends[finding] and self.finding_against[finding].shape[1] == 0
                and not any(finding in deps for deps in self.finding_depends.values()))


def condition_order(priors: Priors) -> list[str]:
    """Conditions in an order where every `caused_by` parent comes before its child."""
    order: list[str] = []
    seen: set[str] = set()

    def visit(cid: str) -> None:
        if cid in seen:
            return
        seen.add(cid)
        for parent in priors.conditions[cid].caused_by:
            visit(parent)
        order.append(cid)

    for cid in priors.conditions:
        visit(cid)
    return order


def build_parameters(priors: Priors, values: Mapping[str, np.ndarray | float] | None = None) -> Parameters:
    """CPD arrays for the priors, with any prior (by its ``path``) replaced by ``values``.

    ``values`` maps a prior's path to a scalar or a (D,) array of alternative values; all arrays
    must share one D. Unlisted priors keep their point value.
    """
    values = dict(values or {})
    draws = 1
    for v in values.values():
        arr = np.asarray(v, dtype=float)
        if arr.ndim == 1:
            draws = max(draws, arr.shape[0])

    def val(prior) -> np.ndarray:
        v = values.get(prior.path, prior.value)
        return np.broadcast_to(np.asarray(v, dtype=float), (draws,)).astype(float)

    rf_ids = list(priors.risk_factors)
    rf_probs = {}
    for rid, rf in priors.risk_factors.items():
        probs = np.stack([val(rf.distribution[s]) for s in rf.states], axis=1)
        rf_probs[rid] = probs / probs.sum(axis=1, keepdims=True)

    # The full grid of risk-factor configurations, for calibrating each condition's scale b.
    cards = [len(priors.risk_factors[r].states) for r in rf_ids]
    grid = np.array(list(itertools.product(*[range(c) for c in cards])), dtype=np.intp)  # (G, n_rf)
    p_grid = np.ones((draws, len(grid)))
    for j, rid in enumerate(rf_ids):
        p_grid *= rf_probs[rid][:, grid[:, j]]

    cond_parents: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}
    cond_tables: dict[str, np.ndarray] = {}
    scales: dict[str, np.ndarray] = {}
    # present_given_grid[c]: (D, G, 2**k) P(c present | grid config, config of c's ancestors)
    ancestors: dict[str, tuple[str, ...]] = {}
    for cid in condition_order(priors):
        cond = priors.conditions[cid]
        rf_par = tuple(dict.fromkeys(e.factor for e in cond.effects))
        c_par = tuple(cond.caused_by)
        cond_parents[cid] = (rf_par, c_par)
        anc = tuple(dict.fromkeys(a for p in c_par for a in (*ancestors[p], p)))
        ancestors[cid] = anc
        rr_grid = _relative_risk(cond, {r: grid[:, rf_ids.index(r)] for r in rf_par}, val, priors)  # (D, G)
        links = [val(cond.caused_by[p]) for p in c_par]
        b = _solve_scale(cid, val(cond.base_rate), rr_grid, p_grid, links, c_par, anc, grid, rf_ids,
                         cond_parents, cond_tables)
        scales[cid] = b
        cond_tables[cid] = _condition_table(cond, b, rf_par, c_par, priors, val)

    finding_parents: dict[str, tuple[str, ...]] = {}
    finding_tables: dict[str, np.ndarray] = {}
    inhibitors: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    against: dict[str, np.ndarray] = {}
    depends: dict[str, tuple[str, ...]] = {}
    for fid, fd in priors.findings.items():
        causes = (*fd.depends_on, *fd.causes)
        depends[fid] = tuple(fd.depends_on)
        finding_parents[fid] = (*causes, *fd.argues_against)
        leak = val(fd.leak)
        links = [val(fd.depends_on[c]) for c in fd.depends_on] + [val(fd.causes[c]) for c in fd.causes]
        h = [val(fd.argues_against[c]) for c in fd.argues_against]
        finding_tables[fid] = noisy_or_table(leak, links, h)
        inhibitors[fid] = (1.0 - leak, np.stack([1.0 - w for w in links], axis=1) if links else np.ones((draws, 0)))
        against[fid] = np.stack([1.0 - x for x in h], axis=1) if h else np.ones((draws, 0))
    return Parameters(draws, rf_probs, cond_parents, cond_tables, finding_parents, finding_tables, scales, inhibitors,
                      against, depends)


def noisy_or_table(leak: np.ndarray, links: list[np.ndarray], against: list[np.ndarray] = ()) -> np.ndarray:
    """(D, 2, ..., 2) P(on | causes, inhibiting parents), every parent axis index 0 = present.

    ``1 - (1 - leak) * prod over present causes (1 - link)``, times ``(1 - h)`` for each present
    inhibiting parent (``against``; their axes come after the causes').
    """
    draws = leak.shape[0]
    n = len(links) + len(against)
    table = np.broadcast_to((1.0 - leak).reshape((draws,) + (1,) * len(links)), (draws,) + (2,) * len(links)).copy()
    for i, w in enumerate(links):
        shape = [draws] + [1] * len(links)
        shape[1 + i] = 2
        factor = np.stack([1.0 - w, np.ones_like(w)], axis=1).reshape(shape)
        table = table * factor
    on = (1.0 - table).reshape(table.shape + (1,) * len(against))
    on = np.broadcast_to(on, (draws,) + (2,) * n).copy()
    for i, h in enumerate(against):
        shape = [draws] + [1] * n
        shape[1 + len(links) + i] = 2
        on = on * np.stack([1.0 - h, np.ones_like(h)], axis=1).reshape(shape)
    return on


def _relative_risk(cond: Condition, states: Mapping[str, np.ndarray], val, priors: Priors) -> np.ndarray:
    """(D, N) product of the condition's relative risks over N configurations of its factors.

    ``states[f]`` holds the state index of factor ``f`` in each configuration; the reference
    state (and any factor the condition does not depend on) contributes 1.
    """
    n = len(next(iter(states.values()))) if states else 1
    rr = np.ones((1, n))
    for eff in cond.effects:
        idx = states[eff.factor]
        factor_states = priors.risk_factors[eff.factor].states
        rr_eff = np.ones((1, n))
        for state, prior in eff.relative_risk.items():
            v = val(prior)
            rr_eff = np.where(idx[None, :] == factor_states.index(state), v[:, None], rr_eff)
        rr = rr * rr_eff
    return rr


def _present_prob(b: np.ndarray, rr: np.ndarray, links: list[np.ndarray], parent_present: list[np.ndarray]) -> np.ndarray:
    """P(present) = 1 - (1 - min(cap, b*rr)) * prod_p (1 - link_p * [p present])."""
    base = np.minimum(RISK_CAP, b[:, None] * rr) if rr.ndim == 2 else np.minimum(RISK_CAP, b * rr)
    absent = 1.0 - base
    for w, present in zip(links, parent_present, strict=True):
        absent = absent * (1.0 - w[:, None] * present)
    return 1.0 - absent


def _solve_scale(cid, target, rr_grid, p_grid, links, c_par, anc, grid, rf_ids, cond_parents, cond_tables):
    """Bisection (vectorised over draws) for b such that the population average is the base rate."""
    draws = max(target.shape[0], rr_grid.shape[0], p_grid.shape[0])
    rr_grid = np.broadcast_to(rr_grid, (draws, rr_grid.shape[1]))
    # Joint of the ancestors given each grid configuration: (D, G, 2**k) over ancestor configs.
    anc_configs = list(itertools.product((0, 1), repeat=len(anc)))  # 0 = present
    w_anc = np.ones((draws, len(grid), len(anc_configs)))
    for k, config in enumerate(anc_configs):
        for a, state in zip(anc, config, strict=True):
            rf_par, a_par = cond_parents[a]
            table = cond_tables[a]
            index = [np.arange(table.shape[0])[:, None]] + [grid[None, :, rf_ids.index(r)] for r in rf_par]
            index += [np.full((1, 1), config[anc.index(pp)]) for pp in a_par]
            p_present = np.broadcast_to(table[tuple(index)], (draws, len(grid)))
            w_anc[:, :, k] *= p_present if state == 0 else 1.0 - p_present
    parent_present = [
        np.array([1.0 if config[anc.index(p)] == 0 else 0.0 for config in anc_configs]) for p in c_par
    ]

    def average(b: np.ndarray) -> np.ndarray:
        base = np.minimum(RISK_CAP, b[:, None] * rr_grid)  # (D, G)
        absent = (1.0 - base)[:, :, None] * np.ones((1, 1, len(anc_configs)))
        for w, present in zip(links, parent_present, strict=True):
            absent = absent * (1.0 - w[:, None, None] * present[None, None, :])
        return (((1.0 - absent) * w_anc).sum(axis=2) * p_grid).sum(axis=1)

    lo = np.zeros(draws)
    hi = np.full(draws, RISK_CAP / rr_grid.min(axis=1))
    reachable = average(hi)
    if draws > 1:  # a parameter draw near the top of a wide range: take the highest reachable rate
        target = np.minimum(target, reachable)
    bad = target > reachable + 1e-12
    if bad.any():
        raise PriorsError(
            f"conditions.yaml: conditions.{cid}.base_rate: base rate {float(target[bad][0]):.4g} cannot be reached "
            f"with these relative risks (at most {float(reachable[bad][0]):.4g})"
        )
    for _ in range(80):
        mid = (lo + hi) / 2
        low_side = average(mid) < target
        lo = np.where(low_side, mid, lo)
        hi = np.where(low_side, hi, mid)
    return (lo + hi) / 2


def _condition_table(cond: Condition, b: np.ndarray, rf_par, c_par, priors: Priors, val) -> np.ndarray:
    """(D, *rf cards, 2 per condition parent) P(present | parents)."""
    cards = [len(priors.risk_factors[r].states) for r in rf_par] + [2] * len(c_par)
    configs = np.array(list(itertools.product(*[range(c) for c in cards])), dtype=np.intp)
    configs = configs.reshape(max(len(configs), 1), len(cards))
    rr = _relative_risk(cond, {r: configs[:, i] for i, r in enumerate(rf_par)}, val, priors)
    parent_present = [(configs[:, len(rf_par) + i] == 0).astype(float) for i in range(len(c_par))]
    links = [val(cond.caused_by[p]) for p in c_par]
    draws = max(b.shape[0], rr.shape[0])
    probs = _present_prob(np.broadcast_to(b, (draws,)), np.broadcast_to(rr, (draws, rr.shape[1])), links, parent_present)
    return probs.reshape((draws, *cards))
