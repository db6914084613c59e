"""The learnable numbers, their Beta / Dirichlet / log-normal priors, and the unconstrained scale.

Every named prior that feeds a probability table is learnable; which tables it feeds is found by
perturbing it through :func:`model.parameters.build_parameters` (one vectorised call, one draw per
prior), so any new table form that is a function of named priors is learnable without code here.

Each number gets a prior from its cited value and uncertainty range:

- a probability ``p``: Beta(s*p, s*(1-p)), mean ``p``; ``s`` (its strength in cases) from the
  range read as a central 95% interval on the logit scale: ``s = 1 / (p (1-p) sd_logit**2)``
  (the Beta's logit variance is about ``1/(s p (1-p))``). A wide (assumed) range gives a weak prior.
- a risk factor's distribution: Dirichlet(s * p_1, ..., s * p_k), ``s`` the median of the states'
  strengths as above.
- a relative risk ``r``: log-normal, log r ~ Normal(log value, sd) with the range as 95% interval.

The optimiser works on unconstrained coordinates ``z``: logit p, log r, and additive log-ratios
log(p_i / p_k) for a distribution. MAP on this scale (density including the Jacobian) is
``sum a_i log p_i`` for a Beta/Dirichlet, whose maximum with no data is the prior mean, so
learning from no rows returns the cited numbers unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..parameters import Parameters, build_parameters
from ..priors import Prior, Priors

Z95 = 1.959963984540054  # standard normal 97.5% quantile: a range is read as a central 95% interval
MIN_CASES, MAX_CASES = 2.0, 1.0e5  # bounds on a prior's strength in cases
P_FLOOR = 1e-6  # probabilities are kept inside [P_FLOOR, 1 - P_FLOOR]
Z_BOUND = 13.8  # logit / log-ratio coordinates are bounded to |z| <= Z_BOUND (p ~ 1e-6)
RR_BOUNDS = (np.log(0.01), np.log(100.0))


def table_values(params: Parameters) -> dict[tuple[str, str], np.ndarray]:
    """Every probability table of ``params`` by (kind, id): ``("rf", r)`` (D, k),
    ``("cond", c)`` (D, *parent cards) P(present), ``("find", f)`` (D, 2, ...) P(first state)."""
    out: dict[tuple[str, str], np.ndarray] = {}
    for rid, probs in params.risk_factor_probs.items():
        out[("rf", rid)] = probs
    for cid, table in params.condition_tables.items():
        out[("cond", cid)] = table
    for fid, table in params.finding_tables.items():
        out[("find", fid)] = table
    return out


def _logit(p: float) -> float:
    p = min(max(p, P_FLOOR), 1 - P_FLOOR)
    return float(np.log(p / (1 - p)))


def _strength(prior: Prior) -> float:
    """A probability's Beta strength (a + b, in cases) from its range (95% on the logit scale)."""
    sd = (_logit(prior.high) - _logit(prior.low)) / (2 * Z95)
    p = min(max(prior.value, P_FLOOR), 1 - P_FLOOR)
    if sd <= 0:
        return MAX_CASES
    return float(np.clip(1.0 / (p * (1 - p) * sd * sd), MIN_CASES, MAX_CASES))


@dataclass
class Unit:
    """One learnable unit: a probability, a relative risk, or a risk factor's distribution.

    ``paths`` are the priors it sets (one, or one per state for a distribution); ``coords`` its
    slice of the coordinate vector; ``alpha`` the Beta/Dirichlet pseudo-counts (probability,
    distribution) or ``(mean, sd)`` of log r (relative risk).
    """

    kind: str  # "probability" | "relative_risk" | "distribution"
    paths: list[str]
    coords: slice
    prior_values: np.ndarray
    alpha: np.ndarray
    tables: set[tuple[str, str]] = field(default_factory=set)

    @property
    def prior_cases(self) -> float:
        """Strength of the prior in cases (for a relative risk: the precision of log r)."""
        if self.kind == "relative_risk":
            return float(1.0 / self.alpha[1] ** 2)
        return float(self.alpha.sum())


