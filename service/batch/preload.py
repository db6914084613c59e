"""The fork server's preload: the model loaded once, shared by every worker process (Linux).

``hipdx score`` scores chunks in worker processes started from a ``forkserver``: a fresh Python
process (no threads of pyarrow's, which do not survive ``fork``) that imports this module once
and then forks one worker per request. Importing this module loads the model for the priors named
in ``HIPDX_PRELOAD_PRIORS`` (empty: the bundled priors), so every worker starts with it already in
memory, and the pages stay shared (copy-on-write) instead of each worker loading its own copy
(about 290 MiB per worker). ``gc.freeze()`` keeps the garbage collector from writing to (and so
copying) those pages in the workers.

The fork server dies with the process that started it (``prctl(PR_SET_PDEATHSIG, SIGKILL)``,
with that process's id in ``HIPDX_PRELOAD_PARENT``), and each worker dies with the fork server
(see :func:`service.batch.workers.die_with_parent`): the chain ends every worker however the
run is stopped.
"""

from __future__ import annotations

import ctypes
import gc
import os
import signal
import sys

PRIORS_VAR = "HIPDX_PRELOAD_PRIORS"
PARENT_VAR = "HIPDX_PRELOAD_PARENT"
PR_SET_PDEATHSIG = 1
SERVER_PID = os.getpid()  # in a worker forked from the server: the server's id (its parent)


def set_death_signal(expected_parent: int | None) -> bool:
    """Ask Linux to SIGKILL this process when its parent dies; True when set. Exits at once when
    the parent is no longer ``expected_parent`` (it died before the request took effect)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            return False
    except OSError:
        return False
    if expected_parent is not None and os.getppid() != expected_parent:
        os._exit(1)
    return True


def warm_up(model) -> None:
    """Score one row per risk-factor answer pattern (every finding unanswered), so the engine's
    marginal tables over unanswered risk factors (~5 MiB, ~0.15 s with today's priors) are built
    here, once, and shared read-only by the workers. The engine's per-pattern prior cache keeps
    only patterns a chunk repeats, so each worker still fills its own (bounded at 24 MiB).
    Exact either way: the tables hold the same numbers."""
    import itertools

    import numpy as np

    engine = model.engine
    cards = [len(states) for states in engine.risk_factor_states]
    patterns = np.array(list(itertools.product(*[range(-1, c) for c in cards])), dtype=np.int64)
    if len(patterns) > 100_000:  # a much larger model: leave the caches to the workers
        return
    engine.posterior(patterns, np.full((len(patterns), len(engine.finding_ids)), -1, dtype=np.int64))


def _preload() -> None:
    parent = os.environ.get(PARENT_VAR)
    if parent:
        set_death_signal(int(parent))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the run's to handle
    import pandas  # noqa: F401 - shared by the workers
    import pyarrow  # noqa: F401

    from . import workers  # noqa: F401 - the workers' code, imported once

    try:
        from model import load_model

        warm_up(load_model(os.environ.get(PRIORS_VAR) or None))
    except Exception:  # noqa: BLE001, S110 - a worker loads (and reports) the model itself
        pass
    gc.collect()
    gc.freeze()


if os.environ.get(PARENT_VAR) and os.getpid() != int(os.environ[PARENT_VAR]):
    _preload()
