"""The error every reader of answers raises (:class:`EvidenceError`), and how a value is quoted
back in a message (:func:`shown`, :func:`json_safe`): never a huge value, never more than
:data:`MAX_SHOWN` characters."""

from __future__ import annotations

import math
import sys
from typing import Any

MAX_SHOWN = 40  # characters of an answer quoted back in a message (a 400-digit number is not worth echoing)


def shown(value: Any) -> str:
    """``repr(value)``, cut to :data:`MAX_SHOWN` characters: messages name a value, never carry a huge one."""
    try:
        text = repr(value)
    except ValueError:  # int too large for repr (over sys.get_int_max_str_digits() digits)
        text = f"<int of more than {sys.get_int_max_str_digits()} digits>"
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 3] + "..."


def json_safe(value: Any) -> Any:
    """A value as it may be echoed in JSON: finite numbers, short strings and booleans as they are,
    anything else (inf, nan, a huge integer, an object) as a shortened repr."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int) and abs(value) < 10**15:
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    if isinstance(value, str) and len(value) <= MAX_SHOWN:
        return value
    return shown(value)


class EvidenceError(ValueError):
    """An answer that cannot be understood: names the field, the value, what is allowed and the
    closest match, so a user (or an HTTP problem response) can say exactly what to fix."""

    CODES = ("unknown_variable", "unknown_state", "out_of_range", "not_a_number", "conflict", "impossible", "invalid")

    def __init__(self, field: str, message: str, *, value: Any = None, allowed: list[str] | None = None,
                 suggestion: str | None = None, code: str = "invalid") -> None:
        self.field = field
        self.code = code  # one of CODES: what kind of problem, for programs (HTTP problem types)
        self.value = value
        self.allowed = list(allowed or [])
        self.suggestion = suggestion
        text = f"{field}: {message}"
        if allowed:
            text += f"; allowed: {', '.join(map(str, allowed))}"
        if suggestion:
            text += f" (did you mean {suggestion!r}?)"
        super().__init__(text)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"field": self.field, "code": self.code, "message": str(self)}
        if self.value is not None:
            out["value"] = json_safe(self.value)
        if self.allowed:
            out["allowed"] = self.allowed
        if self.suggestion:
            out["suggestion"] = self.suggestion
        return out
