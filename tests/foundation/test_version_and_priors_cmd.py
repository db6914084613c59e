"""``m.version`` is a hash of the priors' content; ``hipdx priors`` lists every prior with its provenance."""

from __future__ import annotations

import argparse
import io
import json

import pandas as pd
import pytest

from model import load_model, load_priors
from model.priors import PRIOR_FILES
from service import priors_cmd

REST_DAYS_RR = "overuse_risk_factors.rest_days.relative_risk.under_2"
REST_DAYS_QUOTE = "runners who take less than two rest days per week are 2.5 times more likely to get overuse injuries"


def test_version_is_stable_for_identical_content(model, priors_copy):
    assert load_priors(priors_copy).version == model.version == load_priors().version
    (priors_copy / "README.txt").write_text("not a priors file", encoding="utf-8")
    assert load_priors(priors_copy).version == model.version
    assert len(model.version) == 12 and int(model.version, 16) >= 0


@pytest.mark.parametrize("name", PRIOR_FILES)
def test_version_changes_when_any_priors_file_changes(model, priors_copy, name):
    with open(priors_copy / name, "a", encoding="utf-8") as fh:
        fh.write("\n# an edit that changes no number still changes the version\n")
    assert load_priors(priors_copy).version != model.version


def test_model_version_follows_a_changed_number(model, priors_copy):
    path = priors_copy / "conditions.yaml"
    text = path.read_text(encoding="utf-8")
    old = "base_rate: {value: 0.06, kind: assumption, source: 002_3cff6c4d9534aba2.txt"
    assert old in text
    path.write_text(text.replace(old, old.replace("0.06", "0.07")), encoding="utf-8")
    changed = load_model(priors_copy)
    assert changed.version != model.version
    assert changed.diagnose({}, reasoning=False).to_dict()["model"] == {"name": "hipdx", "version": changed.version}
    assert changed.posterior({})["osteoarthritis"] == pytest.approx(0.07, abs=1e-9)


def test_every_result_names_the_version(model):
    assert model.diagnose({}, reasoning=False).to_dict()["model"] == {"name": "hipdx", "version": model.version}
    assert model.describe()["model"]["version"] == model.version


def test_priors_frame(model):
    df = priors_cmd.priors_frame()
    loaded = model.priors.all_priors()
    assert len(df) == len(loaded)
    assert {"path", "kind", "value", "low", "high", "source", "quote", "reason", "word", "anchor"} <= set(df.columns)
    assert set(df["kind"]) == {"stated", "verbal", "assumption"}
    assert (df["low"] <= df["value"]).all() and (df["value"] <= df["high"]).all()
    cited = df[df["kind"] != "assumption"]
    assert (cited["source"] != "").all() and (cited["quote"] != "").all()
    assert (df.loc[df["kind"] == "assumption", "reason"] != "").all()
    row = df[df["path"] == REST_DAYS_RR].iloc[0]
    assert (row["kind"], row["value"], row["low"], row["high"], row["source"], row["quote"]) == (
        "stated",
        2.5,
        2.0,
        3.0,
        "001_836542559a107186.txt",
        REST_DAYS_QUOTE,
    )
    verbal = df[df["path"] == "findings.pain_lateral_hip.causes.gtps"].iloc[0]
    assert (verbal["word"], verbal["anchor"], verbal["value"]) == ("usually", "probable", 0.85)


def test_priors_frame_has_one_row_per_prior():
    df = priors_cmd.priors_frame()
    assert df["path"].is_unique
    assert (df["path"] == REST_DAYS_RR).sum() == 1


def run_cmd(capsys, fmt: str) -> str:
    assert priors_cmd.run(argparse.Namespace(format=fmt, priors=None)) == 0
    return capsys.readouterr().out


def test_priors_cmd_csv(capsys):
    frame = priors_cmd.priors_frame()
    out = pd.read_csv(io.StringIO(run_cmd(capsys, "csv")), keep_default_na=False)
    assert len(out) == len(frame) and list(out.columns) == list(frame.columns)
    row = out[out["path"] == REST_DAYS_RR].iloc[0]
    assert (row["kind"], row["value"], row["source"], row["quote"]) == (
        "stated",
        2.5,
        "001_836542559a107186.txt",
        REST_DAYS_QUOTE,
    )


def test_priors_cmd_json(capsys):
    frame = priors_cmd.priors_frame()
    records = json.loads(run_cmd(capsys, "json"))
    assert len(records) == len(frame)
    row = next(r for r in records if r["path"] == REST_DAYS_RR)
    assert (row["kind"], row["value"], row["low"], row["high"], row["quote"]) == ("stated", 2.5, 2.0, 3.0, REST_DAYS_QUOTE)
    assert {r["kind"] for r in records} == {"stated", "verbal", "assumption"}


def test_priors_cmd_table(capsys):
    frame = priors_cmd.priors_frame()
    lines = run_cmd(capsys, "table").rstrip("\n").split("\n")
    counts = frame["kind"].value_counts()
    assert lines[-1] == (
        f"{len(frame)} priors: assumption {counts['assumption']}, stated {counts['stated']}, verbal {counts['verbal']}"
    )
    assert lines[0].split() == ["path", "kind", "value", "range"]  # each prior: numbers, then its citation
    i = next(i for i, line in enumerate(lines) if line.startswith(REST_DAYS_RR))
    assert "stated" in lines[i] and "2.5" in lines[i] and "[2, 3]" in lines[i]
    assert lines[i + 1].startswith('    Hip pain after running: "')  # 001 by its title
