"""Survey mapping files: the example survey, each mapping behaviour, and validation messages."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from service import score_cmd
from service.mapping import MappingError, load_mapping

from .conftest import read_str, run_command

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _write(tmp_path, text, name="map.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def _score(inp, out, mapping):
    return run_command(score_cmd, [str(inp), "-o", str(out), "--jobs", "1", "--mapping", str(mapping)])


def test_example_survey_scores_with_its_mapping(model, tmp_path, capsys):
    out = tmp_path / "scored.csv"
    assert _score(EXAMPLES / "survey.csv", out, EXAMPLES / "survey_mapping.yaml") == 0
    survey, res = read_str(EXAMPLES / "survey.csv"), read_str(out)
    assert len(survey) >= 150 and len(res) == len(survey)
    pd.testing.assert_frame_equal(res[survey.columns], survey)
    errors = res.set_index("Respondent ID")["error"]
    assert errors["R1011"] == "Age (years): -4 is outside the allowed range 10 to 110 years"
    assert errors["R1120"] == "Gender: unmapped answer 'Femal'; allowed: Woman, Man, Prefer not to say"
    assert errors["R1142"].startswith("Q7 Where does it hurt?: unmapped answer 'Knee'; allowed: Outside of the hip, Groin")
    assert (errors != "").sum() == 6
    assert (res.loc[errors.to_numpy() == "", "p_gtps"] != "").all()
    err = capsys.readouterr().err
    assert "warning" not in err
    assert "194 scored, 6 with errors" in err


def test_example_mapping_reads_answers_as_documented(model):
    mapping = load_mapping(EXAMPLES / "survey_mapping.yaml", model.vocabulary)
    frame = pd.DataFrame({c: [""] * 4 for c in mapping.by_column}, dtype=object)
    frame.loc[0, "Q7 Where does it hurt?"] = "Outside of the hip ;groin"
    frame.loc[1, "Q7 Where does it hurt?"] = "None of these"
    frame.loc[0, "Can you put weight on the leg?"] = "no"
    frame.loc[1, "Gender"] = "  WOMAN "
    frame.loc[2, "Age (years)"] = "45"
    frame.loc[3, "Fever?"] = "yes"
    ev, errors, origin = mapping.apply(frame)
    assert errors == [None] * 4
    assert ev.at[0, "pain_lateral_hip"] == "present" and ev.at[0, "pain_groin"] == "present"
    assert ev.at[0, "pain_lower_back"] == "absent"  # listed, not selected
    assert ev.at[1, "pain_lateral_hip"] == "absent" and ev.at[1, "pain_groin"] == "absent"
    assert pd.isna(ev.at[2, "pain_groin"])  # empty cell: unknown
    assert ev.at[0, "cannot_bear_weight"] == "present"
    assert ev.at[1, "sex"] == "female"
    assert ev.at[2, "age"] == "45"
    assert ev.at[3, "fever"] == "yes"  # no values: read by the model's own spellings
    assert origin["pain_groin"] == "Q7 Where does it hurt?"
    scored = model.score(ev)
    assert scored["error"].isna().all()
    direct = model.score(pd.DataFrame([{
        "pain_lateral_hip": "present", "pain_groin": "present", "pain_anterior_thigh": "absent", "pain_buttock_deep": "absent",
        "pain_lower_back": "absent", "pain_radiates_down_leg": "absent", "pain_radiates_to_lateral_knee": "absent",
        "cannot_bear_weight": "present"}]))
    np.testing.assert_allclose(scored.iloc[[0], :11].to_numpy(dtype=float), direct.iloc[:, :11].to_numpy(dtype=float), atol=1e-12)


def test_two_columns_for_one_variable_must_agree(model, tmp_path):
    mp = _write(tmp_path, """
columns:
  "Hip pain on the outside?": {variable: pain_lateral_hip, values: {"Yes": present, "No": absent}}
  "Where": {separator: "|", options: {"Outside": pain_lateral_hip, "Groin": pain_groin}}
