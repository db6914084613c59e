"""Shared fixtures: one model per test session (loading imports pgmpy, ~2 s)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ROOT.parent / "shared" / "sources"


@pytest.fixture(scope="session")
def model():
    from model import load_model

    return load_model()


@pytest.fixture(scope="session")
def priors_dir() -> Path:
    return ROOT / "priors"
