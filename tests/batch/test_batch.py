"""Streamed scoring of CSV/Parquet files: rows, order, pass-through, errors, warnings, summary."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from service import score_cmd
from service.batch import BatchError, Job, error_reason, score_file

from .conftest import read_any, read_str, run_command


def _score(inp, out, *extra):
    return run_command(score_cmd, [str(inp), "-o", str(out), "--jobs", "1", *extra])


def _p_cols(model):
    return [f"p_{c}" for c in model.conditions]


@pytest.mark.parametrize("src", ["csv", "parquet"])
@pytest.mark.parametrize("dst", ["csv", "parquet"])
def test_rows_order_and_columns_untouched(model, sim_csv, tmp_path, capsys, src, dst):
    inp = sim_csv[0] if src == "csv" else sim_csv[1]
    out = tmp_path / f"out.{dst}"
    assert _score(inp, out, "--chunk-rows", "700") == 0  # several chunks, the last one short
    original = read_str(sim_csv[0])
    result = read_any(out)
    assert len(result) == len(original)
    tail = _p_cols(model) + ["triage", "red_flags", "error", "outside_population", "provisional", "open_questions",
                             "triage_reasons"]  # every column HipModel.score returns, in its order
    assert list(result.columns) == list(original.columns) + tail
    got = result[original.columns]
    if dst == "parquet" or src == "parquet":
        got = got.astype(object).where(got.notna(), "").astype(str)
    pd.testing.assert_frame_equal(got.reset_index(drop=True), original, check_dtype=False)
    assert "2,500 rows read, 2,500 scored, 0 with errors" in capsys.readouterr().err


def test_posteriors_equal_model_score_and_pgmpy(model, sim_csv, tmp_path):
    out = tmp_path / "out.parquet"
    assert _score(sim_csv[0], out, "--chunk-rows", "1000") == 0
    result = pd.read_parquet(out)
    direct = model.score(read_str(sim_csv[0])[model.evidence_order])
    np.testing.assert_allclose(result[_p_cols(model)].to_numpy(), direct[_p_cols(model)].to_numpy(), rtol=0, atol=1e-12)
    assert (result["triage"] == direct["triage"]).all()
    from pgmpy.inference import VariableElimination

    ve = VariableElimination(model.network)
    frame = read_str(sim_csv[0])
    for i in (0, 17, 1234):
        evidence = {v: frame.at[i, v] for v in model.evidence_order if frame.at[i, v] != ""}
        q = ve.query(list(model.conditions), evidence=evidence, joint=False, show_progress=False)
        for c in model.conditions:
            assert abs(result.at[i, f"p_{c}"] - q[c].get_value(**{c: "present"})) < 1e-9


def _bad_file(tmp_path):
    rows = [
        {"id": "a", "age": "45", "sex": "female", "pain_lying_on_side": "yes", "note": "present"},
        {"id": "b", "age": "-4", "sex": "female", "pain_lying_on_side": "", "note": ""},
        {"id": "c", "age": "150", "sex": "male", "pain_lying_on_side": "no", "note": ""},
        {"id": "d", "age": "", "sex": "femal", "pain_lying_on_side": "", "note": ""},
        {"id": "e", "age": "forty", "sex": "", "pain_lying_on_side": "maybe", "note": ""},
        {"id": "f", "age": "", "sex": "", "pain_lying_on_side": "", "note": ""},
    ]
    path = tmp_path / "bad.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_bad_values_are_row_errors_and_summarised(model, tmp_path, capsys):
    out = tmp_path / "out.csv"
    assert _score(_bad_file(tmp_path), out) == 0
    res = read_str(out)
    assert list(res["id"]) == list("abcdef")
    err = dict(zip(res["id"], res["error"], strict=True))
    assert err["a"] == "" and err["f"] == ""
    assert err["b"] == "age: -4 is outside the allowed range 10 to 110 years"
    assert err["c"] == "age: 150 is outside the allowed range 10 to 110 years"
    assert err["d"] == "sex: unknown state 'femal'; allowed: female, male (did you mean 'female'?)"
    assert err["e"].startswith("age: 'forty' is not a number of years; pain_lying_on_side: unknown state 'maybe'")
    for rid in "bcde":
        row = res[res["id"] == rid]
        assert (row[_p_cols(model)] == "").all(axis=None), rid
    assert (res.loc[res["id"].isin(["a", "f"]), _p_cols(model)] != "").all(axis=None)
    text = capsys.readouterr().err
    assert "warning" not in text
    assert "6 rows read, 2 scored, 4 with errors" in text
    assert "rows/s" in text
    assert "2 x age: outside the allowed range 10 to 110 years" in text
    assert "1 x sex: unknown state; allowed: female, male" in text
    assert "1 x age: not a number of years" in text
    assert "1 x pain_lying_on_side: unknown state; allowed: present, absent" in text


def test_error_reason_strips_values():
    reason = error_reason("age: 12.5 is outside the allowed range 10 to 110 years")
    assert reason == "age: outside the allowed range 10 to 110 years"
    assert error_reason("Q: unmapped answer 'x; y'; allowed: A, B") == "Q: unmapped answer; allowed: A, B"


def test_close_spelling_of_a_variable_is_refused(model, tmp_path, capsys):
    path = tmp_path / "w.csv"
    pd.DataFrame({"sex": ["male"] * 50, "pain_grion": ["present"] * 50, "Comments": ["ok"] * 50}).to_csv(path, index=False)
    assert _score(path, tmp_path / "o.csv", "--chunk-rows", "7") == 2
    err = capsys.readouterr().err
    assert "column 'pain_grion' looks like the variable 'pain_groin'" in err and "Comments" not in err
    assert not (tmp_path / "o.csv").exists()


def test_clashing_output_columns_are_refused(tmp_path, capsys):
    path = tmp_path / "scored.csv"
    pd.DataFrame({"sex": ["male"], "error": [""], "p_gtps": ["0.1"]}).to_csv(path, index=False)
    assert _score(path, tmp_path / "o.csv") == 2
    err = capsys.readouterr().err
    assert "already has column(s) 'p_gtps', 'error'" in err
    assert not (tmp_path / "o.csv").exists()


def test_unsupported_extensions_and_missing_input(tmp_path, capsys):
    assert _score(tmp_path / "in.json", tmp_path / "o.csv") == 2
    assert "input file" in capsys.readouterr().err
    path = _bad_file(tmp_path)
    assert _score(path, tmp_path / "o.json") == 2
    assert "unsupported extension '.json'; use .csv, .parquet or .xlsx" in capsys.readouterr().err
    assert _score(tmp_path / "nope.csv", tmp_path / "o.csv") == 2
    assert "input file not found" in capsys.readouterr().err


def test_empty_and_header_only_files(model, tmp_path):
    path = tmp_path / "h.csv"
    path.write_text("sex,age\n")
    assert _score(path, tmp_path / "o.csv") == 0
    res = read_str(tmp_path / "o.csv")
    assert len(res) == 0 and list(res.columns)[:2] == ["sex", "age"] and list(res.columns)[-1] == "error"


def test_worker_processes_give_the_same_file(model, sim_csv, tmp_path):
    one, two = tmp_path / "one.csv", tmp_path / "two.csv"
    score_file(Job(str(sim_csv[0]), str(one), chunk_rows=600, jobs=1, warn=lambda m: None))
    score_file(Job(str(sim_csv[0]), str(two), chunk_rows=600, jobs=2, in_process_rows=0, warn=lambda m: None))
    _assert_same_output(model, one, two)


def _assert_same_output(model, a, b):
    """Same rows, same text in every column; posteriors equal to 1e-12 (the engine's last bit can
    depend on which rows share its batch)."""
    x, y = read_any(a), read_any(b)
    p = _p_cols(model)
    assert list(x.columns) == list(y.columns) and len(x) == len(y)
    other = [c for c in x.columns if c not in p]
    pd.testing.assert_frame_equal(x[other], y[other])
    np.testing.assert_allclose(x[p].replace("", np.nan).astype(float), y[p].replace("", np.nan).astype(float), rtol=0, atol=1e-12)


def test_ragged_rows_are_row_errors_and_the_rest_is_scored(model, tmp_path, capsys):
    path = tmp_path / "m.csv"
    path.write_text("sex,age\nmale,40\nfemale,30,extra\nfemale\nmale,22\n")
    assert _score(path, tmp_path / "o.csv") == 0
    res = read_str(tmp_path / "o.csv")
    assert list(res["sex"]) == ["male", "female", "female", "male"]
    assert res["error"].tolist() == [
        "", "row 3 of the file has 3 field(s), the header has 2 (a delimiter or quote is missing or extra); the row is not scored",
        "row 4 of the file has 1 field(s), the header has 2 (a delimiter or quote is missing or extra); the row is not scored", ""]
    assert (res.loc[[0, 3], "p_gtps"] != "").all() and (res.loc[[1, 2], "p_gtps"] == "").all()
    path.write_text("sex,age\n" + "male,40\n" * 300_000 + "female,30,extra\n" + "male,41\n" * 10)  # past the first blocks
    assert _score(path, tmp_path / "o.csv", "--chunk-rows", "50000") == 0
    assert "300,011 rows read, 300,010 scored, 1 with errors" in capsys.readouterr().err
    res = read_str(tmp_path / "o.csv")
    assert len(res) == 300_011 and res.at[300_000, "error"].startswith("row 300002 of the file has 3 field(s)")
    assert res.at[300_010, "age"] == "41"
    assert sorted(p.name for p in tmp_path.glob("o.csv*")) == ["o.csv", "o.csv.meta.json"]


def test_job_validates_chunk_rows(tmp_path):
    with pytest.raises(BatchError, match="at least 1"):
        score_file(Job(str(_bad_file(tmp_path)), str(tmp_path / "o.csv"), chunk_rows=0))
