"""The gunicorn worker class of ``hipdx serve``: gevent, with timeouts for stalled clients.

Why gevent: each connection is a greenlet, so a client that sends its request slowly (or never
finishes it) holds a few kilobytes of memory, not a worker or a thread; gunicorn's ``gthread``
worker gives each connection being read a thread from a small pool, and ten stalled clients held
all of them. gevent is gunicorn's own slow-client worker (the ``gevent`` worker class; eventlet's
was removed) and pulls in only ``greenlet``, ``zope.event`` and ``zope.interface``.

What this class adds to gunicorn's ``GeventWorker``:

- a client socket timeout (``client_timeout`` seconds): a read or write that stalls that long
  fails, so a stalled body (see :mod:`service.serving.body`) or a client that never reads its
  response lets go of its greenlet; the header section must arrive within ``client_timeout`` too
  (gunicorn's per-request ``timeout_ctx``, otherwise its keep-alive idle time);
- parse errors (bad request line, oversized headers, bad framing headers...) answered as
  ``application/problem+json`` with an ``X-Request-ID`` instead of gunicorn's HTML page, and
  logged as ``- - <status> <ms> id=<id>``, never with the request's bytes.

Diagnoses are CPU-bound: the app runs in a few native threads per worker
(:mod:`service.serving.threads`), so the worker goes on reading and writing sockets meanwhile, as
``gthread`` did; diagnoses are one at a time per worker either way (the app's lock), so throughput
scales with workers.
"""

from __future__ import annotations

import logging
import socket
import time
import traceback
from typing import Any, ClassVar

from gunicorn import util
from gunicorn.workers.base_async import AsyncWorker
from gunicorn.workers.ggevent import GeventWorker
from gunicorn.workers.gthread import ThreadWorker

from .body import LINGER_KEY
from .problems import parse_problem, problem_body, raw_response, request_id

log = logging.getLogger("hipdx.serving")

LINGER_SECONDS = 2.0
LINGER_BYTES = 4 * 1024 * 1024


def linger(sock: Any, seconds: float = LINGER_SECONDS, max_bytes: int = LINGER_BYTES) -> None:
    """Half-close, then read and drop what the client still sends (at most ``seconds``, ``max_bytes``).

    Closing a socket with unread input sends a TCP reset, which can destroy a response the client
    has not read yet (RFC 9112 section 9.6: close in stages); nginx does the same (lingering_close)."""
    try:
        sock.shutdown(socket.SHUT_WR)
        end, got = time.monotonic() + seconds, 0
        while got < max_bytes and (left := end - time.monotonic()) > 0:
            sock.settimeout(left)
            data = sock.recv(65536)
            if not data:
                break
            got += len(data)
    except OSError:
        pass


def post_request(worker: Any, req: Any, environ: dict[str, Any], resp: Any) -> None:
    """gunicorn ``post_request`` hook: linger after a response that refused a body part-way (see :mod:`.body`)."""
    if environ.get(LINGER_KEY) and environ.get("gunicorn.socket") is not None:
        linger(environ["gunicorn.socket"])


class ProblemErrors:
    """Worker mixin: errors met outside the app answered as problem+json and logged without request data."""

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        """Answer an error met outside the app as problem+json (never HTML) and log it without request data."""
        started = time.perf_counter()
        status, slug, detail = parse_problem(exc)
        incoming = None
        if req is not None:
            incoming = next((v for k, v in getattr(req, "headers", []) if k.upper() == "X-REQUEST-ID"), None)
        rid = request_id(incoming)
        if status == 500:
            # Type and frames only: an exception's message may quote the request.
            stack = "\n".join(f"  {f.filename}:{f.lineno} in {f.name}" for f in traceback.extract_tb(exc.__traceback__))
            log.error("unhandled %s below the app id=%s\n%s", type(exc).__name__, rid, stack)
        method = getattr(req, "method", None) or "-"
        path = (getattr(req, "path", None) or "-")[:200] if req is not None else "-"
        body = problem_body(status, detail, rid, slug)
        try:
            util.write(client, raw_response(status, body, rid))
        except OSError:  # the client is gone
            pass
        else:
            linger(client)
        latency_ms = (time.perf_counter() - started) * 1000
        log.info("%s %s %s %.1fms id=%s", method, path, status, latency_ms, rid,
                 extra={"request_id": rid, "method": method, "path": path, "status": status,
                        "latency_ms": round(latency_ms, 2)})


class HipdxGeventWorker(ProblemErrors, GeventWorker):
    """gunicorn's gevent worker with client timeouts and problem+json parse errors (see the module doc)."""

    client_timeout: ClassVar[float] = 10.0  # set by service.serve before the workers fork

    def patch(self) -> None:
        from gevent import monkey
        from gevent import socket as gsocket

        # Not threads: the app runs in native threads (service.serving.threads), and the locks it made
        # before the fork (the model's, the response cache's) must stay native locks.
        monkey.patch_all(thread=False)
        self.sockets = [gsocket.socket(s.FAMILY, gsocket.SOCK_STREAM, fileno=s.sock.detach()) for s in self.sockets]

    def timeout_ctx(self) -> Any:
        import gevent

        # The header section of every request (the first one too) within client_timeout; gunicorn's
        # default is the keep-alive time, which also bounds idle kept-alive connections.
        return gevent.Timeout(max(self.cfg.keepalive, self.client_timeout), False)

    def handle(self, listener: Any, client: Any, addr: Any) -> None:
        # GeventWorker.handle makes the socket blocking without a timeout; a stall would then hold
        # its greenlet (and a file descriptor) forever. The header deadline (timeout_ctx) fires
        # first; this bounds body reads and response writes. One second later than the header
        # deadline so a stalled header section ends quietly, by that deadline.
        client.settimeout(self.client_timeout + 1.0)
        AsyncWorker.handle(self, listener, client, addr)


class HipdxThreadWorker(ProblemErrors, ThreadWorker):
    """gunicorn's gthread worker with problem+json parse errors; for comparison only (stalled clients hold its threads)."""
