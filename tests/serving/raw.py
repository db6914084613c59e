"""Raw HTTP/1.1 over loopback sockets: send exact bytes (malformed ones too), read one response."""

from __future__ import annotations

import http.client
import json
import socket
import time
from dataclasses import dataclass
from typing import Any

HOST = "127.0.0.1"
JSON_CT = b"Content-Type: application/json\r\n"


@dataclass
class Answer:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes
    closed: bool  # the server closed the connection after the response

    def json(self) -> Any:
        return json.loads(self.body)


def connect(port: int, timeout: float = 20.0) -> socket.socket:
    return socket.create_connection((HOST, port), timeout=timeout)


def read_answer(sock: socket.socket, timeout: float = 20.0) -> Answer | None:
    """One response from ``sock`` (None when the server closed without one); then whether it closed."""
    sock.settimeout(timeout)
    resp = http.client.HTTPResponse(sock)
    try:
        resp.begin()
    except (http.client.RemoteDisconnected, ConnectionResetError):
        return None
    body = resp.read()
    headers = {k.lower(): v for k, v in resp.getheaders()}
    closed = False
    if headers.get("connection", "").lower() == "close":
        sock.settimeout(5)
        try:
            closed = sock.recv(1) == b""
        except ConnectionResetError:
            closed = True
    return Answer(resp.status, headers, body, closed)


def exchange(port: int, data: bytes, timeout: float = 20.0) -> Answer | None:
    """Send ``data`` on a fresh connection and read one response."""
    with connect(port, timeout) as sock:
        try:
            sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered before reading everything: the answer is still there
        return read_answer(sock, timeout)


def wait_closed(sock: socket.socket, timeout: float) -> tuple[bool, bytes]:
    """(closed by the server within ``timeout`` s, bytes it sent before closing)."""
    end, got = time.monotonic() + timeout, b""
    while (left := end - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            data = sock.recv(65536)
        except TimeoutError:
            return False, got
        except ConnectionResetError:
            return True, got
        if not data:
            return True, got
        got += data
    return False, got


def request(method: str, path: str, body: bytes | None = None, headers: bytes = b"", chunked: bool = False,
            close: bool = True) -> bytes:
    """Well-formed request bytes (``chunked``: the body as one chunk and the last chunk)."""
    head = f"{method} {path} HTTP/1.1\r\nHost: {HOST}\r\n".encode() + headers
    if close:
        head += b"Connection: close\r\n"
    if body is None:
        return head + b"\r\n"
    if chunked:
        return head + b"Transfer-Encoding: chunked\r\n\r\n" + b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n"
    return head + b"Content-Length: %d\r\n\r\n" % len(body) + body
