"""The production server for these tests: ``hipdx serve`` with its defaults (as ``make serve`` runs it)."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from service import loadtest

from ..browser import stop_process

HOST = "127.0.0.1"


@dataclass
class Server:
    port: int
    proc: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start(*extra: str) -> tuple[subprocess.Popen, int, Path]:
    port = loadtest.free_port(HOST)
    log_path = Path(tempfile.mkstemp(prefix="hipdx-serve-", suffix=".log")[1])
    # Only the port and host differ from `make serve` (workers 2 = the Makefile's default).
    cmd = [sys.executable, "-m", "service.cli", "serve", "--host", HOST, "--port", str(port), "--workers", "2",
           "--log-level", "info", *extra]
    with open(log_path, "wb") as log:  # a file, not a pipe: an undrained pipe blocks the server
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log)
    try:
        loadtest.wait_ready(HOST, port, timeout=90, proc=proc)
    except Exception:
        stop(proc)
        raise
    return proc, port, log_path


stop = stop_process  # SIGTERM, then SIGKILL after 30 s (tests/browser.py)


@pytest.fixture(scope="session")
def prod_server() -> Iterator[Server]:
    """One ``hipdx serve`` (default worker class and timeouts) for the serving tests; stopped after."""
    proc, port, log_path = start()
    try:
        yield Server(port, proc, log_path)
    finally:
        stop(proc)
        log_path.unlink(missing_ok=True)
