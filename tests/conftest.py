"""Shared fixtures: one model per test session (loading imports pgmpy, ~2 s)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ROOT.parent / "shared" / "sources"


@pytest.fixture(scope="session", autouse=True)
def _feedback_db(tmp_path_factory):
    """CDS feedback and JWT ids go to a throw-away SQLite file in every test (and every server a
    test starts), never the user's state directory."""
    import os

    old = os.environ.get("HIPDX_FEEDBACK_DB")
    os.environ["HIPDX_FEEDBACK_DB"] = str(tmp_path_factory.mktemp("feedback") / "feedback.sqlite3")
    yield
    if old is None:
        os.environ.pop("HIPDX_FEEDBACK_DB", None)
    else:
        os.environ["HIPDX_FEEDBACK_DB"] = old


@pytest.fixture(scope="session")
def model():
    from model import load_model

    return load_model()


@pytest.fixture(scope="session")
def priors_dir() -> Path:
    return ROOT / "priors"


@pytest.fixture(scope="session")
def live_server():
    """Base URL of a real ``hipdx serve`` on loopback (one per test session)."""
    from .browser import live_server as start

    with start() as url:
        yield url


@pytest.fixture(scope="session")
def _chromium():
    from .browser import chromium

    with chromium() as browser:
        yield browser


@pytest.fixture
def browser_page(_chromium):
    """A fresh page in headless Debian chromium (Playwright); closed after the test."""
    context = _chromium.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()
