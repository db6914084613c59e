"""Drafting a mapping from a survey file (``hipdx mapping draft``) and checking one (``hipdx mapping check``).

The draft matches each column's header (and the question text a Qualtrics export, an SPSS/Stata
column label or a REDCap data dictionary gives) to the model's variable ids and questions, and
each column's distinct answers to the variable's states, with rapidfuzz's ``WRatio`` (0-100).
Every entry carries a confidence comment; columns it could not place are listed at the end as
``null`` (passed through unread) for the analyst to fill in or leave. REDCap checkbox columns
(``field___1``) and SurveyMonkey option columns (``Question - Option``) become ``checkboxes``
groups. The draft is a proposal: the analyst reads it, edits it, and checks it with
``hipdx mapping check``, which shows every answer seen and what it maps to.
"""

from __future__ import annotations

import collections
import csv
import json
import re
from dataclasses import dataclass, field

import pandas as pd

from .errors import BatchError
from .mapping import BINARY_STATE_PAIRS, NOT_TICKED, SurveyMapping, answer_key
from .readers import ReadOptions, Source, open_input, with_hint

HEADER_CUTOFF = 70  # rapidfuzz WRatio from which a header is taken for a variable
STATE_CUTOFF = 80
MAX_DISTINCT = 40  # a column with more distinct answers is free text (or a number)
SAMPLE_ROWS = 50_000
_REDCAP_CHECKBOX = re.compile(r"^(?P<field>.+)___(?P<code>[A-Za-z0-9_\-]+)$")


def _fuzz():
    try:
        from rapidfuzz import fuzz, process, utils
    except ImportError:
        raise BatchError("hipdx mapping draft needs rapidfuzz: pip install rapidfuzz") from None
    return fuzz, process, utils


@dataclass
class Column:
    """What the draft knows about one input column."""

    name: str
    question: str = ""
    answers: collections.Counter = field(default_factory=collections.Counter)
    choices: dict[str, str] = field(default_factory=dict)  # code -> label (value labels, REDCap choices)
    numeric: bool = False


def survey_columns(source: Source, dictionary: dict[str, dict] | None = None) -> list[Column]:
    """The input's columns with their question texts and distinct answers (from the first
    :data:`SAMPLE_ROWS` rows)."""
    cols = [Column(n, source.questions.get(n, ""), choices=dict(source.value_labels.get(n, {}))) for n in source.names]
    seen = 0
    for chunk in source.chunks:
        frame = chunk.table.to_pandas()
        for j, col in enumerate(cols):
            if len(col.answers) > MAX_DISTINCT:
                continue
            counts = frame.iloc[:, j].map(lambda v: "" if _na(v) else v).value_counts()
            for value, k in counts.items():
                col.answers[value] += int(k)
        seen += chunk.table.num_rows
        if seen >= SAMPLE_ROWS:
            break
    for col in cols:
        values = [v for v in col.answers if answer_key(v) != ""]
        col.numeric = bool(values) and all(_number(v) is not None for v in values) and not col.choices
        if dictionary and _redcap_field(col.name) in dictionary:
            entry = dictionary[_redcap_field(col.name)]
            col.question = col.question or entry["label"]
            col.choices = col.choices or entry["choices"]
    return cols


def _na(v) -> bool:
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def _number(v) -> float | None:
    try:
        return float(str(v).replace(",", "."))
    except ValueError:
        return None


def _redcap_field(name: str) -> str:
    m = _REDCAP_CHECKBOX.match(name)
    return m.group("field") if m else name


