"""The README's Qualtrics, REDCap and SPSS examples, end to end, on the files in examples/."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from service import mapping_cmd, score_cmd

from .conftest import read_str, run_command

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _survey12():
    return read_str(EXAMPLES / "survey.csv").head(12)


def test_qualtrics_example(model, tmp_path, capsys):
    out = tmp_path / "scored.parquet"
    args = [str(EXAMPLES / "qualtrics_export.csv"), "--mapping", str(EXAMPLES / "qualtrics_mapping.yaml"), "-o", str(out)]
    assert run_command(score_cmd, [*args, "--jobs", "1"]) == 0
    err = capsys.readouterr().err
    assert "12 rows read, 11 scored, 1 with errors" in err and "Qualtrics export" in err
    assert "1 x Q1: outside the allowed range 10 to 110 years" in err
    res = pd.read_parquet(out)
    assert list(res["ResponseId"]) == list(_survey12()["Respondent ID"])
    assert res.loc[res["error"].isna(), "triage"].notna().all()
    assert res["Q1"].tolist()[5] == "-99" and pd.notna(res.loc[5, "p_gtps"])  # a declared missing code: not answered


def test_redcap_example(model, tmp_path, capsys):
    out, report = tmp_path / "scored.csv", tmp_path / "report.html"
    args = [str(EXAMPLES / "redcap_export.csv"), "--mapping", str(EXAMPLES / "redcap_mapping.yaml"), "-o", str(out),
            "--report", str(report), "--jobs", "1"]
    assert run_command(score_cmd, args) == 0
    assert "12 rows read, 11 scored, 1 with errors" in capsys.readouterr().err
    res = read_str(out)
    survey = _survey12()
    assert list(res["record_id"]) == [str(i) for i in range(1, 13)]
    # where___N checkboxes give the same answers as the one-cell multi-select of the original survey
    ref_frame = survey[["Q7 Where does it hurt?"]]
    from service.batch.mapping import load_mapping

    where = load_mapping(EXAMPLES / "survey_mapping.yaml", model.vocabulary)
    where.rules = [r for r in where.rules if r.column == "Q7 Where does it hurt?"]
    ev_ref, _, _ = where.apply(ref_frame)
    red = load_mapping(EXAMPLES / "redcap_mapping.yaml", model.vocabulary)
    red.rules = [r for r in red.rules if r.column == "where"]
    ev_red, _, _ = red.apply(read_str(EXAMPLES / "redcap_export.csv"))
    pd.testing.assert_frame_equal(ev_red[ev_ref.columns].fillna("").astype(str), ev_ref.fillna("").astype(str))
    assert "report" in report.read_text() and "data:image/png;base64," in report.read_text()
    capsys.readouterr()
    assert run_command(mapping_cmd, ["check", str(EXAMPLES / "redcap_mapping.yaml"), str(EXAMPLES / "redcap_export.csv")]) == 0
    assert "'where___1' -> pain_lateral_hip" in capsys.readouterr().out


def test_spss_example(model, tmp_path, capsys):
    pytest.importorskip("pyreadstat")
    out = tmp_path / "scored.parquet"
    args = [str(EXAMPLES / "survey.sav"), "--mapping", str(EXAMPLES / "spss_mapping.yaml"), "-o", str(out), "--jobs", "1"]
    assert run_command(score_cmd, args) == 0
    err = capsys.readouterr().err
    assert "12 rows read, 11 scored, 1 with errors" in err and "input: SPSS" in err
    res = pd.read_parquet(out)
    survey = _survey12()
    cols = {"Age (years)": "age", "Gender": "sex", "Hours of running and training per week": "weekly_training_hours",
            "Does it hurt at night?": "night_pain", "Can you put weight on the leg?": "cannot_bear_weight", "Fever?": "fever"}
    from service.batch.mapping import parse_mapping

    sub = parse_mapping("columns:\n" + "\n".join(
        f'  "{c}": {{variable: {v}' + ({"sex": ", values: {Woman: female, Man: male, 'Prefer not to say': unknown}",
                                       "night_pain": ", values: {'Yes': present, 'No': absent, 'Not sure': unknown}",
                                       "cannot_bear_weight": ", values: {'Yes': absent, 'No': present}",
                                       "fever": ", values: {'Yes': present, 'No': absent}"}.get(v, "")) + "}"
        for c, v in cols.items()), "ref", model.vocabulary)
    ev, _, _ = sub.apply(survey[list(cols)])
    ref = model.score(ev)
    ok = res["error"].isna().to_numpy()
    p = [f"p_{c}" for c in model.conditions]
    assert ok.sum() == 11
    pd.testing.assert_frame_equal(res.loc[ok, p].reset_index(drop=True), ref.loc[ok, p].reset_index(drop=True), atol=1e-12)
    assert res.loc[ok, "triage"].tolist() == ref.loc[ok, "triage"].tolist()
