"""`hipdx bench --intervals`: the interval ends' Monte Carlo error per draw design, against many
independent draws. Small here (a few cases, seeds and reference draws); the printed figures in
docs/benchmarks.md come from the default run."""

from __future__ import annotations

import numpy as np

from service.bench_intervals import DESIGNS, interval_ends, measure


def test_interval_ends_are_the_reasonings_own(model):
    """The bench's ends for the default design are the diagnosis's intervals before they are
    widened to hold the point estimate."""
    case = {"sex": "female", "age": 45, "pain_lateral_hip": "present", "pain_lying_on_side": "present"}
    variants = model.reasoner.variants(model.parse_evidence(case))
    settings = model.reasoner.settings
    ends = interval_ends(model, [(variants.rf_codes, variants.finding_codes)], settings.draws, settings.seed,
                         settings.sampling, settings.quantile_estimator, precision=settings.draw_precision)[0]
    d = model.diagnose(case)
    by_id = {r.id: r for r in d.conditions}
    for j, c in enumerate(model.conditions):
        (lo, hi), p = by_id[c].interval, by_id[c].probability
        assert abs(lo - min(ends[0, j], p)) < 1e-12 and abs(hi - max(ends[1, j], p)) < 1e-12


def test_errors_shrink_with_more_draws_and_stratification(model):
    cases = [{}, {"age": 24, "pain_groin": "present", "mechanical_symptoms": "present"},
             {"sex": "female", "age": 52, "pain_lateral_hip": "present", "night_pain": "present"}]
    rows, seconds = measure(model, cases, seeds=4, reference_draws=3000)
    assert [label for label, _ in rows] == [d[3] for d in DESIGNS] and seconds > 0
    err = dict(rows)
    for e in err.values():
        assert np.isfinite([e.mean, e.p90, e.max]).all() and 0 < e.mean <= e.max and e.p90 <= e.max
    labels = [d[3] for d in DESIGNS]
    first_generation, independent_128, default, latin_200 = labels[0], labels[1], labels[3], labels[4]
    # 200 Latin-hypercube draws beat 128 independent ones; the default is no worse than the
    # first generation's design by more than the seeds' noise on so few cases
    assert err[latin_200].mean < err[independent_128].mean
    assert err[default].mean < 1.25 * err[first_generation].mean
