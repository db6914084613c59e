"""model/ is organised as DESIGN.md section 2 describes, with no import cycle (type-only imports
included) and no HTTP, CLI or file-format dependency."""

from __future__ import annotations

import ast
from pathlib import Path

MODEL = Path(__file__).resolve().parents[2] / "model"


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


def test_model_knows_no_http_or_cli():
    for p in MODEL.rglob("*.py"):
        tree = ast.parse(p.read_text(encoding="utf-8"))
        names = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        names |= {(n.module or "").split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and not n.level}
        assert not names & {"flask", "argparse", "service", "gunicorn", "requests"}, p
