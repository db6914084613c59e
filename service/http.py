"""The HTTP service: a Flask app factory over one loaded model (JSON API, CDS Hooks, OpenAPI, docs).

``create_app(model=None, config=None)`` loads the model (unless given) before it returns, so a
worker never answers a request without it. Every error is ``application/problem+json``; every
response carries an ``X-Request-ID``; logs carry method, path, status and latency, never evidence.

Configuration (``config`` keys override the environment):

========================  ===============================  ===========================================
key                       environment                      meaning
========================  ===============================  ===========================================
``api_keys``              ``HIPDX_API_KEYS``               comma-separated keys; unset = open API
``cds_jwt_issuers``       ``HIPDX_CDS_JWT_ISSUERS``        JSON/YAML file {issuer: PEM | JWKS}; unset = off
``public_url``            ``HIPDX_PUBLIC_URL``             external base URL (JWT ``aud``: required with JWTs)
``feedback_db``           ``HIPDX_FEEDBACK_DB``            CDS feedback SQLite file (see service.fhir.feedback)
``cors_origins``          ``HIPDX_CORS_ORIGINS``           allowed browser origins (``*`` by default)
``cache_size``            ``HIPDX_CACHE_SIZE``             diagnoses kept per worker (LRU; 0 = off)
``priors``                ``HIPDX_PRIORS``                 priors directory (default: bundled)
========================  ===============================  ===========================================
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
import traceback
import uuid
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import orjson
from flask import Flask, Response, g, request, send_from_directory
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException

from . import schemas as s
from .auth import JwtVerifier, bearer_token, key_is_valid, parse_api_keys, unauthorized
from .openapi import build_openapi
from .problems import Problem, duplicate_problem, evidence_problem, problem_response, screening_members
from .strict_json import DuplicateKeyError, read_json_text
from .web import blueprint as web_blueprint

log = logging.getLogger("hipdx.http")

MAX_BODY_BYTES = 1024 * 1024
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,128}$")
KEYED_ENDPOINTS = frozenset({"describe_model", "diagnose"})  # health, docs, openapi and CDS discovery stay open
CORS_HEADERS = "Authorization, Content-Type, X-API-Key, X-Request-ID"
EXPOSED_HEADERS = "X-Request-ID, X-Hipdx-Disclaimer, X-Hipdx-Model-Version, X-Hipdx-Cache"


@dataclass
class Settings:
    api_keys: tuple[bytes, ...] = ()
    cds_jwt_issuers: str | Mapping[str, Any] | None = None
    public_url: str | None = None
    cors_origins: tuple[str, ...] = ("*",)
    cache_size: int = 1024
    priors: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, config: Mapping[str, Any] | None = None) -> Settings:
        config = dict(config or {})
        env = os.environ

        def pick(key: str, env_key: str, default: Any = None) -> Any:
            if key in config:
                return config.pop(key)
            value = env.get(env_key)
            return value if value not in (None, "") else default

        origins = pick("cors_origins", "HIPDX_CORS_ORIGINS", "*")
        if isinstance(origins, str):
            origins = origins.split(",")
        return cls(
            api_keys=parse_api_keys(pick("api_keys", "HIPDX_API_KEYS")),
            cds_jwt_issuers=pick("cds_jwt_issuers", "HIPDX_CDS_JWT_ISSUERS"),
            public_url=(pick("public_url", "HIPDX_PUBLIC_URL") or None),
            cors_origins=tuple(o.strip() for o in origins if o.strip()),
            cache_size=int(pick("cache_size", "HIPDX_CACHE_SIZE", 1024)),
            priors=pick("priors", "HIPDX_PRIORS"),
            extra=config,
        )


class DiagnosisCache:
    """Serialised diagnoses by (evidence as sent, reasoning): the model is deterministic for a given
    evidence, so a hit returns exactly what a fresh call would (a CDS patient-view hook fires again
    with the same answers every time the chart is opened). LRU, thread-safe."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._data: OrderedDict[tuple, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple) -> bytes | None:
        if self.size <= 0:
            return None
        with self._lock:
            hit = self._data.get(key)
            if hit is not None:
                self._data.move_to_end(key)
            return hit

    def put(self, key: tuple, value: bytes) -> None:
        if self.size <= 0:
            return
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)


