"""The OpenAPI 3.1 document, generated from the pydantic models of ``service.schemas``.

Every schema comes from ``pydantic.json_schema.models_json_schema`` (JSON Schema 2020-12, which
OpenAPI 3.1 uses as is). The request's ``evidence`` object is documented from the loaded model's
vocabulary (one property per variable with its states and question, plus the numeric aliases with
their ranges) through a pydantic model built at start-up, so the spec also follows the priors.
Response schemas have their ``null`` branches removed: the service omits absent fields instead.
"""

from __future__ import annotations

from importlib import metadata
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model
from pydantic.json_schema import models_json_schema

from . import schemas as s
from .fhir import cds
from .fhir.routes import FeedbackRequest

PROBLEM = "application/problem+json"
REF = "#/components/schemas/{model}"

RESPONSE_MODELS: list[type[BaseModel]] = [
    s.DiagnosisResponse, s.ModelDescription, s.Health, s.ProblemDetails, s.CdsDiscovery, s.CdsResponse, s.FeedbackStored,
]
REQUEST_MODELS: list[type[BaseModel]] = [s.CdsRequestDoc, FeedbackRequest]


def evidence_model(model: Any) -> type[BaseModel]:
    """A pydantic model of the ``evidence`` object for this model's vocabulary (documentation only:
    requests are read by the model's vocabulary, which also accepts obvious spellings such as
    ``true``/``yes`` for ``present``)."""
    fields: dict[str, Any] = {}
    for i, (vid, var) in enumerate(model.variables.items()):
        states = Literal[tuple(var.states)]  # type: ignore[valid-type]
        fields[f"v{i}"] = (states | None, Field(None, alias=vid, description=var.question))
    for j, (alias, vid) in enumerate(model.vocabulary.aliases.items()):
        n = model.variables[vid].numeric
        fields[f"a{j}"] = (float | None, Field(None, alias=alias, ge=n.min, le=n.max,
                                                 description=f"{n.unit}; binned into {vid}"))
    return create_model("Evidence", __config__=ConfigDict(extra="forbid", populate_by_name=True),
                        __doc__="Answers, by variable id (or numeric alias). Leave out what is unknown.", **fields)


