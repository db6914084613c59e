"""Fixtures for the foundation tests: pgmpy's own inference on the bundled network, and writable
copies of the bundled priors to break one thing at a time."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from model.priors import PRIOR_FILES, read_yaml


@pytest.fixture(scope="session")
def ve(model):
    """pgmpy's VariableElimination on ``model.network``: the reference every number is checked against."""
    from pgmpy.inference import VariableElimination

    return VariableElimination(model.network)


@pytest.fixture(scope="session")
def p_present(ve) -> Callable[..., float]:
    """``p_present("gtps", sex="female")`` = P(gtps = present | sex = female), by pgmpy."""

    def query(condition: str, **evidence: str) -> float:
        res = ve.query([condition], evidence=evidence or None, joint=False, show_progress=False)
        return float(res[condition].get_value(**{condition: "present"}))

    return query


@pytest.fixture
def priors_copy(tmp_path, priors_dir) -> Path:
    """A fresh copy of the bundled priors files in a temporary directory."""
    target = tmp_path / "priors"
    target.mkdir()
    for name in PRIOR_FILES:
        shutil.copy(priors_dir / name, target / name)
    return target


def edit_yaml(directory: Path, name: str, change: Callable[[dict], object]) -> None:
    """Read ``directory/name`` with the strict loader, apply ``change`` to the data, write it back."""
    data = read_yaml(directory / name)
    change(data)
    (directory / name).write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
