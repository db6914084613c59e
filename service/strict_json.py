"""Strict JSON reading for every channel: a key given twice in one object is refused, never resolved.

``json.loads`` lets the last of two equal keys win, so ``{"fever": "present", "fever": "absent"}``
would silently drop a red flag. :func:`read_json_text` refuses it with :class:`DuplicateKeyError`,
which names where the key is (``evidence.fever``) and keeps every pair so a caller can still
surface the red flags any of the values would raise.
"""

from __future__ import annotations

import json
from typing import Any


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


class JsonObject(dict):
    """A JSON object as read by :func:`read_json_text`; ``pairs`` keeps every (key, value) in order
    when a key was given more than once (the object itself is then refused)."""

    pairs: list[tuple[str, Any]] | None = None


class DuplicateKeyError(ValueError):
    """A JSON object gives one key twice: ``path`` is where (e.g. ``evidence.fever``), ``key`` the key,
    ``obj`` the object (with every pair in ``obj.pairs``)."""

    def __init__(self, path: str, key: str, obj: JsonObject) -> None:
        super().__init__(f"{path}: the key {key!r} is given more than once")
        self.path, self.key, self.obj = path, key, obj


def _object_hook(found: list[JsonObject]):
    def make(pairs: list[tuple[str, Any]]) -> JsonObject:
        obj = JsonObject(pairs)
        if len(obj) != len(pairs):
            obj.pairs = pairs
            found.append(obj)
        return obj

    return make


def _find_duplicate(node: Any, path: str) -> DuplicateKeyError | None:
    if isinstance(node, JsonObject):
        if node.pairs is not None:
            seen: set[str] = set()
            for key, _ in node.pairs:
                if key in seen:
                    return DuplicateKeyError(f"{path}.{key}" if path else key, key, node)
                seen.add(key)
        for key, value in node.items():
            found = _find_duplicate(value, f"{path}.{key}" if path else key)
            if found:
                return found
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found = _find_duplicate(value, f"{path}[{i}]")
            if found:
                return found
    return None


def read_json_text(raw: bytes | str) -> Any:
    """Parse a JSON document strictly: NaN/Infinity refused, a key given twice in one object refused
    with :class:`DuplicateKeyError` naming where (the last key must never silently win: it could hide
    a red flag). Numbers beyond float range are kept (``1e309`` as ``inf``, long integers as ``int``)
    for the reader of the value to refuse with a message naming its field.

    Raises ``ValueError`` (``json.JSONDecodeError``) when malformed, ``DuplicateKeyError``."""
    found: list[JsonObject] = []
    doc = json.loads(raw, parse_constant=_no_constants, object_pairs_hook=_object_hook(found))
    if found:  # walk the document only to say where the duplicate is
        duplicate = _find_duplicate(doc, "")
        if duplicate is not None:
            raise duplicate
    return doc
