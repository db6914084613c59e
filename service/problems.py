"""RFC 9457 problem details: every error the service returns, as ``application/problem+json``.

Generic HTTP errors (404, 405, 413, 415, 500) use ``type: about:blank`` with the status phrase as
title, as the RFC asks; errors specific to hipdx use a ``urn:hipdx:problem:<slug>`` type and add
members that say what to fix (``field``, ``value``, ``allowed``, ``suggestion``...).
"""

from __future__ import annotations

import json
import math
from http import HTTPStatus
from typing import Any

from flask import Response

from model.errors import json_safe

from .strict_json import DuplicateKeyError

PROBLEM_JSON = "application/problem+json"
URN = "urn:hipdx:problem:"


class Problem(Exception):
    """An error response in the making: raise it anywhere in a request, the app renders it."""

    def __init__(self, status: int, detail: str, *, slug: str | None = None, title: str | None = None,
                 headers: dict[str, str] | None = None, **members: Any) -> None:
        super().__init__(detail)
        self.status = int(status)
        self.detail = detail
        self.type = f"{URN}{slug}" if slug else "about:blank"
        self.title = title or HTTPStatus(self.status).phrase
        self.headers = dict(headers or {})
        self.members = {k: v for k, v in members.items() if v is not None}

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "title": self.title, "status": self.status, "detail": self.detail, **self.members}


def problem_response(problem: Problem, request_id: str | None = None, instance: str | None = None) -> Response:
    body = problem.to_dict()
    if instance:
        body.setdefault("instance", instance)
    if request_id:
        body.setdefault("request_id", request_id)
    try:
        text = json.dumps(body, allow_nan=False, default=str)
    except ValueError:  # a non-finite number somewhere in the members: say it as text, never fail
        text = json.dumps(_finite(body), allow_nan=False, default=str)
    resp = Response(text, status=problem.status, mimetype=PROBLEM_JSON)
    for k, v in problem.headers.items():
        resp.headers[k] = v
    return resp


def _finite(node: Any) -> Any:
    if isinstance(node, float) and not math.isfinite(node):
        return repr(node)
    if isinstance(node, dict):
        return {k: _finite(v) for k, v in node.items()}
    if isinstance(node, (list, tuple)):
        return [_finite(v) for v in node]
    return node


def evidence_problem(exc: Any, numeric: dict[str, Any], *, field_label: str = "field",
                     field_name: str | None = None) -> Problem:
    """A 400 for an :class:`model.EvidenceError`: unknown variable, unknown state, number out of range,
    contradictory answers. ``numeric`` maps a variable id or alias to its ``Numeric`` range."""
    field = field_name or exc.field
    message = str(exc)
    members: dict[str, Any] = {field_label: field}
    if exc.value is not None:
        members["value"] = json_safe(exc.value)
    if exc.allowed:
        members["allowed"] = [str(a) for a in exc.allowed]
    if exc.suggestion:
        members["suggestion"] = exc.suggestion
    code = getattr(exc, "code", "invalid")
    if code == "unknown_variable":
        slug, title = "unknown-variable", "Unknown evidence variable"
    elif code in ("out_of_range", "not_a_number"):
        slug, title = "out-of-range", "Number out of range"
        rng = numeric.get(exc.field)
        if rng is not None:
            members.update(minimum=rng.min, maximum=rng.max, unit=rng.unit)
    elif code == "unknown_state":
        slug, title = "unknown-state", "Unknown state"
    elif code == "impossible":
        slug, title = "contradictory-evidence", "Contradictory evidence"
    else:
        slug, title = "invalid-evidence", "Invalid evidence"
    return Problem(400, message, slug=slug, title=title, **members)


def duplicate_problem(exc: DuplicateKeyError, screening: Any = None) -> Problem:
    """400 for a key given twice, naming it; with the red flags any of its values would raise."""
    members: dict[str, Any] = {"field": exc.path}
    if screening is not None:
        members.update(screening_members(screening))
    return Problem(400, f"{exc.path}: the key {exc.key!r} is given more than once; send each key once "
                        "(hipdx never picks one of the values: the other could be a red flag)",
                   slug="duplicate-key", title="Duplicate key", **members)


def screening_members(screening: Any) -> dict[str, Any]:
    """Problem members that keep a refused case safe: ``red_flags_answered`` (the red flags among
    the answers that could be read), ``triage`` (the level those alone give; null when none),
    ``outside_population`` and ``unreadable_answers`` (every answer that could not be read, each
    with its field, code and message)."""
    d = screening.to_dict()
    out = {"red_flags_answered": d["red_flags_answered"], "triage": d["triage"],
           "outside_population": d["outside_population"], "unreadable_answers": d["errors"]}
    return {k: v for k, v in out.items() if v is not None}