class ParameterSpace:
    """The learnable priors of one :class:`Priors`, mapped to unconstrained coordinates.

    - ``units``: the learnable numbers (see :class:`Unit`); ``fixed``: priors that feed no table
      (triage thresholds and the like), never changed.
    - ``z0``: (n_coords,) coordinates of the cited values; ``bounds``: per-coordinate box.
    - ``colours``: coordinate groups that share no table, so one draw can perturb a whole group
      and each table's change is still due to one coordinate (vectorised finite differences).
    """

    def __init__(self, priors: Priors) -> None:
        self.priors = priors
        candidates = [p for p in priors.all_priors()]
        depends = _table_dependencies(priors, candidates)
        by_path = {p.path: p for p in candidates}
        units: list[Unit] = []
        seen: set[str] = set()
        n = 0
        for p in candidates:
            if p.path in seen or not depends[p.path]:
                continue
            if ".distribution." in p.path:
                prefix = p.path.rsplit(".", 1)[0] + "."
                rid = prefix.split(".")[1]
                paths = [prefix + s for s in priors.risk_factors[rid].states]
                vals = np.array([by_path[q].value for q in paths])
                vals = np.clip(vals / vals.sum(), P_FLOOR, 1.0)
                vals /= vals.sum()
                s = float(np.median([_strength(by_path[q]) for q in paths]))
                units.append(Unit("distribution", paths, slice(n, n + len(paths) - 1), vals, s * vals,
                                  set().union(*(depends[q] for q in paths))))
                n += len(paths) - 1
                seen.update(paths)
            elif p.is_probability:
                s = _strength(p)
                v = min(max(p.value, P_FLOOR), 1 - P_FLOOR)
                units.append(Unit("probability", [p.path], slice(n, n + 1), np.array([p.value]),
                                  np.array([s * v, s * (1 - v)]), set(depends[p.path])))
                n += 1
                seen.add(p.path)
            else:
                sd = max((np.log(p.high) - np.log(p.low)) / (2 * Z95), 1e-3)
                units.append(Unit("relative_risk", [p.path], slice(n, n + 1), np.array([p.value]),
                                  np.array([np.log(p.value), sd]), set(depends[p.path])))
                n += 1
                seen.add(p.path)
        self.units = units
        self.n_coords = n
        self.fixed = [p.path for p in candidates if p.path not in seen]
        lo, hi = np.full(n, -Z_BOUND), np.full(n, Z_BOUND)
        for u in units:
            if u.kind == "relative_risk":
                lo[u.coords], hi[u.coords] = RR_BOUNDS
        self.bounds = list(zip(lo, hi, strict=True))
        self.z0 = self.coords_of({u.paths[i]: u.prior_values[i] for u in units for i in range(len(u.paths))})
        self.coord_tables: list[set[tuple[str, str]]] = [set() for _ in range(n)]
        for u in units:
            for j in range(u.coords.start, u.coords.stop):
                self.coord_tables[j] = u.tables
        self.colours = _colour(self.coord_tables)

    # -------------------------------------------------------------------------------- mapping
    def coords_of(self, values: dict[str, float]) -> np.ndarray:
        """(n_coords,) coordinates of a {path: value} assignment (missing paths: prior values)."""
        z = np.empty(self.n_coords)
        for u in self.units:
            v = np.array([values.get(p, pv) for p, pv in zip(u.paths, u.prior_values, strict=True)], dtype=float)
            if u.kind == "probability":
                z[u.coords] = _logit(float(v[0]))
            elif u.kind == "relative_risk":
                z[u.coords] = np.log(v[0])
            else:
                v = np.clip(v / v.sum(), P_FLOOR, 1.0)
                z[u.coords] = np.log(v[:-1] / v[-1])
        return np.clip(z, [b[0] for b in self.bounds], [b[1] for b in self.bounds])

    def values(self, z: np.ndarray) -> dict[str, np.ndarray]:
        """{path: (D,) values} for coordinates ``z`` of shape (D, n_coords) or (n_coords,)."""
        z = np.atleast_2d(np.asarray(z, dtype=float))
        out: dict[str, np.ndarray] = {}
        for u in self.units:
            zu = z[:, u.coords]
            if u.kind == "probability":
                out[u.paths[0]] = 1.0 / (1.0 + np.exp(-zu[:, 0]))
            elif u.kind == "relative_risk":
                out[u.paths[0]] = np.exp(zu[:, 0])
            else:
                probs = _softmax_last(zu)
                for i, path in enumerate(u.paths):
                    out[path] = probs[:, i]
        return out

    def point_values(self, z: np.ndarray) -> dict[str, float]:
        """{path: value} for one coordinate vector."""
        return {k: float(v[0]) for k, v in self.values(z).items()}

    def parameters(self, z: np.ndarray) -> Parameters:
        """CPD arrays for coordinates ``z`` ((D, n_coords) gives D draws)."""
        return build_parameters(self.priors, self.values(z))

    # -------------------------------------------------------------------------------- prior
    def log_prior(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Log prior density on the coordinate scale (up to a constant) and its gradient, for (n_coords,) z."""
        z = np.asarray(z, dtype=float)
        total, grad = 0.0, np.zeros_like(z)
        for u in self.units:
            zu = z[u.coords]
            if u.kind == "probability":
                a, b = u.alpha
                # a log p + b log(1 - p) with p = sigmoid(z): -a log(1+e^-z) - b log(1+e^z)
                total += -a * np.logaddexp(0.0, -zu[0]) - b * np.logaddexp(0.0, zu[0])
                p = 1.0 / (1.0 + np.exp(-zu[0]))
                grad[u.coords] = a * (1 - p) - b * p
            elif u.kind == "relative_risk":
                mu, sd = u.alpha
                total += -0.5 * ((zu[0] - mu) / sd) ** 2
                grad[u.coords] = -(zu[0] - mu) / sd**2
            else:
                full = np.append(zu, 0.0)
                log_p = full - np.logaddexp.reduce(full)
                total += float(u.alpha @ log_p)
                grad[u.coords] = u.alpha[:-1] - u.alpha.sum() * np.exp(log_p[:-1])
        return np.asarray(total, dtype=float), grad


def _softmax_last(z: np.ndarray) -> np.ndarray:
    """(D, k) probabilities from (D, k-1) log-ratios against the last state."""
    full = np.concatenate([z, np.zeros((z.shape[0], 1))], axis=1)
    full -= full.max(axis=1, keepdims=True)
    e = np.exp(full)
    return e / e.sum(axis=1, keepdims=True)


def _table_dependencies(priors: Priors, candidates: list[Prior]) -> dict[str, set[tuple[str, str]]]:
    """For each prior, the tables that change when it alone changes (draw 0 = cited values)."""
    d = len(candidates) + 1
    values = {}
    for i, p in enumerate(candidates):
        col = np.full(d, p.value, dtype=float)
        if p.is_probability:
            step = 0.02 * min(p.value, 1 - p.value) if 0 < p.value < 1 else 1e-3
            col[i + 1] = p.value + step if p.value < 0.5 else p.value - step
        else:
            col[i + 1] = p.value * 1.02
        values[p.path] = col
    tables = table_values(build_parameters(priors, values))
    out: dict[str, set[tuple[str, str]]] = {p.path: set() for p in candidates}
    for key, arr in tables.items():
        flat = arr.reshape(d, -1)
        changed = np.abs(flat[1:] - flat[:1]).max(axis=1) > 1e-12
        for i in np.nonzero(changed)[0]:
            out[candidates[i].path].add(key)
    return out


def _colour(coord_tables: list[set[tuple[str, str]]]) -> list[np.ndarray]:
    """Greedy colouring: coordinates in one colour share no table (largest table sets first)."""
    order = sorted(range(len(coord_tables)), key=lambda j: -len(coord_tables[j]))
    colours: list[list[int]] = []
    used: list[set[tuple[str, str]]] = []
    for j in order:
        for c, tabs in enumerate(used):
            if not (tabs & coord_tables[j]):
                colours[c].append(j)
                tabs |= coord_tables[j]
                break
        else:
            colours.append([j])
            used.append(set(coord_tables[j]))
    return [np.array(sorted(c), dtype=np.intp) for c in colours]
