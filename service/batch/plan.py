"""The plan of a scoring run: what to do with each input column, decided once from the header."""

from __future__ import annotations

import collections
from dataclasses import dataclass, field

from model.columns import match_columns

from .errors import BatchError
from .mapping import SurveyMapping, answer_key

SCORE_TAIL = ("triage", "red_flags", "error")


@dataclass
class Plan:
    """How each input column is read.

    ``names`` is the header as written (it may repeat a name), ``fields`` the same columns under
    unique names (the tables' own); ``direct`` maps a header name to the variable id or alias it is
    read as without a mapping (``Fever`` -> ``fever``).
    """

    names: list[str]
    fields: list[str]
    conditions: list[str]
    direct: dict[str, str]
    mapping: SurveyMapping | None
    decimal: str = "."
    value_labels: dict[str, dict[str, str]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def score_names(self) -> list[str]:
        return [f"p_{c}" for c in self.conditions] + list(SCORE_TAIL)

    @property
    def needed(self) -> list[str]:
        """Input columns the scorer reads (header names, each unique in the header)."""
        mapped = [c for r in self.mapping.rules for c in r.input_columns] if self.mapping else []
        return list(dict.fromkeys(list(self.direct) + mapped))

    @property
    def needed_fields(self) -> list[int]:
        """Positions of :attr:`needed` in the input."""
        where = {n: i for i, n in enumerate(self.names)}
        return [where[n] for n in self.needed]

    @property
    def missing(self) -> frozenset[str]:
        """File-wide missing codes (from the mapping), as answer keys."""
        return self.mapping.missing if self.mapping is not None else frozenset()

    def numeric_columns(self, vocabulary) -> list[str]:
        """Needed columns read as numbers (numeric aliases), where a decimal comma must be read."""
        cols = [c for c, v in self.direct.items() if v in vocabulary.aliases]
        if self.mapping:
            cols += [r.column for r in self.mapping.rules if r.variable in vocabulary.aliases]
        return cols


def make_plan(names: list[str], fields: list[str], vocabulary, conditions: list[str], mapping: SurveyMapping | None,
              *, decimal: str = ".", value_labels: dict[str, dict[str, str]] | None = None) -> Plan:
    """Decide how to read every column; :class:`BatchError` for a header that cannot be scored safely."""
    counts = collections.Counter(names)
    plan = Plan(list(names), list(fields), list(conditions), {}, mapping, decimal, dict(value_labels or {}))
    clash = [c for c in plan.score_names if c in counts]
    if clash:
        raise BatchError(f"the input already has column(s) {', '.join(map(repr, clash))}, which the output adds "
                         "(is it an already scored file?); drop or rename them first")
    problems: list[str] = []
    skip: set[str] = set()
    if mapping is not None:
        problems += mapping.resolve_columns(names)
        skip = set(mapping.by_column) | set(mapping.ignored)
    match = match_columns(vocabulary, names, skip)
    if match.near:
        problems.append(match.problem())
    direct = dict(match.variables)
    for c in direct:
        if counts[c] > 1:
            problems.append(f"column {c!r} appears {counts[c]} times in the input and is read as the variable {direct[c]}; "
                            "rename the copies")
    by_var: dict[str, list[str]] = {}
    for c, v in direct.items():
        by_var.setdefault(vocabulary.aliases.get(v, v), []).append(c)
    for v, cols in by_var.items():
        if len(cols) > 1 and any(c in match.renamed for c in cols):
            problems.append(f"columns {', '.join(map(repr, cols))} are all the variable {v}; keep one of them or map them")
    if mapping is not None:
        mapping_problems = mapping.check_columns(names, {c: vocabulary.aliases.get(v, v) for c, v in direct.items()})
        problems += [p for p in mapping_problems if p not in problems]
        if value_labels:
            mapping.add_value_labels(value_labels)
    if problems:
        raise BatchError("\n".join(dict.fromkeys(problems)))
    plan.direct = direct
    for c, v in match.renamed.items():
        plan.notes.append(f"column {c!r} read as the variable {v}")
    dupes = [c for c, k in counts.items() if k > 1]
    if dupes:
        plan.notes.append(f"column name(s) {', '.join(map(repr, dupes))} repeat in the header; not read, passed through")
    if not plan.needed:
        raise BatchError("no input column is a variable id, alias or question, and no --mapping describes them: every row "
                         "would get the prior; draft a mapping with `hipdx mapping draft IN -o map.yaml`")
    return plan


def is_blank_key(value) -> bool:
    return answer_key(value) == ""
