"""Scoring chunks in this process, in worker processes that die with it, or on a Dask cluster.

A small input (at most :data:`IN_PROCESS_ROWS` rows) is scored in this process: starting workers
would cost more than it saves. A larger one goes to ``--jobs`` worker processes. On Linux they
are forked by a fork server (``multiprocessing``'s ``forkserver``: a fresh process, free of
pyarrow's threads, which do not survive ``fork``) that has loaded the model once and built its
marginal tables of risk-factor patterns (:mod:`.preload`): the workers share those pages instead
of each loading its own (each fills only its own bounded prior cache, at most 24 MiB). The fork
server dies with this process and each worker with the fork server
(``prctl(PR_SET_PDEATHSIG, SIGKILL)``), so no worker outlives an interrupted run, however it was
stopped (SIGINT, SIGTERM or SIGKILL). Elsewhere (or from a thread other than the main one),
workers are started with ``spawn``, load the model themselves and watch their parent.
"""

from __future__ import annotations

import collections
import itertools
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from .mapping import parse_mapping
from .plan import Plan, make_plan
from .scoring import score_frame, score_table

_WORKER: dict[str, Any] = {}
_BLAS_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
IN_PROCESS_ROWS = 100_000  # inputs up to this many rows are scored in this process (see scored_chunks)
LOOKAHEAD_BYTES = 64 * 2**20  # at most this much input held while finding out whether the input is small


@dataclass(frozen=True)
class Task:
    """What a worker needs to rebuild the model and the plan (sent once per chunk; small)."""

    priors: str | None
    mapping_text: str | None
    mapping_source: str
    names: tuple[str, ...]
    fields: tuple[str, ...]
    decimal: str
    value_labels: tuple[tuple[str, tuple[tuple[str, str], ...]], ...]


def scorer(task: Task):
    """(model, plan) for this process, built once per job and cached (workers load the model once)."""
    if _WORKER.get("task") != task:
        from model import load_model

        model = load_model(task.priors)
        mapping = parse_mapping(task.mapping_text, task.mapping_source, model.vocabulary) if task.mapping_text is not None else None
        labels = {c: dict(t) for c, t in task.value_labels}
        plan = make_plan(list(task.names), list(task.fields), model.vocabulary, model.conditions, mapping,
                         decimal=task.decimal, value_labels=labels)
        _WORKER.update(task=task, model=model, plan=plan)
    return _WORKER["model"], _WORKER["plan"]


def score_chunk(table: pa.Table, pre_errors: list[str | None] | None, task: Task) -> pa.Table:
    """Worker task: the score columns for one chunk (``table``: the needed columns, by header name)."""
    model, plan = scorer(task)
    scores = score_frame(table.to_pandas(), plan, model, pre_errors)
    return score_table(scores)


def needed_table(table: pa.Table, plan: Plan) -> pa.Table:
    """The columns the scorer reads, under their header names."""
    return table.select(plan.needed_fields).rename_columns(plan.needed)


# ------------------------------------------------------------------------------------ processes
def die_with_parent(main: int) -> None:
    """Worker initializer: die when the run's process ``main`` dies; leave Ctrl-C to it.

    A worker forked by the fork server (:mod:`.preload`) dies with the server, which dies with
    ``main``; a spawned worker dies with ``main`` itself. Without ``prctl`` (not Linux), a thread
    watches the parent and exits when it is gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    server = sys.modules.get(f"{__package__}.preload")
    parent = server.SERVER_PID if server is not None and server.SERVER_PID != os.getpid() else main
    from .preload import set_death_signal

    if not set_death_signal(parent):
        _watch_parent(parent)
    if os.getppid() != parent:  # the parent died before the line above ran
        os._exit(1)


def _watch_parent(parent: int) -> None:
    def watch() -> None:
        import time

        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def _context(priors: str | None):
    """The multiprocessing context for workers: on Linux, from the main thread, a fork server that
    has loaded the model once (:mod:`.preload`); else ``spawn`` (pyarrow's threads and a plain
    ``fork`` do not mix, and ``prctl`` ties the server to the thread that starts it)."""
    import multiprocessing

    if sys.platform.startswith("linux") and threading.current_thread() is threading.main_thread():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload([f"{__package__}.preload"])
        return ctx, {"HIPDX_PRELOAD_PRIORS": priors or "", "HIPDX_PRELOAD_PARENT": str(os.getpid())}
    return multiprocessing.get_context("spawn"), {}


def _with_env(env: dict[str, str], start: Callable[[], Any]) -> Any:
    """``start()`` with ``env`` set in this process's environment (what started processes inherit)."""
    saved = {v: os.environ.get(v) for v in env}
    os.environ.update(env)
    try:
        return start()
    finally:
        for var, value in saved.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value


