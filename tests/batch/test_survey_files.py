"""Survey files as they come out of survey platforms and statistics packages (issue 14).

Each test writes the same twelve runners in one form, scores it, and asserts rows out = rows in,
the same posteriors and triage as the clean CSV, and the exact error text of any bad row.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from model.vocabulary import EvidenceError, Vocabulary
from service import score_cmd
from service.batch import BatchError, ReadOptions
from service.batch.draft import check_mapping, draft_mapping
from service.batch.mapping import load_mapping

from .conftest import read_str, run_command
from .survey_files import ANSWERS, MAPPING, QUESTIONS, RED_FLAG_ROWS, labelled, qualtrics_csv, qualtrics_mapping


def _score(inp, out, *extra):
    return run_command(score_cmd, [str(inp), "-o", str(out), "--jobs", "1", *extra])


@pytest.fixture(scope="module")
def clean(model):
    """The clean CSV's scores (the reference every other form must reproduce)."""
    return model.score(ANSWERS)


def _p(model):
    return [f"p_{c}" for c in model.conditions]


def _assert_same_as_clean(model, clean, out, rows=None):
    res = pd.read_parquet(out)
    rows = list(range(len(ANSWERS))) if rows is None else rows
    assert len(res) == len(rows)
    np.testing.assert_allclose(res[_p(model)].to_numpy(dtype=float), clean[_p(model)].to_numpy(dtype=float)[rows],
                               rtol=0, atol=1e-12)
    assert res["triage"].tolist() == clean["triage"].to_numpy()[rows].tolist()
    assert res["error"].isna().all()
    return res


