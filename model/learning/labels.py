"""Confirmed diagnoses (labels) as codes: one column per condition, present / absent / not known."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

PRESENT = ("present", "1", "yes", "true", "y", "t", "1.0")
ABSENT = ("absent", "0", "no", "false", "n", "f", "0.0")
UNKNOWN = ("", "unknown", "nan", "none", "na", "n/a")


class LabelError(ValueError):
    """A label column is missing or holds a value that is not a state; the message names the column."""

    def __init__(self, column: str, message: str) -> None:
        super().__init__(f"{column}: {message}")
        self.column = column


def label_columns(conditions: list[str], overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """Condition id -> label column: ``true_<condition>`` unless ``overrides`` names another."""
    overrides = dict(overrides or {})
    unknown = [c for c in overrides if c not in conditions]
    if unknown:
        raise LabelError(unknown[0], f"is not a condition (allowed: {', '.join(conditions)})")
    return {c: overrides.get(c, f"true_{c}") for c in conditions}


def encode_labels(frame: pd.DataFrame, columns: Mapping[str, str]) -> np.ndarray:
    """(n, K) label codes in the order of ``columns`` (condition -> column): 0 = present,
    1 = absent, -1 = not known (empty cell). Accepts present/absent, 1/0, yes/no, true/false
    (any case). Raises :class:`LabelError` naming the first column that is missing or holds
    another value (with up to three of the offending values and their row numbers)."""
    out = np.full((len(frame), len(columns)), -1, dtype=np.int8)
    for j, (cid, col) in enumerate(columns.items()):
        if col not in frame.columns:
            raise LabelError(col, f"label column for condition {cid!r} is missing from the input "
                                  f"(expected a column {col!r} with present / absent / empty)")
        cells = frame[col]
        text = cells.astype(object).where(cells.notna(), "").map(lambda v: str(v).strip().lower())
        present = text.isin(PRESENT).to_numpy()
        absent = text.isin(ABSENT).to_numpy()
        unknown = text.isin(UNKNOWN).to_numpy()
        bad = ~(present | absent | unknown)
        if bad.any():
            rows = np.nonzero(bad)[0][:3]
            shown = ", ".join(f"row {int(i) + 1}: {cells.iloc[i]!r}" for i in rows)
            raise LabelError(col, f"{int(bad.sum())} value(s) are not a state of {cid} ({shown}); "
                                  "allowed: present, absent (or 1/0, yes/no, true/false), empty = not known")
        out[present, j] = 0
        out[absent, j] = 1
    return out
