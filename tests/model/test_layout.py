"""model/ is organised as DESIGN.md section 2 describes, with no import cycle (type-only imports
included) and no HTTP, CLI or file-format dependency."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

MODEL = Path(__file__).resolve().parents[2] / "model"

# Libraries of the channels (DESIGN.md section 2: service/ serves the model; model/ knows nothing
# of HTTP, CLIs or file formats): servers and HTTP clients, FHIR models, command lines, and the
# readers and writers of data files. Top-level module names, as imported.
HTTP = {"flask", "werkzeug", "gunicorn", "waitress", "uvicorn", "starlette", "fastapi", "jinja2", "requests", "httpx",
        "urllib3", "aiohttp", "http", "urllib", "socket", "socketserver", "wsgiref", "fhir", "sqlite3"}
CLI = {"argparse", "optparse", "getopt", "click", "typer", "service"}
FILE_FORMATS = {"pyarrow", "fastparquet", "openpyxl", "xlrd", "xlsxwriter", "odf", "pyreadstat", "savReaderWriter",
                "csv", "json", "pickle", "shelve", "h5py", "tables"}
# pandas' own readers and writers of data files (pd.read_csv, DataFrame.to_parquet, ...).
PANDAS_IO = {f"read_{x}" for x in ("csv", "excel", "parquet", "feather", "orc", "spss", "stata", "sas", "json", "sql",
                                   "table", "fwf", "html", "xml", "pickle", "hdf", "clipboard")}
PANDAS_IO |= {f"to_{x}" for x in ("csv", "excel", "parquet", "feather", "orc", "stata", "json", "sql", "html", "xml",
                                  "pickle", "hdf", "clipboard")}
# The only modules of model/ that touch files: reading its own priors, writing a learned priors folder.
FILE_ACCESS = {"model.priors.load": {"yaml"}, "model.learning.writer": {"ruamel", "os", "shutil", "tempfile"}}


def _import_graph() -> dict[str, set[str]]:
    mods: dict[str, Path] = {}
    for p in MODEL.rglob("*.py"):
        parts = p.relative_to(MODEL.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        mods[name] = p
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for m, p in mods.items():
        pkg = m if p.name == "__init__.py" else m.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = pkg.split(".")[: len(pkg.split(".")) - (node.level - 1)]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                graph[m].update(c for c in [target] + [f"{target}.{a.name}" for a in node.names] if c in mods and c != m)
            elif isinstance(node, ast.Import):
                graph[m].update(a.name for a in node.names if a.name in mods and a.name != m)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    state: dict[str, int] = {}
    found: list[list[str]] = []

    def visit(u: str, stack: list[str]) -> None:
        state[u] = 1
        stack.append(u)
        for v in sorted(graph[u]):
            if state.get(v) == 1:
                found.append(stack[stack.index(v):] + [v])
            elif not state.get(v):
                visit(v, stack)
        stack.pop()
        state[u] = 2

    for u in sorted(graph):
        if not state.get(u):
            visit(u, [])
    return found


def test_no_import_cycle_in_model():
    graph = _import_graph()
    assert "model.inference.engine" in graph and "model.reasoning.reasoner" in graph
    assert _cycles(graph) == []


def test_the_core_is_layered():
    """inference never imports reasoning or the model's API; reasoning never imports the API."""
    graph = _import_graph()
    for m, targets in graph.items():
        if m.startswith("model.inference"):
            assert not any(t.startswith(("model.reasoning", "model.hipmodel")) for t in targets), m
        if m.startswith("model.reasoning"):
            assert "model.hipmodel" not in targets, m


def _libraries(source: str) -> set[str]:
    """Top-level names of the modules ``source`` imports absolutely (anywhere, lazy imports included)."""
    tree = ast.parse(source)
    names = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {(n.module or "").split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and not n.level}
    return names


def _modules() -> dict[str, Path]:
    out = {}
    for p in MODEL.rglob("*.py"):
        parts = p.relative_to(MODEL.parent).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = p
    return out


def test_the_library_check_sees_lazy_and_dotted_imports():
    source = "import numpy as np\ndef f():\n    import pyarrow.parquet as pq\n    from flask import Flask\nfrom . import x\n"
    assert _libraries(source) == {"numpy", "pyarrow", "flask"}


def test_model_knows_no_http_cli_or_file_format():
    """No server, HTTP client, FHIR model, command line, data-file library or service import in model/."""
    for name, p in _modules().items():
        found = _libraries(p.read_text(encoding="utf-8")) & (HTTP | CLI | FILE_FORMATS)
        assert not found, f"{name} imports {sorted(found)}"


