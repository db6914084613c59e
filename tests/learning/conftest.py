"""Shared data for the learning tests: the bundled model and simulated runners as observed rows."""

from __future__ import annotations

import numpy as np
import pytest

from model import load_model
from model.learning import Observed
from model.simulate import simulate


def observed_rows(model, frame, label_missing: float, rng: np.random.Generator) -> Observed:
    """Simulated runners as engine codes, with labels hidden at random at rate ``label_missing``."""
    n_rf = len(model.risk_factor_ids)
    codes, errors = model.vocabulary.encode_frame(frame, model.evidence_order)
    assert all(e is None for e in errors)
    labels = (1 - frame[[f"true_{c}" for c in model.conditions]].to_numpy()).astype(np.int8)
    labels[rng.random(labels.shape) < label_missing] = -1
    return Observed(codes[:, :n_rf], codes[:, n_rf:], labels)


@pytest.fixture(scope="session")
def bundled():
    return load_model()


@pytest.fixture(scope="session")
def small_sample(bundled):
    """400 runners, 30% answers and 50% labels missing, from the bundled network."""
    frame = simulate(bundled, 400, seed=11, missing=0.3)
    return frame, observed_rows(bundled, frame, 0.5, np.random.default_rng(11))


@pytest.fixture(scope="session")
def small_result(bundled, small_sample):
    """Three EM iterations (five L-BFGS steps each) on the small sample, shared by the tests."""
    from model.learning import learn

    return learn(bundled.priors, small_sample[1], max_iter=3, m_steps=5)
