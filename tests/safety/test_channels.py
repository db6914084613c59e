"""Every safety case through every channel: no red flag lost, never a 5xx, the same triage level
everywhere, errors that name the field (issue 10's proof)."""

from __future__ import annotations

import pytest

from model.reasoning.triage import SEVERITY

from .cases import CASES
from .channels import CHANNELS, Context, Outcome


@pytest.fixture(scope="module")
def ctx(model, tmp_path_factory):
    from service.http import create_app

    app = create_app(model, config={"cache_size": 0, "api_keys": ""})
    return Context(model, app.test_client(), tmp_path_factory.mktemp("safety"))


@pytest.fixture(scope="module")
def outcomes(ctx) -> dict[tuple[str, str], Outcome]:
    return {(case["id"], name): run(ctx, case) for case in CASES for name, run in CHANNELS.items()}


def _check(case: dict, out: Outcome) -> None:
    expect = case["expect"]
    where = f"{case['id']} via {out.channel}"
    if out.status is not None:
        assert out.status < 500, where
        if "status" in expect:
            assert out.status == expect["status"], where
    if "status" in expect and out.channel not in expect.get("not_refused_by", []):
        assert out.refused == (expect["status"] >= 400), where
    assert set(expect.get("red_flags", [])) <= out.red_flags, f"{where}: red flag lost, got {out.red_flags}"
    if "triage_at_least" in expect:
        assert out.level is not None and SEVERITY[out.level] <= SEVERITY[expect["triage_at_least"]], f"{where}: {out.level}"
    if "triage_at_most" in expect:
        assert out.level is not None and SEVERITY[out.level] >= SEVERITY[expect["triage_at_most"]], f"{where}: {out.level}"
    if expect.get("no_level"):
        assert out.level is None, where
    if "outside_population" in expect and out.outside_population is not None:
        assert out.outside_population == expect["outside_population"], where
    if expect.get("provisional") and out.provisional is not None:
        assert out.provisional is True, where
    if out.refused and "error_field" in expect:
        want = expect["error_field"]
        assert any(f == want or want.endswith("." + f) for f in out.error_fields), f"{where}: {out.error_fields}"


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
@pytest.mark.parametrize("name", list(CHANNELS))
def test_case_in_channel(outcomes, case, name):
    out = outcomes[(case["id"], name)]
    if not out.applicable:
        pytest.skip(f"{name} cannot carry this input (a dict has no duplicate keys)")
    _check(case, out)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_every_channel_gives_the_same_triage(outcomes, case):
    got = {name: outcomes[(case["id"], name)] for name in CHANNELS}
    applicable = {n: o for n, o in got.items() if o.applicable}
    assert len(applicable) >= 2 or "body" in case, case["id"]
    # every channel: the same level (a channel that reads the input differently by design included)
    assert len({o.level for o in applicable.values()}) == 1, {n: o.level for n, o in applicable.items()}
    same = {n: o for n, o in applicable.items() if n not in case["expect"].get("not_refused_by", [])}
    assert len({o.refused for o in same.values()}) == 1, {n: o.refused for n, o in same.items()}
    flags = {n: o.red_flags for n, o in same.items()}
    assert len({frozenset(f) for f in flags.values()}) == 1, flags
    carried = {n: o.outside_population for n, o in same.items() if o.outside_population is not None}
    assert len(set(carried.values())) <= 1, carried


def test_the_table_holds_every_kind_of_issue_10(outcomes):
    """The shared cases are all present (when ../shared is), and each issue item has a case."""
    from .cases import SHARED, load_cases

    ids = {c["id"] for c in load_cases()}
    if SHARED.is_file():
        from model.priors import read_yaml

        assert {c["id"] for c in read_yaml(SHARED)} <= ids
    assert {"duplicate-key-hides-fever", "unreadable-sex-with-red-flag", "age-beyond-float", "age-huge-integer",
            "child-groin-pain", "stress-fracture-not-excluded", "groin-pain-only", "nothing-answered",
            "ordinary-soreness"} <= ids
