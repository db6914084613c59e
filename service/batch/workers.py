"""Scoring chunks in this process, in worker processes that die with it, or on a Dask cluster.

Worker processes are started with ``spawn`` and, on Linux, ask the kernel to kill them when the
process that started them dies (``prctl(PR_SET_PDEATHSIG, SIGKILL)``), so no worker outlives an
interrupted run, however it was stopped (SIGINT, SIGTERM or SIGKILL). Elsewhere, each worker
watches its parent and exits when it is gone.
"""

from __future__ import annotations

import collections
import ctypes
import os
import signal
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from .mapping import parse_mapping
from .plan import Plan, make_plan
from .scoring import score_frame, score_table

_WORKER: dict[str, Any] = {}
_BLAS_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
PR_SET_PDEATHSIG = 1


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
def _die_with_parent(parent: int) -> None:
    """Worker initializer: die when ``parent`` dies; leave Ctrl-C to the parent."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except OSError:
            _watch_parent(parent)
    else:
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


def start_pool(jobs: int):
    """A process pool of ``jobs`` spawned workers (one BLAS thread each) that die with this process."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    ctx = multiprocessing.get_context("spawn")  # pyarrow's threads and fork do not mix
    saved = {v: os.environ.get(v) for v in _BLAS_THREAD_VARS}
    os.environ.update(dict.fromkeys(_BLAS_THREAD_VARS, "1"))
    try:
        pool = ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=_die_with_parent, initargs=(os.getpid(),))
        for _ in range(jobs):  # start the workers now, while the variables are set
            pool.submit(int)
    finally:
        for var, value in saved.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value
    return pool


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


def scored_chunks(chunks: Iterator, plan: Plan, task: Task, jobs: int, client=None) -> Iterator[tuple[Any, pa.Table]]:
    """(chunk, its score table) in input order: in this process when ``jobs`` is 1 or there is one
    chunk, else on ``jobs`` worker processes (or the Dask ``client``), with at most two chunks in
    flight per worker. ``chunks`` yields objects with ``table`` and ``errors`` (see readers.Chunk)."""
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

    first = next(chunks, None)
    if first is None:
        return
    second = next(chunks, None)
    if client is None and (second is None or jobs <= 1):
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
        pool = start_pool(jobs)
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
