"""``notebooks/_helpers.py``: the simulated survey reads back as the simulated answers."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("matplotlib")
ROOT = Path(__file__).resolve().parents[2]
MAPPING = ROOT / "examples" / "survey_mapping.yaml"


@pytest.fixture(scope="module")
def helpers():
    sys.path.insert(0, str(ROOT / "notebooks"))
    try:
        import _helpers

        yield _helpers
    finally:
        sys.path.remove(str(ROOT / "notebooks"))


@pytest.mark.skipif(not MAPPING.exists(), reason="examples/survey_mapping.yaml not present")
def test_survey_from_simulation_round_trips_through_the_mapping(helpers, model):
    from model.simulate import simulate
    from service.mapping import load_mapping

    mapping = load_mapping(MAPPING, model.vocabulary)
    sim = simulate(model, 400, seed=3)
    survey = helpers.survey_from_simulation(sim, mapping, model, skip=0.0, seed=1)
    assert list(survey.columns) == [r.column for r in mapping.rules]
    evidence, errors, _ = mapping.apply(survey)
    assert all(e is None for e in errors)
    parsed = [model.parse_evidence({k: v for k, v in row.items() if v is not None})
              for row in evidence.to_dict(orient="records")]
    for target in mapping.targets:
        vid = model.vocabulary.aliases.get(target, target)
        got = [p.get(vid) for p in parsed]
        want = sim[vid].tolist()
        # every answer the survey can express comes back as simulated; the rest is unknown, never wrong
        assert all(g is None or g == w for g, w in zip(got, want, strict=True)), vid
        assert sum(g is not None for g in got) > 0.5 * len(got), vid

    skipped = helpers.survey_from_simulation(sim, mapping, model, skip=0.5, seed=1)
    assert 0.4 < skipped.isna().to_numpy().mean() < 0.6


def test_condition_colours_are_stable(helpers):
    few = helpers.condition_colours(["fai", "gtps"])
    assert few["gtps"] == helpers.condition_colours(list(helpers.SHORT_NAMES))["gtps"]
