"""The serving pieces on their own: the body buffer (limits, framing, deadline), the problem
mapping of gunicorn's parse errors, and the log filter. No server needed."""

from __future__ import annotations

import json
import logging

import pytest
from gunicorn.http import errors as ge

from service.serving import problems
from service.serving.body import LINGER_KEY, BufferedBody
from service.serving.logs import SafeLogger


def echo_app(environ, start_response):
    body = environ["wsgi.input"].read()
    start_response("200 OK", [("Content-Type", "text/plain"), ("X-Seen-Length", environ.get("CONTENT_LENGTH", ""))])
    return [body]


class Recorder:
    def __init__(self):
        self.closed = False

    def force_close(self):
        self.closed = True

    def start_response(self, status, headers):
        self.status, self.headers = status, dict(headers)


def call(mw, environ):
    rec = Recorder()
    environ.setdefault("REQUEST_METHOD", "POST")
    environ.setdefault("PATH_INFO", "/v1/diagnosis")
    body = b"".join(mw(environ, rec.start_response))
    return rec, body


class Stream:
    """A wsgi.input that yields the given pieces (an exception instance is raised when reached)."""

    def __init__(self, *pieces, clock=None, step=0.0):
        self.pieces, self.clock, self.step = list(pieces), clock, step

    def read(self, n):
        if self.clock is not None:
            self.clock[0] += self.step
        if not self.pieces:
            return b""
        piece = self.pieces.pop(0)
        if isinstance(piece, BaseException):
            raise piece
        return piece


def test_chunked_body_is_buffered_with_its_length():
    rec, body = call(BufferedBody(echo_app, 100), {"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input": Stream(b"ab", b"cd")})
    assert rec.status == "200 OK" and body == b"abcd" and rec.headers["X-Seen-Length"] == "4" and not rec.closed


@pytest.mark.parametrize("environ", [
    {"CONTENT_LENGTH": "101", "wsgi.input": Stream(b"x" * 101)},
    {"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input": Stream(b"x" * 60, b"x" * 41)},
])
def test_over_the_limit_is_413_and_closes(environ):
    rec, body = call(BufferedBody(echo_app, 100), environ)
    problem = json.loads(body)
    assert rec.status.startswith("413") and rec.headers["Content-Type"] == "application/problem+json"
    assert problem["status"] == 413 and problem["request_id"] == rec.headers["X-Request-ID"] and rec.closed
    assert problem["detail"] == "the body is over 100 bytes"


def test_exactly_the_limit_is_accepted():
    rec, body = call(BufferedBody(echo_app, 100), {"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input": Stream(b"x" * 100)})
    assert rec.status == "200 OK" and body == b"x" * 100


def test_malformed_chunk_is_400_and_lingers():
    environ = {"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input": Stream(b"ab", ge.InvalidChunkSize(b"zz"))}
    rec, body = call(BufferedBody(echo_app, 100), environ)
    assert rec.status.startswith("400") and json.loads(body)["type"] == "urn:hipdx:problem:malformed-chunk"
    assert b"zz" not in body and environ[LINGER_KEY] is True and rec.closed


def test_stalled_read_is_408():
    rec, body = call(BufferedBody(echo_app, 100), {"CONTENT_LENGTH": "50", "wsgi.input": Stream(b"ab", TimeoutError())})
    assert rec.status.startswith("408") and json.loads(body)["status"] == 408


def test_drip_fed_body_hits_the_deadline(monkeypatch):
    clock = [0.0]
    monkeypatch.setattr("service.serving.body.time.monotonic", lambda: clock[0])
    stream = Stream(*[b"x"] * 50, clock=clock, step=1.0)  # one byte a second, never stalling long enough
    rec, _ = call(BufferedBody(echo_app, 100, deadline=30), {"CONTENT_LENGTH": "50", "wsgi.input": stream})
    assert rec.status.startswith("408") and clock[0] == pytest.approx(31.0)


def test_client_request_id_is_kept_when_sane():
    env = {"CONTENT_LENGTH": "500", "wsgi.input": Stream(), "HTTP_X_REQUEST_ID": "ehr-9:1"}
    rec, body = call(BufferedBody(echo_app, 100), env)
    assert rec.headers["X-Request-ID"] == "ehr-9:1" == json.loads(body)["request_id"]
    rec, _ = call(BufferedBody(echo_app, 100), {**env, "HTTP_X_REQUEST_ID": "<bad id>"})
    assert len(rec.headers["X-Request-ID"]) == 32


