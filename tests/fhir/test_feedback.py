"""CDS Hooks 2.0 feedback: validated, stored in SQLite, summarised per card; survives a restart; two
workers writing at once lose nothing."""

from __future__ import annotations

import json
import multiprocessing
import threading
import urllib.request

import pytest

from service.fhir.feedback import FeedbackStore

from .conftest import CDS_URL, cards, cds_request, problem, qr

FEEDBACK_URL = f"{CDS_URL}/feedback"
SUMMARY_URL = f"{CDS_URL}/feedback/summary"


def _entry(card: str, outcome: str = "accepted", when: str = "2026-11-30T08:00:00Z", **extra):
    return {"card": card, "outcome": outcome, "outcomeTimestamp": when, **extra}


def test_feedback_summarised_per_card_and_rule(client, model):
    got = cards(client.post(CDS_URL, json=cds_request(qr({"cannot_bear_weight": {"valueBoolean": True},
                                                          "sex": {"valueCoding": {"code": "male"}}}))))
    triage, flag = got[0], next(c for c in got if c["summary"].startswith("Red flag (emergency)"))
    reason = flag["overrideReasons"][0]
    suggestion = triage["suggestions"][0]["uuid"]
    body = {"feedback": [
        _entry(triage["uuid"], acceptedSuggestions=[{"id": suggestion}]),
        _entry(flag["uuid"], "overridden", overrideReason={"reason": reason, "userComment": "seen in clinic today"}),
        _entry("not-a-card-we-issued", "accepted"),
    ]}
    resp = client.post(FEEDBACK_URL, json=body)
    assert resp.status_code == 200 and resp.get_json() == {"stored": 3, "duplicates": 0}
    assert client.post(FEEDBACK_URL, json=body).get_json() == {"stored": 0, "duplicates": 3}  # idempotent
    summary = client.get(SUMMARY_URL).get_json()
    assert (summary["feedback"], summary["accepted"], summary["overridden"]) == (3, 2, 1)
    assert summary["feedback_on_unknown_cards"] == 1
    groups = {(g["kind"], g["rule"]): g for g in summary["by_card"]}
    t = groups[("triage", "emergency")]
    assert (t["issued"], t["accepted"], t["overridden"], t["model_version"]) == (1, 1, 0, model.version)
    f = groups[("red_flag", "cannot_bear_weight")]
    assert (f["accepted"], f["overridden"], f["override_rate"]) == (0, 1, 1.0)
    assert f["override_reasons"] == [{"system": reason["system"], "code": reason["code"], "display": reason["display"],
                                      "count": 1, "with_comment": 1}]
    assert "seen in clinic" not in json.dumps(summary)  # free text stays in the database


@pytest.mark.parametrize(("body", "field"), [
    ({}, "feedback"),
    ({"feedback": []}, "feedback"),
    ({"feedback": [{"outcome": "accepted", "outcomeTimestamp": "2026-11-30T08:00:00Z"}]}, "feedback.0.card"),
    ({"feedback": [_entry("c", "ignored")]}, "feedback.0.outcome"),
    ({"feedback": [_entry("c", when="yesterday")]}, "feedback.0.outcomeTimestamp"),
    ({"feedback": [_entry("c", when="2026-11-30T08:00:00")]}, "feedback.0.outcomeTimestamp"),
    ({"feedback": [{"card": "c", "outcome": "accepted"}]}, "feedback.0.outcomeTimestamp"),
    ({"feedback": [_entry("c", overrideReason={"reason": {"code": "x"}})]}, "feedback.0.overrideReason"),
    ({"feedback": [_entry("c", "overridden", acceptedSuggestions=[{"id": "s"}])]}, "feedback.0.acceptedSuggestions"),
    ({"feedback": [_entry("c", "overridden", overrideReason={"reason": {"system": "s"}})]},
     "feedback.0.overrideReason.reason.code"),
])
def test_invalid_feedback_names_the_field(client, body, field):
    got = problem(client.post(FEEDBACK_URL, json=body), 400)
    assert got["field"] == field
    assert client.get(SUMMARY_URL).get_json()["feedback"] == 0


def test_feedback_for_unknown_service_is_404(client):
    problem(client.post("/cds-services/nope/feedback", json={"feedback": [_entry("c")]}), 404, "unknown-cds-service")
    problem(client.get("/cds-services/nope/feedback/summary"), 404, "unknown-cds-service")


def test_summary_needs_the_api_key_when_configured(make_app):
    keyed = make_app(api_keys="k1").test_client()
    problem(keyed.get(SUMMARY_URL), 401)
    assert keyed.get(SUMMARY_URL, headers={"X-API-Key": "k1"}).status_code == 200
    problem(keyed.post(FEEDBACK_URL, json={"feedback": [_entry("c")]}), 401)
    assert keyed.post(FEEDBACK_URL, json={"feedback": [_entry("c")]}, headers={"X-API-Key": "k1"}).status_code == 200


def test_store_survives_a_restart(tmp_path):
    path = tmp_path / "fb.sqlite3"
    assert FeedbackStore(path).add_feedback("svc", [_entry("a"), _entry("b", "overridden")]) == (2, 0)
    again = FeedbackStore(path)  # a new process would build a new store on the same file
    assert again.count("svc") == 2 and again.summary("svc")["overridden"] == 1


def _write_many(path: str, worker: int, n: int) -> None:
    store = FeedbackStore(path)
    for i in range(n):
        store.add_feedback("svc", [_entry(f"w{worker}-c{i}", when=f"2026-11-30T08:{i // 60:02d}:{i % 60:02d}Z")])


def test_two_processes_writing_at_once_lose_nothing(tmp_path):
    path = str(tmp_path / "fb.sqlite3")
    FeedbackStore(path).count("svc")  # create the schema first, as the app does on its first request
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_write_many, args=(path, w, 150)) for w in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    assert FeedbackStore(path).count("svc") == 300


def test_jti_store(tmp_path):
    store = FeedbackStore(tmp_path / "fb.sqlite3")
    import time

    assert store.jti_is_new("iss", "j1", time.time() + 60)
    assert not store.jti_is_new("iss", "j1", time.time() + 60)
    assert store.jti_is_new("other-iss", "j1", time.time() + 60)
    assert store.jti_is_new("iss", "j2", time.time() - 1)
    assert store.jti_is_new("iss", "j2", time.time() + 60)  # the expired record was pruned


def _post(url: str, body: dict) -> int:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        return resp.status


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=60) as resp:
        return json.loads(resp.read())


def test_real_server_two_workers_then_restart(tmp_path):
    """hipdx serve with two gunicorn workers: concurrent feedback is all stored, and still there after a restart."""
    from tests.browser import live_server

    env = {"HIPDX_FEEDBACK_DB": str(tmp_path / "served.sqlite3")}
    errors: list[BaseException] = []
    with live_server("--workers", "2", env=env) as base:
        def send(worker: int) -> None:
            try:
                for i in range(40):
                    body = {"feedback": [_entry(f"t{worker}-{i}-{k}", when="2026-11-30T08:00:00Z") for k in range(2)]}
                    assert _post(base + FEEDBACK_URL, body) == 200
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=send, args=(w,)) for w in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        assert _get(base + SUMMARY_URL)["feedback"] == 320
    with live_server(env=env) as base:
        assert _get(base + SUMMARY_URL)["feedback"] == 320