def test_model_reads_and_writes_no_data_files_through_pandas():
    for name, p in _modules().items():
        tree = ast.parse(p.read_text(encoding="utf-8"))
        used = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)} & PANDAS_IO
        assert not used, f"{name} uses {sorted(used)}"


def test_only_the_priors_reader_and_writer_touch_files():
    """Files are opened (open, Path.read_*/write_*) and YAML/file-system libraries imported only where
    model/ reads its own priors and writes a learned priors folder."""
    file_libs = set().union(*FILE_ACCESS.values()) | {"yaml", "io"}
    for name, p in _modules().items():
        tree = ast.parse(p.read_text(encoding="utf-8"))
        calls = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)} & {"open"}
        calls |= {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)} & {
            "read_text", "read_bytes", "write_text", "write_bytes"}
        libs = _libraries(p.read_text(encoding="utf-8")) & file_libs
        if name in FILE_ACCESS:
            assert libs <= FILE_ACCESS[name], f"{name} imports {sorted(libs - FILE_ACCESS[name])}"
        else:
            assert not calls and not libs, f"{name} touches files: {sorted(calls | libs)}"


def test_model_has_the_subpackages_design_md_names():
    """priors, inference, reasoning and learning are packages; no module shadows the priors package."""
    for pkg in ("priors", "inference", "reasoning", "learning"):
        assert (MODEL / pkg / "__init__.py").is_file(), pkg
    assert not (MODEL / "priors.py").exists() and not (MODEL / "sources.py").exists()
    # the network has one compiled form, under one name: no module re-exports it under another
    assert not (MODEL / "inference" / "draw_network.py").exists()
    modules = set(_modules())
    assert {f"model.priors.{m}" for m in ("load", "schema", "scale", "validate", "records", "problems", "sources")} <= modules


def test_the_priors_package_keeps_every_public_name():
    """Everything imported from ``model.priors`` (and ``model.sources``) before the package split
    still is, and is the very object its module defines."""
    import model.priors as priors

    where = {
        "load": ["PRIOR_FILES", "bundled_priors_dir", "load_priors", "priors_version", "read_yaml"],
        "problems": ["PriorsError"],
        "records": ["BINARY_STATES", "CONDITION_STATES", "MAX_DEPENDENT_GROUP", "RISK_CAP", "TRIAGE_LEVELS", "AgeRange",
                    "Condition", "Effect", "Finding", "FindingRule", "Numeric", "PosteriorRule", "Prior", "Priors",
                    "RiskFactor", "dependent_groups"],
        "scale": ["SOURCE_NAME"],
        "sources": ["SOURCES_FILE", "Source", "bundled_sources", "load_sources", "source_title"],
    }
    for module, names in where.items():
        defined = importlib.import_module(f"model.priors.{module}")
        for n in names:
            assert getattr(priors, n) is getattr(defined, n), n
            assert n in priors.__all__, n
    assert sorted(priors.__all__) == sorted(n for names in where.values() for n in names)


def test_priors_is_the_bottom_layer():
    """DESIGN.md's one-way flow: priors -> network -> inference -> reasoning. The priors package
    imports nothing else of model/; the network and its numbers import only the priors."""
    graph = _import_graph()
    for m, targets in graph.items():
        if m.startswith("model.priors"):
            assert all(t.startswith("model.priors") for t in targets), (m, targets)
        if m in ("model.parameters", "model.network"):
            assert all(t.startswith("model.priors") or t == "model.parameters" for t in targets), (m, targets)


# ---------------------------------------------------------------- one compiled network
# The network's shape is compiled in ONE module (DESIGN.md section 2): only it turns CPDs into the
# tables the exact algorithms read. Names that build those tables from CPDs, and where they may appear.
COMPILED = "model.inference.compiled"
COMPILE_STEPS = {"compile_factors", "factors_from_parameters", "CompiledNetwork", "joint_grid", "risk_grid"}
# Reading a pgmpy CPD (the reference network's tables) to compile it.
CPD_READERS = {"get_cpds", "get_values", "cardinality"}
# The CPD arrays of model.parameters.Parameters, read by the modules that own them (the pgmpy reference,
# the simulator, the parameter space of learning) and the compile step, never by another inference module.
PARAMETER_TABLES = {"risk_factor_probs", "finding_tables", "finding_parents", "finding_inhibitors", "finding_against"}
# Modules of model/inference that may take a compile step: the compiled network itself and the two
# that construct it (the batch engine from one draw, the per-draw engine).
MAY_CONSTRUCT = {COMPILED, "model.inference.engine", "model.inference.draw_engine"}


