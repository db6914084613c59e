"""Every notebook runs top to bottom from scratch, shows its figures, and says what it claims.

The committed notebooks are read, executed in memory (kernel cwd = ``notebooks/``, so they import
``_helpers`` as a user's Jupyter would) and the executed copies written to a temp folder; the
committed files are never rewritten. A second group of checks looks at the committed files
themselves: executed with their outputs (readable when browsed), in order, and small.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(p.name for p in NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))
MAX_BYTES = 1_500_000
EXPECTED = ["01_priors.ipynb", "02_cases.ipynb", "03_survey.ipynb", "04_learning.ipynb"]
# cells (by tag) that must show a figure
FIGURE_CELLS = {
    "01_priors.ipynb": ["network", "prior-kinds", "base-rates", "relative-risks", "training-habits", "sensitivity",
                        "sensitivity-stress-fracture"],
    "02_cases.ipynb": ["case-1", "case-2", "case-3", "case-4", "summary", "trajectory-2", "trajectory-1"],
    "03_survey.ipynb": ["by-subgroup", "triage", "calibration"],
    "04_learning.ipynb": ["em-trace", "recovery", "unchanged", "reliability"],
}
KERNEL_PROBE = "import sys; print('KERNEL-PYTHON=' + sys.executable)"


def _run(name: str, out_dir: Path):
    nb = nbformat.read(NOTEBOOKS_DIR / name, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(KERNEL_PROBE))
    client = nbclient.NotebookClient(nb, kernel_name="python3", timeout=300,
                                     resources={"metadata": {"path": str(NOTEBOOKS_DIR)}})
    client.execute()  # raises CellExecutionError on the first failing cell
    nbformat.write(nb, out_dir / name)
    return nb


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """name -> the notebook executed from scratch (each run once, on first use)."""
    out_dir = tmp_path_factory.mktemp("executed_notebooks")
    cache: dict[str, object] = {}

    def get(name: str):
        if name not in cache:
            cache[name] = _run(name, out_dir)
        return cache[name]

    return get


def _cell(nb, tag: str):
    found = [c for c in nb.cells if tag in c.get("metadata", {}).get("tags", [])]
    assert len(found) == 1, f"expected one cell tagged {tag!r}, found {len(found)}"
    return found[0]


def _text(cell) -> str:
    parts = []
    for o in cell.get("outputs", []):
        if o.get("output_type") == "stream":
            parts.append(o.get("text", ""))
        elif "data" in o:
            parts.append(o["data"].get("text/markdown", "") or o["data"].get("text/plain", ""))
    return "\n".join(parts)


def _has_image(cell) -> bool:
    return any("image/png" in o.get("data", {}) for o in cell.get("outputs", []))


def _errors(nb) -> list[str]:
    return [f"{o.get('ename')}: {o.get('evalue')}" for c in nb.cells if c.cell_type == "code"
            for o in c.get("outputs", []) if o.get("output_type") == "error"]


def test_all_notebooks_present():
    assert NOTEBOOKS == EXPECTED


# ------------------------------------------------------------------------------ fresh execution
@pytest.mark.parametrize("name", EXPECTED)
def test_runs_clean_with_figures(executed, name):
    nb = executed(name)
    assert _errors(nb) == []
    assert f"KERNEL-PYTHON={sys.executable}" in _text(nb.cells[-1]), "the kernel is not this environment's Python"
    assert sum(_has_image(c) for c in nb.cells if c.cell_type == "code") >= len(FIGURE_CELLS[name])
    for tag in FIGURE_CELLS[name]:
        assert _has_image(_cell(nb, tag)), f"{name}: cell {tag!r} shows no figure"


@pytest.mark.parametrize("name", EXPECTED)
def test_starts_with_intro_and_disclaimer(name):
    nb = nbformat.read(NOTEBOOKS_DIR / name, as_version=4)
    first = nb.cells[0]
    assert first.cell_type == "markdown"
    assert "not a validated clinical device" in first.source
    # every figure cell is explained by a Markdown cell before it
    for tag in FIGURE_CELLS[name]:
        i = nb.cells.index(_cell(nb, tag))
        assert any(c.cell_type == "markdown" for c in nb.cells[max(0, i - 3):i]), f"{name}: {tag!r} has no explanation"


def test_01_priors_table_lists_every_prior(executed, model):
    nb = executed("01_priors.ipynb")
    text = _text(_cell(nb, "priors-table"))
    assert f"{len(model.priors.all_priors())} priors" in text
    html = "".join(o["data"].get("text/html", "") for o in _cell(nb, "priors-table").outputs if "data" in o)
    assert html.count("<tr") == len(model.priors.all_priors()) + 1  # header + one row per prior


def test_01_network_and_base_rates(executed, model):
    nb = executed("01_priors.ipynb")
    counts = _text(_cell(nb, "network"))
    assert re.search(rf"finding\s+{len(model.priors.findings)}\b", counts)
    assert re.search(rf"condition\s+{len(model.conditions)}\b", counts)
    text = _text(_cell(nb, "base-rate-checks"))

    def p(cond, sex, age):
        return f"{model.posterior({'sex': sex, 'age_band': age})[cond]:.1%}"

    assert f"{p('gtps', 'female', '40_49')} vs {p('gtps', 'male', '40_49')}" in text
    assert f"{p('fai', 'male', 'under_30')} vs {p('fai', 'male', '50_plus')}" in text
    assert f"{p('osteoarthritis', 'female', '50_plus')} vs {p('osteoarthritis', 'female', 'under_30')}" in text


def test_02_cases_say_what_they_claim(executed):
    nb = executed("02_cases.ipynb")
    assert "Top two: GTPS" in _text(_cell(nb, "case-1"))
    assert re.search(r"Top two: (FAI, Labral tear|Labral tear, FAI)", _text(_cell(nb, "case-2")))
    assert "Top two: Osteoarthritis" in _text(_cell(nb, "case-3"))
    assert "Triage: emergency" in _text(_cell(nb, "case-4"))
    assert re.search(r"GTPS: \d+% at the start, 9\d% after \d+ answers", _text(_cell(nb, "trajectory-1")))


def test_03_survey_scores_every_row(executed):
    nb = executed("03_survey.ipynb")
    text = _text(_cell(nb, "score"))
    m = re.search(r"scored (\d+) of (\d+) rows", text)
    assert m and m.group(1) == m.group(2), text
    triage = _text(_cell(nb, "triage"))
    n = re.search(r"(\d+) runners in the triage counts", triage)
    assert n and n.group(1) == m.group(2)
    assert "calibration-in-the-large OK" in _text(_cell(nb, "calibration-table"))


def test_04_learning_recovers_the_changes(executed):
    nb = executed("04_learning.ipynb")
    assert "converged: True" in _text(_cell(nb, "em-trace"))
    worst = re.search(r"largest distance from the truth: (\d\.\d+)", _text(_cell(nb, "recovery")))
    assert worst and float(worst.group(1)) < 0.05
    inside = re.search(r"(\d+) of (\d+) unchanged numbers are inside their cited range", _text(_cell(nb, "unchanged")))
    assert inside and inside.group(1) == inside.group(2)
    loss = re.search(r"held-out log loss (\d\.\d+) -> (\d\.\d+)", _text(_cell(nb, "reliability")))
    assert loss and float(loss.group(2)) < float(loss.group(1))
    diff = re.search(r"largest difference pyAgrum vs hipdx: (\S+)", _text(_cell(nb, "export")))
    assert diff and float(diff.group(1)) < 1e-9


# ------------------------------------------------------------------------------ committed files
@pytest.mark.parametrize("name", EXPECTED)
def test_committed_with_small_outputs(name):
    path = NOTEBOOKS_DIR / name
    assert path.stat().st_size < MAX_BYTES, f"{name} is {path.stat().st_size} bytes; keep figures small"
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    counts = [c.get("execution_count") for c in code]
    assert counts == list(range(1, len(code) + 1)), f"{name}: commit it executed top to bottom in one run " \
        "(jupyter nbconvert --to notebook --execute --inplace)"
    assert _errors(nb) == []
    assert any(_has_image(c) for c in code)
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"
