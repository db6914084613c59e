"""One number of the priors and its provenance, checked and resolved into a :class:`~.records.Prior`:
a number the articles state, a verbal expression turned into a number through the one
verbal-probability scale (``scale.yaml``), or an assumption with its reason."""

from __future__ import annotations

import re

from .problems import Problems
from .records import Prior
from .schema import RawPrior, RawScale

SOURCE_NAME = re.compile(r"^\d{3}_[0-9a-f]{16}\.txt$")


class PriorResolver:
    """Turns raw prior entries into resolved :class:`Prior` objects, checking their meaning."""

    def __init__(self, scale: RawScale, problems: Problems) -> None:
        self.scale = scale
        self.problems = problems

    def prior(self, raw: RawPrior, file: str, path: str, probability: bool = True) -> Prior:
        """``raw`` (the entry at ``path`` in ``file``) as a :class:`Prior`: a verbal word takes its value
        and range from the scale; a learned record replaces value and range. ``probability``: the
        number must lie in [0, 1] (else it is a relative risk, above 0). Problems go to the collector;
        a placeholder Prior is returned so checking can go on."""
        p = self.problems
        value, low, high, anchor = raw.value, None, None, None
        if raw.kind in ("stated", "verbal"):
            if not raw.source:
                p.add(file, path, f"a {raw.kind} prior needs `source` (the article's file name)")
            if not raw.quote:
                p.add(file, path, f"a {raw.kind} prior needs `quote` (verbatim text from its source)")
        if raw.kind == "assumption":
            if not raw.reason:
                p.add(file, path, "an assumption needs `reason` (one line saying why this value)")
            if raw.quote:
                p.add(file, path, "an assumption carries `reason`, not `quote`; use kind stated or verbal for a quote")
        if raw.source and not SOURCE_NAME.match(raw.source):
            p.add(file, path, f"source {raw.source!r} is not a source file name like 001_836542559a107186.txt")
        if raw.kind == "verbal":
            if not raw.word:
                p.add(file, path, "a verbal prior needs `word`: the verbal expression, listed in scale.yaml `words`")
            elif raw.word not in self.scale.words:
                p.add(file, path, f"word {raw.word!r} is not in scale.yaml `words` (allowed: {', '.join(self.scale.words)})")
            else:
                anchor = self.scale.words[raw.word]
                a = self.scale.anchors[anchor]
                if value is not None and abs(value - a.value) > 1e-12:
                    p.add(file, path, f"value {value} differs from the scale: word {raw.word!r} -> {anchor} = {a.value}")
                value = a.value
                low, high = a.range
                if raw.quote and raw.word.lower() not in raw.quote.lower():
                    p.add(file, path, f"word {raw.word!r} does not occur in its quote")
        elif raw.word:
            p.add(file, path, f"`word` belongs to verbal priors only (this one is {raw.kind})")
        word_failed = raw.kind == "verbal" and anchor is None
        if value is None:
            if not word_failed:
                p.add(file, path, "missing `value`")
            value = 0.0
        if raw.range is not None:
            low, high = raw.range
        elif low is None:
            if not word_failed:
                p.add(file, path, f"a {raw.kind} prior needs `range: [low, high]` (its uncertainty)")
            low = high = value
        if raw.learned is not None:  # learned from data: the posterior replaces the cited value and range
            value = raw.learned.value
            low, high = raw.learned.range
        if probability and not 0.0 <= value <= 1.0:
            p.add(file, path, f"probability {value} is outside [0, 1]")
        if not probability and value <= 0:
            p.add(file, path, f"relative risk {value} must be greater than 0")
        if low > high:
            p.add(file, path, f"range [{low}, {high}] is reversed")
        elif not low - 1e-12 <= value <= high + 1e-12:
            p.add(file, path, f"range [{low}, {high}] does not contain the value {value}")
        if probability and not (0.0 <= low and high <= 1.0):
            p.add(file, path, f"range [{low}, {high}] goes outside [0, 1]")
        return Prior(
            path=path, file=file, kind=raw.kind, value=float(value), low=float(low), high=float(high),
            is_probability=probability, source=raw.source, quote=raw.quote, word=raw.word, anchor=anchor,
            reason=raw.reason, derivation=raw.derivation,
            learned=raw.learned.model_dump() if raw.learned is not None else None,
        )


def check_scale(scale: RawScale, p: Problems) -> None:
    """Every anchor is a probability inside its own range; every word names an anchor."""
    for name, a in scale.anchors.items():
        if not 0 <= a.value <= 1:
            p.add("scale.yaml", f"anchors.{name}.value", f"probability {a.value} is outside [0, 1]")
        if not a.range[0] <= a.value <= a.range[1]:
            p.add("scale.yaml", f"anchors.{name}.range", f"range {list(a.range)} does not contain the value {a.value}")
    for word, anchor in scale.words.items():
        if anchor not in scale.anchors:
            p.add("scale.yaml", f"words.{word}", f"unknown anchor {anchor!r} (allowed: {', '.join(scale.anchors)})")
