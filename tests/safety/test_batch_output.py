"""The batch scorer's safety columns: ``HipModel.score`` gives them; the file writer must pass them on."""

from __future__ import annotations

import pandas as pd

SAFETY_COLUMNS = ["outside_population", "provisional", "open_questions", "triage_reasons"]


def test_score_frame_has_the_safety_columns(model):
    rows = pd.DataFrame([{"age": 12, "pain_groin": "present"}, {}, {"sex": "other", "fever": "present"}], dtype=object)
    out = model.score(rows)
    assert list(out.columns[-len(SAFETY_COLUMNS):]) == SAFETY_COLUMNS
    assert out["outside_population"].iloc[0].startswith("age below 18 years")
    assert out["outside_population"].iloc[1:].isna().all()
    assert list(out["triage"]) == ["urgent", None, "urgent"]  # a child: same-day assessment
    assert list(out["provisional"]) == [True, True, True]
    assert out["triage_reasons"].iloc[0].split("; ")[0] == "outside_population_child"
    assert out["triage_reasons"].iloc[1] == "no_answers" and out["triage_reasons"].iloc[2] == "fever"


def test_hipdx_score_file_carries_the_safety_columns(tmp_path):
    from service.batch import Job, score_file

    src, out = tmp_path / "in.csv", tmp_path / "out.csv"
    pd.DataFrame([{"age": 12, "pain_groin": "present"}]).to_csv(src, index=False)
    score_file(Job(str(src), str(out), warn=lambda msg: None, progress=False))
    got = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert set(SAFETY_COLUMNS) <= set(got.columns)
    assert got["outside_population"].iloc[0].startswith("age below 18 years")
