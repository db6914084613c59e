"""The FHIR and CDS Hooks routes, as one Flask blueprint over the app's ``Service``.

========================================================  ==========================================
route                                                     what
========================================================  ==========================================
``GET  /fhir/Questionnaire/hipdx``                        the generated Questionnaire
``GET  /fhir/CodeSystem/hipdx``                           the generated CodeSystem
``POST /fhir/Questionnaire/hipdx/$next-question``         SDC adaptive: the response + next question
``POST /fhir/RiskAssessment/$assess``                     a QuestionnaireResponse -> RiskAssessment
``GET  /cds-services``                                    CDS Hooks discovery
``POST /cds-services/{id}``                               the patient-view service: cards
``POST /cds-services/{id}/feedback``                      CDS Hooks 2.0 feedback, stored in SQLite
``GET  /cds-services/{id}/feedback/summary``              feedback per card and rule, for maintainers
========================================================  ==========================================

Errors are ``application/problem+json`` (the app's :class:`Problem` handler). FHIR resources
are sent as ``application/fhir+json``. With API keys configured, the computing FHIR operations and
the feedback summary need one; the CDS service and its feedback take the CDS client's JWT when
issuers are configured (``aud`` from ``HIPDX_PUBLIC_URL``, ``jti`` replay refused), else the API key.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response, request
from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError, field_validator

from ..auth import audience_base, bearer_token, key_is_valid, refuse_replay, unauthorized
from ..problems import Problem, evidence_problem, screening_members
from ..schemas import CdsRequest
from . import cds
from .adaptive import next_question
from .body import read_json
from .feedback import FeedbackStore, configured_path
from .questionnaire import questionnaire
from .response import InvalidResponse, ReadResponse, check_subject, pick_response, read_response
from .risk_assessment import basis_reference, risk_assessment
from .terminology import QUESTIONNAIRE_URL, code_system

log = logging.getLogger("hipdx.fhir")
FHIR_JSON = "application/fhir+json"


# ---------------------------------------------------------------------------- feedback body (CDS Hooks 2.0)
class _Coding(BaseModel):
    model_config = ConfigDict(extra="allow")
    system: StrictStr | None = None
    code: StrictStr = Field(min_length=1)
    display: StrictStr | None = None


class _OverrideReason(BaseModel):
    model_config = ConfigDict(extra="allow")
    reason: _Coding | None = None
    userComment: StrictStr | None = Field(None, max_length=2000)


class _Suggestion(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: StrictStr = Field(min_length=1)


class FeedbackEntry(BaseModel):
    """One CDS Hooks 2.0 Feedback: the card acted on, the outcome and when."""

    model_config = ConfigDict(extra="allow")
    card: StrictStr = Field(min_length=1, max_length=200)
    outcome: StrictStr
    acceptedSuggestions: list[_Suggestion] | None = None
    overrideReason: _OverrideReason | None = None
    outcomeTimestamp: StrictStr

    @field_validator("outcome")
    @classmethod
    def _outcome(cls, v: str) -> str:
        if v not in ("accepted", "overridden"):
            raise ValueError("must be 'accepted' or 'overridden'")
        return v

    @field_validator("outcomeTimestamp")
    @classmethod
    def _timestamp(cls, v: str) -> str:
        from datetime import datetime

        try:
            parsed = datetime.fromisoformat(v.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError("must be an ISO 8601 date and time, e.g. 2026-11-30T08:15:00Z") from None
        if parsed.tzinfo is None:
            raise ValueError("must carry a time zone (UTC: end with Z)")
        return v


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="allow")
    feedback: list[FeedbackEntry] = Field(min_length=1, max_length=1000)


def _validation_problem(exc: ValidationError, what: str) -> Problem:
    errors = [{"loc": ".".join(str(p) for p in e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
    first = errors[0]
    return Problem(400, f"invalid {what}: {first['loc'] or 'body'}: {first['msg']}", slug="invalid-request",
                   title="Invalid request body", field=first["loc"] or None, errors=errors)


# ---------------------------------------------------------------------------- the blueprint
class FhirService:
    """What the FHIR and CDS routes need, built once per app."""

    def __init__(self, service: Any, config: Mapping[str, Any]) -> None:
        self.service = service
        self.model = service.model
        self.public_url = service.settings.public_url
        self.audience = audience_base(self.public_url) if service.jwt is not None else None
        self.store = FeedbackStore(configured_path(config))
        self.questionnaire_body = json.dumps(questionnaire(self.model), separators=(",", ":")).encode()
        self.code_system_body = json.dumps(code_system(self.model), separators=(",", ":")).encode()
        self.discovery_body = json.dumps(cds.discovery(QUESTIONNAIRE_URL), separators=(",", ":")).encode()
        self._first_questions: list[dict[str, Any]] | None = None

    # ------------------------------------------------------------------ diagnosis
    def diagnose(self, evidence: Mapping[str, Any]) -> dict[str, Any]:
        """``Diagnosis.to_dict()`` for readable answers; raises ``EvidenceError``."""
        return json.loads(self.service.diagnose(dict(evidence))[0])

    def first_questions(self) -> list[dict[str, Any]]:
        """The questions to ask when nothing is answered (the model's next questions for no answers)."""
        if self._first_questions is None:
            self._first_questions = list(self.diagnose({}).get("next_questions") or [])
        return self._first_questions

    def assess(self, read: ReadResponse) -> dict[str, Any] | None:
        """The diagnosis of what could be read; None when nothing could be.

        Invalid FHIR is refused (400) with the red flags among the readable answers
        (``red_flags_answered``), so a refusal never hides one."""
        from model import EvidenceError

        if read.invalid:
            first = read.invalid[0]
            raise InvalidResponse(f"{first.link_id}: {first.reason}", first.link_id,
                                  errors=[n.to_dict() for n in read.invalid],
                                  **screening_members(self.service.model.screen(read.evidence)))
        if not read.evidence:
            return None
        try:
            return self.diagnose(read.evidence)
        except EvidenceError as exc:
            raise evidence_problem(exc, self.service.numeric, field_label="linkId") from None

    # ------------------------------------------------------------------ helpers
    def base_url(self) -> str:
        return (self.public_url or request.url_root).rstrip("/")

    def case_links(self, evidence: Mapping[str, Any]) -> list[dict[str, Any]]:
        """A link to the clinician case page for these answers (``/case?evidence=...``)."""
        url = f"{self.base_url()}/case?evidence={quote(json.dumps(dict(evidence), separators=(',', ':')))}"
        return [{"label": "Open the hipdx explanation of this case", "url": url, "type": "absolute"}]

    def source(self) -> dict[str, Any]:
        return {"label": f"hipdx {self.service.version}", "url": f"{self.base_url()}/docs"}

    def require_api_key(self) -> None:
        keys = self.service.settings.api_keys
        if keys:
            key = request.headers.get("X-API-Key") or bearer_token(request.headers.get("Authorization"))
            if not key_is_valid(key, keys):
                raise unauthorized("a valid API key is required (X-API-Key header or Authorization: Bearer <key>)")

    def authenticate_cds(self, service_id: str) -> None:
        """The CDS client's JWT (when issuers are configured) or the API key (when keys are)."""
        if self.service.jwt is not None:
            token = bearer_token(request.headers.get("Authorization"))
            if token is None:
                raise unauthorized("a CDS client JWT is required (Authorization: Bearer <jwt>)", "Bearer")
            endpoint = f"{self.audience}/cds-services/{service_id}"
            claims = self.service.jwt.verify(token, [endpoint, f"{endpoint}/feedback"])
            try:
                refuse_replay(claims, self.store.jti_is_new)
            except sqlite3.Error:
                log.error("jti store unavailable (%s); token refused", self.store.path)
                raise Problem(503, "the replay check is unavailable; retry later", headers={"Retry-After": "5"}) from None
        elif self.service.settings.api_keys and not key_is_valid(request.headers.get("X-API-Key"),
                                                                 self.service.settings.api_keys):
            raise unauthorized("a valid API key is required in the X-API-Key header")

    def record(self, issued: list[cds.IssuedCard]) -> None:
        try:
            self.store.record_cards(cds.SERVICE_ID, self.service.version, issued)
        except (sqlite3.Error, OSError) as exc:  # the cards still go out; only the summary misses them
            log.warning("could not record issued cards in %s: %s", self.store.path, type(exc).__name__)


def _fhir(body: bytes | dict[str, Any], status: int = 200, disclaimer: str | None = None, version: str | None = None) -> Response:
    data = body if isinstance(body, bytes) else json.dumps(body, separators=(",", ":"), allow_nan=False).encode()
    resp = Response(data, status=status, mimetype=FHIR_JSON)
    if disclaimer:
        resp.headers["X-Hipdx-Disclaimer"] = disclaimer
    if version:
        resp.headers["X-Hipdx-Model-Version"] = version
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _json(body: Any, status: int = 200) -> Response:
    resp = Response(json.dumps(body, separators=(",", ":"), allow_nan=False), status=status, mimetype="application/json")
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _posted_response(body: Any) -> dict[str, Any]:
    """The QuestionnaireResponse posted to an operation: the resource itself, or the ``in`` /
    ``questionnaireResponse`` parameter of a FHIR ``Parameters``."""
    if isinstance(body, Mapping) and body.get("resourceType") == "Parameters":
        for p in body.get("parameter") or []:
            if isinstance(p, Mapping) and p.get("name") in ("in", "questionnaireResponse", "response") \
                    and isinstance(p.get("resource"), Mapping):
                body = p["resource"]
                break
        else:
            raise InvalidResponse("Parameters must carry the QuestionnaireResponse as parameter 'in' (resource)")
    if not isinstance(body, Mapping) or body.get("resourceType") != "QuestionnaireResponse":
        kind = body.get("resourceType") if isinstance(body, Mapping) else type(body).__name__
        raise InvalidResponse(f"send a QuestionnaireResponse (or Parameters with 'in'), got {kind!r}")
    return dict(body)


def create_blueprint(service: Any, config: Mapping[str, Any] | None = None) -> Blueprint:
    """The ``fhir`` blueprint over the app's ``Service`` (``config``: the app's extra settings,
    e.g. ``feedback_db``). Raises ``ValueError`` when JWT issuers are configured without
    ``HIPDX_PUBLIC_URL``."""
    from model import DISCLAIMER

    fs = FhirService(service, config or {})
    bp = Blueprint("fhir", __name__)
    version = service.version

    # ------------------------------------------------------------------ FHIR resources and operations
    @bp.get("/fhir/Questionnaire/hipdx")
    def get_questionnaire() -> Response:
        return _fhir(fs.questionnaire_body, version=version)

    @bp.get("/fhir/CodeSystem/hipdx")
    def get_code_system() -> Response:
        return _fhir(fs.code_system_body, version=version)

    @bp.post("/fhir/Questionnaire/hipdx/$next-question")
    def post_next_question() -> Response:
        fs.require_api_key()
        qr = _posted_response(read_json())
        read = read_response(qr, fs.model)
        d = fs.assess(read) or fs.diagnose({})
        return _fhir(next_question(qr, d, fs.model), disclaimer=DISCLAIMER, version=version)

    @bp.post("/fhir/RiskAssessment/$assess")
    def post_assess() -> Response:
        fs.require_api_key()
        qr = _posted_response(read_json())
        read = read_response(qr, fs.model)
        d = fs.assess(read)
        if d is None:  # nothing answered: the priors, and no triage level
            d = {**fs.diagnose({}), "triage": {"level": None, "red_flags": []}}
        subject = qr.get("subject") if isinstance(qr.get("subject"), Mapping) else None
        return _fhir(risk_assessment(d, subject=subject, basis=basis_reference(read), read=read),
                     disclaimer=DISCLAIMER, version=version)

    # ------------------------------------------------------------------ CDS Hooks
    @bp.get("/cds-services")
    def cds_discovery() -> Response:
        return Response(fs.discovery_body, mimetype="application/json")

    @bp.post("/cds-services/<service_id>")
    def cds_service(service_id: str) -> Response:
        _known_service(service_id)
        fs.authenticate_cds(service_id)
        try:
            req = CdsRequest.model_validate(read_json())
        except ValidationError as exc:
            raise _validation_problem(exc, "CDS Hooks request") from None
        if req.hook != cds.HOOK:
            raise Problem(400, f"this service answers the {cds.HOOK} hook, not {req.hook!r}", slug="wrong-hook",
                          title="Wrong hook", field="hook", value=req.hook, allowed=[cds.HOOK])
        prefetch = req.prefetch or {}
        if cds.PREFETCH_KEY not in prefetch:
            raise Problem(412, f"prefetch.{cds.PREFETCH_KEY} is required (this service does not query the FHIR server)",
                          slug="prefetch-missing", title="Prefetch missing")
        qr = pick_response(prefetch[cds.PREFETCH_KEY])
        if qr is None:
            return _cds_cards([])
        read = read_response(qr, fs.model)
        check_subject(read, req.context.patientId)
        d = fs.assess(read)
        links = fs.case_links(read.evidence)
        if d is None:
            cards, issued = cds.cards_without_answers(fs.first_questions(), read, fs.source(), links)
        else:
            patient = {"reference": f"Patient/{req.context.patientId}"}
            ra = risk_assessment(d, subject=patient, basis=basis_reference(read), read=read)
            suggestion = {"label": "Save this hipdx assessment to the chart (RiskAssessment)",
                          "uuid": str(uuid.uuid4()), "isRecommended": False,
                          "actions": [{"type": "create", "description": "Create a RiskAssessment with hipdx's estimates",
                                       "resource": ra}]}
            cards, issued = cds.cards(d, read, fs.source(), links, suggestion)
        fs.record(issued)
        return _cds_cards(cards)

    @bp.post("/cds-services/<service_id>/feedback")
    def cds_feedback(service_id: str) -> Response:
        _known_service(service_id)
        fs.authenticate_cds(service_id)
        try:
            req = FeedbackRequest.model_validate(read_json())
        except ValidationError as exc:
            raise _validation_problem(exc, "CDS Hooks feedback") from None
        entries = [e.model_dump(exclude_none=True) for e in req.feedback]
        for i, e in enumerate(entries):
            if e["outcome"] == "accepted" and e.get("overrideReason"):
                raise Problem(400, f"feedback.{i}: an accepted card has no overrideReason", slug="invalid-request",
                              title="Invalid request body", field=f"feedback.{i}.overrideReason")
            if e["outcome"] == "overridden" and e.get("acceptedSuggestions"):
                raise Problem(400, f"feedback.{i}: an overridden card has no acceptedSuggestions", slug="invalid-request",
                              title="Invalid request body", field=f"feedback.{i}.acceptedSuggestions")
        try:
            stored, duplicates = fs.store.add_feedback(service_id, entries)
        except (sqlite3.Error, OSError):
            log.error("feedback store %s unavailable", fs.store.path)
            raise Problem(503, "the feedback store is unavailable; send the feedback again later",
                          headers={"Retry-After": "30"}) from None
        return _json({"stored": stored, "duplicates": duplicates})

    @bp.get("/cds-services/<service_id>/feedback/summary")
    def cds_feedback_summary(service_id: str) -> Response:
        _known_service(service_id)
        fs.require_api_key()
        try:
            return _json(fs.store.summary(service_id))
        except (sqlite3.Error, OSError):
            log.error("feedback store %s unavailable", fs.store.path)
            raise Problem(503, "the feedback store is unavailable", headers={"Retry-After": "30"}) from None

    def _cds_cards(cards: list[dict[str, Any]]) -> Response:
        resp = _json({"cards": cards})
        resp.headers["X-Hipdx-Disclaimer"] = DISCLAIMER
        resp.headers["X-Hipdx-Model-Version"] = version
        return resp

    return bp


def _known_service(service_id: str) -> None:
    if service_id != cds.SERVICE_ID:
        raise Problem(404, f"no CDS service {service_id!r}; see /cds-services", slug="unknown-cds-service",
                      title="Unknown CDS service")