class Service:
    """Everything a request needs, built once per app: the model, precomputed bodies, auth."""

    def __init__(self, model: Any, settings: Settings, disclaimer: str) -> None:
        self.model = model
        self.settings = settings
        self.disclaimer = disclaimer
        self.version = model.version
        self.numeric = {vid: v.numeric for vid, v in model.variables.items() if v.numeric is not None}
        self.numeric.update({alias: model.variables[vid].numeric for alias, vid in model.vocabulary.aliases.items()})
        self.model_body = _dump(s.ModelDescription.model_validate({**model.describe(), "disclaimer": disclaimer}))
        self.health_body = _dump(s.Health(status="ok", model=s.ModelInfo(name=model.name, version=model.version)))
        self.openapi_body = json.dumps(build_openapi(model, disclaimer), separators=(",", ":")).encode()
        self.cache = DiagnosisCache(settings.cache_size)
        # The engine's caches are not documented as thread-safe: one diagnosis at a time per worker.
        self.lock = threading.Lock()
        issuers = settings.cds_jwt_issuers
        if issuers is None:
            self.jwt: JwtVerifier | None = None
        elif isinstance(issuers, Mapping):
            self.jwt = JwtVerifier(issuers)
        else:
            self.jwt = JwtVerifier.from_file(issuers)

    def diagnose(self, evidence: Mapping[str, Any], reasoning: bool = True) -> tuple[bytes, bool]:
        """(JSON body, cache hit) for raw evidence; raises ``EvidenceError``.

        The body is ``Diagnosis.to_dict()`` as JSON (see :func:`diagnosis_body`)."""
        key = (json.dumps(evidence, sort_keys=True, default=str), reasoning)  # the evidence as sent, any key order
        hit = self.cache.get(key)
        if hit is not None:
            return hit, True
        with self.lock:
            diagnosis = self.model.diagnose(evidence, reasoning=reasoning)
        body = diagnosis_body(diagnosis.to_dict())
        self.cache.put(key, body)
        return body, False


def diagnosis_body(diagnosis: Mapping[str, Any]) -> bytes:
    """``Diagnosis.to_dict()`` as compact JSON, straight (orjson).

    Why not through pydantic: a full diagnosis carries ~40 KB of nested effects and sources, and
    validating it on every request cost ~2 ms, a third of the diagnosis itself. The shape is held
    to :class:`schemas.DiagnosisResponse` by the tests instead (the same bodies validated and
    compared, and schemathesis checks every served body against the OpenAPI document)."""
    return orjson.dumps(diagnosis)


def _dump(m: Any) -> bytes:
    return m.model_dump_json(exclude_none=True).encode()


def _read_json(accept: tuple[str, ...] = ("application/json",)) -> Any:
    """The request body as JSON: 415 for another content type, 413 over 1 MB, 400 when malformed;
    :class:`DuplicateKeyError` when a key is given twice (the route turns it into a 400)."""
    mimetype = request.mimetype or ""
    if mimetype not in accept and not (mimetype.startswith("application/") and mimetype.endswith("+json")):
        raise Problem(415, f"send the body as {' or '.join(accept)} (got {mimetype or 'no content type'})",
                      headers={"Accept-Post": ", ".join(accept)})
    raw = request.get_data(cache=False)  # raises 413 past MAX_CONTENT_LENGTH
    try:
        return read_json_text(raw)
    except DuplicateKeyError:
        raise
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise Problem(400, f"the body is not valid JSON: {exc}", slug="malformed-json", title="Malformed JSON") from None


def duplicate_screening(model: Any, exc: DuplicateKeyError) -> Any:
    """The screening of an evidence object with a duplicated key (see ``HipModel.screen_pairs``)."""
    return model.screen_pairs(exc.obj.pairs or list(exc.obj.items()))