""")
    inp = tmp_path / "s.csv"
    survey = pd.DataFrame({"Hip pain on the outside?": ["Yes", "No", "", "Yes"],
                           "Where": ["Outside|Groin", "Outside", "Groin", ""]})
    survey.to_csv(inp, index=False)
    assert _score(inp, tmp_path / "o.csv", mp) == 0
    res = read_str(tmp_path / "o.csv")
    assert res["error"].tolist()[0] == ""
    assert res["error"].tolist()[1] == "Where: says pain_lateral_hip = 'present' but Hip pain on the outside? says 'absent'"
    assert res["error"].tolist()[2:] == ["", ""]


def test_direct_variable_columns_still_read_with_a_mapping(model, tmp_path):
    mp = _write(tmp_path, 'columns:\n  "Gender": {variable: sex, values: {W: female, M: male}}\n')
    inp = tmp_path / "s.csv"
    survey = pd.DataFrame({"Gender": ["W", "M"], "pain_lying_on_side": ["present", "absent"], "age": ["50", "20"]})
    survey.to_csv(inp, index=False)
    assert _score(inp, tmp_path / "o.csv", mp) == 0
    res = read_str(tmp_path / "o.csv")
    expect = model.score(pd.DataFrame({"sex": ["female", "male"], "pain_lying_on_side": ["present", "absent"],
                                       "age": ["50", "20"]}))
    np.testing.assert_allclose(res["p_gtps"].astype(float), expect["p_gtps"], atol=5e-7)  # CSV: 6 decimals


@pytest.mark.parametrize(("text", "message"), [
    ("columns:\n  Q1: {variable: pain_grion}\n",
     "map.yaml: columns.Q1.variable: unknown variable 'pain_grion'; allowed: age_band"),
    ("columns:\n  Q1: {variable: pain_groin, values: {Yes: presnt}}\n",
     "map.yaml: columns.Q1.values.Yes: 'presnt' is not a state of pain_groin; allowed: present, absent, unknown "
     "(did you mean 'present'?)"),
    ("columns:\n  Q1: {options: {A: sex}}\n", "a multi-select option can only set a present/absent or yes/no variable"),
    ("columns:\n  Q1: {options: {A: pain_grion}}\n", "map.yaml: columns.Q1.options.A: unknown variable 'pain_grion'"),
    ("columns:\n  Q1: {variable: sex, colour: red}\n",
     "map.yaml: columns.Q1.colour: unknown key; allowed: variable, values, options, checkboxes, separator, missing"),
    ("columns:\n  Q1: {values: {A: present}}\n", "give one of 'variable'"),
    ("columns:\n  Q1: {variable: age, values: {Young: under_30}}\n",
     "'age' is read as a number; to map labelled bands use variable: age_band"),
    ("colums: {}\n", "map.yaml: colums: unknown key; allowed: separator, missing, columns"),
    ("columns:\n  Q1: {variable: sex}\n  Q1: {variable: fever}\n", "found duplicate key 'Q1'"),
    ("columns:\n  Q1: {options: {A: pain_groin, ' a ': fever}}\n", "the answer is listed twice"),
    ("columns: [1, 2\n", "not valid YAML"),
])
def test_mapping_validation_messages(model, tmp_path, text, message):
    with pytest.raises(MappingError) as info:
        load_mapping(_write(tmp_path, text), model.vocabulary)
    assert message in str(info.value)
    assert "map.yaml" in str(info.value)


def test_mapping_column_missing_from_input(model, tmp_path, capsys):
    mp = _write(tmp_path, 'columns:\n  "Gender": {variable: sex}\n')
    inp = tmp_path / "s.csv"
    pd.DataFrame({"Sex": ["male"]}).to_csv(inp, index=False)
    assert _score(inp, tmp_path / "o.csv", mp) == 2
    assert "map.yaml: column 'Gender' is not in the input file" in capsys.readouterr().err
