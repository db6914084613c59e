"""Numerical constants and helpers shared by the engine's exact paths."""

from __future__ import annotations

import numpy as np

NEG = -1e250  # stands in for log(0) so that 0 * log(0) terms in a matrix product stay 0
ZERO_EVIDENCE = -1e200  # a row whose log-probability is below this has probability zero


def safe_log(x: np.ndarray) -> np.ndarray:
    """Natural log with log(0) = NEG (finite), so sums and matrix products stay well defined."""
    x = np.asarray(x, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.log(x)  # -inf at 0, nan below
    return np.fmax(out, NEG, out=out) if isinstance(out, np.ndarray) else np.fmax(out, NEG)  # fmax(nan, NEG) = NEG
