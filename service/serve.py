"""``hipdx serve``: the HTTP service under gunicorn (never Flask's development server).

The app (and so the model) is built once in the gunicorn master with ``preload_app=True``, before
any worker exists; workers fork with the model already loaded and warmed up, so no request ever
waits for it, start-up costs one model load whatever the number of workers, and a broken priors
directory stops the server before it binds.

Slow clients: workers are gevent (:class:`service.serving.worker.HipdxGeventWorker`): one greenlet
per connection, so stalled or slow connections hold no worker; a request's header section and
body must each arrive within ``--client-timeout`` seconds of stalling. Every request body is read in
full (at most 1 MiB, however it is framed) before the app sees it
(:class:`service.serving.body.BufferedBody`). Errors raised below Flask are problem+json, and
gunicorn's own log lines never quote a request (:class:`service.serving.logs.SafeLogger`).
The app itself runs in ``--threads`` native threads per worker
(:class:`service.serving.threads.AppThreads`); diagnoses run one at a time per worker, so throughput
scales with workers.

``--worker-class gthread`` runs gunicorn's threaded worker instead, for comparison only: a few
stalled connections occupy all its threads.

SIGTERM and SIGINT both shut down gracefully: in-flight requests finish (up to
``--graceful-timeout`` seconds), then the workers and the master exit.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from typing import Any

WORKER_CLASSES = ("gevent", "gthread")
# By name: importing them pulls in gevent and ssl, which must wait for gevent's monkey-patching.
GEVENT_WORKER = "service.serving.worker.HipdxGeventWorker"
THREAD_WORKER = "service.serving.worker.HipdxThreadWorker"
SAFE_LOGGER = "service.serving.logs.SafeLogger"
LIMIT_REQUEST_LINE = 4094  # gunicorn's defaults, stated: 414 past the line, 431 past the fields
LIMIT_REQUEST_FIELDS = 100
LIMIT_REQUEST_FIELD_SIZE = 8190


def default_workers() -> int:
    return max(1, os.cpu_count() or 1)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default: 8000; 0 picks a free one)")
    p.add_argument("--workers", type=int, default=default_workers(), help="worker processes (default: CPU count)")
    p.add_argument("--worker-class", choices=WORKER_CLASSES, default="gevent",
                   help="gevent (default: slow clients hold no worker) or gthread (for comparison only)")
    p.add_argument("--worker-connections", type=int, default=1000,
                   help="open connections per gevent worker (default: 1000)")
    p.add_argument("--threads", type=int, default=4,
                   help="native threads per worker that run the app (gevent) or serve connections (gthread) (default: 4)")
    p.add_argument("--client-timeout", type=float, default=10.0,
                   help="seconds a client may take to send a request's headers, or stall while sending its body or "
                        "reading the response (default: 10; the whole body within 3x this)")
    p.add_argument("--timeout", type=int, default=30, help="seconds before a stuck worker is restarted (default: 30)")
    p.add_argument("--graceful-timeout", type=int, default=20, help="seconds to finish requests on shutdown (default: 20)")
    p.add_argument("--max-requests", type=int, default=0,
                   help="recycle a worker after this many requests (0 = never; jitter added)")
    p.add_argument("--priors", metavar="DIR", help="priors directory (default: the bundled priors)")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])


def gunicorn_options(args: argparse.Namespace) -> dict[str, Any]:
    host = args.host
    bind = f"[{host}]:{args.port}" if ":" in host else f"{host}:{args.port}"
    return {
        "bind": bind,
        "workers": args.workers,
        "worker_class": GEVENT_WORKER if args.worker_class == "gevent" else THREAD_WORKER,
        "worker_connections": args.worker_connections,
        "threads": args.threads,
        "limit_request_line": LIMIT_REQUEST_LINE,
        "limit_request_fields": LIMIT_REQUEST_FIELDS,
        "limit_request_field_size": LIMIT_REQUEST_FIELD_SIZE,
        "logger_class": SAFE_LOGGER,
        "preload_app": True,
        "timeout": args.timeout,
        "graceful_timeout": args.graceful_timeout,
        "keepalive": 5,
        "max_requests": args.max_requests,
        "max_requests_jitter": max(args.max_requests // 10, 0),
        "accesslog": None,  # the app logs each request itself, without query strings
        "errorlog": "-",
        "loglevel": args.log_level,
        "proc_name": "hipdx",
        "control_socket_disable": True,  # gunicorn >= 25: no shared ~/.gunicorn/gunicorn.ctl between servers
        "post_worker_init": _graceful_sigint,
        "when_ready": _announce,
    }


def _graceful_sigint(worker: Any) -> None:
    """Ctrl-C reaches the workers too (same process group): finish in-flight requests there as well."""
    import signal

    signal.signal(signal.SIGINT, lambda *_: setattr(worker, "alive", False))


def _announce(server: Any) -> None:
    for listener in server.LISTENERS:
        server.log.info("hipdx listening on %s", listener)


def configure_logging(level: str) -> None:
    import logging

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s [%(process)d] %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("hipdx")
    logger.handlers[:] = [handler]
    logger.setLevel(level.upper())
    logger.propagate = False


def run(args: argparse.Namespace) -> int:
    # One BLAS thread per worker: the workers already use the cores.
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    if args.priors:
        os.environ["HIPDX_PRIORS"] = args.priors
    if args.worker_class == "gevent":
        # Before anything imports socket, ssl or threading users: the master loads the app (preload_app)
        # and the workers fork from it, so the whole process is patched once, here (gevent's advice).
        from gevent import monkey

        monkey.patch_all(thread=False)  # as the workers do (see HipdxGeventWorker.patch)
        from .serving.worker import HipdxGeventWorker

        HipdxGeventWorker.client_timeout = float(args.client_timeout)  # inherited by the forked workers
    from gunicorn.app.base import BaseApplication
    from gunicorn.arbiter import Arbiter

    from .http import MAX_BODY_BYTES, create_app
    from .serving.body import BufferedBody
    from .serving.threads import AppThreads
    from .serving.worker import post_request

    configure_logging(args.log_level)
    options = gunicorn_options(args)
    options["post_request"] = post_request

    class GracefulArbiter(Arbiter):
        """SIGINT behaves like SIGTERM: a graceful stop (gunicorn's default is immediate)."""

        def handle_int(self) -> None:
            self.handle_term()

    class HipdxApplication(BaseApplication):
        def __init__(self) -> None:
            self.application = None
            super().__init__()

        def load_config(self) -> None:
            for key, value in options.items():
                if key in self.cfg.settings and value is not None:
                    self.cfg.set(key, value)
            self.cfg.set("accesslog", None)

        def load(self) -> Any:
            if self.application is None:
                app = create_app()
                service = app.extensions["hipdx"]
                service.model.diagnose({})  # warm up the engine's lazily built parts before forking
                # The model's objects live as long as the server: moved out of the collector's reach,
                # a full collection no longer walks them in the middle of a request (a ~60 ms pause
                # every few hundred diagnoses, measured) and forked workers share their pages.
                gc.collect()
                gc.freeze()
                # What gunicorn serves: every body read in full (within limits) before Flask sees it.
                wsgi = AppThreads(app, args.threads) if args.worker_class == "gevent" else app
                self.application = BufferedBody(wsgi, MAX_BODY_BYTES, deadline=3 * float(args.client_timeout))
            return self.application

        def run(self) -> None:
            try:
                GracefulArbiter(self).run()
            except RuntimeError as exc:
                print(f"hipdx serve: {exc}", file=sys.stderr)
                sys.exit(1)

    HipdxApplication().run()
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m service.serve`` (same options as ``hipdx serve``)."""
    parser = argparse.ArgumentParser(prog="hipdx serve")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
