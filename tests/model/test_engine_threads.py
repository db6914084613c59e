"""A large batch call is split over threads, each on its own copy of the engine; concurrent calls
on one engine take turns. Either way the numbers are those of one thread (and so pgmpy's)."""

from __future__ import annotations

import pickle
import threading

import numpy as np
import pytest

from model import load_model
from model.inference import engine as engine_module
from tests.model.test_engine_exact import TOL, pgmpy_posteriors


@pytest.fixture()
def engine():
    m = load_model()
    return engine_module.Engine.from_parameters(m.priors, m.parameters)  # fresh: no copies, empty caches


def _rows(engine, n: int, seed: int):
    rng = np.random.default_rng(seed)
    rf = np.stack([rng.integers(0, c, n) for c in engine.rf_cards], axis=1)
    rf[rng.random(rf.shape) > 0.7] = -1
    fd = np.where(rng.random((n, len(engine.finding_ids))) < 0.5, rng.integers(0, 2, (n, len(engine.finding_ids))), -1)
    return rf, fd


def _evidence(m, rf, fd) -> dict[str, str]:
    out = {r: m.engine.risk_factor_states[j][s] for j, (r, s) in enumerate(zip(m.engine.risk_factor_ids, rf, strict=True)) if s >= 0}
    out.update({f: m.engine.finding_states[j][s] for j, (f, s) in enumerate(zip(m.engine.finding_ids, fd, strict=True)) if s >= 0})
    return out


def test_a_call_above_the_threshold_is_split_and_equals_one_thread(engine):
    rf, fd = _rows(engine, engine_module.PARALLEL_MIN_ROWS + 5_000, seed=1)
    one = engine.posterior(rf, fd, threads=1)
    assert engine._copies == []  # one thread: no copy made
    two = engine.posterior(rf, fd, threads=2)
    assert len(engine._copies) == 1  # the second part ran on a copy
    np.testing.assert_allclose(two.marginals, one.marginals, rtol=0, atol=1e-12)
    np.testing.assert_allclose(two.log_evidence, one.log_evidence, rtol=0, atol=1e-9)


def test_parts_with_joint_and_pgmpy(engine, monkeypatch):
    m = load_model()
    monkeypatch.setattr(engine_module, "PARALLEL_MIN_ROWS", 100)
    rf, fd = _rows(engine, 400, seed=2)
    split = engine.posterior(rf, fd, joint=True, threads=3)
    assert len(engine._copies) == 2
    one = engine.posterior(rf, fd, joint=True, threads=1)
    np.testing.assert_allclose(split.joint, one.joint, rtol=0, atol=1e-12)
    for i in (0, 150, 399):  # a row of each part, against pgmpy
        assert np.max(np.abs(split.marginals[i] - pgmpy_posteriors(m, _evidence(m, rf[i], fd[i])))) < TOL


def test_concurrent_calls_on_one_engine_equal_sequential_ones(engine):
    batches = [_rows(engine, 3_000, seed=10 + i) for i in range(4)]
    expected = [engine.posterior(rf, fd).marginals for rf, fd in batches]
    m = load_model()
    fresh = engine_module.Engine.from_parameters(m.priors, m.parameters)
    got: list[np.ndarray | None] = [None] * len(batches)
    start = threading.Barrier(len(batches))

    def call(i: int) -> None:
        start.wait()
        for _ in range(3):
            got[i] = fresh.posterior(*batches[i]).marginals

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(batches))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for e, g in zip(expected, got, strict=True):
        np.testing.assert_allclose(g, e, rtol=0, atol=1e-12)


def test_an_engine_pickles_without_its_lock_or_copies(engine):
    rf, fd = _rows(engine, 200, seed=3)
    before = engine.posterior(rf, fd).marginals
    back = pickle.loads(pickle.dumps(engine))
    assert back._copies == [] and back._lock is not engine._lock
    np.testing.assert_allclose(back.posterior(rf, fd).marginals, before, rtol=0, atol=1e-15)
