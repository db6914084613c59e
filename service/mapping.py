"""Survey mapping files: how a real survey's columns and answers become hipdx variables and states.

A mapping is a small YAML file (see ``examples/survey_mapping.yaml``)::

    separator: ";"                      # default separator of multi-select answers (optional)
    columns:
      "Age (years)":                    # a number, binned by the model (10 to 110 years)
        variable: age
      "Gender":                         # answer labels -> states; "unknown" (or null) = not answered
        variable: sex
        values: {Woman: female, Man: male, "Prefer not to say": unknown}
      "Does it hurt at night?":         # a yes/no question with its own labels
        variable: night_pain
        values: {"Yes": present, "No": absent, "Not sure": unknown}
      "Q7 Where does it hurt?":         # multi-select: each option sets one present/absent variable
        separator: ";"
        options:
          "Outside of the hip": pain_lateral_hip
          "Groin": pain_groin
          "Somewhere else": null        # an allowed answer that sets nothing

Rules:

- ``variable`` is a variable id or a numeric alias (``age``, ``rest_days_per_week``,
  ``weekly_training_hours``: the cell is read as a number and binned, range-checked).
- Without ``values``, a cell is read like a column named after the variable (state names and their
  obvious spellings: yes/no/true/1 ...). With ``values``, every answer must be listed: an answer
  that is not is that row's error. Answers match ignoring case and surrounding spaces. An empty cell
  is always "not answered".
- ``options`` (multi-select): the cell is split on the separator; each selected option sets its
  variable to its first state (``present`` / ``yes``); a variable listed in the options but not
  selected is set to its second state (``absent`` / ``no``); an empty cell leaves them all unknown.
  An answer that is not an option is that row's error.
- Several columns may set the same variable; a row where they disagree gets an error.
- Columns the mapping does not list pass through unscored, except columns already named by a
  variable id or alias, which are read as they are.

Every mistake in the mapping file is reported with the file name, the key, and what is allowed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

UNKNOWN = "unknown"
BINARY_STATE_PAIRS = (("present", "absent"), ("yes", "no"))


class MappingError(ValueError):
    """A mapping file that cannot be used: names the file, the key and what is allowed."""


class _Loader(yaml.SafeLoader):
    """YAML 1.2 booleans: only true/false; so answer labels like Yes, No, On, Off stay text.
    A key given twice in one mapping is refused (the last must never silently win)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping", node.start_mark, f"found duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _text_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {("null" if k is None else str(k)): v for k, v in value.items()}
    return value


class ColumnSpec(BaseModel):
    """How one survey column is read."""

    model_config = ConfigDict(extra="forbid")

    variable: str | None = None
    values: dict[str, str | None] | None = None
    options: dict[str, str | None] | None = None
    separator: str | None = None

    _keys = field_validator("values", "options", mode="before")(lambda v: _text_keys(v))

    @model_validator(mode="after")
    def _one_kind(self) -> ColumnSpec:
        if (self.variable is None) == (self.options is None):
            raise ValueError("give either 'variable' (one variable per column) or 'options' (a multi-select column)")
        if self.values is not None and self.options is not None:
            raise ValueError("'values' goes with 'variable'; a multi-select column lists its answers under 'options'")
        if self.separator is not None and self.options is None:
            raise ValueError("'separator' is only for multi-select columns (with 'options')")
        if self.separator == "":
            raise ValueError("'separator' must not be empty")
        return self


class MappingSpec(BaseModel):
    """The whole mapping file."""

    model_config = ConfigDict(extra="forbid")

    separator: str = ";"
    columns: dict[str, ColumnSpec]

    _keys = field_validator("columns", mode="before")(lambda v: _text_keys(v))


def _norm(text: Any) -> str:
    return " ".join(str(text).split()).casefold()


@dataclass
class ColumnRule:
    """One validated column of the mapping, resolved against the model's vocabulary."""

    column: str
    variable: str | None = None  # variable id or alias (the evidence column it fills)
    values: dict[str, str | None] | None = None  # normalised answer -> state (None = unknown)
    options: dict[str, str | None] | None = None  # normalised answer -> variable id (None = nothing)
    separator: str = ";"
    labels: list[str] = field(default_factory=list)  # the answers as written in the file, for messages

    @property
    def targets(self) -> list[str]:
        if self.options is None:
            return [self.variable]
        return list(dict.fromkeys(v for v in self.options.values() if v is not None))


