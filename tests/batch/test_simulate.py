"""Forward sampling: deterministic, the right columns, and the network's probabilities."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from model.simulate import simulate
from service import simulate_cmd

from .conftest import read_str, run_command

N = 200_000


@pytest.fixture(scope="module")
def big(model):
    return simulate(model, N, seed=123)


@pytest.fixture(scope="module")
def ve(model):
    from pgmpy.inference import VariableElimination

    return VariableElimination(model.network)


def _p(ve, var, state, evidence=None):
    q = ve.query([var], evidence=evidence or {}, show_progress=False)
    return float(q.get_value(**{var: state}))


def _close(freq, p, n):
    se = np.sqrt(p * (1 - p) / n)
    assert abs(freq - p) <= 4.5 * se + 1e-4, (freq, p, n)


def test_columns_and_determinism(model):
    a = simulate(model, 500, seed=5, missing=0.2)
    b = simulate(model, 500, seed=5, missing=0.2)
    pd.testing.assert_frame_equal(a, b)
    assert list(a.columns) == model.evidence_order + [f"true_{c}" for c in model.conditions]
    for vid in model.evidence_order:
        assert set(a[vid].dropna()) <= set(model.variables[vid].states)
    for c in model.conditions:
        assert set(a[f"true_{c}"]) <= {0, 1}
    assert not simulate(model, 500, seed=6).equals(a)


def test_missing_rate(model):
    df = simulate(model, 20_000, seed=1, missing=0.25)
    rate = df[model.evidence_order].isna().to_numpy().mean()
    assert abs(rate - 0.25) < 0.005
    assert not df[[f"true_{c}" for c in model.conditions]].isna().any().any()


@pytest.mark.parametrize(("var", "state"), [("gtps", "present"), ("labral_tear", "present"), ("stress_fracture", "present"),
                                            ("pain_lateral_hip", "present"), ("onset", "sudden"), ("age_band", "50_plus"),
                                            ("pain_groin", "present")])
def test_marginals_match_network(big, ve, var, state):
    col = big[f"true_{var}"] == 1 if f"true_{var}" in big else big[var] == state
    _close(col.mean(), _p(ve, var, state), N)


def test_conditionals_match_cpds(big, ve):
    # caused_by: labral_tear given fai
    for fai, flag in (("present", 1), ("absent", 0)):
        sub = big[big["true_fai"] == flag]
        _close((sub["true_labral_tear"] == 1).mean(), _p(ve, "labral_tear", "present", {"fai": fai}), len(sub))
    # a risk factor's effect: osteoarthritis given age band
    for band in ("under_30", "50_plus"):
        sub = big[big["age_band"] == band]
        _close((sub["true_osteoarthritis"] == 1).mean(), _p(ve, "osteoarthritis", "present", {"age_band": band}), len(sub))
    # a noisy-OR finding given its single cause
    sub = big[big["true_lumbar_referred_pain"] == 1]
    _close((sub["pain_lower_back"] == "present").mean(),
           _p(ve, "pain_lower_back", "present", {"lumbar_referred_pain": "present"}), len(sub))


def test_simulate_command_chunks_and_formats(model, tmp_path):
    csv, pq = tmp_path / "a.csv", tmp_path / "a.parquet"
    assert run_command(simulate_cmd, ["-n", "2500", "-o", str(csv), "--seed", "3", "--missing", "0.1"]) == 0
    simulate_cmd.write_simulated(model, 2500, str(pq), seed=3, missing=0.1, chunk_rows=1000)
    a = read_str(csv)
    b = pd.read_parquet(pq)
    assert len(a) == len(b) == 2500
    assert list(a.columns) == list(b.columns)
    simulate_cmd.write_simulated(model, 2500, str(tmp_path / "c.csv"), seed=3, missing=0.1, chunk_rows=1000)
    pd.testing.assert_frame_equal(read_str(tmp_path / "c.csv"), b.fillna("").astype(str), check_dtype=False)


def test_simulate_command_refuses_unknown_extension(tmp_path, capsys):
    assert run_command(simulate_cmd, ["-n", "10", "-o", str(tmp_path / "a.json")]) == 2
    assert "unsupported extension '.json'" in capsys.readouterr().err
    assert not (tmp_path / "a.json").exists()
