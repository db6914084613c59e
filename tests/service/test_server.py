"""The real server: `hipdx serve` (gunicorn) on a free loopback port, called over HTTP, then
stopped with SIGTERM; plus a one-second `hipdx loadtest` against it."""

from __future__ import annotations

import argparse
import importlib
import json
import signal
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request

import pytest

from service import loadtest, serve

from .conftest import assert_close

HOST = "127.0.0.1"


def _serve_command(port: int) -> list[str]:
    """`hipdx serve` through the real CLI when it builds, else the serve module's own entry point."""
    try:
        importlib.import_module("service.cli").build_parser()
        head = [sys.executable, "-m", "service.cli", "serve"]
    except ImportError:  # another command module is not written yet
        head = [sys.executable, "-m", "service.serve"]
    return [*head, "--host", HOST, "--port", str(port), "--workers", "2", "--threads", "2", "--log-level", "info"]


@pytest.fixture(scope="module")
def server():
    port = loadtest.free_port(HOST)
    # The log goes to a file, not a pipe: an undrained pipe fills up and blocks the server.
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(_serve_command(port), stdout=subprocess.DEVNULL, stderr=log)
    proc.log = log
    try:
        loadtest.wait_ready(HOST, port, timeout=90, proc=proc)
        yield proc, port
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()


def _call(port: int, path: str, body: dict | None = None, headers: dict | None = None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"http://{HOST}:{port}{path}", data=data, headers={"Content-Type": "application/json",
                                                                                   **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


def test_real_server_over_http(server, model):
    proc, port = server
    status, headers, body = _call(port, "/healthz")
    assert status == 200 and json.loads(body)["model"]["version"] == model.version
    evidence = {"sex": "female", "age": 44, "pain_lateral_hip": "present"}
    status, headers, body = _call(port, "/v1/diagnosis", {"evidence": evidence}, {"X-Request-ID": "real-1"})
    assert status == 200 and headers["X-Request-ID"] == "real-1"
    got, expected = json.loads(body), json.loads(json.dumps(model.diagnose(evidence).to_dict()))
    assert set(got) == set(expected) and got["evidence"] == expected["evidence"] and got["triage"] == expected["triage"]
    # Another process may sum in another order: compare probabilities to 1e-9 (and so not the order of tied effects).
    assert_close([[c["id"], c["probability"], c["interval"]] for c in got["conditions"]],
                 [[c["id"], c["probability"], c["interval"]] for c in expected["conditions"]])
    status, headers, body = _call(port, "/v1/diagnosis", {"evidence": {"sex": "femal"}})
    assert status == 400 and headers["Content-Type"] == "application/problem+json"
    assert json.loads(body)["suggestion"] == "female"
    status, headers, body = _call(port, "/nowhere")
    assert status == 404 and headers["Content-Type"] == "application/problem+json"
    status, _, body = _call(port, "/docs")
    assert status == 200 and b"swagger-ui" in body
    status, _, body = _call(port, "/cds-services")
    assert status == 200 and json.loads(body)["services"]


def test_loadtest_against_real_server(server):
    _, port = server
    figures = loadtest.run_load(HOST, port, duration=1.0, concurrency=2, warmup=0.0, reasoning=False, api_key=None,
                                seed=1, rss_pid=loadtest.server_pid(port) or server[0].pid)
    assert figures["errors"] == 0 and figures["requests_ok"] > 0
    assert figures["server_rss_mib"]["start"] > 0
    assert "requests/s" in loadtest.report(figures)


def test_graceful_shutdown(server):
    proc, port = server
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
    proc.log.seek(0)
    log = proc.log.read().decode(errors="replace")
    assert "hipdx listening on" in log and "Handling signal: term" in log and "Shutting down" in log
    assert "POST /v1/diagnosis 200" in log and "real-1" in log
    assert "pain_lateral_hip" not in log and "female" not in log  # evidence never logged


def test_serve_arguments():
    parser = argparse.ArgumentParser()
    serve.add_arguments(parser)
    args = parser.parse_args(["--port", "9999", "--workers", "3"])
    opts = serve.gunicorn_options(args)
    assert opts["bind"] == "127.0.0.1:9999" and opts["workers"] == 3 and opts["preload_app"] is True
    # gevent by default (slow clients hold no worker); gunicorn's own log lines without request data
    assert opts["worker_class"] == "service.serving.worker.HipdxGeventWorker" and opts["accesslog"] is None
    assert opts["logger_class"] == "service.serving.logs.SafeLogger"
    gthread = serve.gunicorn_options(parser.parse_args(["--worker-class", "gthread"]))
    assert gthread["worker_class"] == "service.serving.worker.HipdxThreadWorker"
    assert serve.gunicorn_options(parser.parse_args(["--host", "::1"]))["bind"] == "[::1]:8000"


@pytest.mark.parametrize("url", ["http://10.1.2.3:8000", "http://192.168.0.1", "https://127.0.0.1:8000", "ftp://127.0.0.1"])
def test_loadtest_refuses_non_loopback(url, capsys):
    parser = argparse.ArgumentParser()
    loadtest.add_arguments(parser)
    assert loadtest.run(parser.parse_args(["--url", url, "--duration", "1"])) == 2


def test_loadtest_cases_are_valid(model):
    maker = loadtest.CaseMaker(json.loads(json.dumps(model.describe())), seed=3)
    cases = [maker.case() for _ in range(300)]
    for case in cases:
        model.diagnose(case, reasoning=False)  # raises EvidenceError if a case were malformed
    assert len({json.dumps(c, sort_keys=True) for c in cases}) == len(cases)
    assert any(k in c for c in cases for k in ("cannot_bear_weight", "fever", "deformity"))
    assert any("age" in c for c in cases) and any("age_band" in c for c in cases)
