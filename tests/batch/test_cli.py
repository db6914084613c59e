"""The real ``hipdx`` console script: simulate a file, then score it and the example survey."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import read_str

ROOT = Path(__file__).resolve().parents[2]
HIPDX = shutil.which("hipdx", path=str(Path(sys.executable).parent))


@pytest.mark.skipif(HIPDX is None, reason="the hipdx console script is not installed")
def test_hipdx_simulate_then_score(tmp_path):
    sim, out = tmp_path / "runners.parquet", tmp_path / "scored.csv"
    done = subprocess.run([HIPDX, "simulate", "-n", "3000", "-o", str(sim), "--seed", "1", "--missing", "0.1"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    done = subprocess.run([HIPDX, "score", str(sim), "-o", str(out), "--chunk-rows", "1000", "--jobs", "2"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "3,000 rows read, 3,000 scored, 0 with errors" in done.stderr
    assert "\r" not in done.stderr  # no progress bar when stderr is not a terminal
    assert len(read_str(out)) == 3000


@pytest.mark.skipif(HIPDX is None, reason="the hipdx console script is not installed")
def test_hipdx_score_example_survey_and_bad_mapping(tmp_path):
    out = tmp_path / "scored.parquet"
    survey, mapping = str(ROOT / "examples/survey.csv"), str(ROOT / "examples/survey_mapping.yaml")
    done = subprocess.run([HIPDX, "score", survey, "--mapping", mapping, "-o", str(out)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "6 with errors" in done.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("columns:\n  Gender: {variable: gender}\n")
    done = subprocess.run([HIPDX, "score", survey, "--mapping", str(bad), "-o", str(tmp_path / "o.csv")],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert "bad.yaml: columns.Gender.variable: unknown variable 'gender'" in done.stderr
    assert not (tmp_path / "o.csv").exists()
