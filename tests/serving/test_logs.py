"""The server's log (every layer: gunicorn, the serving layer, the app) carries method, path,
status, latency and request id; never header values, bodies, query strings or bytes of a bad request."""

from __future__ import annotations

import re
import time

from .raw import JSON_CT, exchange, request

SECRET = "zebra-secret-4471"
S = SECRET.encode()


def test_no_request_data_in_the_log(prod_server):
    port = prod_server.port
    sent = [
        b"GET /healthz HTTP/1.1\r\nHost: h\r\nX-" + S + b"\x00name: 1\r\n\r\n",                # NUL in a header name
        b"GET /healthz HTTP/1.1\r\nHost: h\r\nX-Note " + S + b"\r\n\r\n",                      # header line without colon
        b"GET /healthz HTTP/1.1\r\nHost: h\r\nX-Note: " + S * 600 + b"\r\n\r\n",                # header too large
        b"GET /healthz HTTP/1.1\r\nHost: h\r\nX-Note: " + S + b"\x01\r\n\r\n",                 # control byte in a value
        b"GET /" + S + b" HTTP/1.1 extra\r\n\r\n",                                             # bad request line
        S + b"\r\n\r\n",                                                                       # garbage
        b"POST /v1/diagnosis HTTP/1.1\r\nHost: h\r\n" + JSON_CT + b"Transfer-Encoding: chunked\r\n\r\n"
        + S + b"\r\n\r\n",                                                                     # bad chunk size
        request("POST", "/v1/diagnosis?note=" + SECRET, b'{"evidence": {"sex": "' + S + b'"}}', JSON_CT),
        request("GET", "/v1//model?q=" + SECRET, headers=b"X-Note: " + S + b"\r\n"),  # paths are logged, queries not
    ]
    ids = []
    for data in sent:
        answer = exchange(port, data)
        assert answer is not None and answer.headers["content-type"] == "application/problem+json", data[:60]
        ids.append(answer.headers["x-request-id"])
    time.sleep(1.0)  # log lines are written by the workers
    log = prod_server.log()
    assert SECRET not in log, [line for line in log.splitlines() if SECRET in line]
    assert "Invalid request from" not in log and "Traceback" not in log
    for rid in ids:
        lines = [line for line in log.splitlines() if f"id={rid}" in line]
        assert len(lines) == 1, (rid, lines)
        # "<method> <path> <status> <latency>ms id=<id>"; method and path are "-" when the request line is unreadable
        assert re.search(r"(-|GET|POST) \S+ [1-5]\d\d \d+\.\dms id=" + re.escape(rid) + "$", lines[0]), lines[0]
