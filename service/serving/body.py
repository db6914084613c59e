"""WSGI middleware that reads each request body in full, within limits, before the app sees it.

Why: a body arrives either with ``Content-Length`` or chunked (RFC 9112 section 7.1). The app's
limit (``MAX_CONTENT_LENGTH``) is checked against ``Content-Length`` only, and a malformed chunk
raised inside the app became a 500. Reading here, once, gives every framing the same answers:

- over ``max_bytes`` (declared or counted while reading chunks): 413;
- a malformed chunk (bad size, missing CRLF, bad extension, oversized trailer): 400;
- a transfer coding other than chunked (gunicorn passes gzip, deflate and compress through
  undecoded): 501;
- a client that stops sending (no bytes for the socket timeout, or the whole body not in
  ``deadline`` seconds): 408.

Each of these is ``application/problem+json`` with an ``X-Request-ID`` and closes the connection
(the rest of the body is never read: the next request's start is unknown). A body that was read in
full reaches the app as a ``BytesIO`` with its ``Content-Length``, whatever its framing.
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any

from gunicorn.http import errors as ge

from .problems import PROBLEM_JSON, problem_body, request_id

log = logging.getLogger("hipdx.serving")

READ_STEP = 64 * 1024
LINGER_KEY = "hipdx.linger"  # environ flag: the worker half-closes and drains before closing (see worker.linger)
StartResponse = Callable[..., Any]
FRAMING_ERRORS = (ge.InvalidChunkSize, ge.ChunkMissingTerminator, ge.InvalidChunkExtension, ge.InvalidHeader,
                  ge.LimitRequestHeaders, ge.NoMoreData)


class BodyTooLarge(Exception):
    """The body is over the limit (declared or counted)."""


class BodyTimeout(Exception):
    """The client stopped sending the body."""


class BufferedBody:
    """Wrap a WSGI app so it only ever sees complete, bounded request bodies.

    ``max_bytes``: the largest body accepted, in bytes (the app's own limit, 1 MiB for hipdx).
    ``deadline``: seconds allowed for a whole body to arrive; a single stalled read is bounded by
    the socket timeout the worker sets (see :mod:`service.serving.worker`).
    """

    def __init__(self, app: Callable[[dict, StartResponse], Iterable[bytes]], max_bytes: int, deadline: float = 30.0) -> None:
        self.app = app
        self.max_bytes = int(max_bytes)
        self.deadline = float(deadline)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        codings = [c.strip().lower() for c in environ.get("HTTP_TRANSFER_ENCODING", "").split(",") if c.strip()]
        if any(c != "chunked" for c in codings):  # gunicorn passes gzip/deflate/compress through undecoded
            return self._refuse(environ, start_response, 501, "unsupported-transfer-coding",
                                "the only transfer coding accepted is chunked", started)
        try:
            body = self.read_body(environ)
        except BodyTooLarge:
            return self._refuse(environ, start_response, 413, "", f"the body is over {self.max_bytes} bytes", started)
        except BodyTimeout:
            return self._refuse(environ, start_response, 408, "body-timeout",
                                "the request body did not arrive in time; send it whole and promptly", started)
        except FRAMING_ERRORS as exc:
            if isinstance(exc, ge.NoMoreData):  # the client closed mid-body: answered for the log, likely unread
                return self._refuse(environ, start_response, 400, "incomplete-body",
                                    "the connection ended before the whole body arrived", started)
            if isinstance(exc, ge.LimitRequestHeaders):
                return self._refuse(environ, start_response, 431, "header-fields-too-large",
                                    "the chunked body's trailer section is too large", started)
            return self._refuse(environ, start_response, 400, "malformed-chunk",
                                "the chunked body is malformed: each chunk is a hexadecimal size, CRLF, the data, "
                                "CRLF; a zero-size chunk ends it (RFC 9112 section 7.1)", started)
        if body is not None:
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
            environ.pop("HTTP_TRANSFER_ENCODING", None)
        return self.app(environ, start_response)

    def read_body(self, environ: dict[str, Any]) -> bytes | None:
        """The whole body, or None when the request has none. Raises BodyTooLarge, BodyTimeout or a gunicorn framing error."""
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        declared = environ.get("CONTENT_LENGTH") or ""
        if not chunked:
            if not declared.strip():
                return None
            try:
                length = int(declared)
            except ValueError:
                length = -1
            if length < 0:  # gunicorn refuses these before the app; another server might not
                raise ge.InvalidHeader("CONTENT-LENGTH")
            if length > self.max_bytes:
                raise BodyTooLarge
            if length == 0:
                return b""
        stream = environ["wsgi.input"]
        end = time.monotonic() + self.deadline
        parts, size = [], 0
        while True:
            try:
                piece = stream.read(READ_STEP)
            except TimeoutError:
                raise BodyTimeout from None
            if not piece:
                break
            size += len(piece)
            if size > self.max_bytes:
                raise BodyTooLarge
            parts.append(piece)
            if time.monotonic() > end:
                raise BodyTimeout
        if not chunked and size < int(declared):  # the client closed early
            raise ge.NoMoreData(b"")
        return b"".join(parts)

    def _refuse(self, environ: dict[str, Any], start_response: StartResponse, status: int, slug: str, detail: str,
                started: float) -> list[bytes]:
        rid = request_id(environ.get("HTTP_X_REQUEST_ID"))
        path = (environ.get("PATH_INFO") or "/")[:200]
        body = problem_body(status, detail, rid, slug, instance=path)
        _force_close(start_response)
        environ[LINGER_KEY] = True
        start_response(f"{status} {HTTPStatus(status).phrase}",
                       [("Content-Type", PROBLEM_JSON), ("Content-Length", str(len(body))), ("X-Request-ID", rid),
                        ("X-Content-Type-Options", "nosniff"), ("Cache-Control", "no-store")])
        latency_ms = (time.perf_counter() - started) * 1000
        method = environ.get("REQUEST_METHOD", "-")
        log.info("%s %s %s %.1fms id=%s", method, path, status, latency_ms, rid,
                 extra={"request_id": rid, "method": method, "path": path, "status": status,
                        "latency_ms": round(latency_ms, 2)})
        return [body]


def _force_close(start_response: StartResponse) -> None:
    """Close the connection after this response: the body was not (fully) read, so the next request's start is unknown.

    gunicorn drops a ``Connection`` header set by the app (hop-by-hop, PEP 3333), but its
    ``start_response`` is a method of the response object, whose ``force_close()`` does this."""
    force = getattr(getattr(start_response, "__self__", None), "force_close", None)
    if callable(force):
        force()
