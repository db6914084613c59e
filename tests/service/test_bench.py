"""`hipdx bench` runs end to end on a small sample and prints what the docs quote: the engine's
exactness against pgmpy and the full-diagnosis breakdown on the three case mixes. (It prints
times; no test asserts one.)"""

from __future__ import annotations

import re
import warnings

from service.cli import main


def test_bench_prints_exactness_and_the_reasoning_breakdown(capsys):
    warnings.filterwarnings("ignore", category=FutureWarning)
    assert main(["bench", "--rows", "400", "--pgmpy-rows", "6", "--skip-score"]) == 0
    out = capsys.readouterr().out
    diff_row = next(line for line in out.splitlines() if line.strip().startswith("max |p - pgmpy|"))
    diffs = [float(x) for x in diff_row.split()[-2:]]
    assert len(diffs) == 2 and max(diffs) < 1e-9  # largest difference from pgmpy on the same rows, both mixes
    assert "30% of answers blank" in out and "6 to 16 answers" in out
    assert "Full diagnosis, by part" in out
    for mix in ("cases as simulated", "same cases, 60% of answers blank", "the load test's case mix"):
        row = next(line for line in out.splitlines() if line.strip().startswith(mix))
        cells = re.findall(r"\d+\.\d+", row)
        assert len(cells) == 7 and all(float(c) >= 0 for c in cells)