def _strip_nulls(node: Any) -> Any:
    """Response schemas: ``anyOf: [X, null]`` -> ``X`` and no ``default: null`` (nulls are never sent)."""
    if isinstance(node, list):
        return [_strip_nulls(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _strip_nulls(v) for k, v in node.items()}
    if out.pop("x-nullable", False):  # null is meaningful here (schemas.NULLABLE): keep it
        return out
    if "anyOf" in out:
        branches = [b for b in out["anyOf"] if b != {"type": "null"}]
        if len(branches) == 1:
            del out["anyOf"]
            out = {**branches[0], **out}
        else:
            out["anyOf"] = branches
    if out.get("default", ...) is None:
        del out["default"]
    return out


def _json(schema_name: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": REF.format(model=schema_name)}}}


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "headers": {"X-Request-ID": {"$ref": "#/components/headers/X-Request-ID"}},
            "content": {PROBLEM: {"schema": {"$ref": REF.format(model="ProblemDetails")}}}}


def _ok(description: str, content: dict[str, Any], disclaimer: bool = False) -> dict[str, Any]:
    headers = {"X-Request-ID": {"$ref": "#/components/headers/X-Request-ID"}}
    if disclaimer:
        headers["X-Hipdx-Disclaimer"] = {"$ref": "#/components/headers/X-Hipdx-Disclaimer"}
    return {"description": description, "headers": headers, "content": content}


COMMON_ERRORS = {"405": "method not allowed", "500": "unexpected error (no stack trace)"}
BODY_ERRORS = {"400": "malformed JSON, invalid body or bad evidence (field, value, allowed values, closest match)",
               "413": "body over 1 MB", "415": "content type is not JSON"}


def _errors(*groups: dict[str, str], **extra: str) -> dict[str, Any]:
    merged: dict[str, str] = {}
    for g in groups:
        merged.update(g)
    merged.update({k.lstrip("_"): v for k, v in extra.items()})
    return {code: _problem(text) for code, text in sorted(merged.items())}


def build_openapi(model: Any, disclaimer: str) -> dict[str, Any]:
    """The whole OpenAPI 3.1 document for a loaded model."""
    evidence = evidence_model(model)

    field = s.DiagnosisRequest.model_fields["evidence"]
    request_doc = create_model("DiagnosisRequest", __config__=ConfigDict(extra="forbid"), __doc__=s.DiagnosisRequest.__doc__,
                               evidence=(evidence, Field(description=field.description, examples=field.examples)))
    _, resp_defs = models_json_schema([(m, "serialization") for m in RESPONSE_MODELS], ref_template=REF)
    _, req_defs = models_json_schema([(m, "validation") for m in [request_doc, *REQUEST_MODELS]], ref_template=REF)
    schemas = {**_strip_nulls(resp_defs.get("$defs", {})), **req_defs.get("$defs", {})}
    schemas["CdsRequest"] = schemas.pop("CdsRequestDoc")
    schemas = _rename_ref(schemas, "CdsRequestDoc", "CdsRequest")

    keyed = [{"ApiKeyHeader": []}, {"ApiKeyBearer": []}, {}]
    cds_auth = [{"CdsJwt": []}, {"ApiKeyHeader": []}, {}]
    try:
        version = metadata.version("hipdx")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
        version = "0.0.0"
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "hipdx",
            "version": version,
            "summary": "Probabilistic decision support for hip pain in runners",
            "description": (f"Model version (hash of the priors): `{model.version}`.\n\n**{disclaimer}**\n\n"
                            "Authentication is optional: when the server sets `HIPDX_API_KEYS`, `/v1/*` needs a key "
                            "in `X-API-Key` or `Authorization: Bearer <key>`; CDS service calls need the CDS client's "
                            "JWT when `HIPDX_CDS_JWT_ISSUERS` is set, else `X-API-Key`. Health, this document, `/docs` "
                            "and CDS discovery stay open."),
            "x-model-version": model.version,
        },
        "paths": {
            "/healthz": {"get": {
                "operationId": "health", "summary": "Liveness and the loaded model version", "tags": ["service"],
                "responses": {"200": _ok("the service is up with its model loaded", _json("Health")), **_errors(COMMON_ERRORS)},
            }},
            "/v1/model": {"get": {
                "operationId": "describeModel", "summary": "Conditions, variables (states, questions), version",
                "tags": ["diagnosis"], "security": keyed,
                "responses": {"200": _ok("what the model knows", _json("ModelDescription"), disclaimer=True),
                              **_errors(COMMON_ERRORS, _401="missing or invalid API key")},
            }},
            "/v1/diagnosis": {"post": {
                "operationId": "diagnose", "summary": "Posterior of every condition, triage, reasons and next questions",
                "tags": ["diagnosis"], "security": keyed,
                "parameters": [{"name": "reasoning", "in": "query", "required": False,
                                "description": ("false: posteriors and triage only (no intervals, effects or "
                                                "next questions); much faster"),
                                "schema": {"type": "boolean", "default": True}}],
                "requestBody": {"required": True, "content": _json("DiagnosisRequest")},
                "responses": {"200": _ok("the diagnosis (Diagnosis.to_dict())", _json("DiagnosisResponse"), disclaimer=True),
                              **_errors(COMMON_ERRORS, BODY_ERRORS, _401="missing or invalid API key")},
            }},
            "/cds-services": {"get": {
                "operationId": "cdsDiscovery", "summary": "CDS Hooks discovery", "tags": ["cds-hooks"],
                "responses": {"200": _ok("the CDS services offered", _json("CdsDiscovery")), **_errors(COMMON_ERRORS)},
            }},
            "/cds-services/{id}": {"post": {
                "operationId": "cdsService", "summary": "CDS Hooks service call (patient-view)", "tags": ["cds-hooks"],
                "security": cds_auth,
                "parameters": [{"name": "id", "in": "path", "required": True, "description": "the service id from discovery",
                                "schema": {"type": "string", "enum": [cds.SERVICE_ID]}}],
                "requestBody": {"required": True, "content": {
                    "application/json": {"schema": {"$ref": REF.format(model="CdsRequest")}},
                    "application/fhir+json": {"schema": {"$ref": REF.format(model="CdsRequest")}}}},
                "responses": {"200": _ok("CDS Hooks cards", _json("CdsResponse"), disclaimer=True),
                              **_errors(COMMON_ERRORS, BODY_ERRORS, _401="missing or invalid JWT / API key",
                                        _404="no such CDS service",
                                        _412="prefetch.questionnaireResponse missing (the service does not query FHIR)")},
            }},
            **_fhir_paths(cds_auth, keyed),
            "/openapi.json": {"get": {
                "operationId": "openapi", "summary": "This document", "tags": ["service"],
                "responses": {"200": _ok("OpenAPI 3.1", {"application/json": {"schema": {"type": "object"}}}),
                              **_errors(COMMON_ERRORS)},
            }},
            "/docs": {"get": {
                "operationId": "docs", "summary": "Swagger UI (assets served locally)", "tags": ["service"],
                "responses": {"200": _ok("HTML page", {"text/html": {"schema": {"type": "string"}}}), **_errors(COMMON_ERRORS)},
            }},
        },
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "headers": {
                "X-Request-ID": {"description": "the request id (the caller's X-Request-ID if sane, else generated)",
                                 "schema": {"type": "string"}},
                "X-Hipdx-Disclaimer": {"description": "decision support, not a validated clinical device",
                                       "schema": {"type": "string"}},
            },
            "securitySchemes": {
                "ApiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
                "ApiKeyBearer": {"type": "http", "scheme": "bearer", "description": "an API key as bearer token (/v1 only)"},
                "CdsJwt": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                           "description": "CDS Hooks client JWT (RS*/ES*/PS*/EdDSA; aud = the service URL)"},
            },
        },
        "tags": [{"name": "diagnosis"}, {"name": "cds-hooks"}, {"name": "fhir"}, {"name": "service"}],
    }



