"""The safety cases against a real ``hipdx serve`` (gunicorn) on loopback: same status and triage
level as the in-process app, never a 5xx."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from .cases import CASES
from .channels import body_of


def _post(url: str, text: str) -> tuple[int, dict]:
    req = urllib.request.Request(f"{url}/v1/diagnosis?reasoning=false", data=text.encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_every_case_through_a_real_server(live_server, model):
    from service.http import create_app

    client = create_app(model, config={"cache_size": 0, "api_keys": ""}).test_client()
    for case in CASES:
        status, body = _post(live_server, body_of(case))
        assert status < 500, case["id"]
        local = client.post("/v1/diagnosis?reasoning=false", data=body_of(case), content_type="application/json")
        assert status == local.status_code, case["id"]
        level = (body.get("triage") or {}).get("level")
        assert level == (local.get_json().get("triage") or {}).get("level"), case["id"]
        flags = body["triage"]["red_flags"] if status == 200 else body.get("red_flags_answered", [])
        assert set(case["expect"].get("red_flags", [])) <= {f["id"] for f in flags}, case["id"]
