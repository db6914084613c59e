"""Reading FHIR and CDS Hooks request bodies: JSON only, duplicate keys refused.

A JSON object with a key given twice (``{"fever": "present", "fever": "absent"}``) is refused
with a 400 naming the key, never resolved to one of its values: a red flag must not disappear
because a parser kept the last value. ``NaN``/``Infinity`` literals are refused too.
"""

from __future__ import annotations

from typing import Any

from flask import request

from ..problems import Problem, duplicate_problem
from ..strict_json import DuplicateKeyError, read_json_text

ACCEPTED = ("application/json", "application/fhir+json")


def parse_json(raw: bytes | str) -> Any:
    """JSON text -> Python, refusing duplicate keys (400 ``duplicate-key`` naming where the key is,
    e.g. ``prefetch.questionnaireResponse.item[0].answer[0].valueCoding``) and malformed JSON
    (400 ``malformed-json``). The same strict reader as ``POST /v1/diagnosis``."""
    try:
        return read_json_text(raw)
    except DuplicateKeyError as exc:
        raise duplicate_problem(exc) from None
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise Problem(400, f"the body is not valid JSON: {exc}", slug="malformed-json", title="Malformed JSON") from None


def read_json() -> Any:
    """The request body as JSON (``application/json`` or ``application/fhir+json``); 415 for
    another content type, 413 past the app's size limit, 400 when malformed or a key repeats."""
    mimetype = request.mimetype or ""
    if mimetype not in ACCEPTED and not (mimetype.startswith("application/") and mimetype.endswith("+json")):
        raise Problem(415, f"send the body as {' or '.join(ACCEPTED)} (got {mimetype or 'no content type'})",
                      headers={"Accept-Post": ", ".join(ACCEPTED)})
    return parse_json(request.get_data(cache=False))
