"""The run's summary: rows read, scored and with errors by reason, triage counts, posterior histograms."""

from __future__ import annotations

import collections
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

HIST_BINS = 20  # posterior histograms: 20 bins of width 0.05 on [0, 1]


@dataclass
class Summary:
    """Counts gathered chunk by chunk (memory does not grow with the file)."""

    rows_read: int = 0
    rows_scored: int = 0
    reasons: collections.Counter = field(default_factory=collections.Counter)
    triage: collections.Counter = field(default_factory=collections.Counter)
    histograms: dict[str, np.ndarray] = field(default_factory=dict)  # condition -> counts per bin
    seconds: float = 0.0
    partitions: int = 0  # chunks or Dask partitions written
    input_format: str = ""
    notes: list[str] = field(default_factory=list)  # what was recognised or guessed
    model_version: str = ""
    mapping: str | None = None
    output: str = ""

    @property
    def rows_with_errors(self) -> int:
        return self.rows_read - self.rows_scored

    def add(self, scored: pa.Table, splitter: Callable[[str], list[str]]) -> None:
        """Count one chunk's score columns."""
        series = scored.column("error").to_pandas()
        self.rows_read += len(series)
        self.partitions += 1
        counts = series.dropna().value_counts()
        self.rows_scored += len(series) - int(counts.sum())
        for message, k in counts.items():
            for reason in dict.fromkeys(error_reason(p) for p in splitter(message)):
                self.reasons[reason] += int(k)
        for level, k in scored.column("triage").to_pandas().fillna("(none)").value_counts().items():
            self.triage[str(level)] += int(k)
        for name in scored.column_names:
            if name.startswith("p_"):
                values = scored.column(name).to_numpy(zero_copy_only=False)
                values = values[~np.isnan(values)]
                hist, _ = np.histogram(values, bins=HIST_BINS, range=(0.0, 1.0))
                key = name[2:]
                self.histograms[key] = self.histograms.get(key, np.zeros(HIST_BINS, dtype=np.int64)) + hist

    def text(self) -> str:
        rate = self.rows_read / self.seconds if self.seconds > 0 else float("inf")
        lines = [f"hipdx score: {self.rows_read:,} rows read, {self.rows_scored:,} scored, "
                 f"{self.rows_with_errors:,} with errors; {self.seconds:.1f} s ({rate:,.0f} rows/s)"]
        if self.input_format:
            lines.append(f"input: {self.input_format}")
        lines += [f"  note: {n}" for n in self.notes]
        if self.triage:
            lines.append("triage: " + ", ".join(f"{k} {v:,}" for k, v in sorted(self.triage.items(), key=lambda kv: -kv[1])))
        if self.reasons:
            lines.append("rows with errors, by reason (a row with several problems counts under each):")
            width = len(f"{max(self.reasons.values()):,}")
            for reason, k in sorted(self.reasons.items(), key=lambda kv: (-kv[1], kv[0])):
                lines.append(f"  {k:>{width},} x {reason}")
        return "\n".join(lines)


_REASONS = [
    (re.compile(r"^(?P<c>.*?): unknown state .*; allowed: (?P<a>.*?)(?: \(did you mean .*\))?$", re.S),
     r"\g<c>: unknown state; allowed: \g<a>"),
    (re.compile(r"^(?P<c>.*?): unmapped answer .*; allowed: (?P<a>.*)$", re.S), r"\g<c>: unmapped answer; allowed: \g<a>"),
    (re.compile(r"^(?P<c>.*?): .* is not a number of (?P<u>.*)$", re.S), r"\g<c>: not a number of \g<u>"),
    (re.compile(r"^(?P<c>.*?): \S+ is outside the allowed range (?P<r>.*)$", re.S), r"\g<c>: outside the allowed range \g<r>"),
    (re.compile(r"^(?P<c>.*?): says (?P<v>\S+) = .* but (?P<o>.*) says .*$", re.S), r"\g<c>: disagrees with \g<o> on \g<v>"),
    (re.compile(r"^row \d+ of the file has (?P<k>\d+) field\(s\), the header has (?P<h>\d+).*$", re.S),
     r"a row with a different number of fields than the header"),
    (re.compile(r"^(?P<c>.*?): bytes that are not valid (?P<e>\S+) .*$", re.S), r"bytes that are not valid \g<e>"),
]


def error_reason(message: str) -> str:
    """A row's error message with the offending value taken out, to group rows by reason."""
    for pattern, repl in _REASONS:
        if pattern.match(message):
            return pattern.sub(repl, message)
    return message


def message_splitter(names: list[str]) -> Callable[[str], list[str]]:
    """Split a row's '; '-joined messages at the start of each '<column>: ' message."""
    alternatives = "|".join(map(re.escape, sorted(set(names), key=len, reverse=True)))
    pattern = re.compile(r"; (?=(?:" + alternatives + r"|row \d+ |empty row|'[^']*'(?:, '[^']*')*): )") if alternatives else None
    return (lambda m: pattern.split(m)) if pattern else (lambda m: [m])