def _write(tmp_path, name, text, encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


# ----------------------------------------------------------------------------- silent wrong results
@pytest.mark.parametrize(("sep", "name"), [(";", "semi.csv"), ("\t", "tab.csv"), ("\t", "tab.tsv"), ("|", "pipe.txt")])
def test_other_delimiters_are_read_and_said(model, clean, tmp_path, capsys, sep, name):
    frame = ANSWERS.copy()
    if sep == ";":  # European Excel: decimal commas too
        frame["weekly_training_hours"] = frame["weekly_training_hours"].str.replace(".", ",")
    frame.to_csv(tmp_path / name, sep=sep, index=False)
    assert _score(tmp_path / name, tmp_path / "o.parquet") == 0
    res = _assert_same_as_clean(model, clean, tmp_path / "o.parquet")
    assert list(res["weekly_training_hours"]) == list(frame["weekly_training_hours"])  # passed through untouched
    err = capsys.readouterr().err
    assert set(res.loc[list(RED_FLAG_ROWS), "triage"]) <= {"urgent", "emergency"}
    if name.endswith(".csv"):
        assert "(guessed from the header; give --delimiter to override)" in err
    if sep == ";":
        assert "decimal ','" in err


def test_delimiter_decimal_and_encoding_can_be_given(model, clean, tmp_path):
    frame = ANSWERS.copy()
    frame["weekly_training_hours"] = frame["weekly_training_hours"].str.replace(".", ",")
    path = tmp_path / "s.txt"
    path.write_bytes(frame.to_csv(sep="|", index=False).encode("cp1252"))
    assert _score(path, tmp_path / "o.parquet", "--delimiter", "|", "--decimal", ",", "--encoding", "cp1252") == 0
    _assert_same_as_clean(model, clean, tmp_path / "o.parquet")


def test_one_column_header_with_a_semicolon_is_refused(tmp_path, capsys):
    path = _write(tmp_path, "s.csv", '"sex;age"\n"male;40"\n')
    assert _score(path, tmp_path / "o.csv") == 2
    assert "the header reads as one column but holds a ';' or a tab: give --delimiter" in capsys.readouterr().err
    assert not (tmp_path / "o.csv").exists()


def test_headers_that_look_like_variables_are_read_as_them(model, clean, tmp_path, capsys):
    frame = ANSWERS.rename(columns={"fever": "Fever", "cannot_bear_weight": "Cannot bear weight", "sex": " SEX ",
                                    "night_pain": "Does the pain bother you at night or wake you up?"})
    frame.to_csv(tmp_path / "s.csv", index=False)
    assert _score(tmp_path / "s.csv", tmp_path / "o.parquet") == 0
    _assert_same_as_clean(model, clean, tmp_path / "o.parquet")
    err = capsys.readouterr().err
    assert "column 'Fever' read as the variable fever" in err
    scored = model.score(frame)  # the Python API reads them the same way
    np.testing.assert_allclose(scored[_p(model)].to_numpy(dtype=float), clean[_p(model)].to_numpy(dtype=float), atol=1e-12)
    assert scored.loc[2, "triage"] in ("urgent", "emergency")


def test_model_score_refuses_close_spellings_and_tables_without_variables(model):
    with pytest.raises(EvidenceError, match="column 'pain_grion' looks like the variable 'pain_groin'"):
        model.score(pd.DataFrame({"pain_grion": ["present"], "sex": ["male"]}))
    survey_headers = labelled().rename(columns={"Fever?": "Temperature raised?"}).drop(columns=["Gender"])
    with pytest.raises(EvidenceError, match="no column is a variable"):
        model.score(survey_headers)


def test_blank_means_not_ticked_when_the_mapping_says_so(model, tmp_path):
    frame = pd.DataFrame({"Night pain (tick)": ["Yes", "", "Yes", ""], "sex": ["male"] * 4})
    frame.to_csv(tmp_path / "s.csv", index=False)
    mp = _write(tmp_path, "m.yaml", 'columns:\n  "Night pain (tick)": {variable: night_pain, values: {"Yes": present, "": absent}}\n')
    assert _score(tmp_path / "s.csv", tmp_path / "o.parquet", "--mapping", str(mp)) == 0
    res = pd.read_parquet(tmp_path / "o.parquet")
    expect = model.score(pd.DataFrame({"night_pain": ["present", "absent", "present", "absent"], "sex": ["male"] * 4}))
    np.testing.assert_allclose(res[_p(model)].to_numpy(dtype=float), expect[_p(model)].to_numpy(dtype=float), atol=1e-12)


def test_empty_rows_are_kept_with_an_error_and_no_triage(model, clean, tmp_path, capsys):
    text = ANSWERS.to_csv(index=False) + ",,,,,,,\n" + ANSWERS.iloc[[2]].to_csv(index=False, header=False) + ",,,,,,,\n"
    path = _write(tmp_path, "s.csv", text)
    assert _score(path, tmp_path / "o.csv") == 0
    res = read_str(tmp_path / "o.csv")
    assert len(res) == 15  # 12 runners, an empty row, runner 2 again, an empty row
    assert res.loc[12, "error"] == "empty row: every cell is blank; not scored" and res.loc[12, "triage"] == ""
    assert res.loc[14, "error"] == res.loc[12, "error"] and res.loc[14, "p_gtps"] == ""
    assert res.loc[13, "triage"] == clean.loc[2, "triage"] and res.loc[13, "error"] == ""
    assert "13 scored, 2 with errors" in capsys.readouterr().err


# ----------------------------------------------------------------------------- rows invented
def test_qualtrics_export_header_rows_are_not_data(model, clean, tmp_path, capsys):
    qualtrics_csv(tmp_path / "q.csv", labelled())
    mp = _write(tmp_path, "q.yaml", qualtrics_mapping())
    assert _score(tmp_path / "q.csv", tmp_path / "o.parquet", "--mapping", str(mp)) == 0
    _assert_same_as_clean(model, clean, tmp_path / "o.parquet")
    assert "Qualtrics export recognised by its ImportId row" in capsys.readouterr().err


def test_header_rows_option_for_other_platforms(model, clean, tmp_path):
    frame = labelled()
    text = frame.to_csv(index=False)
    header, body = text.split("\n", 1)
    path = _write(tmp_path, "s.csv", header + "\n" + ",".join(["(question)"] * frame.shape[1]) + "\n" + body)
    mp = _write(tmp_path, "m.yaml", MAPPING)
    assert _score(path, tmp_path / "o.parquet", "--mapping", str(mp), "--header-rows", "1") == 0
    _assert_same_as_clean(model, clean, tmp_path / "o.parquet")


def test_surveymonkey_export_with_option_columns(model, clean, tmp_path, capsys):
    first = ["Respondent ID", "Gender", "Where does it hurt?", "", "Fever?"]
    second = ["", "Response", "Outside of the hip", "Groin", "Response"]
    rows = []
    for i, r in ANSWERS.iterrows():
        where_any = r["pain_lateral_hip"] == "present" or r["pain_groin"] == "present"
        rows.append([f"R{i}", {"female": "Woman", "male": "Man"}[r["sex"]],
                     "Outside of the hip" if r["pain_lateral_hip"] == "present" else "",
                     "Groin" if r["pain_groin"] == "present" else "",
                     {"present": "Yes", "absent": "No", "": ""}[r["fever"]]])
        assert where_any or True
    pd.DataFrame([first, second, *rows]).to_csv(tmp_path / "sm.csv", index=False, header=False)
    mp = _write(tmp_path, "m.yaml", """
columns:
  Gender: {variable: sex, values: {Woman: female, Man: male}}
  "Where does it hurt?":
    checkboxes:
      "Where does it hurt? - Outside of the hip": pain_lateral_hip
      "Where does it hurt? - Groin": pain_groin
  "Fever?": {variable: fever, values: {"Yes": present, "No": absent}}
""")
    assert _score(tmp_path / "sm.csv", tmp_path / "o.parquet", "--mapping", str(mp)) == 0
    res = pd.read_parquet(tmp_path / "o.parquet")
    assert len(res) == 12 and list(res["Respondent ID"]) == [f"R{i}" for i in range(12)]
    # what the checkboxes say: ticked -> present, the other option absent, none ticked -> unknown
    lat = ["present" if v == "present" else "" for v in ANSWERS["pain_lateral_hip"]]
    gro = ["present" if v == "present" else "" for v in ANSWERS["pain_groin"]]
    any_t = [a == "present" or b == "present" for a, b in zip(lat, gro, strict=True)]
    expect = model.score(pd.DataFrame({
        "sex": ANSWERS["sex"], "fever": ANSWERS["fever"],
        "pain_lateral_hip": [a or ("absent" if t else "") for a, t in zip(lat, any_t, strict=True)],
        "pain_groin": [b or ("absent" if t else "") for b, t in zip(gro, any_t, strict=True)]}))
    np.testing.assert_allclose(res[_p(model)].to_numpy(dtype=float), expect[_p(model)].to_numpy(dtype=float), atol=1e-12)
    assert res.loc[2, "triage"] in ("urgent", "emergency")
    assert "SurveyMonkey export recognised" in capsys.readouterr().err


# ----------------------------------------------------------------------------- formats
def test_xlsx_input_and_output_keep_types(model, clean, tmp_path):
    frame = ANSWERS.copy()
    frame["age"] = frame["age"].astype(int)
    frame.insert(0, "Respondent", range(100, 112))
    frame.to_excel(tmp_path / "s.xlsx", index=False)
    assert _score(tmp_path / "s.xlsx", tmp_path / "o.parquet") == 0
    res = _assert_same_as_clean(model, clean, tmp_path / "o.parquet")
    assert res["age"].dtype.kind == "i" and res["Respondent"].tolist() == list(range(100, 112))
    assert _score(tmp_path / "s.xlsx", tmp_path / "o.xlsx") == 0
    back = pd.read_excel(tmp_path / "o.xlsx", sheet_name="scores", engine="calamine")
    assert len(back) == 12 and list(back.columns[:9]) == list(frame.columns)
    np.testing.assert_allclose(back["p_gtps"], clean["p_gtps"], atol=1e-12)
    about = pd.read_excel(tmp_path / "o.xlsx", sheet_name="about", header=None, engine="calamine")
    assert "model.version" in about[0].tolist()
    assert json.loads((tmp_path / "o.xlsx.meta.json").read_text())["model"]["version"] == model.version


def test_xls_biff_file_from_excel_97_2003(model, clean, tmp_path, capsys):
    """A real .xls (BIFF8 in an OLE2 compound file, as Excel 97-2003 saves it): survey questions as
    headers, numbers as number cells, blanks as empty cells, answers on the second sheet."""
    import xlwt

    frame = labelled()
    numeric = {QUESTIONS["age"], QUESTIONS["weekly_training_hours"]}
    book = xlwt.Workbook(encoding="utf-8")
    book.add_sheet("About").write(0, 0, "Exported by the clinic's survey tool: réponses")
    sheet = book.add_sheet("Responses")
    sheet.write(0, 0, "Respondent")
    for j, name in enumerate(frame.columns, start=1):
        sheet.write(0, j, name)
    for i, row in enumerate(frame.itertuples(index=False), start=1):
        sheet.write(i, 0, f"r{i:02d}")
        for j, (name, value) in enumerate(zip(frame.columns, row, strict=True), start=1):
            if value != "":  # a blank answer is an empty cell
                sheet.write(i, j, float(value) if name in numeric else value)
    path = tmp_path / "survey.xls"
    book.save(str(path))
    assert path.read_bytes()[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # OLE2: a BIFF file, not XML
    mp = _write(tmp_path, "m.yaml", MAPPING)
    assert _score(path, tmp_path / "o.parquet", "--mapping", str(mp), "--sheet", "Responses") == 0
    res = _assert_same_as_clean(model, clean, tmp_path / "o.parquet")
    assert res["Respondent"].tolist() == [f"r{i:02d}" for i in range(1, 13)]
    assert set(res.loc[list(RED_FLAG_ROWS), "triage"]) <= {"urgent", "emergency"}
    err = capsys.readouterr().err
    assert "input: Excel" in err and "12 rows read, 12 scored, 0 with errors" in err
    assert _score(path, tmp_path / "o2.parquet", "--mapping", str(mp)) == 2  # the first sheet is not the answers
    err = capsys.readouterr().err
    assert "column 'How old are you (years)?' is not in the input file" in err
    # ... and the error says where else to look
    assert ("the workbook has 2 sheets ('About', 'Responses'); the first, 'About', was read: "
            "give --sheet to read another") in err
    assert not (tmp_path / "o2.parquet").exists()
    with pytest.raises(BatchError, match=r"is not in the input file\nthe workbook has 2 sheets"):  # hipdx mapping check
        check_mapping(load_mapping(str(mp), Vocabulary(model.priors)), str(path))


def test_excel_sheet_choice_errors_list_the_sheets(model, clean, tmp_path, capsys):
    """A --sheet that is not in the workbook names the sheets there are; a workbook of several
    sheets read by default says so in the summary (and in a drafted mapping), a single sheet does not."""
    frame = labelled()
    path = tmp_path / "survey.xlsx"
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        frame.to_excel(writer, sheet_name="Responses", index=False)
        pd.DataFrame({"note": ["exported 2026-11-30"]}).to_excel(writer, sheet_name="About", index=False)
    mp = _write(tmp_path, "m.yaml", MAPPING)
    assert _score(path, tmp_path / "o.parquet", "--mapping", str(mp), "--sheet", "Answers") == 2
    assert "--sheet 'Answers' is not a sheet of the workbook; its sheets: 'Responses', 'About'" in capsys.readouterr().err
    assert _score(path, tmp_path / "o.parquet", "--mapping", str(mp), "--sheet", "2") == 2
    assert "--sheet 2: the workbook has 2 sheet(s), numbered from 0: 'Responses', 'About'" in capsys.readouterr().err
    assert _score(path, tmp_path / "o.parquet", "--mapping", str(mp)) == 0  # the first sheet holds the answers
    _assert_same_as_clean(model, clean, tmp_path / "o.parquet")
    err = capsys.readouterr().err
    assert "the first, 'Responses', was read: give --sheet to read another" in err and "12 rows read, 12 scored" in err
    draft = draft_mapping(str(path), Vocabulary(model.priors), ReadOptions(sheet="1"))
    assert "--sheet" not in draft  # a sheet chosen: nothing to point at
    assert "# Note: the workbook has 2 sheets" in draft_mapping(str(path), Vocabulary(model.priors))
    numbered = tmp_path / "numbered.xlsx"  # a sheet named by a number is read by that name
    with pd.ExcelWriter(numbered, engine="openpyxl") as writer:
        pd.DataFrame({"note": ["not the answers"]}).to_excel(writer, sheet_name="Cover", index=False)
        frame.to_excel(writer, sheet_name="2026", index=False)
    assert _score(numbered, tmp_path / "o4.parquet", "--mapping", str(mp), "--sheet", "2026") == 0
    _assert_same_as_clean(model, clean, tmp_path / "o4.parquet")
    assert "sheet '2026'" in capsys.readouterr().err
    single = tmp_path / "single.xlsx"
    frame.to_excel(single, index=False, engine="openpyxl")
    assert _score(single, tmp_path / "o3.parquet", "--mapping", str(mp)) == 0
    assert "sheet" not in capsys.readouterr().err


def test_spss_codes_map_by_code_or_label_and_stata(model, clean, tmp_path):
    pyreadstat = pytest.importorskip("pyreadstat")
    codes = {"female": 1, "male": 2, "present": 1, "absent": 0, "": np.nan}
    frame = pd.DataFrame({"id": range(12), "age": ANSWERS["age"].astype(float)})
    for var in ("sex", "pain_lateral_hip", "pain_groin", "night_pain", "fever", "cannot_bear_weight"):
        frame[f"q_{var}"] = [codes[v] for v in ANSWERS[var]]
    frame["weekly_training_hours"] = ANSWERS["weekly_training_hours"].astype(float)
    yes_no = {1.0: "Yes", 0.0: "No"}
    labels = {"q_sex": {1.0: "Woman", 2.0: "Man"}, **{f"q_{v}": yes_no for v in ("pain_lateral_hip", "pain_groin",
                                                                                  "night_pain", "fever", "cannot_bear_weight")}}
    pyreadstat.write_sav(frame, str(tmp_path / "s.sav"), variable_value_labels=labels)
    mp = _write(tmp_path, "m.yaml", """
columns:
  q_sex: {variable: sex, values: {Woman: female, 2: male}}      # one by label, one by code
  q_pain_lateral_hip: {variable: pain_lateral_hip, values: {1: present, 0: absent}}
  q_pain_groin: {variable: pain_groin, values: {"Yes": present, "No": absent}}
  q_night_pain: {variable: night_pain}                          # 1.0 / 0.0 read as the variable's own 1 / 0
  q_fever: {variable: fever, values: {1: present, 0: absent}}
  q_cannot_bear_weight: {variable: cannot_bear_weight, values: {1: present, 0: absent}}
""")
    assert _score(tmp_path / "s.sav", tmp_path / "o.parquet", "--mapping", str(mp)) == 0
    res = _assert_same_as_clean(model, clean, tmp_path / "o.parquet")
    assert res["q_sex"].dtype.kind == "f"  # SPSS codes kept as numbers in the output
    pyreadstat.write_dta(frame, str(tmp_path / "s.dta"))
    assert _score(tmp_path / "s.dta", tmp_path / "o2.parquet", "--mapping", str(mp)) == 0  # no value labels here:
    errors = pd.read_parquet(tmp_path / "o2.parquet")["error"]
    assert errors[0] == "q_sex: unmapped answer 1.0; allowed: Woman, 2; q_pain_groin: unmapped answer 0.0; allowed: Yes, No"
    mp2 = _write(tmp_path, "m2.yaml", mp.read_text().replace('Woman: female', '1: female').replace(
        '{"Yes": present, "No": absent}', '{1: present, 0: absent}'))
    assert _score(tmp_path / "s.dta", tmp_path / "o2.parquet", "--mapping", str(mp2)) == 0
    _assert_same_as_clean(model, clean, tmp_path / "o2.parquet")


def test_gzip_csv(model, clean, tmp_path):
    with gzip.open(tmp_path / "s.csv.gz", "wt") as fh:
        ANSWERS.to_csv(fh, index=False)
    assert _score(tmp_path / "s.csv.gz", tmp_path / "o.parquet") == 0
    _assert_same_as_clean(model, clean, tmp_path / "o.parquet")


# ----------------------------------------------------------------------------- encodings
def test_utf16_unicode_text_from_excel(model, clean, tmp_path, capsys):
    path = tmp_path / "s.txt"
    path.write_bytes(ANSWERS.to_csv(sep="\t", index=False).encode("utf-16"))
    assert _score(path, tmp_path / "o.parquet") == 0
    _assert_same_as_clean(model, clean, tmp_path / "o.parquet")
    assert "encoding UTF-16 (from its byte-order mark)" in capsys.readouterr().err


def test_cp1252_cell_is_that_rows_error_and_header_is_refused(model, clean, tmp_path, capsys):
    frame = ANSWERS.copy()
    frame["comment"] = ["" if i != 4 else "genou douloureux après" for i in range(12)]
    path = tmp_path / "s.csv"
    path.write_bytes(frame.to_csv(index=False).encode("cp1252"))
    assert _score(path, tmp_path / "o.csv") == 0
    res = read_str(tmp_path / "o.csv")
    assert len(res) == 12
    assert res.loc[4, "error"] == "'comment': bytes that are not valid utf-8 (give --encoding, e.g. cp1252); the row is not scored"
    assert res.loc[4, "comment"] == "genou douloureux apr\ufffds" and res.loc[4, "p_gtps"] == ""
    assert (res.drop(index=4)["error"] == "").all()
    assert "11 scored, 1 with errors" in capsys.readouterr().err
    assert _score(path, tmp_path / "o.parquet", "--encoding", "cp1252") == 0
    res = _assert_same_as_clean(model, clean, tmp_path / "o.parquet")
    assert res.loc[4, "comment"] == "genou douloureux après"
    capsys.readouterr()
    bad_header = tmp_path / "h.csv"
    bad_header.write_bytes(frame.rename(columns={"comment": "remarque générale"}).to_csv(index=False).encode("cp1252"))
    assert _score(bad_header, tmp_path / "o.csv") == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "the header is not UTF-8 (byte 0xe9" in err and "--encoding" in err


# ----------------------------------------------------------------------------- REDCap
def test_redcap_checkboxes_labels_export_and_dictionary(model, tmp_path):
    raw = pd.DataFrame({"record_id": [1, 2, 3, 4], "sex": [1, 2, 1, 2],
                        "where___1": [1, 0, 0, 0], "where___2": [1, 1, 0, 0], "where___3": [0, 0, 1, 0]})
    raw.to_csv(tmp_path / "raw.csv", index=False)
    mp = _write(tmp_path, "m.yaml", """
columns:
  sex: {variable: sex, values: {1: female, 2: male}}
  "Where does it hurt?":
    checkboxes: {where___1: pain_lateral_hip, where___2: pain_groin, where___3: null}
""")
    assert _score(tmp_path / "raw.csv", tmp_path / "o.parquet", "--mapping", str(mp)) == 0
    res = pd.read_parquet(tmp_path / "o.parquet")
    expect = model.score(pd.DataFrame({"sex": ["female", "male", "female", "male"],
                                       "pain_lateral_hip": ["present", "absent", "absent", ""],
                                       "pain_groin": ["present", "present", "absent", ""]}))
    np.testing.assert_allclose(res[_p(model)].to_numpy(dtype=float), expect[_p(model)].to_numpy(dtype=float), atol=1e-12)
    # the labels export: headers are field labels, two of them the same
    labels = "Record ID,Sex,Where does it hurt? (choice=Outside),Where does it hurt? (choice=Groin),Notes,Notes\n" \
             "1,Female,Checked,Checked,a,b\n2,Male,Unchecked,Checked,c,d\n"
    path = _write(tmp_path, "labels.csv", labels)
    mp2 = _write(tmp_path, "m2.yaml", """
columns:
  Sex: {variable: sex, values: {Female: female, Male: male}}
  where:
    checkboxes: {"Where does it hurt? (choice=Outside)": pain_lateral_hip, "Where does it hurt? (choice=Groin)": pain_groin}
""")
    assert _score(path, tmp_path / "o2.parquet", "--mapping", str(mp2)) == 0
    res2 = pd.read_parquet(tmp_path / "o2.parquet")
    np.testing.assert_allclose(res2[_p(model)].to_numpy(dtype=float), expect[_p(model)].to_numpy(dtype=float)[:2], atol=1e-12)
    assert res2["Notes"].tolist() == ["a", "c"] and res2["Notes (2)"].tolist() == ["b", "d"]


def test_duplicate_column_used_by_the_mapping_is_an_error(tmp_path, capsys):
    path = _write(tmp_path, "d.csv", "Sex,Sex,fever\nFemale,Male,no\n")
    mp = _write(tmp_path, "m.yaml", "columns:\n  Sex: {variable: sex, values: {Female: female, Male: male}}\n")
    assert _score(path, tmp_path / "o.csv", "--mapping", str(mp)) == 2
    assert "column 'Sex' appears 2 times in the input; the mapping reads it" in capsys.readouterr().err
    path = _write(tmp_path, "d2.csv", "fever,fever\nno,yes\n")
    assert _score(path, tmp_path / "o.csv") == 2
    assert "column 'fever' appears 2 times in the input and is read as the variable fever" in capsys.readouterr().err


# ----------------------------------------------------------------------------- mapping files
def test_mapping_read_as_text_with_missing_codes_and_separator_in_labels(model, tmp_path):
    frame = pd.DataFrame({
        " Site ": ["010", "020", "010", "999"],
        "Sport": ["yes", "no", "N/A", "yes"],
        "Where": ["Outside; side of hip;Groin", "Groin", "", "Outside; side of hip"],
        "Age": ["40", "-99", "33", "999"],
    })
    frame.to_csv(tmp_path / "s.csv", index=False)
    text = """
missing: ["999", "N/A"]
columns:
  Site: {variable: sex, values: {010: female, 020: male}}           # a stray space in the header; 010 stays 010
  Sport: {variable: high_impact_sport_history, values: {yes: "yes", no: "no"}}
  Where: {options: {"Outside; side of hip": pain_lateral_hip, Groin: pain_groin}}
  Age: {variable: age, missing: ["-99"]}
"""
    mp = tmp_path / "m.yaml"
    mp.write_bytes(("# Réponses codées\n" + text).encode("cp1252"))
    assert _score(tmp_path / "s.csv", tmp_path / "o.parquet", "--mapping", str(mp)) == 0
    res = pd.read_parquet(tmp_path / "o.parquet")
    assert res["error"].isna().all()
    expect = model.score(pd.DataFrame({
        "sex": ["female", "male", "female", ""], "high_impact_sport_history": ["yes", "no", "", "yes"],
        "pain_lateral_hip": ["present", "absent", "", "present"], "pain_groin": ["present", "present", "", "absent"],
        "age": ["40", "", "33", ""]}))
    np.testing.assert_allclose(res[_p(model)].to_numpy(dtype=float), expect[_p(model)].to_numpy(dtype=float), atol=1e-12)
    assert res.loc[3, "triage"] is not None


def test_numeric_codes_match_integer_keys_and_one_point_zero(model, tmp_path):
    frame = pd.DataFrame({"Q": [1.0, 2.0, np.nan], "fever": ["1.0", "", "0.0"]})
    frame.to_parquet(tmp_path / "s.parquet")
    mp = _write(tmp_path, "m.yaml", "columns:\n  Q: {variable: sex, values: {1: female, 2: male}}\n")
    assert _score(tmp_path / "s.parquet", tmp_path / "o.parquet", "--mapping", str(mp)) == 0
    res = pd.read_parquet(tmp_path / "o.parquet")
    assert res["error"].isna().all()
    expect = model.score(pd.DataFrame({"sex": ["female", "male", ""], "fever": ["present", "", "absent"]}))
    np.testing.assert_allclose(res[_p(model)].to_numpy(dtype=float), expect[_p(model)].to_numpy(dtype=float), atol=1e-12)


def test_unlisted_missing_code_is_that_rows_error(tmp_path):
    frame = pd.DataFrame({"Gender": ["Woman", "Unknown", "Man"]})
    frame.to_csv(tmp_path / "s.csv", index=False)
    mp = _write(tmp_path, "m.yaml", "columns:\n  Gender: {variable: sex, values: {Woman: female, Man: male}}\n")
    assert _score(tmp_path / "s.csv", tmp_path / "o.csv", "--mapping", str(mp)) == 0
    assert read_str(tmp_path / "o.csv")["error"].tolist() == ["", "Gender: unmapped answer 'Unknown'; allowed: Woman, Man", ""]
    mp.write_text("missing: [Unknown]\n" + mp.read_text())
    assert _score(tmp_path / "s.csv", tmp_path / "o.csv", "--mapping", str(mp)) == 0
    assert read_str(tmp_path / "o.csv")["error"].tolist() == ["", "", ""]


def test_common_missing_codes_per_column_and_for_the_file(model, tmp_path):
    """NA, N/A, -, 999 and Unknown, as survey and statistics exports write "no answer"."""
    frame = pd.DataFrame({"Gender": ["Woman", "NA", "-", "Unknown", "Man", "999"],
                          "Fever?": ["No", "N/A", "Yes", "-", "999", "No"],
                          "Age": ["40", "999", "NA", "33", "-", "51"]})
    frame.to_csv(tmp_path / "s.csv", index=False)
    mp = _write(tmp_path, "m.yaml", """
missing: ["999", N/A]
columns:
  Gender: {variable: sex, values: {Woman: female, Man: male}, missing: [NA, "-", Unknown]}
  "Fever?": {variable: fever, values: {Yes: present, No: absent}, missing: ["-"]}
  Age: {variable: age, missing: [NA, "-"]}
""")
    assert _score(tmp_path / "s.csv", tmp_path / "o.parquet", "--mapping", str(mp)) == 0
    res = pd.read_parquet(tmp_path / "o.parquet")
    assert len(res) == 6 and res["error"].isna().all()
    expect = model.score(pd.DataFrame({"sex": ["female", "", "", "", "male", ""], "fever": ["absent", "", "present", "", "", "absent"],
                                       "age": ["40", "", "", "33", "", "51"]}))
    np.testing.assert_allclose(res[_p(model)].to_numpy(dtype=float), expect[_p(model)].to_numpy(dtype=float), rtol=0, atol=1e-12)
    assert res["triage"].fillna("").tolist() == expect["triage"].fillna("").tolist()
    assert res["Gender"].tolist() == frame["Gender"].tolist()  # the codes themselves are passed through


# ----------------------------------------------------------------------------- output
def test_output_metadata_digits_bom_and_list_column(model, clean, tmp_path):
    ANSWERS.to_csv(tmp_path / "s.csv", index=False)
    assert _score(tmp_path / "s.csv", tmp_path / "o.parquet") == 0
    meta = json.loads(pq.read_schema(tmp_path / "o.parquet").metadata[b"hipdx"])
    assert meta["model"]["version"] == model.version and meta["mapping"] is None
    res = pd.read_parquet(tmp_path / "o.parquet")
    assert list(res.loc[2, "red_flags"]) == clean.loc[2, "red_flags"].split("; ") and list(res.loc[0, "red_flags"]) != [""]
    assert _score(tmp_path / "s.csv", tmp_path / "o.csv", "--digits", "3", "--csv-bom") == 0
    raw = (tmp_path / "o.csv").read_bytes()
    assert raw.startswith(b'\xef\xbb\xbf"age",')
    cells = read_str(tmp_path / "o.csv")["p_gtps"]
    assert all(len(c.split(".")[1]) <= 3 for c in cells if "." in c)
    np.testing.assert_allclose(cells.astype(float), clean["p_gtps"].round(3), atol=1e-12)
    side = json.loads((tmp_path / "o.csv.meta.json").read_text())
    assert side["model"]["version"] == model.version and side["rows"] == 12
    mp = _write(tmp_path, "m.yaml", MAPPING)
    labelled().to_csv(tmp_path / "l.csv", index=False)
    assert _score(tmp_path / "l.csv", tmp_path / "o2.parquet", "--mapping", str(mp)) == 0
    meta = json.loads(pq.read_schema(tmp_path / "o2.parquet").metadata[b"hipdx"])
    assert meta["mapping"]["text"] == MAPPING


@pytest.mark.parametrize("case", ["missing_dir", "read_only_dir", "output_is_dir", "input_is_dir"])
def test_file_errors_are_one_line_and_exit_2(tmp_path, capsys, case):
    ANSWERS.to_csv(tmp_path / "s.csv", index=False)
    inp, out = tmp_path / "s.csv", tmp_path / "o.csv"
    if case == "missing_dir":
        out = tmp_path / "nope" / "o.csv"
    elif case == "read_only_dir":
        import os

        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        out = ro / "o.csv"
        if os.access(ro, os.W_OK):  # root ignores permission bits: /proc takes no new files, even from root
            out = Path("/proc/hipdx-test-output.csv")
    elif case == "output_is_dir":
        out = tmp_path
    else:
        inp = tmp_path
    assert _score(inp, out) == 2
    err = capsys.readouterr().err
    assert err.startswith("hipdx score: ") and err.count("\n") == 1 and "Traceback" not in err


def test_full_disk_is_one_line_and_leaves_nothing(tmp_path, capsys, monkeypatch):
    import errno

    from service.batch import writers

    def full(self, table):
        raise OSError(errno.ENOSPC, "No space left on device", self.tmp)

    ANSWERS.to_csv(tmp_path / "s.csv", index=False)
    (tmp_path / "o.csv").write_text("earlier output\n")
    monkeypatch.setattr(writers.OutputWriter, "write", full)
    assert _score(tmp_path / "s.csv", tmp_path / "o.csv") == 2
    err = capsys.readouterr().err
    assert "No space left on device" in err and err.count("\n") == 1
    assert (tmp_path / "o.csv").read_text() == "earlier output\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.csv", "s.csv"]


def test_report_html_is_self_contained(model, tmp_path):
    frame = ANSWERS.copy()
    frame.loc[3, "sex"] = "femal"
    frame.to_csv(tmp_path / "s.csv", index=False)
    assert _score(tmp_path / "s.csv", tmp_path / "o.csv", "--report", str(tmp_path / "r.html")) == 0
    page = (tmp_path / "r.html").read_text()
    assert "<td class='n'>12</td>" in page and "<td class='n'>11</td>" in page
    assert "sex: unknown state; allowed: female, male" in page
    assert model.version in page and "delimiter" in page
    assert page.count("data:image/png;base64,") == len(model.conditions)
    assert "http://" not in page and "https://" not in page


def test_file_wide_missing_codes_apply_to_variable_columns_too(model, tmp_path):
    pd.DataFrame({"fever": ["yes", "999", "no"], "age": ["40", "999", "30"], "Q": ["a", "b", "999"]}).to_csv(
        tmp_path / "s.csv", index=False)
    mp = _write(tmp_path, "m.yaml", 'missing: ["999"]\ncolumns:\n  Q: {variable: sex, values: {a: female, b: male}}\n')
    assert _score(tmp_path / "s.csv", tmp_path / "o.parquet", "--mapping", str(mp)) == 0
    res = pd.read_parquet(tmp_path / "o.parquet")
    assert res["error"].isna().all()
    expect = model.score(pd.DataFrame({"fever": ["yes", "", "no"], "age": ["40", "", "30"], "sex": ["female", "male", ""]}))
    np.testing.assert_allclose(res[_p(model)].to_numpy(dtype=float), expect[_p(model)].to_numpy(dtype=float), atol=1e-12)


def test_qualtrics_export_saved_as_xlsx(model, clean, tmp_path, capsys):
    frame = labelled()
    ids = [f"Q{i + 1}" for i in range(frame.shape[1])]
    head = pd.DataFrame([list(frame.columns), [json.dumps({"ImportId": f"QID{i + 1}"}) for i in range(frame.shape[1])]], columns=ids)
    body = frame.copy()
    body.columns = ids
    pd.concat([head, body]).to_excel(tmp_path / "q.xlsx", index=False)
    mp = _write(tmp_path, "q.yaml", qualtrics_mapping())
    assert _score(tmp_path / "q.xlsx", tmp_path / "o.parquet", "--mapping", str(mp)) == 0
    _assert_same_as_clean(model, clean, tmp_path / "o.parquet")
    assert "input: Excel (Qualtrics export, 2 row(s) below the header skipped)" in capsys.readouterr().err


def test_sas_transport_file(model, clean, tmp_path):
    pyreadstat = pytest.importorskip("pyreadstat")
    frame = ANSWERS.copy()
    frame["age"] = frame["age"].astype(float)
    frame["weekly_training_hours"] = frame["weekly_training_hours"].astype(float)
    frame = frame.rename(columns={"weekly_training_hours": "hours", "pain_lateral_hip": "lateral", "cannot_bear_weight": "noweight",
                                  "night_pain": "night", "pain_groin": "groin"})
    pyreadstat.write_xport(frame, str(tmp_path / "s.xpt"))
    mp = _write(tmp_path, "m.yaml", "columns:\n  hours: {variable: weekly_training_hours}\n  lateral: {variable: pain_lateral_hip}\n"
                "  noweight: {variable: cannot_bear_weight}\n  night: {variable: night_pain}\n  groin: {variable: pain_groin}\n")
    assert _score(tmp_path / "s.xpt", tmp_path / "o.parquet", "--mapping", str(mp)) == 0
    _assert_same_as_clean(model, clean, tmp_path / "o.parquet")
