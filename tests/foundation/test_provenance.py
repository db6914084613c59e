"""Every number in ``priors/`` carries its provenance, and every quote really is in its source.

Walks both the loaded ``Priors`` and the raw YAML, so an entry the loader does not surface
(an `overuse` citation, a red-flag rule) is not missed."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from model.priors import PRIOR_FILES, SOURCE_NAME, read_yaml
from tests.conftest import SOURCES

TYPOGRAPHIC = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-"})


def normalise(text: str) -> str:
    """Collapse white space; typographic quotes to ' and "; en and em dashes to -."""
    return re.sub(r"\s+", " ", text.translate(TYPOGRAPHIC)).strip()


def walk(node, path: str) -> Iterator[tuple[str, dict]]:
    """Every mapping in a YAML document, with a dotted path."""
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from walk(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from walk(value, f"{path}[{i}]")


@pytest.fixture(scope="module")
def raw(priors_dir) -> dict[str, dict]:
    return {name: read_yaml(priors_dir / name) for name in PRIOR_FILES if name != "scale.yaml"}


@pytest.fixture(scope="module")
def sources() -> dict[str, str]:
    if not SOURCES.is_dir():
        pytest.skip(f"source documents not present at {SOURCES}")
    return {p.name: normalise(p.read_text(encoding="utf-8")) for p in Path(SOURCES).glob("*.txt")}


def quoted(raw) -> list[tuple[str, dict]]:
    return [
        (f"{name}:{path}", node)
        for name, doc in raw.items()
        for path, node in walk(doc, name.removesuffix(".yaml"))
        if "quote" in node
    ]


def test_normalise():
    assert normalise("it\u2019s  \u201cgive\n out\u201d \u2013 a\u2014b") == 'it\'s "give out" - a-b'


def test_every_raw_quote_occurs_verbatim_in_its_source(raw, sources):
    entries = quoted(raw)
    assert len(entries) >= 50  # priors, overuse citations and red-flag rules
    missing = []
    for where, node in entries:
        source = node.get("source")
        assert source in sources, f"{where}: source {source!r} is not one of {sorted(sources)}"
        if normalise(node["quote"]) not in sources[source]:
            missing.append(f"{where}: {node['quote']!r} not in {source}")
    assert not missing, "\n".join(missing)


def test_every_loaded_quote_occurs_in_its_source(model, sources):
    p = model.priors
    cited = [(pr.path, pr.source, pr.quote) for pr in p.all_priors() if pr.quote]
    cited += [(f"conditions.{c.id}.overuse", c.overuse["source"], c.overuse["quote"]) for c in p.conditions.values() if c.overuse]
    cited += [(f"red_flags.{r.id}", r.source, r.quote) for r in (*p.finding_rules, *p.posterior_rules)]
    for path, source, quote in cited:
        assert normalise(quote) in sources[source], f"{path}: {quote!r} not in {source}"


def test_every_source_named_exists(raw, sources):
    named = {node["source"] for _, doc in raw.items() for _, node in walk(doc, "") if "source" in node}
    assert named <= set(sources)
    assert all(SOURCE_NAME.match(s) for s in named)


def test_every_verbal_word_is_in_the_scale_and_its_quote(model, raw):
    words = model.priors.scale_words
    verbal = [(path, node) for name, doc in raw.items() for path, node in walk(doc, name) if node.get("kind") == "verbal"]
    assert len(verbal) >= 25
    for path, node in verbal:
        assert node["word"] in words, path
        assert node["word"].lower() in node["quote"].lower(), path
        assert "value" not in node or node["value"] == model.priors.scale[words[node["word"]]][0], path
    for pr in model.priors.all_priors():
        if pr.kind == "verbal":
            assert pr.word in words and pr.word.lower() in pr.quote.lower(), pr.path
            assert pr.anchor == words[pr.word] and pr.value == model.priors.scale[pr.anchor][0], pr.path


def test_every_raw_prior_has_its_provenance(raw):
    priors = [(f"{name}:{path}", node) for name, doc in raw.items() for path, node in walk(doc, name) if "kind" in node]
    assert len(priors) >= 150
    for where, node in priors:
        assert node["kind"] in ("stated", "verbal", "assumption"), where
        assert "range" in node or node["kind"] == "verbal", where
        if node["kind"] == "assumption":
            assert node.get("reason", "").strip(), where
            assert "quote" not in node, where
        else:
            assert node.get("source") and node.get("quote", "").strip(), where


def test_every_loaded_prior_has_its_provenance(model, raw):
    loaded = model.priors.all_priors()
    for pr in loaded:
        if pr.kind == "assumption":
            assert pr.reason and pr.reason.strip(), pr.path
        else:
            assert pr.source and pr.quote, pr.path
        assert pr.low <= pr.value <= pr.high, pr.path
        if pr.is_probability:
            assert 0 <= pr.low and pr.high <= 1, pr.path
    # nothing is missed: every raw prior entry is a loaded prior, and the other way round
    raw_count = sum(1 for _, doc in raw.items() for _, node in walk(doc, "") if "kind" in node)
    assert len({pr.path for pr in loaded}) == raw_count


def test_stated_relative_risks_have_narrower_ranges_than_assumed_ones(model):
    """DESIGN 3: ranges are wider for assumed values than for stated ones (median width on the log scale)."""
    import math
    import statistics

    rr = {pr.path: pr for pr in model.priors.all_priors() if not pr.is_probability}.values()
    stated = [math.log(pr.high / pr.low) for pr in rr if pr.kind == "stated"]
    assumed = [math.log(pr.high / pr.low) for pr in rr if pr.kind == "assumption"]
    assert len(stated) == 4  # 2.5x rest days, 2.1x hours, 0.5x strength training, 4x women (GTPS)
    assert statistics.median(stated) < statistics.median(assumed)


def test_red_flag_rules_cite_their_sources(model, raw):
    rules = raw["red_flags.yaml"]["finding_rules"] + raw["red_flags.yaml"]["posterior_rules"]
    assert len(rules) == len(model.priors.finding_rules) + len(model.priors.posterior_rules)
    for rule in rules:
        assert rule["reason"].strip() and rule["quote"].strip() and SOURCE_NAME.match(rule["source"]), rule["id"]