def _rename_ref(node: Any, old: str, new: str) -> Any:
    if isinstance(node, dict):
        return {k: REF.format(model=new) if k == "$ref" and v == REF.format(model=old) else _rename_ref(v, old, new)
                for k, v in node.items()}
    if isinstance(node, list):
        return [_rename_ref(n, old, new) for n in node]
    return node


def _fhir_json(description: str) -> dict[str, Any]:
    return {"application/fhir+json": {"schema": {"type": "object", "description": description,
                                                 "required": ["resourceType"]}}}


def _fhir_paths(cds_auth: list[dict[str, Any]], keyed: list[dict[str, Any]]) -> dict[str, Any]:
    """The FHIR resources and operations, and the CDS Hooks feedback endpoints (service.fhir)."""
    service_id = [{"name": "id", "in": "path", "required": True, "description": "the service id from discovery",
                   "schema": {"type": "string", "enum": [cds.SERVICE_ID]}}]
    qr_body = {"required": True, "content": {
        kind: {"schema": {"type": "object", "description": "a FHIR R4 QuestionnaireResponse, or a Parameters with it as 'in'"}}
        for kind in ("application/fhir+json", "application/json")}}
    operation_errors = _errors(COMMON_ERRORS, BODY_ERRORS, _401="missing or invalid API key")
    return {
        "/fhir/Questionnaire/hipdx": {"get": {
            "operationId": "fhirQuestionnaire", "summary": "The hipdx Questionnaire (FHIR R4, generated from the model)",
            "tags": ["fhir"], "responses": {"200": _ok("Questionnaire", _fhir_json("Questionnaire")), **_errors(COMMON_ERRORS)},
        }},
        "/fhir/CodeSystem/hipdx": {"get": {
            "operationId": "fhirCodeSystem", "summary": "The hipdx CodeSystem (answers, conditions, questions, override reasons)",
            "tags": ["fhir"], "responses": {"200": _ok("CodeSystem", _fhir_json("CodeSystem")), **_errors(COMMON_ERRORS)},
        }},
        "/fhir/Questionnaire/hipdx/$next-question": {"post": {
            "operationId": "fhirNextQuestion", "summary": "SDC adaptive: the response with the next question, or completed",
            "tags": ["fhir"], "security": keyed, "requestBody": qr_body,
            "responses": {"200": _ok("QuestionnaireResponse", _fhir_json("QuestionnaireResponse"), disclaimer=True),
                          **operation_errors},
        }},
        "/fhir/RiskAssessment/$assess": {"post": {
            "operationId": "fhirAssess", "summary": "A QuestionnaireResponse -> a RiskAssessment an EHR can store",
            "tags": ["fhir"], "security": keyed, "requestBody": qr_body,
            "responses": {"200": _ok("RiskAssessment", _fhir_json("RiskAssessment"), disclaimer=True), **operation_errors},
        }},
        "/cds-services/{id}/feedback": {"post": {
            "operationId": "cdsFeedback", "summary": "CDS Hooks 2.0 feedback (accepted / overridden), stored",
            "tags": ["cds-hooks"], "security": cds_auth, "parameters": service_id,
            "requestBody": {"required": True, "content": _json("FeedbackRequest")},
            "responses": {"200": _ok("stored (the same feedback twice is stored once)", _json("FeedbackStored")),
                          **_errors(COMMON_ERRORS, BODY_ERRORS, _401="missing or invalid JWT / API key",
                                    _404="no such CDS service", _503="the feedback store is unavailable")},
        }},
        "/cds-services/{id}/feedback/summary": {"get": {
            "operationId": "cdsFeedbackSummary", "summary": "Feedback per card kind and rule, for the priors' maintainers",
            "tags": ["cds-hooks"], "security": keyed, "parameters": service_id,
            "responses": {"200": _ok("the summary", {"application/json": {"schema": {"type": "object"}}}),
                          **_errors(COMMON_ERRORS, _401="missing or invalid API key", _404="no such CDS service",
                                    _503="the feedback store is unavailable")},
        }},
    }