class SurveyMapping:
    """A validated mapping: turns a chunk of survey columns into evidence columns."""

    def __init__(self, rules: list[ColumnRule], source: str, vocabulary) -> None:
        self.rules = rules
        self.source = source
        self.vocabulary = vocabulary
        self.by_column = {r.column: r for r in rules}

    @property
    def targets(self) -> list[str]:
        """Every evidence column (variable id or alias) this mapping can fill."""
        return list(dict.fromkeys(t for r in self.rules for t in r.targets))

    def check_columns(self, columns: list[str]) -> list[str]:
        """Problems with an input file's header (mapped columns it lacks, clashes with direct columns)."""
        problems = [f"{self.source}: column {c!r} is not in the input file" for c in self.by_column if c not in columns]
        direct = {c: self.vocabulary.aliases.get(c, c) for c in columns
                  if c not in self.by_column and (c in self.vocabulary.variables or c in self.vocabulary.aliases)}
        mapped = {self.vocabulary.aliases.get(t, t): r.column for r in self.rules for t in r.targets}
        for c, vid in direct.items():
            if vid in mapped:
                problems.append(f"{self.source}: input column {c!r} is already the variable {vid}, and the mapping also "
                                f"maps {mapped[vid]!r} to it; map only one of them (add {c!r} to the mapping or drop it)")
        return problems

    def apply(self, frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str | None], dict[str, str]]:
        """Evidence columns (variable id/alias -> values), one error (or None) per row, and for each
        evidence column the survey column(s) it came from (so messages name the survey's columns)."""
        n = len(frame)
        evidence: dict[str, np.ndarray] = {}
        origin: dict[str, str] = {}
        errors = np.full(n, None, dtype=object)
        for rule in self.rules:
            cells = frame[rule.column]
            produced = self._options(rule, cells, errors) if rule.options is not None else self._values(rule, cells, errors)
            for target, values in produced.items():
                if target in evidence:
                    evidence[target] = _merge(evidence[target], values, origin[target], rule.column, target, errors)
                    origin[target] = f"{origin[target]} / {rule.column}"
                else:
                    evidence[target] = values
                    origin[target] = rule.column
        return pd.DataFrame(evidence, index=frame.index), list(errors), origin

    def _values(self, rule: ColumnRule, cells: pd.Series, errors: np.ndarray) -> dict[str, np.ndarray]:
        codes, uniques = pd.factorize(cells, use_na_sentinel=True)
        out_unique = np.full(len(uniques) + 1, None, dtype=object)  # last slot: missing cells
        bad_unique: dict[int, str] = {}
        for i, raw in enumerate(uniques):
            key = _norm(raw)
            if key == "" or _is_missing(raw):
                continue
            if rule.values is None:
                out_unique[i] = raw
            elif key in rule.values:
                out_unique[i] = rule.values[key]
            else:
                bad_unique[i] = f"{rule.column}: unmapped answer {raw!r}; allowed: {', '.join(rule.labels)}"
        values = out_unique[codes]
        for i, msg in bad_unique.items():
            for row in np.nonzero(codes == i)[0]:
                _append(errors, row, msg)
        return {rule.variable: values}

    def _options(self, rule: ColumnRule, cells: pd.Series, errors: np.ndarray) -> dict[str, np.ndarray]:
        targets = rule.targets
        variables = self.vocabulary.variables
        codes, uniques = pd.factorize(cells, use_na_sentinel=True)
        table = np.full((len(uniques) + 1, len(targets)), None, dtype=object)
        bad_unique: dict[int, str] = {}
        for i, raw in enumerate(uniques):
            if _is_missing(raw) or _norm(raw) == "":
                continue
            selected: set[str] = set()
            unknown_tokens = []
            for token in str(raw).split(rule.separator):
                key = _norm(token)
                if not key:
                    continue
                if key not in rule.options:
                    unknown_tokens.append(token.strip())
                elif rule.options[key] is not None:
                    selected.add(rule.options[key])
            if unknown_tokens:
                bad_unique[i] = "; ".join(f"{rule.column}: unmapped answer {t!r}; allowed: {', '.join(rule.labels)}"
                                          for t in unknown_tokens)
                continue
            for j, vid in enumerate(targets):
                states = variables[vid].states
                table[i, j] = states[0] if vid in selected else states[1]
        for i, msg in bad_unique.items():
            for row in np.nonzero(codes == i)[0]:
                _append(errors, row, msg)
        rows = table[codes]
        return {vid: rows[:, j] for j, vid in enumerate(targets)}


