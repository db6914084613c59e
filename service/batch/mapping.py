"""Survey mapping files: how a real survey's columns and answers become hipdx variables and states.

A mapping is a small YAML file (see ``examples/survey_mapping.yaml``)::

    separator: ";"                      # default separator of multi-select answers (optional)
    missing: ["999", "-99", "N/A"]      # answers meaning "not answered", in every column (optional)
    columns:
      "Age (years)":                    # a number, binned by the model (10 to 110 years)
        variable: age
        missing: ["-1"]                 # this column's own missing codes (added to the file's)
      "Gender":                         # answer labels (or codes) -> states; "unknown" (or null) = not answered
        variable: sex
        values: {Woman: female, Man: male, "Prefer not to say": unknown}
      "Q7 Where does it hurt?":         # multi-select in one cell: each option sets one present/absent variable
        separator: ";"
        options:
          "Outside of the hip": pain_lateral_hip
          "Groin; front": pain_groin     # an option may contain the separator
          "Somewhere else": null        # an allowed answer that sets nothing
      "Where does it hurt (ticked)":    # one column per option (REDCap field___N, SurveyMonkey option columns)
        checkboxes:
          where___1: pain_lateral_hip   # the column, and the variable it sets
          where___2: pain_groin
          where___9: null
      "Tick if it hurts at night":      # one option's column on its own: blank means "not ticked"
        variable: night_pain
        values: {"Yes": present, "": absent}
      "Comments": null                  # a column that is not a variable (passed through, never read)

Rules:

- The file is read as text: ``010`` stays ``010``, ``yes`` stays ``yes`` (YAML 1.1 would make them
  8 and true); a key given twice is refused; UTF-8 (with or without BOM), UTF-16 with a BOM, and
  Windows-1252 files are read.
- ``variable`` is a variable id or a numeric alias (``age``, ``rest_days_per_week``,
  ``weekly_training_hours``: the cell is read as a number and binned, range-checked).
- Without ``values``, a cell is read like a column named after the variable (state names and their
  obvious spellings: yes/no/true/1 ...). With ``values``, every answer must be listed: an answer
  that is not is that row's error. Answers match ignoring case and surrounding spaces, and a
  numeric answer matches its integer key (``1.0`` matches ``1``). An answer may be a value label's
  code or its label (SPSS/Stata value labels). An empty cell is "not answered", unless ``values``
  lists ``""``: then a blank cell is that state (a ticked-or-blank column).
- ``missing`` (for the file, and per column): answers that mean "not answered".
- ``options`` (multi-select in one cell): the cell is split on the separator (an option whose label
  contains the separator is recognised as a whole); each selected option sets its variable to its
  first state (``present`` / ``yes``); a variable listed but not selected is set to its second state
  (``absent`` / ``no``); an empty cell leaves them all unknown. An answer not listed is that row's error.
- ``checkboxes`` (one column per option): a column is ticked when its cell is ``1`` / ``checked`` /
  ``yes`` / ``true`` / the option's own text, and not ticked when blank / ``0`` / ``unchecked`` /
  ``no`` / ``false``. If at least one column of the group is ticked, ticked variables are present and
  the others absent; if none is, the question counts as not answered (all unknown).
- Several columns may set the same variable; a row where they disagree gets an error.
- Column names match the file's header exactly, or else ignoring case and surrounding spaces.
- Columns the mapping does not list pass through unscored, except columns already named by a
  variable (see :mod:`model.columns`), which are read as they are.

Every mistake in the mapping file is reported with the file name, the key, and what is allowed.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

UNKNOWN = "unknown"
BINARY_STATE_PAIRS = (("present", "absent"), ("yes", "no"))
NULL_WORDS = ("null", "~", "none")
TICKED = frozenset({"1", "checked", "yes", "true", "x", "ticked", "selected"})
NOT_TICKED = frozenset({"", "0", "unchecked", "no", "false", "not selected"})


class MappingError(ValueError):
    """A mapping file that cannot be used: names the file, the key and what is allowed."""


# --------------------------------------------------------------------------------------- YAML
class _TextLoader(yaml.SafeLoader):
    """Every scalar is text (YAML 1.1 would read ``010`` as 8 and ``yes`` as true), except an
    unquoted ``null``/``~``/empty value; a key given twice in one mapping is refused."""

    def construct_mapping(self, node, deep=False):
        seen: set = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping", node.start_mark, f"found duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


_TextLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag == "tag:yaml.org,2002:null"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def read_text(path: str | Path) -> str:
    """A mapping file's text: UTF-8 (BOM or not), UTF-16 with a BOM, else Windows-1252."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise MappingError(f"{path}: cannot read the mapping file: {exc.strerror or exc}") from None
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _text_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {("" if k is None else str(k)): v for k, v in value.items()}
    return value


def _null(value: Any) -> Any:
    return None if isinstance(value, str) and value.strip().lower() in NULL_WORDS else value


def _nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _null(v) for k, v in _text_keys(value).items()}
    return value


def _listify(value: Any) -> Any:
    if isinstance(value, str):
        return [value]
    return value


class ColumnSpec(BaseModel):
    """How one survey column (or a group of checkbox columns) is read."""

    model_config = ConfigDict(extra="forbid")

    variable: str | None = None
    values: dict[str, str | None] | None = None
    options: dict[str, str | None] | None = None
    checkboxes: dict[str, str | None] | None = None
    separator: str | None = None
    missing: list[str] | None = None

    _maps = field_validator("values", "options", "checkboxes", mode="before")(lambda v: _nulls(v))
    _miss = field_validator("missing", mode="before")(lambda v: _listify(v))

    @model_validator(mode="after")
    def _one_kind(self) -> ColumnSpec:
        kinds = [k for k in ("variable", "options", "checkboxes") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError("give one of 'variable' (one variable per column), 'options' (a multi-select column) or "
                             "'checkboxes' (one column per option)")
        if self.values is not None and self.variable is None:
            raise ValueError("'values' goes with 'variable'; a multi-select lists its answers under 'options' or 'checkboxes'")
        if self.separator is not None and self.options is None:
            raise ValueError("'separator' is only for multi-select columns (with 'options')")
        if self.separator == "":
            raise ValueError("'separator' must not be empty")
        return self


class MappingSpec(BaseModel):
    """The whole mapping file."""

    model_config = ConfigDict(extra="forbid")

    separator: str = ";"
    missing: list[str] = []
    columns: dict[str, ColumnSpec | None]

    _keys = field_validator("columns", mode="before")(lambda v: _text_keys(v))
    _miss = field_validator("missing", mode="before")(lambda v: _listify(v) if v is not None else [])


# --------------------------------------------------------------------------------------- answers
_NUMBER = re.compile(r"^[-+]?\d+(?:\.0*)?$|^[-+]?\d*\.\d+(?:[eE][-+]?\d+)?$|^[-+]?\d+[eE][-+]?\d+$")


def answer_key(value: Any) -> str:
    """How answers are compared: case and spaces ignored, and a number that is a whole number
    written as its integer (``1``, ``1.0``, ``"1.0"`` and ``" 1 "`` all give ``"1"``)."""
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        f = float(value)
        return str(int(f)) if f.is_integer() else repr(f)
    text = " ".join(str(value).split()).casefold()
    if _NUMBER.match(text):
        try:
            f = float(text)
        except ValueError:
            return text
        if f.is_integer() and abs(f) < 1e15:
            return str(int(f))
    return text


_norm = answer_key


def column_key(name: str) -> str:
    """How a mapping's column names match the header: case and surrounding/inner runs of spaces ignored."""
    return " ".join(str(name).split()).casefold()


@dataclass
class ColumnRule:
    """One validated entry of the mapping, resolved against the model's vocabulary."""

    column: str  # the mapping's key (for checkboxes: the question's name)
    variable: str | None = None  # variable id or alias (the evidence column it fills)
    values: dict[str, str | None] | None = None  # answer key -> state (None = unknown)
    options: dict[str, str | None] | None = None  # answer key -> variable id (None = nothing)
    checkboxes: dict[str, str | None] | None = None  # column -> variable id (None = nothing)
    separator: str = ";"
    labels: list[str] = field(default_factory=list)  # the answers as written in the file, for messages
    missing: frozenset[str] = frozenset()  # answer keys meaning "not answered"
    input_columns: list[str] = field(default_factory=list)  # the header's names of the columns read (set by resolve_columns)

    @property
    def targets(self) -> list[str]:
        if self.options is None and self.checkboxes is None:
            return [self.variable]
        table = self.options if self.options is not None else self.checkboxes
        return list(dict.fromkeys(v for v in table.values() if v is not None))

    @property
    def columns(self) -> list[str]:
        """The columns this entry reads, as the mapping names them."""
        return list(self.checkboxes) if self.checkboxes is not None else [self.column]


class SurveyMapping:
    """A validated mapping: turns a chunk of survey columns into evidence columns."""

    def __init__(self, rules: list[ColumnRule], source: str, vocabulary, ignored: list[str] | None = None,
                 text: str | None = None, missing: frozenset[str] = frozenset()) -> None:
        self.rules = rules
        self.missing = missing  # file-wide missing codes (answer keys), also applied to direct columns
        self.source = source
        self.vocabulary = vocabulary
        self.ignored = list(ignored or [])  # columns mapped to null: never read as variables
        self.text = text
        for r in rules:
            if not r.input_columns:
                r.input_columns = r.columns

    @property
    def by_column(self) -> dict[str, ColumnRule]:
        """Input column (as in the header) -> its rule."""
        return {c: r for r in self.rules for c in r.input_columns}

    @property
    def targets(self) -> list[str]:
        """Every evidence column (variable id or alias) this mapping can fill."""
        return list(dict.fromkeys(t for r in self.rules for t in r.targets))

    def resolve_columns(self, header: list[str]) -> list[str]:
        """Match the mapping's column names to the header (exactly, else ignoring case and spaces);
        returns problems (a column not found, or found twice)."""
        problems: list[str] = []
        exact = set(header)
        by_key: dict[str, list[str]] = {}
        for h in dict.fromkeys(header):
            by_key.setdefault(column_key(h), []).append(h)

        def find(name: str) -> str | None:
            if name in exact:
                return name
            found = by_key.get(column_key(name), [])
            if len(found) == 1:
                return found[0]
            if len(found) > 1:
                problems.append(f"{self.source}: column {name!r} matches several columns of the input "
                                f"({', '.join(map(repr, found))}); write it exactly as in the header")
                return None
            problems.append(f"{self.source}: column {name!r} is not in the input file")
            return None

        for r in self.rules:
            found = [find(c) for c in r.columns]
            r.input_columns = [c for c in found if c is not None]
            if r.checkboxes is not None:
                r.checkboxes = {h: r.checkboxes[c] for c, h in zip(r.columns, found, strict=True) if h is not None}
            elif found[0] is not None:
                r.column = found[0]
        self.ignored = [find(c) or c for c in self.ignored if c in exact or len(by_key.get(column_key(c), [])) == 1]
        return problems

    def check_columns(self, columns: list[str], direct: dict[str, str] | None = None) -> list[str]:
        """Problems with an input file's header: mapped columns it lacks or repeats, and variables
        that a direct column (``direct``: column -> variable id) and the mapping both set."""
        problems = self.resolve_columns(columns)
        counts: dict[str, int] = {}
        for c in columns:
            counts[c] = counts.get(c, 0) + 1
        for c in self.by_column:
            if counts.get(c, 0) > 1:
                problems.append(f"{self.source}: column {c!r} appears {counts[c]} times in the input; the mapping reads it, "
                                "so it must be unique (rename the copies)")
        mapped = {self.vocabulary.aliases.get(t, t): r.column for r in self.rules for t in r.targets}
        for c, vid in (direct or {}).items():
            if vid in mapped:
                problems.append(f"{self.source}: input column {c!r} is already the variable {vid}, and the mapping also "
                                f"maps {mapped[vid]!r} to it; map only one of them (add {c!r} to the mapping or drop it)")
        return problems

    def add_value_labels(self, labels: dict[str, dict[str, str]]) -> None:
        """Let answers given as codes match keys written as their labels, and the reverse
        (``labels``: column -> code as text -> label, from an SPSS/Stata file)."""
        for r in self.rules:
            table = labels.get(r.column)
            if not table or r.values is None:
                continue
            for code, label in table.items():
                ck, lk = answer_key(code), answer_key(label)
                if ck not in r.values and lk in r.values:
                    r.values[ck] = r.values[lk]
                    r.labels.append(f"{code} ({label})")
                elif lk not in r.values and ck in r.values:
                    r.values[lk] = r.values[ck]

    def apply(self, frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str | None], dict[str, str]]:
        """Evidence columns (variable id/alias -> values), one error (or None) per row, and for each
        evidence column the survey column(s) it came from (so messages name the survey's columns)."""
        n = len(frame)
        evidence: dict[str, np.ndarray] = {}
        origin: dict[str, str] = {}
        errors = np.full(n, None, dtype=object)
        for rule in self.rules:
            if rule.checkboxes is not None:
                produced = self._checkboxes(rule, frame, errors)
            elif rule.options is not None:
                produced = self._options(rule, frame[rule.column], errors)
            else:
                produced = self._values(rule, frame[rule.column], errors)
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
        blank_state = rule.values.get("") if rule.values is not None else None
        out_unique[-1] = blank_state
        bad_unique: dict[int, str] = {}
        for i, raw in enumerate(uniques):
            key = answer_key(raw) if not _is_missing(raw) else ""
            if key in rule.missing:
                continue
            if key == "":
                out_unique[i] = blank_state
            elif rule.values is None:
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
            if _is_missing(raw) or answer_key(raw) == "" or answer_key(raw) in rule.missing:
                continue
            selected, unknown_tokens = _split_options(str(raw), rule)
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

    def _checkboxes(self, rule: ColumnRule, frame: pd.DataFrame, errors: np.ndarray) -> dict[str, np.ndarray]:
        targets = rule.targets
        variables = self.vocabulary.variables
        n = len(frame)
        ticked = {}
        for column in rule.checkboxes:
            codes, uniques = pd.factorize(frame[column], use_na_sentinel=True)
            state = np.zeros(len(uniques) + 1, dtype=np.int8)  # 1 ticked, 0 not, -1 unreadable
            option_text = column_key(column.rsplit(" - ", 1)[-1])
            for i, raw in enumerate(uniques):
                key = "" if _is_missing(raw) else answer_key(raw)
                if key in NOT_TICKED or key in rule.missing:
                    continue
                if key in TICKED or column_key(str(raw)) == option_text or not _looks_like_code(key):
                    state[i] = 1
                else:
                    state[i] = -1
                    msg = f"{column}: {raw!r} is neither ticked (1, checked, yes, the option's text) nor not ticked (blank, 0, unchecked, no)"
                    for row in np.nonzero(codes == i)[0]:
                        _append(errors, row, msg)
            ticked[column] = state[codes]
        any_ticked = np.zeros(n, dtype=bool)
        for s in ticked.values():
            any_ticked |= s == 1
        out = {}
        for vid in targets:
            present, absent = variables[vid].states[0], variables[vid].states[1]
            on = np.zeros(n, dtype=bool)
            for column, var in rule.checkboxes.items():
                if var == vid:
                    on |= ticked[column] == 1
            out[vid] = np.where(any_ticked, np.where(on, present, absent), None).astype(object)
        return out


