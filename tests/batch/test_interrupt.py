"""Interrupted runs: workers die with the parent, no file looks complete, an earlier output is untouched."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from .survey_files import ANSWERS

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def big_csv(tmp_path_factory):
    """480,000 runners (the twelve answers over and over): several seconds of scoring."""
    path = tmp_path_factory.mktemp("big") / "big.csv"
    header, body = ANSWERS.to_csv(index=False).split("\n", 1)
    path.write_text(header + "\n" + body * 40_000)
    return path


def _default_sigint() -> None:
    """In the child: Ctrl-C as a terminal delivers it. A test run started in the background by a
    non-interactive shell (`make test &`, some CI runners) ignores SIGINT, and a child inherits
    that: Python then installs no KeyboardInterrupt handler and the run would not stop."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start(inp, out):
    cmd = [sys.executable, "-m", "service.score_cmd", str(inp), "-o", str(out), "--jobs", "2", "--chunk-rows", "4000"]
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_default_sigint)  # noqa: PLW1509 - a signal disposition, no locks


def _wait_for_rows(proc, out: Path, timeout: float = 120.0) -> list[psutil.Process]:
    """Wait until the incomplete output holds rows; returns the run's worker processes."""
    deadline = time.monotonic() + timeout
    tmp = Path(f"{out}.incomplete-{proc.pid}")
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        children = psutil.Process(proc.pid).children(recursive=True)
        if tmp.exists() and tmp.stat().st_size > 100_000 and len(children) >= 2:
            return children
        time.sleep(0.05)
    raise AssertionError("the run never started writing rows")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_killed_run_leaves_no_worker_and_no_complete_looking_file(big_csv, tmp_path, sig):
    out = tmp_path / "scored.csv"
    out.write_text("earlier output\n")
    proc = _start(big_csv, out)
    workers = _wait_for_rows(proc, out)
    assert workers
    os.kill(proc.pid, sig)
    _, err = proc.communicate(timeout=180)
    assert proc.returncode != 0
    gone, alive = psutil.wait_procs(workers, timeout=15)
    assert not alive, f"workers still running after {sig.name}: {[p.pid for p in alive]}"
    assert out.read_text() == "earlier output\n"  # the earlier output is untouched
    names = sorted(p.name for p in tmp_path.iterdir())
    if sig == signal.SIGKILL:  # no chance to clean up: the leftover says it is incomplete
        assert names == ["scored.csv", f"scored.csv.incomplete-{proc.pid}"]
    else:
        assert names == ["scored.csv"], names
        assert "no output written" in err and "Traceback" not in err
    if sig == signal.SIGKILL:  # the next run removes the leftover and says so
        small = tmp_path / "small.csv"
        ANSWERS.to_csv(small, index=False)
        done = subprocess.run([sys.executable, "-m", "service.score_cmd", str(small), "-o", str(out)], cwd=ROOT,
                              capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
        assert f"removed {out}.incomplete-{proc.pid}, left by an interrupted run" in done.stderr
        assert sorted(p.name for p in tmp_path.iterdir()) == ["scored.csv", "scored.csv.meta.json", "small.csv"]
