"""SDC adaptive questioning: $next-question adds the model's next question, or completes the response."""

from __future__ import annotations

import pytest

from service.fhir.adaptive import CONTAINED_ID
from service.fhir.questionnaire import item as question_item

from .conftest import problem, qr, validate

URL = "/fhir/Questionnaire/hipdx/$next-question"


def _answer_item(model, linkid, answer):
    return {"linkId": linkid, "answer": [answer]}


def test_first_question_from_nothing(client, model):
    resp = client.post(URL, json=qr({}, status="in-progress"))
    assert resp.status_code == 200 and resp.mimetype == "application/fhir+json"
    out = resp.get_json()
    validate(out)
    expected_vid = model.diagnose({}).to_dict()["next_questions"][0]["variable"]
    expected = question_item(model.variables[expected_vid])
    assert out["status"] == "in-progress"
    assert out["item"][-1] == {"linkId": expected["linkId"], "text": expected["text"]}
    (contained,) = out["contained"]
    assert contained["id"] == CONTAINED_ID and out["questionnaire"] == f"#{CONTAINED_ID}"
    assert contained["item"][-1] == expected


def test_adaptive_loop_never_repeats_and_ends(client, model):
    """Answer each question 'no' (or the first option / the range's low end) until the response is completed."""
    response = qr({}, status="in-progress")
    asked = []
    for _ in range(len(model.variables) + 2):
        out = client.post(URL, json=response).get_json()
        validate(out)
        if out["status"] == "completed":
            break
        new = out["item"][-1]
        assert new["linkId"] not in asked
        asked.append(new["linkId"])
        spec = next(i for i in out["contained"][0]["item"] if i["linkId"] == new["linkId"])
        if spec["type"] == "boolean":
            answer = {"valueBoolean": False}
        elif spec["type"] == "choice":
            answer = {"valueCoding": spec["answerOption"][0]["valueCoding"]}
        else:
            low = next(e for e in spec["extension"] if e["url"].endswith("minValue"))
            answer = {k: (v + 25 if spec["linkId"] == "age" else v) for k, v in low.items() if k.startswith("value")}
        out["item"][-1] = {**new, "answer": [answer]}
        response = out
    else:
        pytest.fail("never completed")
    assert out["status"] == "completed" and len(asked) >= 1
    d = model.diagnose({}).to_dict()
    assert asked[0] == question_item(model.variables[d["next_questions"][0]["variable"]])["linkId"]


def test_completed_when_the_model_says_stop(client, model, monkeypatch):
    from service.fhir import adaptive

    d = {"next_questions": [{"variable": "fever"}], "reasoning": {"should_stop": True}}
    out = adaptive.next_question(qr({}), d, model)
    assert out["status"] == "completed" and out["item"] == []


def test_invalid_response_refused(client):
    body = qr({"fever": {"valueBoolean": True, "valueString": "x"}})
    problem(client.post(URL, json=body), 400, "invalid-questionnaire-response")
