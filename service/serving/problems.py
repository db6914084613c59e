"""Problem details (RFC 9457) for errors raised below Flask, where no Flask response exists.

gunicorn's parser errors carry the offending bytes in their message (a header line, the request
line); none of that is echoed: each error class maps to a fixed sentence. Every response carries an
``X-Request-ID`` (the client's when it is sane, else a new one) and closes the connection, since the
parser's position in the byte stream is lost after a framing error (RFC 9112 section 9.6).
"""

from __future__ import annotations

import json
import re
import uuid
from http import HTTPStatus

from gunicorn.http import errors as ge

PROBLEM_JSON = "application/problem+json"
URN = "urn:hipdx:problem:"
# Same rule as the app's request ids (service.http.REQUEST_ID): anything else is replaced.
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,128}$")

# (status, slug, detail) by gunicorn parser error; checked in order (subclasses first).
PARSE_ERRORS: tuple[tuple[type[BaseException], int, str, str], ...] = (
    (ge.LimitRequestLine, 414, "uri-too-long", "the request line is longer than the server accepts (limit_request_line)"),
    (ge.LimitRequestHeaders, 431, "header-fields-too-large",
     "too many header fields, or a header field longer than the server accepts"),
    (ge.InvalidRequestLine, 400, "malformed-request-line", "the request line is not 'METHOD /path HTTP/1.1'"),
    (ge.InvalidRequestMethod, 400, "malformed-request-line", "the request method is not a valid token"),
    (ge.InvalidHTTPVersion, 400, "malformed-request-line", "the HTTP version is not supported (HTTP/1.0 or HTTP/1.1)"),
    (ge.InvalidHeaderName, 400, "malformed-header", "a header field name is not a token (RFC 9110 section 5.1)"),
    (ge.ObsoleteFolding, 400, "malformed-header", "obsolete line folding in a header field (RFC 9112 section 5.2)"),
    (ge.UnsupportedTransferCoding, 501, "unsupported-transfer-coding", "the only transfer coding accepted is chunked"),
    (ge.InvalidChunkSize, 400, "malformed-chunk", "a chunk size is not a hexadecimal number (RFC 9112 section 7.1)"),
    (ge.ChunkMissingTerminator, 400, "malformed-chunk", "a chunk does not end with CRLF (RFC 9112 section 7.1)"),
    (ge.InvalidChunkExtension, 400, "malformed-chunk", "a chunk extension is malformed (RFC 9112 section 7.1.1)"),
    (ge.ExpectationFailed, 417, "expectation-failed", "the only expectation supported is 100-continue"),
    (ge.ForbiddenProxyRequest, 403, "forbidden-proxy", "PROXY protocol lines are not accepted from this address"),
    (ge.InvalidProxyLine, 400, "malformed-proxy-line", "the PROXY protocol line is malformed"),
    (ge.InvalidProxyHeader, 400, "malformed-proxy-line", "the PROXY protocol header is malformed"),
    (ge.InvalidSchemeHeaders, 400, "malformed-header", "contradictory scheme headers"),
    (ge.InvalidH2CPreface, 400, "malformed-request-line", "the HTTP/2 connection preface is malformed"),
    (ge.InvalidHeader, 400, "malformed-header",
     "a header field is malformed: an invalid value, a Content-Length that is not a single non-negative number, "
     "or Content-Length together with Transfer-Encoding (RFC 9112 section 6.3)"),
    (ge.ParseException, 400, "malformed-request", "the request is not valid HTTP/1.1"),
)


def request_id(incoming: str | None = None) -> str:
    """The client's ``X-Request-ID`` when it is sane (1-128 of ``[A-Za-z0-9._:@/+=-]``), else a new uuid4 hex."""
    return incoming if incoming and REQUEST_ID.match(incoming) else uuid.uuid4().hex


def parse_problem(exc: BaseException) -> tuple[int, str, str]:
    """(status, slug, detail) for a gunicorn parse error; ``(500, "", ...)`` for anything else."""
    for cls, status, slug, detail in PARSE_ERRORS:
        if isinstance(exc, cls):
            return status, slug, detail
    return 500, "", "unexpected error; quote the request id when reporting it"


def problem_body(status: int, detail: str, rid: str, slug: str = "", instance: str | None = None) -> bytes:
    """An RFC 9457 body: ``type`` is ``about:blank`` for generic statuses, ``urn:hipdx:problem:<slug>`` otherwise."""
    body = {"type": f"{URN}{slug}" if slug else "about:blank", "title": HTTPStatus(status).phrase, "status": status,
            "detail": detail}
    if instance:
        body["instance"] = instance
    body["request_id"] = rid
    return json.dumps(body).encode()


def raw_response(status: int, body: bytes, rid: str) -> bytes:
    """A whole HTTP/1.1 response that closes the connection (for errors met before any WSGI response)."""
    head = (f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
            f"Content-Type: {PROBLEM_JSON}\r\nContent-Length: {len(body)}\r\nX-Request-ID: {rid}\r\n"
            "X-Content-Type-Options: nosniff\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n")
    return head.encode("latin-1") + body
