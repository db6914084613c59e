"""Run the WSGI app in a few native threads of each gevent worker (``hipdx serve --threads``).

The gevent worker reads and writes every connection in greenlets of one thread; a diagnosis is
CPU-bound (numpy), so run there it would also stop all socket work of that worker for its
duration. Handing the app call to a small native thread pool (gevent's ``ThreadPool``) lets the
worker go on accepting, reading and writing while a diagnosis runs, as gunicorn's ``gthread``
worker did. Only buffered work crosses over: the body is already a ``BytesIO``
(:class:`service.serving.body.BufferedBody` runs before, in the greenlet), ``start_response``
only records headers, and the response is collected into a list in the thread; no gevent socket
is touched from a native thread. The pool is made per process, after the fork.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

StartResponse = Callable[..., Any]


def _call_app(app: Callable[..., Iterable[bytes]], environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
    result = app(environ, start_response)
    try:
        return list(result)
    finally:
        close = getattr(result, "close", None)
        if callable(close):
            close()


class AppThreads:
    """WSGI app wrapper: ``app(environ, start_response)`` runs in one of ``size`` native threads."""

    def __init__(self, app: Callable[..., Iterable[bytes]], size: int) -> None:
        self.app = app
        self.size = max(1, int(size))
        self._pool: Any = None
        self._pid: int | None = None

    def pool(self) -> Any:
        if self._pool is None or self._pid != os.getpid():  # a pool's threads do not survive a fork
            from gevent.threadpool import ThreadPool

            self._pool, self._pid = ThreadPool(self.size), os.getpid()
        return self._pool

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        return self.pool().apply(_call_app, (self.app, environ, start_response))
