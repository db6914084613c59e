"""Calibration of posteriors against confirmed diagnoses: log loss, Brier score, reliability data."""

from __future__ import annotations

import numpy as np
import pandas as pd

EPS = 1e-15  # predicted probabilities are clipped to [EPS, 1 - EPS] for the log loss


def scores(probabilities: np.ndarray, labels: np.ndarray, conditions: list[str]) -> pd.DataFrame:
    """Per condition, over the rows whose label is known: ``n``, ``prevalence``, ``log_loss``
    (mean negative natural log of the probability given to the confirmed state, nats) and
    ``brier`` (mean squared difference between P(present) and 1/0); plus a row ``all`` pooling
    every known (row, condition) pair.

    ``probabilities``: (n, K) P(present | answers); ``labels``: (n, K) codes (0 = present,
    1 = absent, -1 = not known). Rows with a NaN probability (unscorable) are left out.
    """
    rows = []
    y_all, p_all = [], []
    for j, cid in enumerate(conditions):
        known = (labels[:, j] >= 0) & np.isfinite(probabilities[:, j])
        y = (labels[known, j] == 0).astype(float)
        p = np.clip(probabilities[known, j], EPS, 1 - EPS)
        y_all.append(y)
        p_all.append(p)
        rows.append(_row(cid, y, p))
    rows.append(_row("all", np.concatenate(y_all), np.concatenate(p_all)))
    return pd.DataFrame(rows).set_index("condition")


def _row(name: str, y: np.ndarray, p: np.ndarray) -> dict:
    if len(y) == 0:
        return {"condition": name, "n": 0, "prevalence": np.nan, "log_loss": np.nan, "brier": np.nan}
    return {"condition": name, "n": int(len(y)), "prevalence": float(y.mean()),
            "log_loss": float(-(y * np.log(p) + (1 - y) * np.log(1 - p)).mean()),
            "brier": float(((p - y) ** 2).mean())}


def reliability(probabilities: np.ndarray, labels: np.ndarray, conditions: list[str], bins: int = 10) -> pd.DataFrame:
    """Reliability-diagram data pooled over conditions: for each of ``bins`` equal-width bins of
    predicted P(present), the number of known (row, condition) pairs, the mean prediction and the
    observed share present. Empty bins are left out."""
    known = (labels >= 0) & np.isfinite(probabilities)
    p = probabilities[known]
    y = (labels[known] == 0).astype(float)
    idx = np.minimum((p * bins).astype(int), bins - 1)
    out = []
    for b in range(bins):
        sel = idx == b
        if sel.any():
            out.append({"bin": b, "low": b / bins, "high": (b + 1) / bins, "n": int(sel.sum()),
                        "mean_predicted": float(p[sel].mean()), "observed": float(y[sel].mean())})
    return pd.DataFrame(out, columns=["bin", "low", "high", "n", "mean_predicted", "observed"])
