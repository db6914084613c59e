"""gunicorn's logger class for ``hipdx serve``: no request data in gunicorn's own log lines.

gunicorn logs some client errors with the bytes that caused them (``Invalid request from ip=...:
Invalid HTTP Header: '<the header line>'``, ``No more data after: <buffer>``), and exceptions with
their messages; a header or a body can carry health data. This logger keeps gunicorn's lines
(start-up, workers, signals) but renders any exception argument as its type only, and exceptions
logged with a traceback as type and frames only (no message, no source lines). The access log
stays off: the app and :mod:`service.serving` log method, path, status, latency and request id.
"""

from __future__ import annotations

import logging
import sys
import traceback
from typing import Any

from gunicorn.glogging import Logger


def _safe_args(args: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(f"<{type(a).__name__}>" if isinstance(a, BaseException) else a for a in args)


def _frames(exc_info: Any) -> str:
    if exc_info is True or exc_info is None:
        exc_info = sys.exc_info()
    if not isinstance(exc_info, tuple) or exc_info[0] is None:
        return ""
    frames = "\n".join(f"  {f.filename}:{f.lineno} in {f.name}" for f in traceback.extract_tb(exc_info[2]))
    return f" ({exc_info[0].__name__})\n{frames}"


class SafeLogger(Logger):
    """gunicorn ``logger_class`` whose lines never carry exception messages or tracebacks' text."""

    def _log(self, level: int, msg: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        exc_info = kwargs.pop("exc_info", None)
        if not self.error_log.isEnabledFor(level):
            return
        if isinstance(msg, BaseException):
            msg = f"<{type(msg).__name__}>"
        text = str(msg)
        if args:
            try:
                text = text % _safe_args(args)
            except (TypeError, ValueError):
                text = f"{text} (unformattable arguments)"
        if exc_info:
            text += _frames(exc_info)
        self.error_log.log(level, "%s", text, **kwargs)

    def critical(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        self._log(logging.CRITICAL, msg, args, kwargs)

    def error(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        self._log(logging.ERROR, msg, args, kwargs)

    def warning(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        self._log(logging.WARNING, msg, args, kwargs)

    def info(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        self._log(logging.INFO, msg, args, kwargs)

    def debug(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        self._log(logging.DEBUG, msg, args, kwargs)

    def exception(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("exc_info", True)
        self._log(logging.ERROR, msg, args, kwargs)

    def log(self, lvl: Any, msg: Any, *args: Any, **kwargs: Any) -> None:
        if isinstance(lvl, str):
            lvl = self.LOG_LEVELS.get(lvl.lower(), logging.INFO)
        self._log(lvl, msg, args, kwargs)

    def access(self, resp: Any, req: Any, environ: Any, request_time: Any) -> None:
        """Off: gunicorn's access line can hold the query string and headers; the app logs each request."""
