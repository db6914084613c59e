"""Scoring on Dask partitions (a LocalCluster with worker processes) gives the streamed output."""

from __future__ import annotations

import pytest

from service import score_cmd
from service.batch import Job, score_file, score_file_dask

from .conftest import run_command
from .test_batch import _assert_same_output

distributed = pytest.importorskip("dask.distributed")


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None) as c:
        yield c


@pytest.mark.parametrize("src", [0, 1], ids=["csv", "parquet"])
def test_dask_output_equals_streamed_output(model, sim_csv, tmp_path, cluster, src):
    inp = sim_csv[src]
    streamed, dasked = tmp_path / "streamed.csv", tmp_path / "dask.csv"
    score_file(Job(str(inp), str(streamed), chunk_rows=1000, jobs=1, warn=lambda m: None))
    # several partitions: chunk_rows sets the Dask CSV block size (200 kB here), the Parquet file has 4 row groups
    job = Job(str(inp), str(dasked), chunk_rows=1000, warn=lambda m: None)
    summary = score_file_dask(job, scheduler=cluster.scheduler_address)
    assert summary.rows_read == 2500
    assert summary.partitions > 1
    _assert_same_output(model, streamed, dasked)


def test_dask_command_with_a_mapping(model, tmp_path, cluster, capsys):
    from pathlib import Path

    examples = Path(__file__).resolve().parents[2] / "examples"
    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    base = [str(examples / "survey.csv"), "--mapping", str(examples / "survey_mapping.yaml")]
    assert run_command(score_cmd, [*base, "-o", str(a), "--jobs", "1"]) == 0
    assert run_command(score_cmd, [*base, "-o", str(b), "--dask", cluster.scheduler_address]) == 0
    _assert_same_output(model, a, b)
    assert "194 scored, 6 with errors" in capsys.readouterr().err


def test_dask_missing_gives_install_hint(monkeypatch, tmp_path):
    import builtins

    real = builtins.__import__

    def fake(name, *args, **kwargs):
        if name.startswith("dask"):
            raise ImportError(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake)
    from service.batch import BatchError

    with pytest.raises(BatchError, match=r"pip install 'hipdx\[dask\]'"):
        score_file_dask(Job("in.csv", str(tmp_path / "o.csv")))
