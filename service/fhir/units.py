"""Units of the model's numeric questions, and conversion of FHIR ``valueQuantity`` answers.

The model's numbers are an age in years, rest days per week and training hours per week. A
Quantity is converted when its unit says so: UCUM time units (``a``, ``mo``, ``wk``, ``d``, ``h``,
``min``) or their common spellings, optionally ``/wk`` ("per week"; the rate questions are asked
per week, so a bare time unit there is read per week). Anything else is refused, never guessed.
Sizes are UCUM's definitions (``a`` = 365.25 d, ``mo`` = a/12).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from .terminology import UCUM

HOURS = {"a": 365.25 * 24, "mo": 365.25 * 24 / 12, "wk": 7 * 24, "d": 24, "h": 1, "min": 1 / 60, "s": 1 / 3600}
SPELLINGS = {
    "a": "a", "y": "a", "yr": "a", "yrs": "a", "year": "a", "years": "a",
    "mo": "mo", "month": "mo", "months": "mo",
    "wk": "wk", "week": "wk", "weeks": "wk",
    "d": "d", "day": "d", "days": "d",
    "h": "h", "hr": "h", "hrs": "h", "hour": "h", "hours": "h",
    "min": "min", "minute": "min", "minutes": "min",
    "s": "s", "sec": "s", "second": "s", "seconds": "s",
}
PER_WEEK = ("/wk", "/week", " per week", " a week", "/w")
# The model's unit text (priors) -> (UCUM code of the question, base time unit, asked per week?)
QUESTION_UNITS: dict[str, tuple[str, str, bool]] = {
    "years": ("a", "a", False),
    "days per week": ("d/wk", "d", True),
    "hours per week": ("h/wk", "h", True),
}


class UnitError(ValueError):
    """A Quantity whose unit hipdx cannot convert to the question's unit."""


def question_unit(unit_text: str) -> tuple[str, str, bool] | None:
    """(UCUM code, base unit, per week) for a model unit text, or None when it is not a time unit."""
    return QUESTION_UNITS.get(unit_text)


def _split(unit: str) -> tuple[str, bool]:
    text = unit.strip().lower()
    for suffix in PER_WEEK:
        if text.endswith(suffix):
            return text[: -len(suffix)].strip(), True
    return text, False


def quantity_value(quantity: Any, unit_text: str) -> float:
    """A FHIR Quantity -> a number in the question's unit (``unit_text`` as in the priors).

    Raises :class:`UnitError` for a comparator, a missing or non-finite value, or a unit that is
    not a time unit; a Quantity without any unit is taken in the question's own unit."""
    if not isinstance(quantity, Mapping):
        raise UnitError("valueQuantity must be an object")
    if quantity.get("comparator") is not None:
        raise UnitError(f"valueQuantity has comparator {quantity['comparator']!r}; give the value itself")
    value = quantity.get("value")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UnitError("valueQuantity.value must be a number")
    try:
        number = float(value)
    except OverflowError:
        raise UnitError("valueQuantity.value is beyond any floating-point range") from None
    if not math.isfinite(number):
        raise UnitError("valueQuantity.value must be finite")
    target = question_unit(unit_text)
    system, code, unit = quantity.get("system"), quantity.get("code"), quantity.get("unit")
    given = code if isinstance(code, str) and code else unit if isinstance(unit, str) and unit else None
    if given is None:
        return number
    if target is None:
        raise UnitError(f"this question takes a plain number of {unit_text}")
    ucum_code, base, per_week = target
    if system not in (None, UCUM):
        raise UnitError(f"unit system {system!r} is not UCUM")
    if given == ucum_code:
        return number
    text, has_rate = _split(given)
    if text in ("{days}", "{day}"):  # UCUM annotations sometimes used for "days"
        text = "d"
    unit_code = SPELLINGS.get(text)
    if unit_code is None or (has_rate and not per_week):
        raise UnitError(f"unit {given!r} cannot be converted to {unit_text} (expected {ucum_code})")
    return number * HOURS[unit_code] / HOURS[base]
