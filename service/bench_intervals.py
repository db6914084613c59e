"""``hipdx bench --intervals``: how far the interval ends fall from where infinitely many draws put them.

The intervals are Monte Carlo estimates (percentiles of a case's posteriors under parameter draws
from the priors' ranges), so their ends carry sampling error. This measures it per draw design
(how many draws, independent or Latin-hypercube uniforms, which percentile estimator): for each
case, condition and end, the root mean square difference over several seeds from the same end
computed with many independent draws (the reference), summarised over cases and conditions.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

DESIGNS = (  # (draws, sampling, estimator, label)
    (200, "independent", "linear", "200 independent draws, linear percentiles (first generation)"),
    (128, "independent", "harrell_davis", "128 independent draws, Harrell-Davis"),
    (128, "latin_hypercube", "linear", "128 Latin-hypercube draws, linear percentiles"),
    (128, "latin_hypercube", "harrell_davis", "128 Latin-hypercube draws, Harrell-Davis (default)"),
    (200, "latin_hypercube", "harrell_davis", "200 Latin-hypercube draws, Harrell-Davis"),
)


@dataclass(frozen=True)
class Error:
    """Root mean square error of the interval ends over seeds, per (case, condition, end):
    its mean, 90th percentile and maximum over those."""

    mean: float
    p90: float
    max: float


def interval_ends(m, codes: list[tuple[np.ndarray, np.ndarray]], draws: int, seed: int, sampling: str,
                  estimator: str, level: float = 0.90, precision: str = "single") -> np.ndarray:
    """(cases, 2, K) the interval ends (before widening to the point estimate) of each case
    (engine codes: (risk factors, findings)) under one draw design; per-draw posteriors in
    ``precision`` (the reasoning's default: single; the references: double)."""
    from model.inference.draw_engine import DrawEngine
    from model.inference.draws import draw_values
    from model.parameters import build_parameters
    from model.reasoning.quantiles import quantiles

    engine = DrawEngine(m.priors, build_parameters(m.priors, draw_values(m.priors, draws, seed, sampling)), precision=precision)
    tail = (1.0 - level) / 2
    return np.array([quantiles(engine.grouped.marginals(rf, fd), (tail, 1.0 - tail), estimator) for rf, fd in codes])


def measure(m, cases: list[dict[str, str]], seeds: int = 12, reference_draws: int = 20_000) -> tuple[list[tuple[str, Error]], float]:
    """Per design of ``DESIGNS``, the :class:`Error` of its interval ends against a reference of
    ``reference_draws`` independent draws (linear percentiles), over ``seeds`` seeds; and the
    seconds taken."""
    t = time.perf_counter()
    codes = []
    for ev in cases:
        variants = m.reasoner.variants(m.parse_evidence(ev))
        codes.append((variants.rf_codes, variants.finding_codes))
    reference = interval_ends(m, codes, reference_draws, 10_000, "independent", "linear", precision="double")
    out = []
    for draws, sampling, estimator, label in DESIGNS:
        runs = np.array([interval_ends(m, codes, draws, s, sampling, estimator) for s in range(seeds)])
        rmse = np.sqrt(np.nanmean((runs - reference[None]) ** 2, axis=0))
        out.append((label, Error(float(np.nanmean(rmse)), float(np.nanpercentile(rmse, 90)), float(np.nanmax(rmse)))))
    return out, time.perf_counter() - t


def report(m, cases: list[dict[str, str]], seeds: int = 12, reference_draws: int = 20_000) -> None:
    """Print :func:`measure` as a table."""
    rows, seconds = measure(m, cases, seeds, reference_draws)
    print(f"\nInterval ends: Monte Carlo error against {reference_draws:,} independent draws "
          f"({len(cases)} cases x {len(m.conditions)} conditions x 2 ends, {seeds} seeds; {seconds:.0f} s)")
    print(f"  {'draw design':<64}{'RMSE mean':>11}{'p90':>9}{'max':>9}")
    for label, err in rows:
        print(f"  {label:<64}{err.mean:>11.4f}{err.p90:>9.4f}{err.max:>9.4f}")
