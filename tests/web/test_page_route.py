"""The case page as served (no browser): HTML with the disclaimer and model version, local assets
only, a strict Content-Security-Policy, and the case in the URL never logged."""

from __future__ import annotations

import logging
import re
import urllib.parse
from pathlib import Path

import pytest

from model import DISCLAIMER

STATIC = Path(__file__).resolve().parents[2] / "service" / "web" / "static"


@pytest.fixture(scope="module")
def client(model):
    from service.http import create_app

    return create_app(model, {"api_keys": None, "cds_jwt_issuers": None, "cache_size": 8}).test_client()


@pytest.mark.parametrize("path", ["/", "/case", "/case?evidence=%7B%22fever%22%3A%22present%22%7D"])
def test_page_has_the_disclaimer_and_model_version(client, model, path):
    resp = client.get(path)
    assert resp.status_code == 200 and resp.mimetype == "text/html"
    html = resp.get_data(as_text=True)
    assert DISCLAIMER.replace("'", "&#39;") in html and model.version in html
    assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
    assert resp.headers["Referrer-Policy"] == "no-referrer"


def test_assets_are_local_and_served(client):
    html = client.get("/").get_data(as_text=True)
    refs = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert refs and not [r for r in refs if r.startswith(("http:", "https:", "//"))]
    for ref in [r for r in refs if r.startswith("/static/")]:
        resp = client.get(ref)
        assert resp.status_code == 200 and resp.content_length and resp.content_length > 1000, ref
    for asset in STATIC.iterdir():
        text = asset.read_text(encoding="utf-8")
        assert not re.search(r"https?://", text), f"{asset.name} refers to another server"
    assert client.get("/static/web/missing.js").status_code == 404


def test_the_case_in_the_url_is_not_logged(client, caplog):
    secret = urllib.parse.quote('{"fever":"present","age":47}')
    with caplog.at_level(logging.INFO, logger="hipdx.http"):
        assert client.get(f"/case?evidence={secret}").status_code == 200
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "GET /case 200" in text and "fever" not in text and "evidence" not in text


def test_wrong_method_is_a_problem_not_html(client):
    resp = client.post("/case")
    assert resp.status_code == 405 and resp.mimetype == "application/problem+json"
