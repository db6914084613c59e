"""Generalised EM (ECM) for the named priors: MAP estimates under their Beta/Dirichlet priors.

Each iteration:

1. E-step (:func:`model.learning.counts.expected_counts`): compile the network for the current
   numbers and collect every family's expected counts with the exact engine.
2. M-step: increase ``Q(z) = sum over tables of sum(counts * log table(z)) + log prior(z)`` over
   the unconstrained coordinates ``z`` of the learnable priors (:class:`ParameterSpace`), with
   L-BFGS-B (bounded) from the current point. Tables are computed by
   :func:`model.parameters.build_parameters`, vectorised over draws; the gradient comes from
   forward differences in one call, one draw per colour of coordinates that share no table.
   A new table form is learnable as soon as its table is a function of named priors.

Taking a bounded number of L-BFGS steps per M-step makes this a generalised EM: each step
increases Q, so the observed-data log posterior never decreases (Dempster, Laird & Rubin 1977;
Meng & Rubin 1993 for conditional maximisation; Koller & Friedman 2009, ch. 19, for MAP-EM with
parameter priors). The log posterior after each E-step is recorded so this can be checked.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import minimize

from ..inference.engine import Engine
from ..priors import Priors
from .counts import Counts, Observed, expected_counts
from .space import ParameterSpace, table_values

FD_STEP = 1e-5  # forward-difference step on the coordinate scale
Z95 = 1.959963984540054


@dataclass
class LearnedNumber:
    """One learnable prior after learning: values and ranges before and after, and strength in cases."""

    path: str
    kind: str  # probability | relative_risk | distribution
    prior_value: float
    prior_range: tuple[float, float]
    value: float
    range: tuple[float, float]
    prior_cases: float
    effective_cases: float

    @property
    def change(self) -> float:
        """Signed change on the log-odds (probability) or log (relative risk) scale."""
        if self.kind == "relative_risk":
            return float(np.log(self.value) - np.log(self.prior_value))
        p0 = min(max(self.prior_value, 1e-9), 1 - 1e-9)
        p1 = min(max(self.value, 1e-9), 1 - 1e-9)
        return float(np.log(p1 / (1 - p1)) - np.log(p0 / (1 - p0)))


@dataclass
class LearningResult:
    """What :func:`learn` returns.

    - ``numbers``: every learnable prior by path (:class:`LearnedNumber`);
    - ``values``: {path: learned value} (the input to :func:`model.parameters.build_parameters`);
    - ``history``: observed-data log posterior (log likelihood + log prior) after each E-step;
    - ``loglik``: final log likelihood of the training rows; ``rows``, ``iterations``, ``seconds``.
    """

    numbers: dict[str, LearnedNumber]
    values: dict[str, float]
    history: list[float]
    loglik: float
    rows: int
    iterations: int
    converged: bool
    seconds: float
    timings: dict[str, float] = field(default_factory=dict)

    def moved(self) -> list[LearnedNumber]:
        """Learned numbers, the ones that moved most (on the log-odds / log scale) first."""
        return sorted(self.numbers.values(), key=lambda n: -abs(n.change))


def table_objective(tables: dict[tuple[str, str], np.ndarray], counts: dict[tuple[str, str], np.ndarray],
                    keys: list[tuple[str, str]]) -> np.ndarray:
    """(D, len(keys)) expected complete-data log likelihood of each table, for D draws of tables."""
    out = np.empty((next(iter(tables.values())).shape[0], len(keys)))
    for i, key in enumerate(keys):
        t = tables[key]
        c = counts[key]
        d = t.shape[0]
        if key[0] == "rf":
            out[:, i] = np.log(np.maximum(t, 1e-300)) @ c
        else:
            on = np.log(np.maximum(t, 1e-300)).reshape(d, -1)
            off = np.log(np.maximum(1.0 - t, 1e-300)).reshape(d, -1)
            out[:, i] = on @ c[0].reshape(-1) + off @ c[1].reshape(-1)
    return out


class _MStep:
    """The M-step objective for fixed counts: value and gradient in one vectorised call."""

    def __init__(self, space: ParameterSpace, counts: Counts) -> None:
        self.space = space
        self.counts = counts.tables
        self.keys = list(self.counts)
        key_pos = {k: i for i, k in enumerate(self.keys)}
        self.coord_cols = [np.array([key_pos[t] for t in tabs], dtype=np.intp) for tabs in space.coord_tables]
        self.evals = 0

    def draws(self, z: np.ndarray, step: float) -> np.ndarray:
        rows = [z]
        for colour in self.space.colours:
            zz = z.copy()
            zz[colour] += step
            rows.append(zz)
        return np.array(rows)

    def per_table(self, zs: np.ndarray) -> np.ndarray:
        tables = table_values(self.space.parameters(zs))
        return table_objective(tables, self.counts, self.keys)

    def __call__(self, z: np.ndarray) -> tuple[float, np.ndarray]:
        self.evals += 1
        q = self.per_table(self.draws(z, FD_STEP))
        base = q[0]
        grad = np.zeros_like(z)
        for c, colour in enumerate(self.space.colours):
            delta = q[1 + c] - base
            for j in colour:
                grad[j] = delta[self.coord_cols[j]].sum() / FD_STEP
        lp, lp_grad = self.space.log_prior(z)
        value = float(base.sum() + lp)
        return -value, -(grad + lp_grad)

    def curvature(self, z: np.ndarray, step: float = 1e-3) -> np.ndarray:
        """Diagonal second derivative of the data part of Q at ``z`` (central differences)."""
        plus, minus = self.per_table(self.draws(z, step)), self.per_table(self.draws(z, -step))
        base = plus[0]
        h = np.zeros_like(z)
        for c, colour in enumerate(self.space.colours):
            second = plus[1 + c] - 2 * base + minus[1 + c]
            for j in colour:
                h[j] = second[self.coord_cols[j]].sum() / step**2
        return h


def learn(priors: Priors, data: Observed, max_iter: int = 50, m_steps: int = 15, tol: float = 1e-6,
          callback=None) -> LearningResult:
    """MAP-EM from ``priors`` (its numbers become the Beta/Dirichlet/log-normal priors) on ``data``.

    ``max_iter`` EM iterations at most; each M-step takes at most ``m_steps`` L-BFGS-B steps.
    Stops when the log posterior improves by less than ``tol`` times its size (at least ``tol``
    nats) in an iteration.
    ``callback(iteration, log_posterior)`` is called after each E-step. With no rows, the
    learned numbers are the priors' own values.
    """
    started = time.perf_counter()
    space = ParameterSpace(priors)
    z = space.z0.copy()
    history: list[float] = []
    timings = {"e_step": 0.0, "m_step": 0.0}
    converged = False
    counts = None
    iterations = 0
    for it in range(max_iter):
        t0 = time.perf_counter()
        params = space.parameters(z)
        engine = Engine.from_parameters(priors, params)
        counts = expected_counts(engine, params, data)
        timings["e_step"] += time.perf_counter() - t0
        log_post = counts.loglik + float(space.log_prior(z)[0])
        history.append(log_post)
        iterations = it + 1
        if callback is not None:
            callback(it, log_post)
        if len(history) > 1 and history[-1] - history[-2] < tol * max(1.0, abs(log_post)):
            converged = True
            break
        t0 = time.perf_counter()
        step = _MStep(space, counts)
        res = minimize(step, z, jac=True, method="L-BFGS-B", bounds=space.bounds,
                       options={"maxiter": m_steps, "ftol": 1e-12, "gtol": 1e-6})
        timings["m_step"] += time.perf_counter() - t0
        if -res.fun >= -step(z)[0]:  # never accept a step that lowers Q (generalised EM)
            z = res.x
    numbers = _summarise(space, z, _MStep(space, counts) if counts is not None else None, data)
    values = space.point_values(z)
    return LearningResult(numbers, values, history, counts.loglik if counts else 0.0, len(data), iterations,
                          converged, time.perf_counter() - started, timings)


def _summarise(space: ParameterSpace, z: np.ndarray, step: _MStep | None, data: Observed) -> dict[str, LearnedNumber]:
    """Per learnable number: posterior value, an approximate 95% range and effective cases.

    Effective cases come from the curvature of the M-step objective on the coordinate scale
    (complete-data information plus the prior's; Louis 1982 shows the observed-data information
    is lower where data are missing, so these are upper bounds). For a probability they are
    ``-d2/dz2 / (p (1 - p))`` (exactly ``a + b`` for a Beta), for a relative risk the precision of
    log r, for a distribution the Dirichlet's total (prior strength + expected counts).
    """
    from scipy.stats import beta as beta_dist

    values = space.point_values(z)
    data_curv = step.curvature(z) if step is not None else np.zeros_like(z)
    out: dict[str, LearnedNumber] = {}
    priors = {p.path: p for p in space.priors.all_priors()}
    for u in space.units:
        if u.kind == "distribution":
            rid = u.paths[0].split(".")[1]
            n = float(step.counts[("rf", rid)].sum()) if step is not None else 0.0
            total = u.prior_cases + n
            for path in u.paths:
                v = values[path]
                lo, hi = beta_dist.ppf([0.025, 0.975], max(v * total, 1e-6), max((1 - v) * total, 1e-6))
                out[path] = LearnedNumber(path, u.kind, priors[path].value, (priors[path].low, priors[path].high),
                                          v, (float(min(lo, v)), float(max(hi, v))), u.prior_cases, total)
            continue
        path = u.paths[0]
        j = u.coords.start
        v = values[path]
        if u.kind == "probability":
            prior_info = u.alpha.sum() * v * (1 - v)
        else:
            prior_info = 1.0 / u.alpha[1] ** 2
        info = max(prior_info - data_curv[j], 1e-12)
        sd = 1.0 / np.sqrt(info)
        zj = z[j]
        if u.kind == "probability":
            lo, hi = 1 / (1 + np.exp(-(zj - Z95 * sd))), 1 / (1 + np.exp(-(zj + Z95 * sd)))
            cases = info / max(v * (1 - v), 1e-12)
        else:
            lo, hi = np.exp(zj - Z95 * sd), np.exp(zj + Z95 * sd)
            cases = info
        out[path] = LearnedNumber(path, u.kind, priors[path].value, (priors[path].low, priors[path].high), v,
                                  (float(min(lo, v)), float(max(hi, v))), u.prior_cases, float(cases))
    return out
