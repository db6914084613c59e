"""Fixtures for the FHIR and CDS Hooks tests: an app per test with its own feedback database,
builders of QuestionnaireResponses and CDS requests, and FHIR validation (fhir.resources R4B)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from service.fhir import cds
from service.fhir.terminology import QUESTIONNAIRE_URL

CASES = Path(__file__).resolve().parents[2].parent / "shared" / "cases"
CDS_URL = f"/cds-services/{cds.SERVICE_ID}"
OPEN = {"api_keys": None, "cds_jwt_issuers": None, "public_url": None, "cors_origins": "*", "cache_size": 64}


def validate(resource: dict[str, Any]) -> Any:
    """Validate a FHIR resource with fhir.resources' R4B models (they match R4 for the resources
    hipdx uses); nested resources (contained, Bundle entries, card suggestions) are validated too."""
    from fhir.resources.R4B import get_fhir_model_class

    model = get_fhir_model_class(resource["resourceType"])
    return model.model_validate(resource)


def validate_cards(body: dict[str, Any]) -> None:
    """Every resource a CDS response's suggestions would create is valid FHIR."""
    for card in body["cards"]:
        for suggestion in card.get("suggestions", []):
            for action in suggestion["actions"]:
                if "resource" in action:
                    validate(action["resource"])


def qr(answers: dict[str, Any], patient: str | None = "123", status: str = "completed", **extra: Any) -> dict[str, Any]:
    """A QuestionnaireResponse to the hipdx Questionnaire; ``answers`` linkId -> value[x] dict or list of them."""
    items = [{"linkId": k, "answer": v if isinstance(v, list) else [v]} for k, v in answers.items()]
    out: dict[str, Any] = {"resourceType": "QuestionnaireResponse", "questionnaire": QUESTIONNAIRE_URL, "status": status,
                           "item": items, **extra}
    if patient is not None:
        out["subject"] = {"reference": f"Patient/{patient}"}
    return out


def cds_request(prefetch: Any, patient: str = "123") -> dict[str, Any]:
    return {"hook": "patient-view", "hookInstance": "8f5b2f3e-2c43-4a7e-9a61-0d8b7c1e4a55",
            "fhirServer": "https://ehr.example.org/fhir", "context": {"userId": "Practitioner/1", "patientId": patient},
            "prefetch": {cds.PREFETCH_KEY: prefetch}}


def load_case(name: str) -> dict[str, Any]:
    return json.loads((CASES / "cds" / name).read_text())


@pytest.fixture
def make_app(model, tmp_path):
    from service.http import create_app

    def make(**config: Any):
        return create_app(model, {**OPEN, "feedback_db": str(tmp_path / "feedback.sqlite3"), **config})

    return make


@pytest.fixture
def client(make_app):
    return make_app().test_client()


def problem(resp, status: int, slug: str | None = None) -> dict[str, Any]:
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.mimetype == "application/problem+json"
    body = resp.get_json(force=True)
    if slug:
        assert body["type"] == f"urn:hipdx:problem:{slug}", body
    assert "Traceback" not in resp.get_data(as_text=True)
    return body


def cards(resp) -> list[dict[str, Any]]:
    """The cards of a 200 CDS response, checked against the CDS Hooks card rules and FHIR."""
    from tests.service.conftest import assert_cds_response

    assert resp.status_code == 200, resp.get_data(as_text=True)
    body = resp.get_json()
    assert_cds_response(body)
    validate_cards(body)
    return body["cards"]
