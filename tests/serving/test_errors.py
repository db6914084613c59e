"""Every malformed request, sent with raw sockets to the real server, gets problem+json with a
request id (or, where HTTP allows nothing else, a closed connection); never an HTML page."""

from __future__ import annotations

import json

import pytest

from .raw import JSON_CT, exchange, request

EVIDENCE = json.dumps({"evidence": {"sex": "female", "age": 44, "pain_lateral_hip": "present"}}).encode()
MIB = 1024 * 1024


def assert_problem(answer, status: int, slug: str | None = None) -> dict:
    assert answer is not None, "the server closed the connection without an answer"
    assert answer.status == status, (answer.status, answer.body[:300])
    assert answer.headers["content-type"] == "application/problem+json"
    body = answer.json()
    assert body["status"] == status and body["title"] and body["detail"]
    assert body["request_id"] == answer.headers["x-request-id"] and len(answer.headers["x-request-id"]) >= 8
    if slug:
        assert body["type"] == f"urn:hipdx:problem:{slug}"
    assert b"<html" not in answer.body.lower()
    return body


HEADER_LINE = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"
PARSE_ERRORS = {
    "request line GARBAGE": (b"GARBAGE\r\n\r\n", 400, "malformed-request-line"),
    "9 KB header": (HEADER_LINE + b"X-Note: " + b"q" * 9 * 1024 + b"\r\n\r\n", 431, "header-fields-too-large"),
    "101 headers": (HEADER_LINE + b"".join(b"X-H%d: v\r\n" % i for i in range(101)) + b"\r\n", 431,
                    "header-fields-too-large"),
    "10 KB URL": (b"GET /" + b"q" * 10 * 1024 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 414, "uri-too-long"),
    "Content-Length -1": (b"POST /v1/diagnosis HTTP/1.1\r\nHost: h\r\n" + JSON_CT + b"Content-Length: -1\r\n\r\n", 400,
                          "malformed-header"),
    "Content-Length with Transfer-Encoding": (
        b"POST /v1/diagnosis HTTP/1.1\r\nHost: h\r\n" + JSON_CT
        + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, "malformed-header"),
    "NUL in a header name": (HEADER_LINE + b"X-Fo\x00o: 1\r\n\r\n", 400, "malformed-header"),
    "unknown transfer coding": (b"POST /v1/diagnosis HTTP/1.1\r\nHost: h\r\n" + JSON_CT
                                + b"Transfer-Encoding: x-zebra, chunked\r\n\r\n0\r\n\r\n", 501, "unsupported-transfer-coding"),
    "gzip transfer coding (not decoded)": (b"POST /v1/diagnosis HTTP/1.1\r\nHost: h\r\n" + JSON_CT
                                           + b"Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501,
                                           "unsupported-transfer-coding"),
}


@pytest.mark.parametrize("name", list(PARSE_ERRORS))
def test_parse_errors_are_problems_and_close(prod_server, name):
    data, status, slug = PARSE_ERRORS[name]
    answer = exchange(prod_server.port, data)
    body = assert_problem(answer, status, slug)
    assert answer.headers["connection"] == "close" and answer.closed
    # the request is never echoed ("q" is not a hex digit, so a generated request id cannot hold "qqqq")
    assert b"qqqq" not in answer.body and "X-Fo" not in body["detail"]


def test_client_request_id_kept_on_parse_errors(prod_server):
    data = HEADER_LINE + b"X-Request-ID: ehr-77.a\r\n" + b"X-Fo\x00o: 1\r\n\r\n"
    answer = exchange(prod_server.port, data)
    assert_problem(answer, 400)
    # The request id header came before the bad one, but gunicorn stops parsing there: a new id is fine,
    # the client's is fine; what matters is that header and body agree (checked above).
    assert answer.headers["x-request-id"]


def test_double_slash_is_a_problem_not_a_redirect(prod_server):
    answer = exchange(prod_server.port, request("GET", "/v1//model"))
    body = assert_problem(answer, 404)
    assert "location" not in answer.headers and body["instance"] == "/v1//model"


def test_chunked_body_over_the_limit_is_413_like_content_length(prod_server):
    # 1 MiB of valid JSON (padded with white space), then more bytes.
    body = b" " * (MIB - len(EVIDENCE)) + EVIDENCE
    assert len(body) == MIB
    over = body + b" " * 16
    with_length = exchange(prod_server.port, request("POST", "/v1/diagnosis", over, JSON_CT))
    assert_problem(with_length, 413)
    head = b"POST /v1/diagnosis HTTP/1.1\r\nHost: h\r\n" + JSON_CT + b"Transfer-Encoding: chunked\r\n\r\n"
    chunked = head + b"%x\r\n" % len(body) + body + b"\r\n10\r\n" + b" " * 16 + b"\r\n0\r\n\r\n"
    answer = exchange(prod_server.port, chunked)
    assert_problem(answer, 413)
    assert answer.closed
    # Many small chunks add up too.
    pieces = b"".join(b"4000\r\n" + b" " * 0x4000 + b"\r\n" for _ in range(MIB // 0x4000 + 1))
    assert_problem(exchange(prod_server.port, head + pieces + b"0\r\n\r\n"), 413)


def test_chunked_body_at_the_limit_is_served(prod_server, model):
    body = b" " * (MIB - len(EVIDENCE)) + EVIDENCE
    answer = exchange(prod_server.port, request("POST", "/v1/diagnosis", body, JSON_CT, chunked=True))
    assert answer.status == 200, answer.body[:300]
    got = answer.json()
    expected = model.diagnose(json.loads(EVIDENCE)["evidence"]).to_dict()
    assert got["evidence"] == json.loads(json.dumps(expected["evidence"]))
    assert [c["id"] for c in got["conditions"]][:3] == [c["id"] for c in expected["conditions"]][:3]


@pytest.mark.parametrize("framing", [
    b"zz\r\nabc\r\n0\r\n\r\n",              # chunk size not hexadecimal
    b"3\r\nabcXX0\r\n\r\n",                  # chunk data not followed by CRLF
    b"3;bad ext=\x01\r\nabc\r\n0\r\n\r\n",   # malformed chunk extension
    b"-3\r\nabc\r\n0\r\n\r\n",               # negative size
])
def test_malformed_chunk_is_400(prod_server, framing):
    data = b"POST /v1/diagnosis HTTP/1.1\r\nHost: h\r\n" + JSON_CT + b"Transfer-Encoding: chunked\r\n\r\n" + framing
    answer = exchange(prod_server.port, data)
    assert_problem(answer, 400, "malformed-chunk")
    assert answer.closed


def test_keep_alive_survives_a_good_chunked_request(prod_server):
    from .raw import connect, read_answer

    with connect(prod_server.port) as sock:
        sock.sendall(request("POST", "/v1/diagnosis", EVIDENCE, JSON_CT, chunked=True, close=False))
        first = read_answer(sock)
        sock.sendall(request("GET", "/healthz"))
        second = read_answer(sock)
    assert first.status == 200 and not first.closed and second.status == 200


def test_body_cut_short_is_400(prod_server):
    import socket

    from .raw import connect, read_answer

    with connect(prod_server.port) as sock:
        sock.sendall(b"POST /v1/diagnosis HTTP/1.1\r\nHost: h\r\n" + JSON_CT + b'Content-Length: 100\r\n\r\n{"evid')
        sock.shutdown(socket.SHUT_WR)  # the client is done sending: 94 bytes short
        answer = read_answer(sock)
    assert_problem(answer, 400, "incomplete-body")
