"""Browser-test support: a live ``hipdx serve`` on a free loopback port, and headless Debian
chromium driven by Playwright (``executable_path=/usr/bin/chromium``; no browser is downloaded).

Use the fixtures ``live_server`` (base URL) and ``browser_page`` (a fresh Playwright page) from
``tests/conftest.py``; screenshots go under the test's ``tmp_path`` or ``HIPDX_TEST_OUTPUT``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

CHROMIUM = os.environ.get("HIPDX_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
HOST = "127.0.0.1"


def chromium_path() -> str:
    """The chromium executable; a clear failure (not a skip) when the set-up did not install it."""
    path = CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium")
    if not path:
        raise RuntimeError("chromium is not installed: run `make test` (it installs Debian's chromium) "
                           "or `apt-get install chromium`")
    return path


@contextmanager
def live_server(*extra_args: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """Start ``hipdx serve`` (the real CLI, gunicorn) on a free loopback port; yield its base URL."""
    from service import loadtest

    port = loadtest.free_port(HOST)
    log = tempfile.TemporaryFile()
    state = tempfile.TemporaryDirectory()  # CDS feedback database: never the user's state directory
    env = {"HIPDX_FEEDBACK_DB": os.path.join(state.name, "feedback.sqlite3"), **(env or {})}
    cmd = [sys.executable, "-m", "service.cli", "serve", "--host", HOST, "--port", str(port), "--workers", "1",
           *extra_args]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log, env={**os.environ, **(env or {})})
    try:
        loadtest.wait_ready(HOST, port, timeout=90, proc=proc)
        yield f"http://{HOST}:{port}"
    finally:
        stop_process(proc)
        log.close()
        state.cleanup()


def stop_process(proc: subprocess.Popen, timeout: float = 30) -> None:
    """SIGTERM, then SIGKILL if it has not exited within ``timeout`` seconds."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def chromium() -> Iterator[object]:
    """A headless Playwright ``Browser`` on Debian's chromium."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
