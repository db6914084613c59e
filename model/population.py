"""The model's stated population (``population.age_range`` in ``priors/conditions.yaml``), and
whether a case falls outside it.

A case outside (a child, or someone older than the range) is still scored, but its answer carries
``outside_population`` with the reason, and triage never rates it ``self_care``: hip pain in a
child has must-not-miss causes the model does not hold (e.g. a slipped upper femoral epiphysis).
Only a number of years can place a case outside: the age bands all lie within the range.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .priors import AgeRange, Priors

RULE = "outside_population"
RULE_CHILD = "outside_population_child"
# Triage level of a case outside the population: a child's hip pain is assessed the same day (a
# slipped upper femoral epiphysis must be caught before it slips further, and the model can rule
# out none of a child's must-not-miss causes); above the range, a clinician (see the reason in
# priors/conditions.yaml population.age_range).
LEVEL_CHILD = "urgent"
LEVEL_ABOVE = "see_clinician"
SOURCE = "priors/conditions.yaml: population.age_range"


@dataclass(frozen=True)
class OutsidePopulation:
    """Why a case is outside the model's population (the ``outside_population`` member)."""

    reason: str
    rule: str = RULE
    source: str = SOURCE
    level: str = LEVEL_ABOVE  # the triage level this alone gives (not in the JSON: the triage reason carries it)

    def to_dict(self) -> dict[str, str]:
        return {"reason": self.reason, "rule": self.rule, "source": self.source}


class Population:
    """The stated age range and the check of one case or a whole column of ages against it."""

    def __init__(self, priors: Priors, age_field: str | None) -> None:
        self.age: AgeRange | None = priors.population_age
        self.age_field = age_field  # the numeric alias that gives an age in years (e.g. "age")

    def _reason(self, below: bool) -> OutsidePopulation:
        assert self.age is not None
        lo, hi = f"{self.age.min:g}", f"{self.age.max:g}"
        if below:
            text = (f"age below {lo} years: the model is built for adult runners aged {lo} to {hi}; hip pain in a "
                    "child or adolescent has must-not-miss causes it does not hold (e.g. a slipped upper femoral "
                    "epiphysis, which must be caught before it slips further), so it needs an urgent assessment")
            return OutsidePopulation(text, RULE_CHILD, SOURCE, LEVEL_CHILD)
        else:
            text = (f"age above {hi} years: the model is built for adult runners aged {lo} to {hi}; its base rates "
                    "do not describe older people and hip pain at that age has causes it does not hold")
        return OutsidePopulation(text)

    def check(self, evidence: Mapping[str, Any]) -> OutsidePopulation | None:
        """The reason a case is outside the population (from its raw age in years), or None.

        An age that cannot be read as a finite number says nothing here (its own error does)."""
        if self.age is None or self.age_field is None or not isinstance(evidence, Mapping):
            return None
        years = to_years(evidence.get(self.age_field))
        if years is None:
            return None
        if years < self.age.min:
            return self._reason(below=True)
        if years > self.age.max:
            return self._reason(below=False)
        return None

    def check_column(self, ages: pd.Series | None, n: int) -> tuple[np.ndarray, np.ndarray]:
        """(below, above) boolean masks (n,) for a column of ages in years (None: no age column)."""
        below = np.zeros(n, dtype=bool)
        above = np.zeros(n, dtype=bool)
        if self.age is None or ages is None:
            return below, above
        codes, uniques = pd.factorize(ages, use_na_sentinel=True)
        years = np.array([np.nan if (y := to_years(v)) is None else y for v in uniques], dtype=float)
        with np.errstate(invalid="ignore"):
            u_below, u_above = years < self.age.min, years > self.age.max
        seen = codes >= 0
        below[seen] = u_below[codes[seen]]
        above[seen] = u_above[codes[seen]]
        return below, above

    def reasons(self) -> tuple[OutsidePopulation, OutsidePopulation] | None:
        """(below, above) reasons, for rows flagged by :meth:`check_column`."""
        return None if self.age is None else (self._reason(True), self._reason(False))


def to_years(value: Any) -> float | None:
    """A raw answer as a finite number of years, or None (not a number, missing, inf, nan, bool)."""
    if value is None or isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, str):
        value = value.strip()
    try:
        years = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return years if math.isfinite(years) else None
