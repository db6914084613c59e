"""The evidence vocabulary: variables, their states and questions, and how answers are read.

Answers arrive from forms, EHRs and survey files in many spellings. This module accepts a
state's obvious spellings only where they are unambiguous (``True``/``"yes"``/``1`` for a
present/absent finding, ``"F"`` for female, an age in years for ``age_band``), and refuses
anything else with an :class:`EvidenceError` that names the field, lists what is allowed and
suggests the closest match. Nothing is silently ignored.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .columns import columns_as_variables
from .errors import EvidenceError, shown
from .priors import Numeric, Priors

UNKNOWN_WORDS = frozenset({"", "unknown", "not known", "na", "n/a", "nan", "none", "null"})
_UNKNOWN_KEYS = frozenset(w.strip().lower().replace("-", "_").replace(" ", "_") for w in UNKNOWN_WORDS)
_TRUE = ("true", "yes", "y", "1")
_FALSE = ("false", "no", "n", "0")
# Spellings accepted for a pair of states, where each is unambiguous.
_SYNONYMS: dict[tuple[str, ...], dict[str, tuple[str, ...]]] = {
    ("present", "absent"): {"present": _TRUE + ("present",), "absent": _FALSE + ("absent",)},
    ("yes", "no"): {"yes": _TRUE + ("present",), "no": _FALSE + ("absent",)},
    ("female", "male"): {"female": ("female", "f", "woman"), "male": ("male", "m", "man")},
    ("sudden", "gradual"): {"sudden": ("sudden", "suddenly"), "gradual": ("gradual", "gradually")},
}


def is_missing(value: Any) -> bool:
    """True for the scalars that mean 'not answered': ``None``, ``float('nan')``, ``numpy.nan``,
    ``pandas.NA`` and ``pandas.NaT`` (as ``HipModel.score`` reads an empty cell)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, (float, np.floating)):
        return bool(np.isnan(value))
    return False


@dataclass(frozen=True)
class Variable:
    """One evidence variable: a risk factor or a finding."""

    id: str
    group: str
    question: str
    states: tuple[str, ...]
    role: str  # "risk_factor" | "finding"
    numeric: Numeric | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "group": self.group, "question": self.question,
                               "states": list(self.states), "role": self.role}
        if self.numeric:
            n = self.numeric
            out["numeric"] = {"field": n.field, "unit": n.unit, "min": n.min, "max": n.max,
                              "cut_points": list(n.cut_points), "closed": n.closed}
        return out


def closest(name: str, options: list[str]) -> str | None:
    match = difflib.get_close_matches(str(name), options, n=1, cutoff=0.6)
    return match[0] if match else None


def _norm(text: str) -> str:
    return str(text).strip().lower().replace("-", "_").replace(" ", "_")