def _names(source: str) -> set[str]:
    """Every identifier, attribute and imported name a module's source uses."""
    tree = ast.parse(source)
    out = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    out |= {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    out |= {a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}
    out |= {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.ClassDef)}
    return out


def _called(source: str) -> set[str]:
    """Names of the functions and methods a module's source calls."""
    tree = ast.parse(source)
    calls = [n.func for n in ast.walk(tree) if isinstance(n, ast.Call)]
    return {f.id for f in calls if isinstance(f, ast.Name)} | {f.attr for f in calls if isinstance(f, ast.Attribute)}


def _compile_violations(name: str, source: str) -> list[str]:
    """Why module ``name`` (with ``source``) breaks "the network is compiled in one place"."""
    if name == COMPILED:
        return []
    found = []
    used, called = _names(source), _called(source)
    if name.startswith("model."):
        if called & {"compile_factors", "factors_from_parameters"}:
            found.append(f"{name} calls {sorted(called & {'compile_factors', 'factors_from_parameters'})}")
        if called & CPD_READERS and name != "model.network":
            found.append(f"{name} reads pgmpy CPDs ({sorted(called & CPD_READERS)})")
    if name.startswith("model.inference."):
        if used & PARAMETER_TABLES:
            found.append(f"{name} reads the Parameters' CPD arrays {sorted(used & PARAMETER_TABLES)}")
        # Naming the class (a type hint) is reading it; calling it or its builders is compiling.
        steps = (used & (COMPILE_STEPS - {"CompiledNetwork"})) | (called & {"CompiledNetwork"})
        if "CompiledNetwork" in used and called & {"from_parameters", "from_pgmpy"}:
            steps |= {"CompiledNetwork"}
        if name not in MAY_CONSTRUCT and steps:
            found.append(f"{name} compiles tables itself ({sorted(steps)})")
    if name == "model.inference.engine":
        # The batch engine reads the compiled network: no factor compilation, no CPD tuples, no J
        # built from condition tables here (it asks the compiled network for J[R, C]).
        for bad in ("compile_factors", "condition_tables", "finding_tables", "get_cpds"):
            if bad in used:
                found.append(f"{name} uses {bad}")
        if "joint_grid" not in called or "CompiledNetwork" not in used:
            found.append(f"{name} does not build from the compiled network")
    return found


def test_the_network_is_compiled_in_one_place():
    """compile_factors is called only by the compiled-network module; the engine reads J[R, C],
    the factors and the condition tables from it; no other module of model/ reads a CPD or the
    Parameters' CPD arrays to build an inference table."""
    sources = {name: p.read_text(encoding="utf-8") for name, p in _modules().items()}
    assert COMPILED in sources
    assert "compile_factors" in _called(sources[COMPILED]) and "get_cpds" in _called(sources[COMPILED])
    assert [v for name, src in sources.items() for v in _compile_violations(name, src)] == []


def test_a_planted_second_compile_step_is_caught():
    """The check above fails on a module that compiles the network's tables itself."""
    engine = (MODEL / "inference" / "engine.py").read_text(encoding="utf-8")
    planted = {
        "model.inference.engine": engine + "\n\ndef _again(ids, parents, on):\n    return compile_factors(ids, parents, on)\n",
        "model.inference.case_variants": "def prior(params):\n    return params.risk_factor_probs\n",
        "model.reasoning.reasoner": "def tables(net, v):\n    return net.get_cpds(v).get_values()\n",
        "model.inference.new_path": "from .compiled import compile_factors\n",
        "model.inference.grouped_plan": "from .compiled import CompiledNetwork\n\n\ndef again(priors, params):\n"
                                        "    return CompiledNetwork.from_parameters(priors, params)\n",
        "model.inference.grouped_draws": "from .compiled import CompiledNetwork\n\n\ndef again(*tables):\n"
                                         "    return CompiledNetwork(*tables)\n",
    }
    # naming the class as a type is reading it, not compiling
    assert not _compile_violations("model.inference.grouped_plan",
                                   "from .compiled import CompiledNetwork\n\n\ndef f(net: CompiledNetwork) -> None:\n    pass\n")
    for name, source in planted.items():
        assert _compile_violations(name, source), name
    # and the real engine with the J grid built from condition tables again
    again = engine.replace("joint = compiled.joint_grid(draw)", "joint = _grid(compiled.condition_tables)")
    assert again != engine and _compile_violations("model.inference.engine", again)