def test_undecoded_transfer_coding_is_501():
    rec, _ = call(BufferedBody(echo_app, 100), {"HTTP_TRANSFER_ENCODING": "gzip, chunked", "wsgi.input": Stream(b"x")})
    assert rec.status.startswith("501")


def test_no_body_passes_through_untouched():
    seen = {}

    def app(environ, start_response):
        seen.update(environ)
        start_response("204 No Content", [])
        return []

    stream = Stream()
    rec, _ = call(BufferedBody(app, 100), {"REQUEST_METHOD": "GET", "wsgi.input": stream})
    assert rec.status == "204 No Content" and seen["wsgi.input"] is stream


@pytest.mark.parametrize(("exc", "status"), [
    (ge.LimitRequestLine(10000, 4094), 414),
    (ge.LimitRequestHeaders("limit request headers fields"), 431),
    (ge.InvalidRequestLine("GARBAGE"), 400),
    (ge.InvalidHeaderName("X-\x00"), 400),
    (ge.InvalidHeader("CONTENT-LENGTH"), 400),
    (ge.UnsupportedTransferCoding("x"), 501),
    (ge.InvalidChunkSize(b"zz"), 400),
    (RuntimeError("boom"), 500),
])
def test_parse_errors_map_to_statuses_without_echoing(exc, status):
    got, _, detail = problems.parse_problem(exc)
    assert got == status
    for leak in ("GARBAGE", "X-\x00", "zz", "boom"):
        assert leak not in detail


def test_raw_response_is_a_complete_closing_problem():
    body = problems.problem_body(400, "bad", "rid-1", "malformed-header")
    raw = problems.raw_response(400, body, "rid-1")
    head, _, rest = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 Bad Request\r\n") and b"Connection: close" in head
    assert b"Content-Length: %d" % len(rest) in head and json.loads(rest)["request_id"] == "rid-1"


@pytest.fixture
def safe_logger():
    logger = SafeLogger.__new__(SafeLogger)  # gunicorn's set-up (handlers from its config) is not needed here
    logger.error_log = logging.getLogger("test.safe")
    logger.error_log.setLevel(logging.DEBUG)
    return logger


def test_safe_logger_drops_exception_text(safe_logger, caplog):
    secret = "zebra-secret"
    with caplog.at_level(logging.DEBUG, logger="test.safe"):
        safe_logger.debug("Ignored premature client disconnection. %s", ge.NoMoreData(secret.encode()))
        safe_logger.info("Listening at: %s (%s)", "http://127.0.0.1:1", 42)
        try:
            raise ValueError(f"bad header {secret}")
        except ValueError:
            safe_logger.exception("Error handling request %s", "/v1/diagnosis")
        safe_logger.error(ge.InvalidHeader(secret))
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert secret not in text
    assert "Ignored premature client disconnection. <NoMoreData>" in text
    assert "Listening at: http://127.0.0.1:1 (42)" in text
    assert "Error handling request /v1/diagnosis (ValueError)" in text and "test_units.py" in text
    assert all(r.exc_info is None for r in caplog.records)


def test_app_threads_run_the_app_in_a_native_thread_and_collect_it():
    import threading

    from service.serving.threads import AppThreads

    seen = {}

    class Result(list):
        closed = False

        def close(self):
            Result.closed = True

    def app(environ, start_response):
        seen["thread"] = threading.get_ident()
        start_response("200 OK", [("X-A", "1")])
        return Result([b"a", b"b"])

    rec = Recorder()
    out = AppThreads(app, 2)({}, rec.start_response)
    assert out == [b"a", b"b"] and type(out) is list and Result.closed
    assert seen["thread"] != threading.get_ident() and rec.status == "200 OK"


def test_body_cut_short_is_400():
    rec, body = call(BufferedBody(echo_app, 100), {"CONTENT_LENGTH": "50", "wsgi.input": Stream(b"ab")})
    assert rec.status.startswith("400") and json.loads(body)["type"] == "urn:hipdx:problem:incomplete-body" and rec.closed
