"""The JSON API with Flask's test client: every route and every error."""

from __future__ import annotations

import json

import pytest
from pydantic import BaseModel

from model import DISCLAIMER
from service import schemas
from service.http import diagnosis_body

CASE = {"sex": "female", "age": 45, "pain_lateral_hip": "present", "pain_lying_on_side": "present"}


def _extras(m: BaseModel, path: str = "$") -> list[str]:
    """Fields that came through a response model without being declared in it."""
    found = [f"{path}.{k}" for k in (m.__pydantic_extra__ or {})]
    for name in type(m).model_fields:
        value = getattr(m, name)
        items = value if isinstance(value, list) else [value]
        for i, item in enumerate(items):
            if isinstance(item, BaseModel):
                found += _extras(item, f"{path}.{name}[{i}]" if isinstance(value, list) else f"{path}.{name}")
    return found


def assert_problem(resp, status: int, slug: str | None = None) -> dict:
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.mimetype == "application/problem+json"
    body = resp.get_json(force=True)
    assert {"type", "title", "status", "detail"} <= set(body)
    assert body["status"] == status
    if slug:
        assert body["type"] == f"urn:hipdx:problem:{slug}"
    text = resp.get_data(as_text=True)
    assert "Traceback" not in text and "<html" not in text.lower()
    assert resp.headers["X-Request-ID"]
    return body


def test_health(client, model):
    resp = client.get("/healthz")
    assert resp.status_code == 200
    assert resp.get_json() == {"status": "ok", "model": {"name": "hipdx", "version": model.version}}


def test_model_description(client, model):
    resp = client.get("/v1/model")
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["model"]["version"] == model.version
    assert body["disclaimer"] == DISCLAIMER
    assert resp.headers["X-Hipdx-Disclaimer"] == DISCLAIMER
    assert {c["id"] for c in body["conditions"]} == set(model.conditions)
    assert {v["id"] for v in body["variables"]} == set(model.variables)
    assert body["aliases"]["age"] == "age_band"
    assert {k: v for k, v in body.items() if k != "disclaimer"} == json.loads(json.dumps(model.describe()))


def test_diagnosis_is_exactly_to_dict(client, model):
    resp = client.post("/v1/diagnosis", json={"evidence": CASE})
    assert resp.status_code == 200
    assert resp.mimetype == "application/json"
    body = resp.get_json()
    expected = json.loads(json.dumps(model.diagnose(CASE).to_dict()))
    assert body == expected
    assert body["disclaimer"] == DISCLAIMER and resp.headers["X-Hipdx-Disclaimer"] == DISCLAIMER
    assert resp.headers["X-Hipdx-Model-Version"] == model.version
    assert [c["probability"] for c in body["conditions"]] == sorted((c["probability"] for c in body["conditions"]), reverse=True)
    # null only where the contract means it (DESIGN.md 5): no triage level, inside the population
    assert "null" not in resp.get_data(as_text=True).replace('"outside_population":null', "").replace('"triage":null', "")


def test_response_models_declare_every_field(model):
    """A field added to Diagnosis.to_dict() must be added to service/schemas.py (and so the spec)."""
    cases = [{}, CASE, {**CASE, "cannot_bear_weight": "present", "fever": "present"}, {"age": 62, "stiffness": "present"}]
    for case in cases:
        for reasoning in (True, False):
            as_dict = model.diagnose(case, reasoning=reasoning).to_dict()
            validated = schemas.DiagnosisResponse.model_validate(as_dict)
            assert _extras(validated) == [], "undeclared fields: update service/schemas.py"
            # the server sends to_dict() as JSON without pydantic: it must be what pydantic would send
            assert json.loads(diagnosis_body(as_dict)) == json.loads(validated.model_dump_json(exclude_none=True))
    assert _extras(schemas.ModelDescription.model_validate({**model.describe(), "disclaimer": DISCLAIMER})) == []


def test_diagnosis_without_reasoning(client, model):
    resp = client.post("/v1/diagnosis?reasoning=false", json={"evidence": CASE})
    assert resp.status_code == 200
    body = resp.get_json()
    assert body == json.loads(json.dumps(model.diagnose(CASE, reasoning=False).to_dict()))
    assert "next_questions" not in body and "interval" not in body["conditions"][0]
    assert_problem(client.post("/v1/diagnosis?reasoning=maybe", json={"evidence": CASE}), 400, "invalid-parameter")


