"""Which columns of a table of answers are which variables.

A column is read as a variable when its header is the variable's id or numeric alias, or is the
same ignoring case, spaces, hyphens and underscores (``Fever``, ``severe pain``, ``Pain-Groin``),
or is the variable's own question. A header that is only a close spelling of a variable
(``pain_grion``) is refused rather than passed over: the answers in it would otherwise be lost
without a word. A table none of whose columns is a variable is refused too (every row would get
the prior). Other columns are not read.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Any

from .errors import EvidenceError

Vocabulary = Any  # a model.vocabulary.Vocabulary (not imported: that module imports this one)

CLOSE_SPELLING = 0.85  # difflib ratio from which a header is taken for a misspelt variable id


def header_key(name: object) -> str:
    """A header compared ignoring case, spaces, hyphens, underscores and a trailing '?' or ':'."""
    text = str(name).strip().casefold().rstrip("?:").strip()
    return re.sub(r"[\s_\-]+", "_", text)


@dataclass
class ColumnMatch:
    """The variables found among a table's columns."""

    variables: dict[str, str] = field(default_factory=dict)  # column -> variable id or alias
    renamed: dict[str, str] = field(default_factory=dict)  # column -> id, for columns not written as the id
    near: dict[str, str] = field(default_factory=dict)  # column -> the variable it looks like (refused)

    def problem(self) -> str | None:
        """One message for every close spelling, or None."""
        if not self.near:
            return None
        items = "; ".join(f"column {c!r} looks like the variable {v!r}" for c, v in self.near.items())
        return (f"{items}: rename the column to the variable id, or describe the columns with a mapping "
                "(a column mapped to null is passed through unread)")


def match_columns(vocabulary: Vocabulary, columns: list[str], skip: set[str] | frozenset[str] = frozenset()) -> ColumnMatch:
    """Match ``columns`` (a table's header) to the vocabulary's variables (``skip``: columns that
    are described elsewhere, e.g. by a mapping, and must not be matched)."""
    keys: dict[str, str] = {}
    for name in vocabulary.names:
        keys[header_key(name)] = name
    for vid, var in vocabulary.variables.items():
        keys.setdefault(header_key(var.question), vid)
    names = list(vocabulary.names)
    out = ColumnMatch()
    for c in columns:
        if c in skip or not isinstance(c, str):
            continue
        if c in vocabulary.variables or c in vocabulary.aliases:
            out.variables[c] = c
            continue
        hit = keys.get(header_key(c))
        if hit is not None:
            out.variables[c] = hit
            out.renamed[c] = hit
            continue
        close = difflib.get_close_matches(header_key(c), names, n=1, cutoff=CLOSE_SPELLING)
        if close:
            out.near[c] = close[0]
    return out


def columns_as_variables(vocabulary: Vocabulary, columns: list[str]) -> dict[str, str]:
    """Column -> variable id or alias, for ``HipModel.score``; raises :class:`EvidenceError` for a
    close spelling, for two columns that are the same variable, and when no column is a variable."""
    match = match_columns(vocabulary, columns)
    if match.near:
        column, var = next(iter(match.near.items()))
        raise EvidenceError(column, match.problem().split(": ", 1)[0] + "; rename it to the variable id",
                            suggestion=var, code="unknown_variable")
    seen: dict[str, str] = {}
    for c, v in match.variables.items():
        if v in seen and c in match.renamed:
            raise EvidenceError(c, f"is read as {v}, but column {seen[v]!r} is {v} too; keep one of them", code="conflict")
        seen.setdefault(v, c)
    if columns and not match.variables:
        shown = ", ".join(map(repr, list(columns)[:5])) + (" ..." if len(columns) > 5 else "")
        raise EvidenceError("columns", f"no column is a variable (got {shown}); name columns by variable id "
                            "(e.g. fever, severe_pain, age) or map a survey's columns with `hipdx mapping draft`",
                            allowed=vocabulary.names, code="unknown_variable")
    return match.variables