def _is_missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _merge(a: np.ndarray, b: np.ndarray, col_a: str, col_b: str, target: str, errors: np.ndarray) -> np.ndarray:
    """Two columns answering the same variable: take whichever answered; disagreement is an error."""
    a_set = np.array([x is not None for x in a], dtype=bool)
    b_set = np.array([x is not None for x in b], dtype=bool)
    clash = a_set & b_set & (a.astype(str) != b.astype(str))
    for row in np.nonzero(clash)[0]:
        _append(errors, row, f"{col_b}: says {target} = {b[row]!r} but {col_a} says {a[row]!r}")
    return np.where(a_set, a, b)


def _append(errors: np.ndarray, i: int, message: str) -> None:
    errors[i] = message if errors[i] is None else f"{errors[i]}; {message}"


# --------------------------------------------------------------------------------------- loading
def load_mapping(path: str | Path, vocabulary) -> SurveyMapping:
    """Read and validate a mapping file against the model's vocabulary; :class:`MappingError` if wrong."""
    source = str(path)
    try:
        with open(path, encoding="utf-8") as fh:
            raw = yaml.load(fh, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except OSError as exc:
        raise MappingError(f"{source}: cannot read the mapping file: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise MappingError(f"{source}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise MappingError(f"{source}: expected a mapping with a 'columns' key, got {type(raw).__name__}")
    try:
        spec = MappingSpec.model_validate(raw)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = ".".join(_fmt_key(p) for p in err["loc"] if not str(p).startswith("function-"))
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown key; allowed: " + (
                    "variable, values, options, separator" if len(err["loc"]) > 2 else "separator, columns")
            lines.append(f"{source}: {loc or '(top level)'}: {msg}")
        raise MappingError("\n".join(lines)) from None
    return SurveyMapping([_resolve(source, column, col, spec.separator, vocabulary)
                          for column, col in spec.columns.items()], source, vocabulary)


def _fmt_key(part: Any) -> str:
    text = str(part)
    return text if text.isidentifier() else repr(text)


def _closest(name: str, options: list[str]) -> str:
    from model.vocabulary import closest

    hint = closest(name, options)
    return f" (did you mean {hint!r}?)" if hint else ""


def _resolve(source: str, column: str, col: ColumnSpec, default_sep: str, vocabulary) -> ColumnRule:
    where = f"{source}: columns.{_fmt_key(column)}"
    names = vocabulary.names
    if col.options is None:
        var = col.variable
        if var not in vocabulary.variables and var not in vocabulary.aliases:
            raise MappingError(f"{where}.variable: unknown variable {var!r}; allowed: {', '.join(names)}{_closest(var, names)}")
        values = None
        if col.values is not None:
            if var in vocabulary.aliases:
                raise MappingError(f"{where}.values: {var!r} is read as a number; to map labelled bands use "
                                   f"variable: {vocabulary.aliases[var]} with its states")
            states = list(vocabulary.variables[var].states)
            values = {}
            for answer, state in col.values.items():
                if state is not None and state != UNKNOWN and state not in states:
                    allowed = [*states, UNKNOWN]
                    raise MappingError(f"{where}.values.{_fmt_key(answer)}: {state!r} is not a state of {var}; "
                                       f"allowed: {', '.join(allowed)}{_closest(state, allowed)}")
                key = _norm(answer)
                if key in values:
                    raise MappingError(f"{where}.values.{_fmt_key(answer)}: the answer is listed twice "
                                       "(answers match ignoring case and spaces)")
                values[key] = None if state in (None, UNKNOWN) else state
        return ColumnRule(column, variable=var, values=values, labels=list(col.values or []))
    options = {}
    for answer, var in col.options.items():
        if var is not None:
            if var not in vocabulary.variables:
                ids = list(vocabulary.variables)
                raise MappingError(f"{where}.options.{_fmt_key(answer)}: unknown variable {var!r}; allowed: "
                                   f"{', '.join(ids)} or null{_closest(var, ids)}")
            states = tuple(vocabulary.variables[var].states)
            if states not in BINARY_STATE_PAIRS:
                raise MappingError(f"{where}.options.{_fmt_key(answer)}: {var} has states {', '.join(states)}; a "
                                   "multi-select option can only set a present/absent or yes/no variable "
                                   f"(map {var} from its own column with 'values')")
        sep = col.separator or default_sep
        if sep in answer:
            raise MappingError(f"{where}.options.{_fmt_key(answer)}: the answer contains the separator {sep!r}; "
                               "choose another 'separator' for this column")
        key = _norm(answer)
        if key in options:
            raise MappingError(f"{where}.options.{_fmt_key(answer)}: the answer is listed twice "
                               "(answers match ignoring case and spaces)")
        options[key] = var
    return ColumnRule(column, options=options, separator=col.separator or default_sep, labels=list(col.options))
