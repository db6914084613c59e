"""Shared fixtures: one model per test session (loading imports pgmpy, ~2 s)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ROOT.parent / "shared" / "sources"


_FEEDBACK_DIR: str | None = None


def pytest_configure(config):
    """CDS feedback and JWT ids go to a throw-away SQLite file in every test (and every server a
    test starts, and apps built at collection time), never the user's state directory."""
    global _FEEDBACK_DIR
    import os
    import tempfile

    if "HIPDX_FEEDBACK_DB" not in os.environ:
        _FEEDBACK_DIR = tempfile.mkdtemp(prefix="hipdx-feedback-")
        os.environ["HIPDX_FEEDBACK_DB"] = os.path.join(_FEEDBACK_DIR, "feedback.sqlite3")


def pytest_unconfigure(config):
    import os
    import shutil

    if _FEEDBACK_DIR is not None:
        os.environ.pop("HIPDX_FEEDBACK_DB", None)
        shutil.rmtree(_FEEDBACK_DIR, ignore_errors=True)


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
