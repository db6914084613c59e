"""The production set-up: deploy/nginx/hipdx.conf (Debian's nginx) in front of `hipdx serve`, on
loopback. Every bad input gets problem+json with a request id, or a closed connection where HTTP
allows nothing else; slow clients do not stop service; the logs carry no request data."""

from __future__ import annotations

import json
import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from .nginx import nginx_in_front
from .raw import JSON_CT, exchange, request, wait_closed
from .test_errors import EVIDENCE, MIB, assert_problem
from .test_slow_clients import N_SLOW, STALLS, open_slow, probe

H = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"
P = b"POST /v1/diagnosis HTTP/1.1\r\nHost: 127.0.0.1\r\n" + JSON_CT
BIG = b" " * (MIB - len(EVIDENCE)) + EVIDENCE
BAD = {
    "request line GARBAGE": (b"GARBAGE\r\n\r\n", 400),
    "9 KB header": (H + b"X-Note: " + b"a" * 9 * 1024 + b"\r\n\r\n", 431),
    "101 headers": (H + b"".join(b"X-H%d: v\r\n" % i for i in range(101)) + b"Connection: close\r\n\r\n", 431),
    "10 KB URL": (b"GET /" + b"a" * 10 * 1024 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 414),
    "Content-Length -1": (P + b"Content-Length: -1\r\n\r\n", 400),
    "Content-Length with Transfer-Encoding": (P + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    "NUL in a header name": (H + b"X-Fo\x00o: 1\r\n\r\n", 400),
    "bad chunk size": (P + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n", 400),
    "chunked body over 1 MiB": (P + b"Transfer-Encoding: chunked\r\n\r\n%x\r\n" % len(BIG) + BIG + b"\r\n10\r\n" + b" " * 16
                                + b"\r\n0\r\n\r\n", 413),
    "Content-Length body over 1 MiB": (P + b"Content-Length: %d\r\n\r\n" % (MIB + 1) + BIG + b" ", 413),
    "gzip transfer coding": (P + b"Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501),
    "double slash": (b"GET /v1//model HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", 404),
}


@pytest.fixture(scope="module")
def nginx(prod_server, tmp_path_factory):
    with nginx_in_front(prod_server.port, Path(tmp_path_factory.mktemp("nginx"))) as ng:
        yield ng


def test_served_through_nginx(nginx, prod_server):
    data = request("POST", "/v1/diagnosis", EVIDENCE, JSON_CT + b"X-Request-ID: ehr-5\r\n")
    via, direct = exchange(nginx.port, data), exchange(prod_server.port, data)
    assert via.status == direct.status == 200
    assert via.headers["x-request-id"] == "ehr-5" and via.json() == direct.json()
    chunked = exchange(nginx.port, request("POST", "/v1/diagnosis", BIG, JSON_CT, chunked=True))
    assert chunked.status == 200 and chunked.json()["conditions"] == direct.json()["conditions"]


@pytest.mark.parametrize("name", list(BAD))
def test_bad_input_through_nginx(nginx, name):
    data, status = BAD[name]
    answer = exchange(nginx.port, data)
    assert_problem(answer, status)
    assert "server" not in answer.headers or "nginx/" not in answer.headers["server"]  # server_tokens off


def test_slow_clients_through_nginx(nginx):
    conns = open_slow(nginx.port, N_SLOW)
    try:
        time.sleep(0.5)
        with ThreadPoolExecutor(4) as pool:
            assert list(pool.map(lambda _: probe(nginx.port), range(10))) == [200] * 10
        closed = [wait_closed(sock, 45.0)[0] for _, sock in conns]
    finally:
        for _, sock in conns:
            sock.close()
    assert all(closed), f"{closed.count(False)} of {len(closed)} stalled connections still open"
    assert set(STALLS) == {"body", "chunked", "headers", "idle"}


def test_nginx_logs_carry_no_request_data(nginx, prod_server):
    secret = "zebra-secret-9182"
    s = secret.encode()
    for data in (H + b"X-" + s + b"\x00: 1\r\n\r\n", H + b"X-Note " + s + b"\r\n\r\n",
                 request("POST", "/v1/diagnosis?q=" + secret, b'{"evidence": {"sex": "' + s + b'"}}',
                         JSON_CT + b"X-Note: " + s + b"\r\n"),
                 P + b"Transfer-Encoding: chunked\r\n\r\n" + s + b"\r\n\r\n"):
        answer = exchange(nginx.port, data)
        assert answer is not None and answer.headers["content-type"] == "application/problem+json"
    time.sleep(1.0)
    logs = nginx.logs() + prod_server.log()
    assert secret not in logs
    lines = nginx.access_log.read_text().splitlines()
    assert lines and all(re.fullmatch(r"\S+ (-|[A-Z]+) \S+ \d{3} \d+\.\d{3}s id=\S+", line) for line in lines), lines[:5]
    assert any(" POST /v1/diagnosis 400 " in line for line in lines)
    assert json.loads(answer.body)["request_id"] in nginx.access_log.read_text()


def test_hipdx_down_is_a_503_problem(tmp_path):
    from service import loadtest

    dead = loadtest.free_port("127.0.0.1")  # nothing listens there
    with nginx_in_front(dead, tmp_path) as ng:
        answer = exchange(ng.port, request("GET", "/healthz"))
    body = assert_problem(answer, 503)
    assert body["detail"].startswith("hipdx is not answering")
