"""Request ids, and logs that never contain evidence (health data)."""

from __future__ import annotations

import logging

import pytest

from service.fhir import cds as cds_hooks

from .conftest import cds_request, questionnaire


def test_request_id_generated(client):
    a, b = client.get("/healthz"), client.get("/nowhere")
    assert len(a.headers["X-Request-ID"]) == 32 and a.headers["X-Request-ID"] != b.headers["X-Request-ID"]
    assert b.get_json()["request_id"] == b.headers["X-Request-ID"]


def test_sane_request_id_honoured(client):
    resp = client.post("/v1/diagnosis", json={"evidence": {"sex": "x"}}, headers={"X-Request-ID": "ehr-42.abc:7"})
    assert resp.headers["X-Request-ID"] == "ehr-42.abc:7"
    assert resp.get_json()["request_id"] == "ehr-42.abc:7"


@pytest.mark.parametrize("bad", ["a" * 200, "has space", "<script>", "semi;colon"])
def test_insane_request_id_replaced(client, bad):
    got = client.get("/healthz", headers={"X-Request-ID": bad}).headers["X-Request-ID"]
    assert got != bad and len(got) == 32


def test_logs_carry_method_path_status_latency_and_id(client, caplog):
    with caplog.at_level(logging.INFO, logger="hipdx.http"):
        resp = client.get("/healthz", headers={"X-Request-ID": "trace-1"})
    (record,) = [r for r in caplog.records if r.name == "hipdx.http"]
    assert record.method == "GET" and record.path == "/healthz" and record.status == 200
    assert record.request_id == "trace-1" == resp.headers["X-Request-ID"]
    assert record.latency_ms >= 0
    assert "GET /healthz 200" in record.getMessage()


def test_evidence_never_logged(app, client, caplog, monkeypatch):
    secret_state = "zebra-secret-state"
    evidence = {"sex": "female", "age": 73.25, "pain_groin": "present", "fever": "present"}
    with caplog.at_level(logging.DEBUG):
        client.post("/v1/diagnosis?reasoning=true", json={"evidence": evidence})
        client.post("/v1/diagnosis", json={"evidence": {"sex": secret_state}})
        client.post("/v1/diagnosis", json={"evidence": {"zebra_secret_variable": "yes"}})
        client.post("/v1/diagnosis", json={"evidence": {"age": 987.5}})
        client.post(f"/cds-services/{cds_hooks.SERVICE_ID}",
                    json=cds_request(questionnaire({"sex": {"valueString": "female"}, "age": {"valueDecimal": 73.25}})))
        client.post(f"/cds-services/{cds_hooks.SERVICE_ID}",
                    json=cds_request(questionnaire({"sex": {"valueString": secret_state}})))

        def boom(*args, **kwargs):
            raise RuntimeError(f"failed on {secret_state} 73.25")

        monkeypatch.setattr(app.extensions["hipdx"].model, "diagnose", boom)
        assert client.post("/v1/diagnosis", json={"evidence": {"age": 73.25, "sex": "male"}}).status_code == 500
    text = "\n".join(r.getMessage() + " " + str(r.__dict__) for r in caplog.records)
    assert "POST /v1/diagnosis 500" in text and "RuntimeError" in text
    for needle in ("73.25", "987.5", "zebra", "pain_groin", "fever", "female", "present", "age_band"):
        assert needle not in text, needle