def test_red_flags_and_aliases(client):
    body = client.post("/v1/diagnosis", json={"evidence": {"cannot_bear_weight": True, "weekly_training_hours": 15,
                                                           "rest_days_per_week": 1}}).get_json()
    assert body["triage"]["level"] == "emergency"
    assert "cannot_bear_weight" in {f["id"] for f in body["triage"]["red_flags"]}
    assert body["evidence"]["training_hours"] == "over_13_5" and body["evidence"]["rest_days"] == "under_2"


def test_cache_returns_identical_body(client):
    first = client.post("/v1/diagnosis", json={"evidence": CASE})
    second = client.post("/v1/diagnosis", json={"evidence": dict(reversed(CASE.items()))})  # same evidence, other order
    assert first.headers["X-Hipdx-Cache"] == "miss" and second.headers["X-Hipdx-Cache"] == "hit"
    assert first.data == second.data


@pytest.mark.parametrize(("evidence", "slug", "field", "suggestion"), [
    ({"sexx": "female"}, "unknown-variable", "sexx", "sex"),
    ({"pain_lateral_hipp": "present"}, "unknown-variable", "pain_lateral_hipp", "pain_lateral_hip"),
    ({"sex": "femal"}, "unknown-state", "sex", "female"),
    ({"onset": "suden"}, "unknown-state", "onset", "sudden"),
    ({"age": -4}, "out-of-range", "age", None),
    ({"age": 200}, "out-of-range", "age", None),
    ({"weekly_training_hours": 1000}, "out-of-range", "weekly_training_hours", None),
    ({"age": "old"}, "out-of-range", "age", None),
])
def test_bad_evidence(client, evidence, slug, field, suggestion):
    body = assert_problem(client.post("/v1/diagnosis", json={"evidence": evidence}), 400, slug)
    assert body["field"] == field
    assert body["value"] == next(iter(evidence.values()))
    assert body.get("suggestion") == suggestion
    assert field in body["detail"]
    if slug == "unknown-state":
        assert suggestion in body["allowed"]
    if slug == "unknown-variable":
        assert "sex" in body["allowed"] and "age" in body["allowed"]
    if slug == "out-of-range":
        assert body["minimum"] < body["maximum"] and body["unit"]


def test_contradictory_aliases(client):
    body = assert_problem(client.post("/v1/diagnosis", json={"evidence": {"age": 25, "age_band": "50_plus"}}), 400)
    assert body["field"] in ("age", "age_band")


@pytest.mark.parametrize("body", [[], {"evidence": []}, {"evidence": {"sex": {"nested": 1}}}, {"evidence": {}, "extra": 1}, {}])
def test_invalid_request_body(client, body):
    problem = assert_problem(client.post("/v1/diagnosis", json=body), 400, "invalid-request")
    assert problem["errors"] and all("input" not in e for e in problem["errors"])


@pytest.mark.parametrize("raw", [b"{bad", b"", b'{"evidence": {"age": NaN}}', b"\xff\xfe", b"[" * 100000])
def test_malformed_json(client, raw):
    assert_problem(client.post("/v1/diagnosis", data=raw, content_type="application/json"), 400, "malformed-json")


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_wrong_content_type(client, content_type):
    kwargs = {"content_type": content_type} if content_type else {}
    body = assert_problem(client.post("/v1/diagnosis", data=json.dumps({"evidence": CASE}), **kwargs), 415)
    assert body["type"] == "about:blank"


def test_body_too_large(client):
    big = json.dumps({"evidence": {"sex": "female", "pad": "x" * (1024 * 1024)}})
    assert_problem(client.post("/v1/diagnosis", data=big, content_type="application/json"), 413)


def test_unknown_path(client):
    body = assert_problem(client.get("/v1/nothing"), 404)
    assert body["instance"] == "/v1/nothing"
    assert_problem(client.get("/healthz/"), 404)


@pytest.mark.parametrize(("method", "path"), [("get", "/v1/diagnosis"), ("put", "/v1/model"), ("delete", "/healthz"),
                                              ("post", "/openapi.json"), ("get", "/cds-services/hipdx-runner-hip-pain")])
def test_wrong_method(client, method, path):
    resp = getattr(client, method)(path)
    assert_problem(resp, 405)
    assert resp.headers["Allow"]


