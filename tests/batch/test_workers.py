"""Where chunks are scored: in this process for small inputs, else in workers forked from a fork
server that loaded the model once (shared pages), none of them importing pgmpy."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from service.batch import Job, driver, score_file, workers

from .conftest import read_str
from .survey_files import ANSWERS

ROOT = Path(__file__).resolve().parents[2]


def _probe(table: pa.Table, task: workers.Task) -> dict:
    """Runs in a worker: what it had before scoring, and what it has after one chunk."""
    import model.hipmodel as hipmodel

    preloaded = sorted(hipmodel._CACHE)
    scores = workers.score_chunk(table, None, task)
    return {"pid": os.getpid(), "parent": os.getppid(), "preloaded": preloaded, "pgmpy": "pgmpy" in sys.modules,
            "blas": os.environ.get("OMP_NUM_THREADS"), "triage": scores.column("triage").to_pylist()}


def _task(names: list[str]) -> workers.Task:
    return workers.Task(None, None, "None", tuple(names), tuple(names), ".", ())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the fork server is used on Linux")
def test_workers_are_forked_with_the_model_already_loaded(model):
    table = pa.Table.from_pandas(ANSWERS, preserve_index=False)
    pool = workers.start_pool(2)
    try:
        seen = [pool.submit(_probe, table, _task(list(ANSWERS.columns))).result(timeout=300) for _ in range(4)]
    finally:
        workers.stop_pool(pool, kill=False)
    expected = model.score(ANSWERS)["triage"].tolist()
    key = f"{model.priors.directory.resolve()}:{model.version}"
    for s in seen:
        assert s["parent"] != os.getpid()  # forked by the fork server, not by this process
        assert key in s["preloaded"]  # the model was there before the worker's first chunk
        assert not s["pgmpy"]  # scoring never imports pgmpy (~200 MiB per process)
        assert s["blas"] == "1"
        assert s["triage"] == expected
    assert len({s["parent"] for s in seen}) == 1


def test_small_inputs_are_scored_in_this_process_and_large_ones_in_workers(model, sim_csv, tmp_path, monkeypatch):
    started = []
    real = workers.start_pool

    def start_pool(jobs, priors=None):
        started.append(jobs)
        return real(jobs, priors)

    monkeypatch.setattr(workers, "start_pool", start_pool)
    prestarted = []
    monkeypatch.setattr(driver, "prestart", lambda priors: prestarted.append(priors) or workers.prestart(priors))
    # 2,500 rows in 5 chunks: under the in-process bound, found by reading ahead (a CSV's row count is unknown)
    score_file(Job(str(sim_csv[0]), str(tmp_path / "a.csv"), chunk_rows=500, jobs=2, warn=lambda m: None))
    assert started == []
    score_file(Job(str(sim_csv[1]), str(tmp_path / "b.csv"), chunk_rows=500, jobs=2, warn=lambda m: None))
    assert started == []  # Parquet: the row count is known
    assert prestarted == []
    score_file(Job(str(sim_csv[0]), str(tmp_path / "c.csv"), chunk_rows=500, jobs=2, in_process_rows=1000, warn=lambda m: None))
    assert started == [2] and prestarted == []  # found by reading ahead: the file is not 1 KiB per row
    score_file(Job(str(sim_csv[0]), str(tmp_path / "d.csv"), chunk_rows=500, jobs=2, in_process_rows=100, warn=lambda m: None))
    assert started == [2, 2] and prestarted == [None]  # surely large: the fork server was started before reading
    pd.testing.assert_frame_equal(read_str(tmp_path / "c.csv"), read_str(tmp_path / "d.csv"))
    a, c = read_str(tmp_path / "a.csv"), read_str(tmp_path / "c.csv")
    pd.testing.assert_frame_equal(a.drop(columns=[f"p_{k}" for k in model.conditions]),
                                  c.drop(columns=[f"p_{k}" for k in model.conditions]))
    assert len(a) == 2500


def test_the_run_itself_never_imports_pgmpy(tmp_path):
    path = tmp_path / "s.csv"
    ANSWERS.to_csv(path, index=False)
    code = ("import sys; from service.batch import Job, score_file; "
            f"score_file(Job({str(path)!r}, {str(tmp_path / 'o.csv')!r}, jobs=2, warn=print)); "
            "print('pgmpy' in sys.modules, 'sklearn' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[-2:] == ["False", "False"]
