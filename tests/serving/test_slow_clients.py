"""Slow and stalled clients cannot deny service, and stalled requests time out (real server,
defaults of `hipdx serve`: client timeout 10 s). Asserts what is answered, never how fast."""

from __future__ import annotations

import json
import socket
import time
from concurrent.futures import ThreadPoolExecutor

from .raw import JSON_CT, connect, exchange, request, wait_closed

EVIDENCE = json.dumps({"evidence": {"sex": "male", "age": 35, "pain_groin": "present", "worse_twisting": "present"}}).encode()
HEAD = b"POST /v1/diagnosis HTTP/1.1\r\nHost: h\r\n" + JSON_CT
STALLS = {
    # headers sent, then 6 of the 100 body bytes declared
    "body": HEAD + b"Content-Length: 100\r\n\r\n" + b'{"evid',
    # a chunk announced (0x64 = 100 bytes), 6 sent, never finished
    "chunked": HEAD + b"Transfer-Encoding: chunked\r\n\r\n64\r\n" + b'{"evid',
    # the header section never ends
    "headers": b"POST /v1/diagnosis HTTP/1.1\r\nHost: h\r\nContent-Ty",
    # connected, nothing sent
    "idle": b"",
}
N_SLOW = 50
TIMEOUT_BOUND = 45.0  # client timeout 10 s (+1 s for a stalled read) + lingering, with a wide margin


def open_slow(port: int, n: int) -> list[tuple[str, socket.socket]]:
    kinds = list(STALLS)
    conns = []
    for i in range(n):
        kind = kinds[i % len(kinds)]
        sock = connect(port)
        if STALLS[kind]:
            sock.sendall(STALLS[kind])
        conns.append((kind, sock))
    return conns


def probe(port: int) -> int:
    answer = exchange(port, request("POST", "/v1/diagnosis", EVIDENCE, JSON_CT), timeout=60)
    return answer.status if answer else -1


def test_fifty_stalled_connections_do_not_stop_service(prod_server):
    port = prod_server.port
    conns = open_slow(port, N_SLOW)
    opened = time.monotonic()
    try:
        time.sleep(0.5)  # the stalls are in place (accepted and read) before the probes
        with ThreadPoolExecutor(4) as pool:
            statuses = list(pool.map(lambda _: probe(port), range(10)))
        assert statuses == [200] * 10
        # Every stalled request times out: the server closes each connection by itself.
        results = {}
        for kind, sock in conns:
            closed, sent = wait_closed(sock, max(1.0, TIMEOUT_BOUND - (time.monotonic() - opened)))
            results.setdefault(kind, []).append((closed, sent))
    finally:
        for _, sock in conns:
            sock.close()
    for kind, got in results.items():
        assert all(closed for closed, _ in got), f"{kind}: {sum(not c for c, _ in got)} stalled connections still open"
    # A stalled body (its headers were read) gets a 408 problem; a stalled header section or an idle
    # connection is closed without a response (RFC 9112 section 9.5 allows nothing more there).
    for kind in ("body", "chunked"):
        for _, sent in results[kind]:
            head, _, body = sent.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 408 "), head[:80]
            assert b"application/problem+json" in head and b"X-Request-ID: " in head
            assert json.loads(body)["status"] == 408
    for kind in ("headers", "idle"):
        assert all(sent == b"" for _, sent in results[kind])
    assert probe(port) == 200  # and the server is still serving