def _looks_like_code(key: str) -> bool:
    return bool(_NUMBER.match(key))


def _split_options(cell: str, rule: ColumnRule) -> tuple[set[str], list[str]]:
    """Selected variables and unknown answers of one multi-select cell; the longest run of
    separator-joined pieces that is an option wins, so an option may contain the separator."""
    tokens = cell.split(rule.separator)
    selected: set[str] = set()
    unknown: list[str] = []
    i = 0
    while i < len(tokens):
        if answer_key(tokens[i]) == "":
            i += 1
            continue
        for j in range(len(tokens), i, -1):
            key = answer_key(rule.separator.join(tokens[i:j]))
            if key in rule.options:
                if rule.options[key] is not None:
                    selected.add(rule.options[key])
                i = j
                break
        else:
            if answer_key(tokens[i]) not in rule.missing:
                unknown.append(tokens[i].strip())
            i += 1
    return selected, unknown


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
    return parse_mapping(read_text(path), str(path), vocabulary)


def parse_mapping(text: str, source: str, vocabulary) -> SurveyMapping:
    """A mapping from its YAML text (``source`` names it in messages); :class:`MappingError` if wrong."""
    try:
        raw = yaml.load(text, Loader=_TextLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise MappingError(f"{source}: not valid YAML: {' '.join(str(exc).split())}") from None
    if not isinstance(raw, dict):
        raise MappingError(f"{source}: expected a mapping with a 'columns' key, got {type(raw).__name__}")
    try:
        spec = MappingSpec.model_validate(raw)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = ".".join(_fmt_key(p) for p in err["loc"] if not str(p).startswith("function-") and p != "ColumnSpec")
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbid" or err["type"] == "extra_forbidden":
                msg = "unknown key; allowed: " + (
                    "variable, values, options, checkboxes, separator, missing" if len(err["loc"]) > 2
                    else "separator, missing, columns")
            lines.append(f"{source}: {loc or '(top level)'}: {msg}")
        raise MappingError("\n".join(dict.fromkeys(lines))) from None
    missing = frozenset(answer_key(m) for m in spec.missing)
    rules, ignored = [], []
    for column, col in spec.columns.items():
        if col is None:
            ignored.append(column)
            continue
        rules.append(_resolve(source, column, col, spec.separator, missing, vocabulary))
    seen: dict[str, str] = {}
    for r in rules:
        for c in r.columns:
            if c in seen and seen[c] != r.column:
                raise MappingError(f"{source}: columns.{_fmt_key(r.column)}: column {c!r} is already read by "
                                   f"columns.{_fmt_key(seen[c])}")
            seen[c] = r.column
    return SurveyMapping(rules, source, vocabulary, ignored, text, missing)


def _fmt_key(part: Any) -> str:
    text = str(part)
    return text if text.isidentifier() else repr(text)


def _closest(name: str, options: list[str]) -> str:
    from model.vocabulary import closest

    hint = closest(name, options)
    return f" (did you mean {hint!r}?)" if hint else ""


def _binary_variable(where: str, var: str | None, vocabulary) -> None:
    if var is None:
        return
    if var not in vocabulary.variables:
        ids = list(vocabulary.variables)
        raise MappingError(f"{where}: unknown variable {var!r}; allowed: {', '.join(ids)} or null{_closest(var, ids)}")
    states = tuple(vocabulary.variables[var].states)
    if states not in BINARY_STATE_PAIRS:
        raise MappingError(f"{where}: {var} has states {', '.join(states)}; a multi-select option can only set a "
                           f"present/absent or yes/no variable (map {var} from its own column with 'values')")


def _resolve(source: str, column: str, col: ColumnSpec, default_sep: str, missing: frozenset[str], vocabulary) -> ColumnRule:
    where = f"{source}: columns.{_fmt_key(column)}"
    names = vocabulary.names
    missing = missing | frozenset(answer_key(m) for m in (col.missing or []))
    if col.checkboxes is not None:
        for c, var in col.checkboxes.items():
            _binary_variable(f"{where}.checkboxes.{_fmt_key(c)}", var, vocabulary)
        if not col.checkboxes:
            raise MappingError(f"{where}.checkboxes: list at least one column")
        return ColumnRule(column, checkboxes=dict(col.checkboxes), labels=list(col.checkboxes), missing=missing)
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
                key = answer_key(answer)
                if key in values:
                    raise MappingError(f"{where}.values.{_fmt_key(answer)}: the answer is listed twice "
                                       "(answers match ignoring case and spaces, and 1.0 matches 1)")
                values[key] = None if state in (None, UNKNOWN) else state
        return ColumnRule(column, variable=var, values=values, labels=list(col.values or []), missing=missing)
    options = {}
    for answer, var in col.options.items():
        _binary_variable(f"{where}.options.{_fmt_key(answer)}", var, vocabulary)
        key = answer_key(answer)
        if key in options:
            raise MappingError(f"{where}.options.{_fmt_key(answer)}: the answer is listed twice "
                               "(answers match ignoring case and spaces)")
        options[key] = var
    return ColumnRule(column, options=options, separator=col.separator or default_sep, labels=list(col.options),
                      missing=missing)
