"""Fixtures and spec checkers for the HTTP service tests (the ``model`` fixture is session-wide)."""

from __future__ import annotations

from typing import Any

import pytest

from service.fhir import cds as cds_hooks

OPEN_CONFIG = {"api_keys": None, "cds_jwt_issuers": None, "public_url": None, "cors_origins": "*", "cache_size": 64}

CARD_KEYS = {"uuid", "summary", "detail", "indicator", "source", "suggestions", "selectionBehavior", "overrideReasons", "links"}
SOURCE_KEYS = {"label", "url", "icon", "topic"}
LINK_KEYS = {"label", "url", "type", "appContext"}
SERVICE_KEYS = {"hook", "title", "description", "id", "prefetch", "usageRequirements"}


@pytest.fixture
def make_app(model, tmp_path):
    from service.http import create_app

    def make(**config: Any):
        # CDS feedback and JWT ids go to a throw-away SQLite file, never the user's state directory.
        return create_app(model, {**OPEN_CONFIG, "feedback_db": str(tmp_path / "feedback.sqlite3"), **config})

    return make


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


def assert_no_nulls(node: Any, path: str = "$") -> None:
    if node is None:
        raise AssertionError(f"null at {path}")
    if isinstance(node, dict):
        for k, v in node.items():
            assert_no_nulls(v, f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            assert_no_nulls(v, f"{path}[{i}]")


def assert_cds_discovery(body: dict[str, Any]) -> None:
    """CDS Hooks discovery response rules (1.0 / 2.0)."""
    assert_no_nulls(body)
    assert set(body) == {"services"} and isinstance(body["services"], list) and body["services"]
    for svc in body["services"]:
        assert set(svc) <= SERVICE_KEYS, set(svc) - SERVICE_KEYS
        for required in ("hook", "id", "description"):
            assert isinstance(svc.get(required), str) and svc[required], required
        if "prefetch" in svc:
            assert all(isinstance(k, str) and isinstance(v, str) for k, v in svc["prefetch"].items())


def assert_cds_response(body: dict[str, Any]) -> None:
    """CDS Hooks service response rules: field names, required fields, indicator values, summary
    under 140 characters, no nulls."""
    assert_no_nulls(body)
    assert set(body) <= {"cards", "systemActions"} and isinstance(body["cards"], list)
    for card in body["cards"]:
        assert set(card) <= CARD_KEYS, set(card) - CARD_KEYS
        for required in ("uuid", "summary", "indicator", "source"):
            assert required in card, required
        assert isinstance(card["uuid"], str) and len(card["uuid"]) >= 32
        assert isinstance(card["summary"], str) and 0 < len(card["summary"]) < 140
        assert card["indicator"] in ("info", "warning", "critical")
        assert isinstance(card.get("detail", ""), str)
        assert set(card["source"]) <= SOURCE_KEYS and isinstance(card["source"]["label"], str) and card["source"]["label"]
        for link in card.get("links", []):
            assert set(link) <= LINK_KEYS and {"label", "url", "type"} <= set(link) and link["type"] in ("absolute", "smart")


def questionnaire(answers: dict[str, dict[str, Any]], patient: str = "p1", nested: bool = False) -> dict[str, Any]:
    """A FHIR QuestionnaireResponse with one item per linkId (answer given as a value[x] dict)."""
    items = [{"linkId": k, "answer": [v]} for k, v in answers.items()]
    if nested:
        items = [{"linkId": "hipdx-group", "text": "answers", "item": items}]
    return {"resourceType": "QuestionnaireResponse", "status": "completed", "subject": {"reference": f"Patient/{patient}"},
            "item": items}


def cds_request(prefetch: Any = ..., hook: str = "patient-view", patient: str = "p1") -> dict[str, Any]:
    body: dict[str, Any] = {"hook": hook, "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
                            "fhirServer": "https://ehr.example/fhir",
                            "context": {"userId": "Practitioner/123", "patientId": patient}}
    if prefetch is not ...:
        body["prefetch"] = {cds_hooks.PREFETCH_KEY: prefetch}
    return body


def assert_close(a: Any, b: Any, path: str = "$", rel: float = 1e-9) -> None:
    """Equal JSON, numbers to ``rel`` (another process may sum in another order: last-ulp noise)."""
    if isinstance(a, float) or isinstance(b, float):
        assert a == pytest.approx(b, rel=rel, abs=1e-12), path
    elif isinstance(a, dict) and isinstance(b, dict):
        assert set(a) == set(b), (path, set(a) ^ set(b))
        for k in a:
            assert_close(a[k], b[k], f"{path}.{k}", rel)
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_close(x, y, f"{path}[{i}]", rel)
    else:
        assert a == b, path