class Vocabulary:
    """All evidence variables, plus the rules for reading answers into states."""

    def __init__(self, priors: Priors) -> None:
        self.variables: dict[str, Variable] = {}
        for rid, rf in priors.risk_factors.items():
            self.variables[rid] = Variable(rid, rf.group, rf.question, rf.states, "risk_factor", rf.numeric)
        for fid, fd in priors.findings.items():
            self.variables[fid] = Variable(fid, fd.group, fd.question, fd.states, "finding")
        self.aliases: dict[str, str] = {
            v.numeric.field: vid for vid, v in self.variables.items() if v.numeric is not None
        }
        self._spellings: dict[str, dict[str, str]] = {vid: self._spellings_for(v) for vid, v in self.variables.items()}
        # states given exactly as spelled (the common case): read without normalising the text
        self._exact: dict[str, frozenset[str]] = {
            vid: frozenset(s for s in v.states if _norm(s) not in _UNKNOWN_KEYS and self._spellings[vid].get(_norm(s)) == s)
            for vid, v in self.variables.items()}

    @staticmethod
    def _spellings_for(var: Variable) -> dict[str, str]:
        table = {_norm(s): s for s in var.states}
        for pair, synonyms in _SYNONYMS.items():
            if tuple(var.states) == pair:
                for state, words in synonyms.items():
                    table.update({_norm(w): state for w in words})
        return table

    @property
    def names(self) -> list[str]:
        """Every accepted field name: variable ids and numeric aliases."""
        return list(self.variables) + list(self.aliases)

    def suggest_field(self, name: str) -> str | None:
        return closest(name, self.names)

    # ---------------------------------------------------------------- single case
    def parse(self, evidence: Mapping[str, Any]) -> dict[str, str]:
        """Evidence as understood: variable id -> state; unknown answers are left out.

        Raises :class:`EvidenceError` for the first answer that cannot be read (see
        :meth:`parse_partial` to read what can be read and collect every error)."""
        parsed, errors = self.parse_partial(evidence)
        if errors:
            raise errors[0]
        return parsed

    def parse_partial(self, evidence: Mapping[str, Any]) -> tuple[dict[str, str], list[EvidenceError]]:
        """Read whatever can be read of a case.

        Returns ``(parsed, errors)``: ``parsed`` maps variable id -> state for every answer that
        could be read (in vocabulary order; 'not answered' values such as ``None``, ``nan``,
        ``pandas.NA`` or ``"unknown"`` are left out), ``errors`` holds one :class:`EvidenceError`
        per answer that could not (unknown variable, unknown state, number out of range or not a
        number, two fields that disagree about one variable: both are then left out). Never raises
        for a bad answer, only for ``evidence`` that is not a mapping.

        Channels use it to surface the red flags among the readable answers of a refused case."""
        if not isinstance(evidence, Mapping):
            raise EvidenceError("evidence", f"must be an object of variable: state, got {type(evidence).__name__}")
        out: dict[str, str] = {}
        source: dict[str, str] = {}
        conflicted: set[str] = set()
        errors: list[EvidenceError] = []
        for field, value in evidence.items():
            if not isinstance(field, str):
                errors.append(EvidenceError(shown(field), "variable names must be strings"))
                continue
            vid = self.aliases.get(field, field)
            if vid not in self.variables:
                errors.append(EvidenceError(field, "unknown variable", value=value, allowed=self.names,
                                            suggestion=self.suggest_field(field), code="unknown_variable"))
                continue
            try:
                state = self.read_value(vid, value, field)
            except EvidenceError as exc:
                errors.append(exc)
                continue
            if state is None:
                continue
            if vid in out and out[vid] != state:
                errors.append(EvidenceError(field, f"gives {vid} = {state!r} but {source[vid]} gives {out[vid]!r}",
                                            value=value, code="conflict"))
                conflicted.add(vid)
                continue
            out[vid] = state
            source[vid] = field
        return {vid: out[vid] for vid in self.variables if vid in out and vid not in conflicted}, errors

    def read_value(self, vid: str, value: Any, field: str | None = None) -> str | None:
        """One answer -> a state of ``vid`` (None when the answer says 'unknown')."""
        field = field or vid
        if type(value) is str and value in self._exact[vid] and field not in self.aliases:
            return value  # a state exactly as spelled: what the general reading below gives it
        var = self.variables[vid]
        if is_missing(value):
            return None
        if isinstance(value, str) and _norm(value) in _UNKNOWN_KEYS:
            return None
        numeric_field = field in self.aliases or (var.numeric is not None and not isinstance(value, str))
        if var.numeric is not None and numeric_field:
            return bin_number(var, value, field)
        if isinstance(value, (bool, np.bool_)):
            key = "true" if value else "false"
        elif isinstance(value, (int, float, np.integer, np.floating)) and value in (0, 1):
            key = str(int(value))
        elif isinstance(value, str):
            key = _norm(value)
        else:
            raise EvidenceError(field, f"{shown(value)} is not a state", value=value, allowed=list(var.states), code="unknown_state")
        state = self._spellings[vid].get(key)
        if state is None:
            raise EvidenceError(field, f"unknown state {shown(value)}", value=value, allowed=list(var.states),
                                suggestion=closest(key, list(var.states)), code="unknown_state")
        return state

    # ---------------------------------------------------------------- many rows
    def encode_frame(self, df: pd.DataFrame, order: list[str]) -> tuple[np.ndarray, list[str | None]]:
        """State codes (n, len(order)) for the variables in ``order`` (-1 = unknown), reading the
        frame's variable and alias columns; plus one error message (or None) per row.

        A row with an unreadable answer gets a message naming the column, the value and what is
        allowed, and its codes are left as they are; the caller decides not to score it.
        """
        n = len(df)
        codes = np.full((n, len(order)), -1, dtype=np.int64)
        errors = np.full(n, None, dtype=object)
        position = {vid: j for j, vid in enumerate(order)}
        seen_by: dict[str, str] = {}

        as_variable = columns_as_variables(self, list(df.columns))  # EvidenceError: a close spelling, or no variable
        for column in df.columns:
            name = as_variable.get(column)
            if name is None:
                continue
            vid = self.aliases.get(name, name)
            if vid not in position:
                continue
            var = self.variables[vid]
            series = df[column]
            if isinstance(series, pd.DataFrame):
                raise EvidenceError(str(column), "the table has this column more than once; keep one", code="conflict")
            col_codes, col_errors = self._encode_column(var, series, column, name in self.aliases)
            j = position[vid]
            if vid in seen_by:  # both e.g. `age` and `age_band`: they must agree where both answer
                both = (codes[:, j] >= 0) & (col_codes >= 0) & (codes[:, j] != col_codes)
                for i in np.nonzero(both)[0]:
                    _append(errors, i, f"{column}: disagrees with {seen_by[vid]}")
                take = codes[:, j] < 0
                codes[take, j] = col_codes[take]
            else:
                codes[:, j] = col_codes
                seen_by[vid] = column
            for i, msg in col_errors:
                _append(errors, i, msg)
        return codes, list(errors)

    def _encode_column(self, var: Variable, series: pd.Series, column: str,
                       is_alias: bool = False) -> tuple[np.ndarray, list[tuple[int, str]]]:
        """State codes for one column. Survey columns repeat a few answers many times, so each
        distinct value is read once (``pd.factorize``) and the result spread back to the rows."""
        codes_of_row, uniques = pd.factorize(series, use_na_sentinel=True)
        distinct = list(uniques)
        use_numbers = var.numeric is not None and (is_alias or column in self.aliases or pd.api.types.is_numeric_dtype(series))
        if use_numbers and not pd.api.types.is_bool_dtype(series):
            code_of, message_of = self._read_numbers(var, distinct, column)
        else:
            code_of, message_of = self._read_states(var, distinct, column)
        codes = np.full(len(series), -1, dtype=np.int64)
        answered = codes_of_row >= 0
        codes[answered] = code_of[codes_of_row[answered]]
        problems: list[tuple[int, str]] = []
        bad_values = [i for i, msg in enumerate(message_of) if msg is not None]
        if bad_values:
            for row in np.nonzero(np.isin(codes_of_row, bad_values))[0]:
                problems.append((int(row), message_of[codes_of_row[row]]))
        return codes, problems

    def _read_numbers(self, var: Variable, distinct: list[Any], column: str) -> tuple[np.ndarray, list[str | None]]:
        numeric = var.numeric
        assert numeric is not None
        numbers = np.array([_to_float(v) for v in distinct], dtype=float)  # distinct values: few
        codes = np.full(len(distinct), -1, dtype=np.int64)
        messages: list[str | None] = [None] * len(distinct)
        lo, hi = numeric.min, numeric.max
        for i, (value, number) in enumerate(zip(distinct, numbers, strict=True)):
            if np.isnan(number):
                if str(value).strip().lower() not in UNKNOWN_WORDS:
                    messages[i] = f"{column}: {shown(value)} is not a number of {numeric.unit}"
            elif not lo <= number <= hi:
                messages[i] = f"{column}: {number:g} is outside the allowed range {lo:g} to {hi:g} {numeric.unit}"
        good = ~np.isnan(numbers) & (numbers >= lo) & (numbers <= hi)
        codes[good] = bin_codes(numeric, numbers[good])
        return codes, messages

    def _read_states(self, var: Variable, distinct: list[Any], column: str) -> tuple[np.ndarray, list[str | None]]:
        spellings = self._spellings[var.id]
        state_index = {s: i for i, s in enumerate(var.states)}
        unknown = {_norm(w) for w in UNKNOWN_WORDS}
        codes = np.full(len(distinct), -1, dtype=np.int64)
        messages: list[str | None] = [None] * len(distinct)
        allowed = ", ".join(var.states)
        for i, value in enumerate(distinct):
            if isinstance(value, (bool, np.bool_)):
                key = "true" if value else "false"
            elif isinstance(value, (int, float, np.integer, np.floating)):
                key = _number_key(value)
            else:
                key = _norm(value)
                if key in ("1.0", "0.0"):  # a 0/1 column written by pandas with a blank in it
                    key = key[0]
            if key in unknown:
                continue
            state = spellings.get(key)
            if state is None:
                hint = closest(key, list(var.states))
                messages[i] = f"{column}: unknown state {shown(value)}; allowed: {allowed}" + (f" (did you mean {hint!r}?)" if hint else "")
            else:
                codes[i] = state_index[state]
        return codes, messages