def read_redcap_dictionary(path: str) -> dict[str, dict]:
    """A REDCap data dictionary (CSV): field name -> {"type", "label", "choices": {code: label}}."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError) as exc:
        raise BatchError(f"{path}: cannot read the data dictionary: {exc}") from None
    if not rows:
        raise BatchError(f"{path}: the data dictionary is empty")
    keys = {k.strip().lower(): k for k in rows[0]}

    def col(*starts: str) -> str:
        for k, orig in keys.items():
            if any(k.startswith(s) for s in starts):
                return orig
        raise BatchError(f"{path}: not a REDCap data dictionary (no column starting {starts[0]!r})")

    name_c, type_c, label_c = col("variable / field name", "field name"), col("field type"), col("field label")
    choice_c = col("choices, calculations", "choices")
    out = {}
    for r in rows:
        choices = {}
        if r[type_c] in ("checkbox", "radio", "dropdown"):
            for part in (r[choice_c] or "").split("|"):
                if "," in part:
                    code, label = part.split(",", 1)
                    choices[code.strip()] = re.sub(r"<[^>]+>", "", label).strip()
        elif r[type_c] in ("yesno", "truefalse"):
            choices = {"1": "Yes", "0": "No"} if r[type_c] == "yesno" else {"1": "True", "0": "False"}
        out[r[name_c].strip()] = {"type": r[type_c], "label": re.sub(r"<[^>]+>", "", r[label_c] or "").strip(), "choices": choices}
    return out


# ------------------------------------------------------------------------------------ matching
SYNONYMS = {  # everyday survey wordings of a few variables (matched like the questions)
    "gender": "sex", "sex": "sex", "how old are you": "age", "age in years": "age", "age": "age",
    "hours of training per week": "weekly_training_hours", "training hours per week": "weekly_training_hours",
    "rest days per week": "rest_days_per_week", "temperature": "fever", "put weight on the leg": "cannot_bear_weight",
    "walk on the leg": "cannot_bear_weight", "clicking locking catching": "mechanical_symptoms",
    "hurt at night": "night_pain", "pain at night": "night_pain", "outside of the hip": "pain_lateral_hip",
    "groin": "pain_groin", "buttock": "pain_buttock_deep", "lower back": "pain_lower_back", "downhill": "worse_downhill",
    "outside of the knee": "pain_radiates_to_lateral_knee", "down the back of the leg": "pain_radiates_down_leg",
    "down the leg": "pain_radiates_down_leg", "front of the thigh": "pain_anterior_thigh",
}
INVERTED = {"cannot_bear_weight"}  # questions are often asked the other way round ("Can you put weight on it?")


def _targets(vocabulary) -> dict[str, str]:
    """Text to match -> variable id or alias."""
    out = {k: v for k, v in SYNONYMS.items() if v in vocabulary.variables or v in vocabulary.aliases}
    for vid, var in vocabulary.variables.items():
        out[vid.replace("_", " ")] = vid
        out[var.question] = vid
    for alias in vocabulary.aliases:
        out[alias.replace("_", " ")] = alias
    return out


def candidates(texts: list[str], vocabulary, limit: int = 5) -> list[tuple[str, float, str]]:
    """The variables a column may be about, best first: (id or alias, score 0-100, what matched).
    The score is rapidfuzz's ``token_sort_ratio`` blended with ``partial_ratio`` (a short header
    inside a long question counts, but less than a whole match)."""
    fuzz, process, utils = _fuzz()
    targets = _targets(vocabulary)
    best: dict[str, tuple[float, str]] = {}

    def scorer(a, b, **kw):
        return 0.6 * fuzz.token_sort_ratio(a, b) + 0.4 * fuzz.partial_ratio(a, b) if min(len(a), len(b)) > 3 else fuzz.ratio(a, b)

    for text in texts:
        if not text or not text.strip():
            continue
        for hit, score, _ in process.extract(text, list(targets), scorer=scorer, processor=utils.default_process, limit=limit * 3):
            vid = targets[hit]
            if score > best.get(vid, (0.0, ""))[0]:
                best[vid] = (float(score), f"{text!r} ~ {hit!r}")
    ranked = sorted(best.items(), key=lambda kv: -kv[1][0])[:limit]
    return [(vid, score, why) for vid, (score, why) in ranked]


def match_variable(texts: list[str], vocabulary, numeric: bool, answers: list[str] | None = None) -> tuple[str | None, float, str]:
    """The variable a column is about, its score (0-100) and what matched: among the best header
    matches, the one whose states its answers fit best."""
    found = candidates(texts, vocabulary)
    if not found:
        return None, 0.0, ""
    vid, score, why = found[0]
    if answers and hasattr(vocabulary, "read_value"):
        def fit(v: str) -> float:
            if v in vocabulary.aliases:
                return 1.0 if numeric else 0.0
            if vocabulary.variables[v].numeric is not None and numeric:
                return 1.0
            return sum(match_state(a, v, vocabulary)[0] is not None for a in answers) / len(answers)

        rescored = [(v, s * (0.5 + 0.5 * fit(v)), w) for v, s, w in found]
        vid, score, why = max(rescored, key=lambda t: t[1])
    if vid is not None and numeric and vid in vocabulary.variables and vocabulary.variables[vid].numeric is not None:
        vid = vocabulary.variables[vid].numeric.field  # answers are numbers: read them as the alias
    return vid, score, why


def match_state(answer: str, vid: str, vocabulary) -> tuple[str | None, float]:
    """The state an answer means (the model's own spellings first, then fuzzy), and a score."""
    var = vocabulary.variables[vocabulary.aliases.get(vid, vid)]
    try:
        state = vocabulary.read_value(var.id, str(answer))
        if state is not None:
            return state, 100.0
        return "unknown", 100.0
    except ValueError:
        pass
    key = answer_key(answer)
    if key in ("don't know", "not sure", "prefer not to say", "unknown", "n/a"):
        return "unknown", 90.0
    fuzz, process, utils = _fuzz()
    hit = process.extractOne(str(answer), [s.replace("_", " ") for s in var.states], scorer=fuzz.WRatio,
                             processor=utils.default_process)
    if hit and hit[1] >= STATE_CUTOFF:
        return var.states[hit[2]], float(hit[1])
    return None, 0.0


# ------------------------------------------------------------------------------------ drafting
def draft_mapping(path: str, vocabulary, read: ReadOptions | None = None, dictionary: str | None = None) -> str:
    """A proposed mapping for the survey file ``path``, as YAML text with a confidence comment on every entry."""
    source = open_input(path, 10_000, read)
    dd = read_redcap_dictionary(dictionary) if dictionary else None
    cols = survey_columns(source, dd)
    lines = [f"# Mapping drafted by `hipdx mapping draft` from {path}" + (f" and {dictionary}" if dictionary else ""),
             "# A proposal: check every entry (confidence 0-100 from fuzzy matching), then run",
             "#   hipdx mapping check THIS.yaml SURVEY  and  hipdx score SURVEY --mapping THIS.yaml -o OUT",
             *([f"# Note: {source.hint} (hipdx mapping draft, mapping check and score all take --sheet)"]
               if source.hint else []),
             "# Answers meaning 'not answered' in every column (add yours, e.g. \"999\", \"-99\"):",
             "missing: []", "columns:"]
    placed: set[str] = set()
    unplaced: list[tuple[str, str]] = []
    groups = _checkbox_groups(cols)
    for group, members in groups.items():
        entry = _draft_checkboxes(group, members, vocabulary)
        if entry:
            lines += entry
            placed.update(c.name for c in members)
    for col in cols:
        if col.name in placed:
            continue
        entry, why = _draft_column(col, vocabulary)
        if entry:
            lines += entry
        else:
            unplaced.append((col.name, why))
    if unplaced:
        lines.append("  # Columns not placed: passed through unread (null). Map those that hold answers.")
        for name, why in unplaced:
            lines.append(f"  {_q(name)}: null   # {why}")
    return "\n".join(lines) + "\n"


def _q(text: str) -> str:
    return json.dumps(str(text), ensure_ascii=False)


def _checkbox_groups(cols: list[Column]) -> dict[str, list[Column]]:
    """REDCap ``field___N`` columns and SurveyMonkey ``Question - Option`` columns, by question."""
    groups: dict[str, list[Column]] = collections.defaultdict(list)
    for c in cols:
        m = _REDCAP_CHECKBOX.match(c.name)
        if m:
            groups[m.group("field")].append(c)
        elif " - " in c.name:
            groups[c.name.rsplit(" - ", 1)[0]].append(c)
    return {g: m for g, m in groups.items() if len(m) > 1}


def _option_label(col: Column) -> str:
    m = _REDCAP_CHECKBOX.match(col.name)
    if m:
        return col.choices.get(m.group("code"), m.group("code"))
    return col.name.rsplit(" - ", 1)[-1]


def _draft_checkboxes(group: str, members: list[Column], vocabulary) -> list[str]:
    binary = {vid: v for vid, v in vocabulary.variables.items() if tuple(v.states) in BINARY_STATE_PAIRS}
    out = [f"  {_q(group)}:   # one column per option: ticked -> present, others absent; none ticked -> unknown",
           "    checkboxes:"]
    any_hit = False
    used: dict[str, str] = {}
    for col in members:
        label = _option_label(col)
        vid, score, why = match_variable([label, f"{group} {label}"], _Binary(vocabulary, binary), False)
        if vid is not None and score >= HEADER_CUTOFF:
            any_hit = True
            again = f"; CHECK: {used[vid]!r} sets {vid} too" if vid in used else ""
            used.setdefault(vid, col.name)
            out.append(f"      {_q(col.name)}: {vid}   # confidence {score:.0f}: {why}{again}")
        else:
            out.append(f"      {_q(col.name)}: null   # option {label!r} not placed")
    return out if any_hit else []


class _Binary:
    """The vocabulary restricted to present/absent and yes/no variables (for checkbox options)."""

    def __init__(self, vocabulary, binary) -> None:
        self.variables = binary
        self.aliases: dict[str, str] = {}


def _draft_column(col: Column, vocabulary) -> tuple[list[str], str]:
    shown = list(col.choices.values()) or [str(a) for a in col.answers if answer_key(a) != ""][:MAX_DISTINCT]
    vid, score, why = match_variable([col.name, col.question], vocabulary, col.numeric, shown)
    if vid is None or score < HEADER_CUTOFF:
        hint = f"best guess {vid} ({score:.0f})" if vid else "no variable comes close"
        if not [a for a in col.answers if answer_key(a) != ""]:
            hint += "; no answers in the file"
        return [], hint
    lines = [f"  {_q(col.name)}:   # confidence {score:.0f}: {why}", f"    variable: {vid}"]
    if vid in vocabulary.aliases:
        lines[0] += "; answers are numbers, binned by the model"
        return lines, ""
    answers = [a for a in col.answers if answer_key(a) != ""]
    if not answers and not col.choices:
        return lines, ""
    values = []
    pairs = list(col.choices.items()) if col.choices else [(str(a), str(a)) for a in answers]
    for code, label in pairs:  # with choices (value labels, a REDCap dictionary), keys are the codes in the file
        state, sscore = match_state(label, vid, vocabulary)
        count = sum(k for a, k in col.answers.items() if answer_key(a) == answer_key(code))
        note = f"   # {label!r}," if label != code else "   #"
        if state is None:
            values.append(f"      {_q(code)}: unknown{note} NOT PLACED ({count} rows): set a state of {vid}")
        else:
            values.append(f"      {_q(code)}: {state}{note} confidence {sscore:.0f}, {count} rows")
    if vid in INVERTED:
        lines[0] += f"; CHECK THE DIRECTION: is the question asked the other way round (Yes = can)? {vid} is a red flag"
    if col.name == vid and not col.choices and all("confidence 100" in v for v in values):
        return lines, ""  # the variable's own column, in its own spellings
    return lines + ["    values:"] + values, ""


# ------------------------------------------------------------------------------------ checking
def check_mapping(mapping: SurveyMapping, path: str, read: ReadOptions | None = None) -> str:
    """Per mapped column: every answer seen, how often, and what it maps to (or its error)."""
    source = open_input(path, 10_000, read)
    problems = mapping.resolve_columns(source.names)
    if problems:
        raise BatchError(with_hint("\n".join(problems), source.hint))
    if source.value_labels:
        mapping.add_value_labels(source.value_labels)
    cols = {c.name: c for c in survey_columns(source)}
    out = [f"mapping {mapping.source} on {path} ({source.format})"]
    for rule in mapping.rules:
        out.append("")
        targets = ", ".join(rule.targets) or "(nothing)"
        for column in rule.input_columns:
            col = cols[column]
            if rule.checkboxes is not None:
                targets = rule.checkboxes.get(column) or "(nothing)"
            out.append(f"{column!r} -> {targets}" + (f" ({len(col.answers)}+ distinct answers, first shown)"
                                                     if len(col.answers) > MAX_DISTINCT else ""))
            one = SurveyMapping([rule], mapping.source, mapping.vocabulary)
            one.rules[0].input_columns = rule.input_columns
            answers = list(col.answers.items())[:MAX_DISTINCT]
            for answer, count in answers:
                frame = pd.DataFrame({c: ["" if c != column else answer] for c in rule.input_columns}, dtype=object)
                if rule.checkboxes is not None:
                    key = answer_key(answer)
                    meaning = "not ticked" if key in NOT_TICKED or key in rule.missing else "ticked"
                    ev, errors, _ = one.apply(frame)
                    shown = meaning if errors[0] is None else f"ERROR {errors[0]}"
                else:
                    ev, errors, _ = one.apply(frame)
                    if errors[0] is not None:
                        shown = f"ERROR {errors[0].split(': ', 1)[-1]}"
                    else:
                        got = {k: v for k, v in ev.iloc[0].items() if v is not None and not _na(v)}
                        shown = ", ".join(f"{k}={_as_read(mapping.vocabulary, k, v)}" for k, v in got.items()) or "not answered"
                out.append(f"  {count:>7,} x {answer!r:<30} -> {shown}")
    unread = [n for n in source.names if n not in mapping.by_column and n not in mapping.ignored]
    if mapping.ignored:
        out += ["", "passed through unread (null): " + ", ".join(map(repr, mapping.ignored))]
    if unread:
        out += ["", "not in the mapping (read only if named by a variable): " + ", ".join(map(repr, unread))]
    return "\n".join(out)


def _as_read(vocabulary, field: str, value) -> str:
    """How the model reads one evidence value (a state, a binned number, or the error a row would get)."""
    vid = vocabulary.aliases.get(field, field)
    try:
        state = vocabulary.read_value(vid, value, field)
    except ValueError as exc:
        return f"{value!r} ERROR {str(exc).split(': ', 1)[-1]}"
    if state is None:
        return "unknown"
    return state if str(value) == state else f"{state} (from {value!r})"
