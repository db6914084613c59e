"""The learned priors folder: loads like the bundled one, keeps every citation, never touches the source."""

from __future__ import annotations

import hashlib

import pytest

from model import PriorsError, load_model
from model.learning import write_learned_priors
from model.learning.writer import write_changed_priors
from model.priors import PRIOR_FILES, bundled_priors_dir


def _digest(folder) -> str:
    h = hashlib.sha256()
    for name in PRIOR_FILES:
        h.update((folder / name).read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def learned(bundled, small_sample, small_result, tmp_path_factory):
    _, obs = small_sample
    before = _digest(bundled_priors_dir())
    result = small_result
    out = tmp_path_factory.mktemp("learned") / "priors"
    priors = write_learned_priors(bundled.priors, result.numbers, out, data="sample.csv", rows=len(obs))
    assert _digest(bundled_priors_dir()) == before  # the bundled priors are never written
    return result, priors, out


def test_learned_folder_loads_with_new_version_and_learned_values(bundled, learned):
    result, priors, out = learned
    extras = {p.name for p in bundled_priors_dir().iterdir() if p.suffix == ".yaml"} - set(PRIOR_FILES)  # e.g. sources.yaml
    assert sorted(p.name for p in out.iterdir()) == sorted([*PRIOR_FILES, *extras])
    model = load_model(out)
    assert model.version == priors.version != bundled.version
    by_path = {p.path: p for p in priors.all_priors()}
    for path, n in result.numbers.items():
        p = by_path[path]
        assert p.value == pytest.approx(n.value, rel=1e-12)
        assert p.learned["prior_value"] == pytest.approx(n.prior_value, rel=1e-5)
        assert p.learned["rows"] == 400 and p.learned["data"] == "sample.csv" and p.learned["method"] == "MAP-EM"
        assert p.low <= p.value <= p.high
    # the model's tables are built from the learned values
    top = result.moved()[0]
    assert model.posterior({}) != bundled.posterior({}) or top.kind.startswith("find")


def test_citations_are_kept(bundled, learned):
    _, priors, _ = learned
    old = {p.path: p for p in bundled.priors.all_priors()}
    for p in priors.all_priors():
        o = old[p.path]
        assert (p.kind, p.source, p.quote, p.reason, p.word) == (o.kind, o.source, o.quote, o.reason, o.word)
        if p.learned is None:  # not learnable (thresholds): unchanged
            assert p.value == o.value


def test_comments_and_layout_survive(learned):
    _, _, out = learned
    text = (out / "findings.yaml").read_text(encoding="utf-8")
    original = (bundled_priors_dir() / "findings.yaml").read_text(encoding="utf-8")
    assert text.splitlines()[0] == original.splitlines()[0] and text.count("\n#") == original.count("\n#")
    assert text.count("learned: {method: MAP-EM") == sum(1 for line in original.splitlines() if "kind:" in line)


def test_refuses_a_used_folder_and_the_source(bundled, learned, tmp_path):
    result, _, out = learned
    with pytest.raises(PriorsError, match="not an empty folder"):
        write_learned_priors(bundled.priors, result.numbers, out, data="x", rows=1)
    with pytest.raises(PriorsError, match="source priors folder"):
        write_learned_priors(bundled.priors, result.numbers, bundled_priors_dir(), data="x", rows=1)
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())


def test_changed_priors_for_what_if_networks(bundled, tmp_path):
    changed = write_changed_priors(bundled.priors, {"conditions.itb_syndrome.base_rate": 0.2}, tmp_path / "truth", "test")
    assert changed.conditions["itb_syndrome"].base_rate.value == 0.2
    assert load_model(tmp_path / "truth").prior_probabilities["itb_syndrome"] == pytest.approx(0.2, abs=1e-9)
    with pytest.raises(PriorsError, match="verbal"):
        write_changed_priors(bundled.priors, {"findings.pain_lateral_hip.causes.gtps": 0.9}, tmp_path / "v", "test")
