from __future__ import annotations

import argparse

import pandas as pd
import pytest

from model import load_model
from model.simulate import simulate


@pytest.fixture(scope="session")
def model():
    return load_model()


@pytest.fixture(scope="session")
def sim_csv(model, tmp_path_factory):
    """A simulated survey (2,500 runners, 10% blanks) as CSV and Parquet, with an extra text column."""
    d = tmp_path_factory.mktemp("sim")
    df = simulate(model, 2500, seed=11, missing=0.1)
    df.insert(0, "runner", [f"r{i:05d}" for i in range(len(df))])
    df["note"] = ["has, comma" if i % 7 == 0 else ('quote "x"' if i % 11 == 0 else "") for i in range(len(df))]
    csv = d / "sim.csv"
    df.to_csv(csv, index=False)
    pq = d / "sim.parquet"
    df.to_parquet(pq, index=False, row_group_size=700)
    return csv, pq


def run_command(module, argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)
    return module.run(parser.parse_args(argv))


def read_str(path) -> pd.DataFrame:
    """A CSV with every cell as text (empty cells as '')."""
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def read_any(path) -> pd.DataFrame:
    return pd.read_parquet(path) if str(path).endswith(".parquet") else read_str(path)