def _number_key(v: Any) -> str:
    try:
        f = float(v)
    except OverflowError:
        return "inf"
    except (TypeError, ValueError):
        return str(v)
    if math.isnan(f):
        return ""
    return str(int(f)) if f in (0.0, 1.0) else shown(v)


def _to_float(value: Any) -> float:
    """A cell as a float: nan when it is not a number, +-inf beyond float range (never raises)."""
    if isinstance(value, (bool, np.bool_)):
        return math.nan
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf
    except (TypeError, ValueError):
        try:
            return float(str(value).strip())
        except OverflowError:
            return math.inf
        except (TypeError, ValueError):
            return math.nan


def _append(errors: np.ndarray, i: int, message: str) -> None:
    errors[i] = message if errors[i] is None else f"{errors[i]}; {message}"


def bin_codes(numeric: Numeric, numbers: np.ndarray) -> np.ndarray:
    """State index of each number: left-closed bins [a, b) or right-closed (a, b]."""
    side = "right" if numeric.closed == "left" else "left"
    return np.searchsorted(np.asarray(numeric.cut_points), numbers, side=side).astype(np.int64)


def bin_number(var: Variable, value: Any, field: str) -> str:
    """A number (age in years, days, hours) -> the state it falls in, range-checked."""
    n = var.numeric
    assert n is not None
    if isinstance(value, (bool, np.bool_)):
        raise EvidenceError(field, f"must be a number of {n.unit}, got {shown(value)}", value=value, code="not_a_number")
    try:
        number = float(value)
    except OverflowError:  # an integer beyond any float (e.g. 10**400)
        number = math.inf
    except (TypeError, ValueError):
        raise EvidenceError(field, f"must be a number of {n.unit}, got {shown(value)}", value=value, code="not_a_number") from None
    if not math.isfinite(number) or not n.min <= number <= n.max:
        raise EvidenceError(field, f"{shown(value)} is outside the allowed range {n.min:g} to {n.max:g} {n.unit}",
                            value=value, code="out_of_range")
    return var.states[int(bin_codes(n, np.array([number]))[0])]