def prestart(priors: str | None = None) -> bool:
    """Start the fork server now (it loads the model in the background while this process reads
    the input), when workers will be forked from one; True if it was started or is running."""
    ctx, env = _context(priors)
    if ctx.get_start_method() != "forkserver":
        return False
    from multiprocessing import forkserver

    _with_env({**env, **dict.fromkeys(_BLAS_THREAD_VARS, "1")}, forkserver.ensure_running)
    return True


def start_pool(jobs: int, priors: str | None = None):
    """A process pool of ``jobs`` workers (one BLAS thread each) that die with this process;
    ``priors``: the priors directory the fork server preloads (None: the bundled priors)."""
    from concurrent.futures import ProcessPoolExecutor

    ctx, env = _context(priors)

    def start():
        pool = ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=die_with_parent, initargs=(os.getpid(),))
        for _ in range(jobs):  # start the workers (and the fork server) now, while the variables are set
            pool.submit(int)
        return pool

    return _with_env({**env, **dict.fromkeys(_BLAS_THREAD_VARS, "1")}, start)


def stop_pool(pool, *, kill: bool) -> None:
    """Shut the pool down; with ``kill``, end its workers at once (an interrupted run)."""
    if kill:  # do not wait for chunks in flight: end the workers, and do not join anything that may hang
        processes = list((getattr(pool, "_processes", None) or {}).values())
        for p in processes:
            try:
                p.kill()
            except (OSError, AttributeError, ValueError):
                pass
        pool.shutdown(wait=False, cancel_futures=True)
        for p in processes:
            try:
                p.join(timeout=5)
            except (OSError, AttributeError, ValueError, AssertionError):
                pass
        return
    pool.shutdown(wait=True, cancel_futures=True)


def scored_chunks(chunks: Iterator, plan: Plan, task: Task, jobs: int, client=None, *, total: int | None = None,
                  in_process_rows: int = IN_PROCESS_ROWS) -> Iterator[tuple[Any, pa.Table]]:
    """(chunk, its score table) in input order. ``chunks`` yields objects with ``table`` and
    ``errors`` (see readers.Chunk); ``total``: the input's row count when known.

    Where the chunks are scored: on the Dask ``client`` when given; else in this process when
    ``jobs`` is 1 or the input has at most ``in_process_rows`` rows (known from ``total``, or
    found by reading ahead, holding at most :data:`LOOKAHEAD_BYTES`): starting workers costs
    more than it saves on a small file; else on ``jobs`` worker processes (see
    :func:`start_pool`), with at most two chunks in flight per worker."""
    from .scoring import blank_rows

    def prepared(chunk) -> tuple[pa.Table, list[str | None] | None]:
        from .scoring import EMPTY_ROW

        errs = chunk.errors
        blank = blank_rows(chunk.table)
        if blank.any():
            errs = list(errs) if errs is not None else [None] * chunk.table.num_rows
            for i in blank.nonzero()[0]:
                errs[i] = EMPTY_ROW
        return needed_table(chunk.table, plan), errs

    ahead: list = []
    small = jobs <= 1
    if client is None and not small:
        if total is not None:
            small = total <= in_process_rows
        else:
            rows = held = 0
            for chunk in chunks:
                ahead.append(chunk)
                rows += chunk.table.num_rows
                held += chunk.table.nbytes
                if rows > in_process_rows or held > LOOKAHEAD_BYTES:
                    break
            else:
                small = True
    chunks = itertools.chain(ahead, chunks)
    first = next(chunks, None)
    if first is None:
        return
    second = next(chunks, None)
    if client is None and (second is None or small):
        from threadpoolctl import threadpool_limits

        # one BLAS thread, as in the workers: the engine's products are small, and more threads
        # spin on the other core (measured: about twice the CPU time for the same rows)
        with threadpool_limits(limits=1, user_api="blas"):
            for chunk in (first, second) if second is not None else (first,):
                yield chunk, score_chunk(*prepared(chunk), task)
            for chunk in chunks:
                yield chunk, score_chunk(*prepared(chunk), task)
        return
    if client is not None:
        submit_to = client.submit
        workers = max(1, len(client.scheduler_info().get("workers", {})))
        pool = None
    else:
        pool = start_pool(jobs, task.priors)
        submit_to = pool.submit
        workers = jobs
    pending: collections.deque = collections.deque()
    ok = False
    try:
        def submit(chunk) -> None:
            table, errs = prepared(chunk)
            pending.append((chunk, submit_to(score_chunk, table, errs, task, **({"pure": False} if client else {}))))

        submit(first)
        if second is not None:
            submit(second)
        for chunk in chunks:
            while len(pending) >= 2 * workers:
                c, fut = pending.popleft()
                yield c, fut.result()
            submit(chunk)
        while pending:
            c, fut = pending.popleft()
            yield c, fut.result()
        ok = True
    finally:
        if pool is not None:
            stop_pool(pool, kill=not ok)
        elif not ok:
            for _, fut in pending:
                fut.cancel()
