"""hipdx export: pyAgrum opens BIF, XMLBIF, NET and XDSL and its exact inference agrees with hipdx; every
file read back with pgmpy's readers gives the same posteriors to 1e-9.

pyAgrum's XMLBIF reader keeps double precision (agreement to 1e-9). Its BIF and NET parsers
store each number as a single-precision float (aGrUM's BIF grammar collects probabilities in a
``std::vector<float>``): their CPT rows then sum to 1 only within ~3e-8 and posteriors agree to ~1e-8,
not 1e-9. The files themselves carry full precision: pgmpy reads them back to 1e-9 (tested below).
"""

from __future__ import annotations

import numpy as np
import pytest

from service.cli import main
from service.export_cmd import export_format, topological_copy

gum = pytest.importorskip("pyagrum")


def random_cases(model, n: int, seed: int) -> list[dict[str, str]]:
    """n random evidence sets with 6 to 16 answers (risk factors and findings)."""
    rng = np.random.default_rng(seed)
    cases = []
    for _ in range(n):
        chosen = rng.choice(model.evidence_order, size=int(rng.integers(6, 17)), replace=False)
        cases.append({v: str(rng.choice(model.variables[v].states)) for v in chosen})
    return cases


@pytest.fixture(scope="module")
def exported(tmp_path_factory, bundled):
    folder = tmp_path_factory.mktemp("export")
    files = {}
    for fmt, name in (("bif", "hipdx.bif"), ("xmlbif", "hipdx.bifxml"), ("net", "hipdx.net"), ("xdsl", "hipdx.xdsl"),
                      ("uai", "hipdx.uai")):
        assert main(["export", "--format", fmt, "-o", str(folder / name)]) == 0
        files[fmt] = folder / name
    return files


PYAGRUM_TOLERANCE = {"xmlbif": 1e-9, "bif": 1e-6, "net": 1e-6}  # see the module docstring


@pytest.mark.parametrize("fmt", ["bif", "xmlbif", "net"])
def test_pyagrum_posteriors_match_hipdx(exported, bundled, fmt):
    bn = gum.loadBN(str(exported[fmt]))
    assert bn.size() == len(bundled.network.nodes())
    cases = random_cases(bundled, 25, seed=hash(fmt) % 1000)
    cases.append({})
    worst = 0.0
    for evidence in cases:
        try:
            ours = bundled.posterior(evidence)
        except Exception:  # contradictory answers have no posterior in either tool
            continue
        ie = gum.LazyPropagation(bn)
        ie.setEvidence(evidence)
        ie.makeInference()
        for cid, p in ours.items():
            theirs = ie.posterior(cid)[{cid: "present"}]
            worst = max(worst, abs(theirs - p))
    assert worst < PYAGRUM_TOLERANCE[fmt]
    if PYAGRUM_TOLERANCE[fmt] > 1e-9:  # the single-precision parse, and nothing worse
        sums = max(float(np.abs(bn.cpt(v).toarray().sum(axis=-1) - 1).max()) for v in bn.names())
        assert 0 < sums < 1e-7


def _read_back(path, fmt):
    from pgmpy import readwrite

    reader = {"bif": "BIFReader", "xmlbif": "XMLBIFReader", "net": "NETReader", "xdsl": "XDSLReader"}
    return getattr(readwrite, reader[fmt])(str(path)).get_model()


def _read_uai(path, network):
    """The UAI file parsed by pgmpy's UAIReader grammar, tables read as the UAI specification says
    (scope = parents then child, last variable fastest). pgmpy's own ``get_model`` takes each
    child's parents from a set of edges, so their order (and the table's meaning) varies from run to
    run for multi-parent nodes; we therefore rebuild the CPDs from the parsed scopes and values."""
    from pgmpy.factors.discrete import TabularCPD
    from pgmpy.models import DiscreteBayesianNetwork
    from pgmpy.readwrite import UAIReader

    reader = UAIReader(str(path))
    parsed = reader.grammar.parse_string(reader.network)
    order = list(topological_copy(network).nodes())  # variable i of the file
    states = {v: list(network.get_cpds(v).state_names[v]) for v in order}
    model = DiscreteBayesianNetwork()
    model.add_nodes_from(order)
    cpds = []
    for i in range(reader.no_functions):
        scope = [order[int(x)] for x in np.atleast_1d(parsed[f"fun_{i}"])]
        child, parents = scope[-1], scope[:-1]
        values = np.array([float(x) for x in parsed[f"fun_values_{i}"]])
        table = np.moveaxis(values.reshape([len(states[v]) for v in scope]), -1, 0).reshape(len(states[child]), -1)
        model.add_edges_from((p, child) for p in parents)
        cpds.append(TabularCPD(child, len(states[child]), table, evidence=parents or None,
                               evidence_card=[len(states[p]) for p in parents] or None,
                               state_names={v: states[v] for v in scope}))
    model.add_cpds(*cpds)
    model.check_model()
    return model


@pytest.mark.parametrize("fmt", ["bif", "xmlbif", "net", "xdsl", "uai"])
def test_pgmpy_readers_read_back_the_same_network(exported, bundled, fmt):
    from pgmpy.inference import VariableElimination

    model = _read_uai(exported[fmt], bundled.network) if fmt == "uai" else _read_back(exported[fmt], fmt)
    assert len(model.nodes()) == len(bundled.network.nodes())
    assert set(model.edges()) == set(bundled.network.edges())
    ve = VariableElimination(model)
    worst = 0.0
    for evidence in random_cases(bundled, 8, seed=5):
        try:
            ours = bundled.posterior(evidence)
        except Exception:
            continue
        for cid in ("gtps", "stress_fracture", "labral_tear"):
            q = ve.query([cid], evidence=evidence, show_progress=False)
            worst = max(worst, abs(q.get_value(**{cid: "present"}) - ours[cid]))
    assert worst < 1e-9


def test_export_names_the_format_and_refuses_unknown_ones(tmp_path, capsys):
    assert export_format("model.bifxml", None) == "xmlbif"
    assert export_format("x.anything", "net") == "net"
    with pytest.raises(ValueError, match="--format"):
        export_format("model.txt", None)
    assert main(["export", "-o", str(tmp_path / "model.txt")]) == 2
    assert "cannot tell the format" in capsys.readouterr().err
    assert not (tmp_path / "model.txt").exists()


def test_export_of_learned_priors_carries_their_version(exported, tmp_path, bundled):
    text = exported["bif"].read_text(encoding="utf-8")
    assert f"network hipdx_{bundled.version}" in text
