"""Reading FHIR and CDS Hooks request bodies: JSON only, duplicate keys refused.

A JSON object with a key given twice (``{"fever": "present", "fever": "absent"}``) is refused
with a 400 naming the key, never resolved to one of its values: a red flag must not disappear
because a parser kept the last value. ``NaN``/``Infinity`` literals are refused too.
"""

from __future__ import annotations

import json
from typing import Any

from flask import request

from ..problems import Problem

ACCEPTED = ("application/json", "application/fhir+json")


class DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise DuplicateKey(key)
        out[key] = value
    return out


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_json(raw: bytes | str) -> Any:
    """JSON text -> Python, refusing duplicate keys (400 ``duplicate-key`` naming the key) and
    malformed JSON (400 ``malformed-json``)."""
    try:
        return json.loads(raw, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
    except DuplicateKey as exc:
        raise Problem(400, f"the key {exc.key!r} appears twice in one JSON object; send it once",
                      slug="duplicate-key", title="Duplicate key", field=exc.key) from None
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