def _validation_problem(exc: ValidationError, what: str) -> Problem:
    errors = [{"loc": ".".join(str(p) for p in e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
    first = errors[0]
    return Problem(400, f"invalid {what}: {first['loc'] or 'body'}: {first['msg']}", slug="invalid-request",
                   title="Invalid request body", errors=errors)


def _query_bool(name: str, default: bool) -> bool:
    raw = request.args.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in ("1", "true", "yes"):
        return True
    if value in ("0", "false", "no"):
        return False
    raise Problem(400, f"query parameter {name} must be true or false", slug="invalid-parameter", title="Invalid parameter",
                  field=name, value=raw, allowed=["true", "false"])


def _swagger_dir() -> Path | None:
    spec = find_spec("flask_openapi3_swagger")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "templates" / "swagger"
    return folder if folder.is_dir() else None


DOCS_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>hipdx API</title>
<link rel="stylesheet" href="docs/assets/css/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="docs/assets/js/swagger-ui-bundle.js"></script>
<script src="docs/assets/js/swagger-ui-standalone-preset.js"></script>
<script src="docs/init.js"></script></body></html>
"""
DOCS_INIT = """window.onload = function () {
  window.ui = SwaggerUIBundle({url: "openapi.json", dom_id: "#swagger-ui", deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset], layout: "StandaloneLayout"});
};
"""
DOCS_CSP = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'"


def log_frames(exc: BaseException | None) -> str:
    """An exception as its type and frames only: its message (or a source line) may quote evidence."""
    if exc is None:
        return "-"
    frames = "\n".join(f"  {f.filename}:{f.lineno} in {f.name}" for f in traceback.extract_tb(exc.__traceback__))
    return f"{type(exc).__name__}\n{frames}"


class SafeFlask(Flask):
    """Flask whose own exception logging (an error inside an error handler, or anything that
    escapes them) logs the exception's type and frames, never its message or local values."""

    def log_exception(self, exc_info: Any) -> None:  # noqa: D102 - Flask API
        exc = exc_info[1] if isinstance(exc_info, tuple) else None
        log.error("unhandled exception on %s %s id=%s: %s", request.method, request.path[:200],
                  getattr(g, "request_id", "-"), log_frames(exc))


def create_app(model: Any = None, config: Mapping[str, Any] | None = None) -> Flask:
    """The hipdx Flask app; the model is loaded (bundled priors unless configured) before it returns."""
    from model import DISCLAIMER

    settings = Settings.load(config)
    if model is None:
        from model import load_model

        model = load_model(settings.priors)
    service = Service(model, settings, DISCLAIMER)
    swagger = _swagger_dir()

    app = SafeFlask("hipdx", static_folder=None)
    app.config.update(MAX_CONTENT_LENGTH=MAX_BODY_BYTES, MAX_FORM_MEMORY_SIZE=MAX_BODY_BYTES)
    app.extensions["hipdx"] = service
    app.url_map.strict_slashes = True  # /healthz/ is a 404, not an HTML redirect
    app.url_map.merge_slashes = False  # /v1//model is a problem+json 404, not an HTML 308 to /v1/model

    # ------------------------------------------------------------------ request lifecycle
    @app.before_request
    def start() -> Response | None:
        g.start = time.perf_counter()
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if REQUEST_ID.match(incoming) else uuid.uuid4().hex
        if request.method == "OPTIONS" and request.headers.get("Origin"):
            return Response(status=204)  # CORS preflight: never authenticated (headers added below)
        endpoint = request.endpoint
        if endpoint in KEYED_ENDPOINTS and settings.api_keys:
            key = request.headers.get("X-API-Key") or bearer_token(request.headers.get("Authorization"))
            if not key_is_valid(key, settings.api_keys):
                raise unauthorized("a valid API key is required (X-API-Key header or Authorization: Bearer <key>)")
        return None

    @app.after_request
    def finish(resp: Response) -> Response:
        request_id = getattr(g, "request_id", None) or uuid.uuid4().hex
        resp.headers["X-Request-ID"] = request_id
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        origin = request.headers.get("Origin")
        if origin and ("*" in settings.cors_origins or origin in settings.cors_origins):
            resp.headers["Access-Control-Allow-Origin"] = "*" if "*" in settings.cors_origins else origin
            if "*" not in settings.cors_origins:
                resp.headers.add("Vary", "Origin")
            resp.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
            if request.method == "OPTIONS":
                resp.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
                resp.headers["Access-Control-Allow-Headers"] = CORS_HEADERS
                resp.headers["Access-Control-Max-Age"] = "600"
        latency_ms = (time.perf_counter() - g.start) * 1000 if "start" in g else 0.0
        # Never the body, the query string or header values: they may hold health data.
        path = request.path[:200]
        log.info("%s %s %s %.1fms id=%s", request.method, path, resp.status_code, latency_ms, request_id,
                 extra={"request_id": request_id, "method": request.method, "path": path,
                        "status": resp.status_code, "latency_ms": round(latency_ms, 2)})
        return resp

    # ------------------------------------------------------------------ errors
    @app.errorhandler(Problem)
    def on_problem(exc: Problem) -> Response:
        return problem_response(exc, getattr(g, "request_id", None), request.path)

    @app.errorhandler(HTTPException)
    def on_http(exc: HTTPException) -> Response:
        code = exc.code or 500
        details = {
            404: f"no resource at {request.path}; see /openapi.json",
            405: f"{request.method} is not allowed on {request.path}",
            413: f"the body is over {MAX_BODY_BYTES} bytes",
        }
        headers = {}
        if code == 405 and getattr(exc, "valid_methods", None):
            headers["Allow"] = ", ".join(exc.valid_methods)
        problem = Problem(code, details.get(code, exc.description or ""), headers=headers)
        return problem_response(problem, getattr(g, "request_id", None), request.path)

    @app.errorhandler(Exception)
    def on_error(exc: Exception) -> Response:
        # Type and frames only: an exception's message (or a source line) may quote evidence values.
        log.error("unhandled %s on %s %s id=%s\n%s", type(exc).__name__, request.method, request.path[:200],
                  getattr(g, "request_id", "-"), log_frames(exc).partition("\n")[2])
        problem = Problem(500, "unexpected error; quote the request id when reporting it")
        return problem_response(problem, getattr(g, "request_id", None), request.path)

    def json_response(body: bytes, status: int = 200, disclaimer: bool = False, **headers: str) -> Response:
        resp = Response(body, status=status, mimetype="application/json")
        if disclaimer:
            resp.headers["X-Hipdx-Disclaimer"] = service.disclaimer
            resp.headers["X-Hipdx-Model-Version"] = service.version
        for k, v in headers.items():
            resp.headers[k.replace("_", "-")] = v
        return resp

    # ------------------------------------------------------------------ JSON API
    @app.get("/healthz", endpoint="health")
    def health() -> Response:
        return json_response(service.health_body, Cache_Control="no-store")

    @app.get("/v1/model", endpoint="describe_model")
    def describe_model() -> Response:
        return json_response(service.model_body, disclaimer=True)

    @app.post("/v1/diagnosis", endpoint="diagnose")
    def diagnose() -> Response:
        from model import EvidenceError

        reasoning = _query_bool("reasoning", True)
        try:
            body = _read_json()
        except DuplicateKeyError as exc:
            in_evidence = exc.path == f"evidence.{exc.key}"
            raise duplicate_problem(exc, duplicate_screening(service.model, exc) if in_evidence else None) from None
        try:
            req = s.DiagnosisRequest.model_validate(body)
        except ValidationError as exc:
            problem = _validation_problem(exc, "request")
            evidence = body.get("evidence") if isinstance(body, dict) else None
            if isinstance(evidence, Mapping):  # the evidence holds a value of the wrong type: still screen it
                problem.members.update(screening_members(service.model.screen(evidence)))
            raise problem from None
        try:
            payload, hit = service.diagnose(req.evidence, reasoning)
        except EvidenceError as exc:
            problem = evidence_problem(exc, service.numeric)
            problem.members.update(screening_members(service.model.screen(req.evidence)))
            raise problem from None
        return json_response(payload, disclaimer=True, Cache_Control="no-store", X_Hipdx_Cache="hit" if hit else "miss")

    @app.get("/openapi.json", endpoint="openapi")
    def openapi() -> Response:
        return json_response(service.openapi_body)

    @app.get("/docs", endpoint="docs")
    def docs() -> Response:
        if swagger is None:
            raise Problem(404, "Swagger UI assets are not installed (pip install flask-openapi3-swagger)")
        resp = Response(DOCS_HTML, mimetype="text/html")
        resp.headers["Content-Security-Policy"] = DOCS_CSP
        return resp

    @app.get("/docs/init.js", endpoint="docs_init")
    def docs_init() -> Response:
        return Response(DOCS_INIT, mimetype="text/javascript")

    @app.get("/docs/assets/<path:name>", endpoint="docs_asset")
    def docs_asset(name: str) -> Response:
        if swagger is None:
            raise Problem(404, "Swagger UI assets are not installed")
        return send_from_directory(swagger, name, max_age=86400)

    app.register_blueprint(web_blueprint)  # the case page: GET / and GET /case

    # ------------------------------------------------------------------ FHIR and CDS Hooks (service.fhir)
    from .fhir.routes import create_blueprint

    app.register_blueprint(create_blueprint(service, settings.extra))

    return app

