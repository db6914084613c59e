"""Scoring one chunk: survey cells -> evidence -> the model's score columns, and their Arrow form."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .mapping import answer_key
from .plan import SCORE_TAIL, Plan

EMPTY_ROW = "empty row: every cell is blank; not scored"
_DECIMAL_COMMA = re.compile(r"^\s*([-+]?\d+),(\d+)\s*$")


def blank_rows(table: pa.Table) -> np.ndarray:
    """True for each row whose every cell is null or blank text (a row of only delimiters)."""
    n = table.num_rows
    blank = np.ones(n, dtype=bool)
    for col in table.columns:
        if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            empty = pc.fill_null(pc.equal(pc.utf8_trim_whitespace(col), ""), True)
        else:
            empty = pc.is_null(col, nan_is_null=True)
        blank &= empty.to_numpy(zero_copy_only=False)
        if not blank.any():
            break
    return blank


def evidence_of(frame: pd.DataFrame, plan: Plan, vocabulary) -> tuple[pd.DataFrame, list[str | None], dict[str, str]]:
    """Evidence columns (variable ids/aliases), the mapping's error per row, and each evidence
    column's survey column (for messages)."""
    direct = {}
    origin: dict[str, str] = {}
    numeric = set(plan.numeric_columns(vocabulary))
    missing = plan.missing
    for column, var in plan.direct.items():
        cells = frame[column]
        cells = _prepare(cells, plan.value_labels.get(column), column in numeric and plan.decimal == ",", missing)
        direct[var] = cells  # a Series, as read (pyarrow-backed text is faster for the model than objects)
        if var != column:
            origin[var] = column
    evidence = pd.DataFrame(direct, index=frame.index)
    map_errors: list[str | None] = [None] * len(frame)
    if plan.mapping is not None:
        mapped_frame = frame
        if plan.decimal == ",":
            mapped_frame = frame.copy()
            for column in numeric & set(frame.columns):
                mapped_frame[column] = _prepare(frame[column], None, True, frozenset())
        mapped, map_errors, mapped_origin = plan.mapping.apply(mapped_frame)
        origin.update(mapped_origin)
        evidence = pd.concat([evidence, mapped], axis=1) if len(evidence.columns) else mapped
    return evidence, map_errors, origin


def _prepare(cells: pd.Series, labels: dict[str, str] | None, decimal_comma: bool, missing: frozenset[str]) -> pd.Series:
    """Value labels in place of codes, decimal commas as points, missing codes as blanks (each
    distinct value is looked at once)."""
    if not labels and not decimal_comma and not missing:
        return cells
    codes, uniques = pd.factorize(cells, use_na_sentinel=True)
    out = np.empty(len(uniques) + 1, dtype=object)
    out[-1] = None
    for i, raw in enumerate(uniques):
        key = answer_key(raw)
        value = raw
        if key in missing:
            value = None
        elif labels and key in labels:
            value = labels[key]
        elif decimal_comma and isinstance(raw, str):
            value = _DECIMAL_COMMA.sub(r"\1.\2", raw)
        out[i] = value
    return pd.Series(out[codes], index=cells.index, dtype=object)


def score_frame(frame: pd.DataFrame, plan: Plan, model, pre_errors: list[str | None] | None = None) -> pd.DataFrame:
    """The score columns (``p_*``, triage, red_flags, error, and whatever else ``HipModel.score``
    returns after ``p_*``) for a chunk of input rows (``frame``: the needed columns, by header name).

    ``pre_errors``: a reader's error per row (a ragged row, undecodable bytes, an empty row); such
    a row is not scored, but red flags among its readable answers are still reported."""
    evidence, map_errors, origin = evidence_of(frame, plan, model.vocabulary)
    scores = model.score(evidence)
    if origin:  # messages should name the survey's column, not our evidence column
        pattern = re.compile(r"(^|; )(" + "|".join(map(re.escape, sorted(origin, key=len, reverse=True))) + r"): ")
        scores["error"] = pd.Series([pattern.sub(lambda mt: f"{mt.group(1)}{origin[mt.group(2)]}: ", e) if isinstance(e, str)
                                     else None for e in scores["error"].tolist()], index=scores.index, dtype=object)
    first = [a if a is not None else b for a, b in zip(pre_errors or [None] * len(frame), map_errors, strict=True)]
    if pre_errors is not None:
        first = [f"{a}; {b}" if a is not None and b is not None else f for a, b, f in zip(pre_errors, map_errors, first, strict=True)]
    bad = np.array([e is not None for e in first], dtype=bool)
    if bad.any():
        _unscore(scores, bad, first, evidence, model)
    return scores


def _unscore(scores: pd.DataFrame, bad: np.ndarray, messages: list, evidence: pd.DataFrame, model) -> None:
    """Rows that must not be scored: empty posteriors, the message first, and triage from the
    red-flag answers alone (as ``HipModel.score`` does for its own unreadable rows)."""
    rows = np.nonzero(bad)[0]
    p_cols = [c for c in scores.columns if c.startswith("p_")]
    scores.iloc[rows, [scores.columns.get_loc(c) for c in p_cols]] = np.nan
    old = scores["error"].to_numpy(dtype=object)
    errs = np.array([e if isinstance(e, str) else None for e in old], dtype=object)
    for i in rows:
        errs[i] = messages[i] if errs[i] is None else f"{messages[i]}; {errs[i]}"
    scores["error"] = pd.Series(errs, index=scores.index, dtype=object)
    codes, _ = model.vocabulary.encode_frame(evidence.iloc[rows], model.evidence_order)
    states = {v: model.variables[v].states for v in model.evidence_order}
    marg = np.full((len(rows), len(model.conditions)), np.nan)
    levels, flags = model.triage_rules.assess_batch(codes, model.evidence_order, states, marg, model.conditions)
    levels = np.where(flags == "", None, levels)
    scores.iloc[rows, scores.columns.get_loc("triage")] = levels
    scores.iloc[rows, scores.columns.get_loc("red_flags")] = flags


def score_columns(scores: pd.DataFrame) -> list[str]:
    """Every column ``HipModel.score`` returned: ``p_*`` first, then the rest in its order
    (triage, red_flags, error, and any the model adds)."""
    p = [c for c in scores.columns if str(c).startswith("p_")]
    return p + [c for c in scores.columns if c not in p]


def score_table(scores: pd.DataFrame) -> pa.Table:
    """The score columns as an Arrow table: posteriors as float64 (missing as null), red_flags as
    the ``'; '``-joined text, object columns as text, typed columns (bool, numbers) as they are."""
    arrays, names = [], []
    for name in score_columns(scores):
        values = scores[name]
        if str(name).startswith("p_"):
            arr = pa.array(values.to_numpy(dtype=float), type=pa.float64(), from_pandas=True)
        elif name in SCORE_TAIL or values.dtype == object:  # text (a mixed column as its text)
            arr = pa.array([v if v is None or isinstance(v, str) else (None if _na(v) else str(v)) for v in values.tolist()],
                           type=pa.string())
        else:
            arr = pa.array(values, from_pandas=True)
        arrays.append(arr)
        names.append(str(name))
    return pa.Table.from_arrays(arrays, names=names)


def _na(v) -> bool:
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False
