"""``hipdx mapping draft|check``: a proposed mapping that scores like the hand-written one, and a check listing answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import yaml

from service import mapping_cmd, score_cmd

from .conftest import run_command
from .survey_files import ANSWERS, labelled, qualtrics_csv

DICTIONARY = '''Variable / Field Name,Form Name,Section Header,Field Type,Field Label,"Choices, Calculations, OR Slider Labels"
record_id,f,,text,Record ID,
gender,f,,radio,Gender,"1, Female | 2, Male"
where,f,,checkbox,Where does it hurt?,"1, Outside of the hip | 2, Groin | 3, Somewhere else"
fever,f,,yesno,Do you have a fever?,
comments,f,,notes,Comments,
'''


def test_draft_of_a_qualtrics_export_places_every_question(model, tmp_path, capsys):
    frame = labelled()
    frame["Comments"] = ["fine"] * len(frame)
    qualtrics_csv(tmp_path / "q.csv", frame)
    draft = tmp_path / "draft.yaml"
    assert run_command(mapping_cmd, ["draft", str(tmp_path / "q.csv"), "-o", str(draft)]) == 0
    text = draft.read_text()
    spec = yaml.safe_load(text)
    cols = spec["columns"]
    assert cols["Q1"]["variable"] == "age" and cols["Q2"] == {"variable": "sex", "values": {"Woman": "female", "Man": "male"}}
    assert cols["Q6"]["variable"] == "night_pain" and cols["Q7"]["variable"] == "fever"
    assert cols["Q9"] is None  # Comments: listed at the end, passed through
    assert text.index('"Q9": null') > text.index('"Q8"')
    assert all("# confidence" in line or "CHECK" in line for line in text.splitlines() if line.startswith('  "Q') and "null" not in line)
    assert "CHECK THE DIRECTION" in text  # 'Can you put weight on the leg?' is the red flag asked the other way round
    assert run_command(mapping_cmd, ["draft", str(tmp_path / "q.csv"), "-o", str(draft)]) == 2  # never overwrites
    # the analyst fixes the direction and scores: the same as the clean answers
    spec["columns"]["Q8"]["values"] = {"Yes": "absent", "No": "present"}
    draft.write_text(yaml.safe_dump(spec))
    out = tmp_path / "o.parquet"
    assert run_command(score_cmd, [str(tmp_path / "q.csv"), "-o", str(out), "--mapping", str(draft), "--jobs", "1"]) == 0
    res = pd.read_parquet(out)
    clean = model.score(ANSWERS)
    p = [f"p_{c}" for c in model.conditions]
    np.testing.assert_allclose(res[p].to_numpy(dtype=float), clean[p].to_numpy(dtype=float), atol=1e-12)


def test_draft_with_a_redcap_dictionary_and_check(model, tmp_path, capsys):
    raw = pd.DataFrame({"record_id": [1, 2, 3], "gender": [1, 2, 1], "where___1": [1, 0, 0], "where___2": [1, 1, 0],
                        "where___3": [0, 0, 1], "fever": [0, 1, 0], "comments": ["a", "b", "c"]})
    raw.to_csv(tmp_path / "r.csv", index=False)
    (tmp_path / "dict.csv").write_text(DICTIONARY)
    assert run_command(mapping_cmd, ["draft", str(tmp_path / "r.csv"), "--dictionary", str(tmp_path / "dict.csv"),
                                     "-o", str(tmp_path / "m.yaml")]) == 0
    cols = yaml.safe_load((tmp_path / "m.yaml").read_text())["columns"]
    assert cols["gender"] == {"variable": "sex", "values": {"1": "female", "2": "male"}}
    assert cols["where"] == {"checkboxes": {"where___1": "pain_lateral_hip", "where___2": "pain_groin", "where___3": None}}
    assert cols["fever"] == {"variable": "fever", "values": {"1": "present", "0": "absent"}}
    assert cols["record_id"] is None and cols["comments"] is None
    capsys.readouterr()
    assert run_command(mapping_cmd, ["check", str(tmp_path / "m.yaml"), str(tmp_path / "r.csv")]) == 0
    out = capsys.readouterr().out
    assert "'gender' -> sex" in out
    assert "2 x '1'" in out and "-> sex=female" in out
    assert "'where___1' -> pain_lateral_hip" in out and "-> ticked" in out and "-> not ticked" in out
    assert "passed through unread (null): 'record_id', 'comments'" in out


def test_check_shows_unmapped_answers(model, tmp_path, capsys):
    pd.DataFrame({"Gender": ["Woman", "Femal", "Man", "Woman"]}).to_csv(tmp_path / "s.csv", index=False)
    (tmp_path / "m.yaml").write_text("columns:\n  Gender: {variable: sex, values: {Woman: female, Man: male}}\n")
    assert run_command(mapping_cmd, ["check", str(tmp_path / "m.yaml"), str(tmp_path / "s.csv")]) == 0
    out = capsys.readouterr().out
    assert "2 x 'Woman'" in out and "-> sex=female" in out
    assert "1 x 'Femal'" in out and "ERROR unmapped answer 'Femal'; allowed: Woman, Man" in out
    (tmp_path / "m.yaml").write_text("columns:\n  Sex: {variable: sex}\n")
    assert run_command(mapping_cmd, ["check", str(tmp_path / "m.yaml"), str(tmp_path / "s.csv")]) == 2
    assert "column 'Sex' is not in the input file" in capsys.readouterr().err