def test_unexpected_error_is_500_without_stack(app, client, monkeypatch):
    service = app.extensions["hipdx"]

    def boom(*args, **kwargs):
        raise RuntimeError("internal detail that must not leak")

    monkeypatch.setattr(service.model, "diagnose", boom)
    resp = client.post("/v1/diagnosis", json={"evidence": {"sex": "male", "age": 33}})
    body = assert_problem(resp, 500)
    assert "internal detail" not in resp.get_data(as_text=True)
    assert body["request_id"] == resp.headers["X-Request-ID"]


def test_openapi_document(client, model):
    resp = client.get("/openapi.json")
    assert resp.status_code == 200
    doc = resp.get_json()
    assert doc["openapi"].startswith("3.1")
    assert doc["info"]["x-model-version"] == model.version
    paths = {"/healthz", "/v1/model", "/v1/diagnosis", "/openapi.json", "/docs", "/cds-services", "/cds-services/{id}"}
    assert paths <= set(doc["paths"])
    schemas_ = doc["components"]["schemas"]
    assert {"DiagnosisRequest", "DiagnosisResponse", "ProblemDetails", "CdsRequest", "CdsResponse", "Evidence"} <= set(schemas_)
    evidence = schemas_["Evidence"]["properties"]
    assert set(model.variables) | set(model.vocabulary.aliases) == set(evidence)
    assert evidence["sex"]["anyOf"][0]["enum"] == ["female", "male"]
    # response schemas never allow null: absent fields are omitted
    # ... except the three the contract sends as null on purpose (no triage level, also in the summary)
    def nullable(node):
        return {"type": "null"} in node.get("anyOf", [])

    diag = schemas_["DiagnosisResponse"]
    assert [k for k, v in diag["properties"].items() if nullable(v)] == ["outside_population"]
    assert [k for k, v in schemas_["Triage"]["properties"].items() if nullable(v)] == ["level"]
    assert [k for k, v in schemas_["Summary"]["properties"].items() if nullable(v)] == ["triage"]
    assert "null" not in json.dumps({k: v for k, v in diag["properties"].items() if k != "outside_population"})
    assert "null" not in json.dumps(schemas_["ConditionResult"])
    refs = {v for v in _walk_refs(doc)}
    assert all(r.removeprefix("#/components/schemas/") in schemas_ for r in refs if r.startswith("#/components/schemas/"))


def _walk_refs(node):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref":
                yield v
            else:
                yield from _walk_refs(v)
    elif isinstance(node, list):
        for v in node:
            yield from _walk_refs(v)


def test_docs_served_locally(client):
    resp = client.get("/docs")
    assert resp.status_code == 200 and resp.mimetype == "text/html"
    html = resp.get_data(as_text=True)
    assert "http://" not in html and "https://" not in html  # no CDN
    assert "default-src 'self'" in resp.headers["Content-Security-Policy"]
    for asset in ("docs/assets/css/swagger-ui.css", "docs/assets/js/swagger-ui-bundle.js",
                  "docs/assets/js/swagger-ui-standalone-preset.js", "docs/init.js"):
        assert asset in html
        got = client.get("/" + asset)
        assert got.status_code == 200 and len(got.data) > 100, asset
    assert "openapi.json" in client.get("/docs/init.js").get_data(as_text=True)
    assert_problem(client.get("/docs/assets/../../../etc/passwd"), 404)


def test_cors(client):
    pre = client.options("/v1/diagnosis", headers={"Origin": "https://ehr.example", "Access-Control-Request-Method": "POST",
                                                   "Access-Control-Request-Headers": "content-type, authorization"})
    assert pre.status_code == 204
    assert pre.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in pre.headers["Access-Control-Allow-Methods"]
    assert "Authorization" in pre.headers["Access-Control-Allow-Headers"]
    resp = client.get("/cds-services", headers={"Origin": "https://ehr.example"})
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    assert "X-Request-ID" in resp.headers["Access-Control-Expose-Headers"]


def test_cors_restricted_origins(make_app):
    client = make_app(cors_origins="https://ehr.example").test_client()
    ok = client.get("/healthz", headers={"Origin": "https://ehr.example"})
    assert ok.headers["Access-Control-Allow-Origin"] == "https://ehr.example"
    other = client.get("/healthz", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers
