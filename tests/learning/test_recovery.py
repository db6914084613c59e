"""Recovery: data simulated from a network with known changes move exactly those numbers toward the truth.

The "true" network differs from the bundled priors in six stated ways: three links much stronger
(muscle strain -> groin pain 0.30 -> 0.70, tendinopathy -> deep buttock pain 0.25 -> 0.65, muscle
soreness -> stiffness 0.40 -> 0.80), one base rate doubled (ITB syndrome 0.10 -> 0.20), and the two
new table forms: a finding-to-finding arc stronger (outer-hip pain -> pain lying on the side,
``depends_on``, 0.35 -> 0.75) and an inhibiting link stronger (ITB syndrome against pain that
improves with warming up, ``argues_against``, 0.50 -> 0.90). 6,000
runners are simulated from it with 30% of answers and 50% of labels missing at random; learning
starts from the bundled priors. notebooks/04_learning.ipynb runs the same experiment on 20,000.
Tolerances (stated): each changed number ends within 0.06 of the truth and at least 75% of the way
there; every unchanged probability stays inside its cited range and moves less than 40% of the
range's width, every unchanged relative risk by less than a factor exp(0.35); the held-out log loss
improves and ends within 0.002 nats of the true network's.
"""

from __future__ import annotations

import numpy as np
import pytest

from model import load_model
from model.learning import learn, scores, write_learned_priors
from model.learning.writer import write_changed_priors
from model.simulate import simulate

from .conftest import observed_rows

CHANGES = {
    "findings.pain_groin.causes.muscle_strain": 0.70,
    "findings.pain_buttock_deep.causes.tendinopathy": 0.65,
    "findings.stiffness.causes.muscle_soreness": 0.80,
    "conditions.itb_syndrome.base_rate": 0.20,
    "findings.pain_lying_on_side.depends_on.pain_lateral_hip": 0.75,
    "findings.improves_with_warmup.argues_against.itb_syndrome": 0.90,
}
TRAIN, HELD_OUT = 6000, 4000


@pytest.fixture(scope="module")
def experiment(bundled, tmp_path_factory):
    folder = tmp_path_factory.mktemp("recovery")
    write_changed_priors(bundled.priors, CHANGES, folder / "truth", "recovery experiment")
    truth = load_model(folder / "truth")
    frame = simulate(truth, TRAIN + HELD_OUT, seed=7, missing=0.3)
    rows = observed_rows(bundled, frame, 0.5, np.random.default_rng(7))
    train, test = rows.take(np.arange(TRAIN)), rows.take(np.arange(TRAIN, TRAIN + HELD_OUT))
    result = learn(bundled.priors, train)
    write_learned_priors(bundled.priors, result.numbers, folder / "learned", data="simulated", rows=TRAIN)
    return result, truth, load_model(folder / "learned"), test


def test_changed_numbers_move_to_the_truth(experiment):
    result, *_ = experiment
    assert result.converged
    for path, true_value in CHANGES.items():
        n = result.numbers[path]
        assert abs(n.value - true_value) < 0.06, (path, n.value)
        assert abs(n.value - n.prior_value) > 0.75 * abs(true_value - n.prior_value), (path, n.value)


def test_unchanged_numbers_stay_near(experiment):
    result, *_ = experiment
    for path, n in result.numbers.items():
        if path in CHANGES:
            continue
        if n.kind == "relative_risk":
            assert abs(np.log(n.value / n.prior_value)) < 0.35, (path, n.prior_value, n.value)
        else:
            low, high = n.prior_range
            assert low <= n.value <= high, (path, n.prior_value, n.value)
            assert abs(n.value - n.prior_value) < 0.4 * (high - low), (path, n.prior_value, n.value)


def test_held_out_log_loss_improves(experiment, bundled):
    _, truth, learned, test = experiment
    loss = {}
    for name, model in (("before", bundled), ("after", learned), ("truth", truth)):
        p = model.engine.posterior(test.rf_codes, test.finding_codes).marginals
        loss[name] = scores(p, test.labels, bundled.conditions).loc["all", "log_loss"]
    assert loss["after"] < loss["before"]
    assert loss["after"] - loss["truth"] < 0.002, loss
