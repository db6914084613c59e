"""The browser harness itself: headless chromium loads a page from a live ``hipdx serve``."""

from __future__ import annotations

import json


def test_chromium_reads_the_live_health_check(live_server, browser_page):
    response = browser_page.goto(f"{live_server}/healthz")
    assert response is not None and response.status == 200
    body = json.loads(browser_page.locator("body").inner_text())
    assert body["status"] == "ok" and body["model"]["name"] == "hipdx"
