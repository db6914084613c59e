"""``model.explore``: the tables behind the notebooks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from model import explore


def test_network_layers_cover_every_node(model):
    layers = explore.network_layers(model)
    assert set(layers) == set(model.network.nodes())
    assert {v for v, layer in layers.items() if layer == "condition"} == set(model.conditions)


def test_base_rates_from_pgmpy_match_the_engine(model):
    rates = explore.base_rates(model, by=("age_band", "sex"))
    assert len(rates) == 4 * 2 * len(model.conditions)
    for row in rates.itertuples():
        engine = model.posterior({"age_band": row.age_band, "sex": row.sex})[row.condition]
        assert row.probability == pytest.approx(engine, abs=1e-9)
    wide = rates.pivot_table(index=["sex", "age_band"], columns="condition", values="probability")
    assert wide.loc[("female", "40_49"), "gtps"] > 3 * wide.loc[("male", "40_49"), "gtps"]
    assert wide.loc[("male", "under_30"), "fai"] > wide.loc[("male", "50_plus"), "fai"]
    assert wide.loc[("male", "50_plus"), "osteoarthritis"] > wide.loc[("male", "under_30"), "osteoarthritis"]


def test_training_relative_risks_match_the_cited_values(model):
    rr = explore.training_relative_risks(model)
    assert set(rr["factor"]) == set(explore.TRAINING_FACTORS)
    overuse = {c for c, cond in model.priors.conditions.items() if cond.overuse}
    assert set(rr["condition"]) <= overuse
    assert ((rr["low"] <= rr["relative_risk"]) & (rr["relative_risk"] <= rr["high"])).all()
    # the network reproduces each relative risk unless the 0.98 probability cap bites (never far off)
    np.testing.assert_allclose(rr["model_relative_risk"], rr["relative_risk"], rtol=0.05)


def test_predictive_is_a_distribution(model):
    p = explore.predictive(model, {"age": 45, "sex": "female", "pain_lateral_hip": "present"}, "pain_lying_on_side")
    assert set(p) == {"present", "absent"}
    assert sum(p.values()) == pytest.approx(1.0)
    assert p["present"] > explore.predictive(model, {}, "pain_lying_on_side")["present"]


def test_answer_trajectory_follows_the_script(model):
    start = {"age": 45, "sex": "female", "pain_lateral_hip": "present"}
    script = {"pain_lying_on_side": "present", "severe_pain": "absent"}
    traj = explore.answer_trajectory(model, start, script, max_steps=4)
    assert 1 <= len(traj) <= 5
    assert list(traj["step"]) == list(range(len(traj)))
    first = model.posterior(start)
    assert traj.loc[0, "gtps"] == pytest.approx(first["gtps"])
    asked = traj["asked"].iloc[1:].tolist()
    assert len(set(asked)) == len(asked) and not set(asked) & {"age_band", "sex", "pain_lateral_hip"}
    for row in traj.iloc[1:].itertuples():
        assert row.scripted == (row.asked in script)
        if row.scripted:
            assert row.answer == script[row.asked]
        assert row.answer in model.variables[row.asked].states
    # replaying the answers gives the last row
    ev = dict(start, **dict(zip(traj["asked"].iloc[1:], traj["answer"].iloc[1:], strict=True)))
    assert traj["gtps"].iloc[-1] == pytest.approx(model.posterior(ev)["gtps"])


def test_reliability_of_calibrated_predictions():
    rng = np.random.default_rng(0)
    p = rng.beta(1, 4, 20_000)
    y = (rng.random(p.size) < p).astype(int)
    table = explore.reliability(p, y, bins=10)
    assert len(table) == 10 and table["n"].sum() == p.size
    assert (table["n"].max() - table["n"].min()) <= 1  # deciles
    assert np.all(np.abs(table["observed"] - table["mean_predicted"]) < 4 * table["stderr"] + 1e-3)
    uniform = explore.reliability(p, y, bins=5, strategy="uniform")
    assert uniform["bin"].between(0, 4).all() and uniform["n"].sum() == p.size
    # missing predictions (unscored rows) are left out
    assert explore.reliability([0.1, np.nan, 0.3], [0, 1, 1], bins=2)["n"].sum() == 2
    with pytest.raises(ValueError, match="strategy"):
        explore.reliability(p, y, strategy="bogus")


def test_calibration_summary(model):
    conds = ["gtps", "fai"]
    pred = pd.DataFrame({"p_gtps": [0.2, 0.8, np.nan], "p_fai": [0.1, 0.1, 0.1]})
    truth = pd.DataFrame({"true_gtps": [0, 1, 1], "true_fai": [0, 0, 1]})
    s = explore.calibration_summary(pred, truth, conds).set_index("condition")
    assert s.loc["gtps", "n"] == 2
    assert s.loc["gtps", "brier"] == pytest.approx((0.04 + 0.04) / 2)
    assert s.loc["fai", "observed"] == pytest.approx(1 / 3)
