"""hipdx learn end to end: files in, a priors folder and a report out; bad input refused, nothing written."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from model import load_model
from model.simulate import simulate
from service.cli import main


@pytest.fixture(scope="module")
def labelled(bundled):
    """300 simulated runners (20% answers blank) with every other label blanked."""
    frame = simulate(bundled, 300, seed=21, missing=0.2)
    rng = np.random.default_rng(21)
    for c in bundled.conditions:
        col = frame[f"true_{c}"].map({1: "present", 0: "absent"}).astype(object)
        col[rng.random(len(col)) < 0.5] = None
        frame[f"true_{c}"] = col
    return frame


def test_learn_from_a_survey_with_mapping_and_renamed_label(labelled, tmp_path, capsys):
    frame = labelled.copy()
    frame["Gender"] = frame.pop("sex").map({"female": "Woman", "male": "Man"})
    frame = frame.rename(columns={"true_gtps": "Dx GTPS"})
    frame.to_csv(tmp_path / "clinic.csv", index=False)
    (tmp_path / "map.yaml").write_text('columns:\n  "Gender":\n    variable: sex\n    values: {Woman: female, Man: male}\n')
    out, report = tmp_path / "learned", tmp_path / "report.html"
    code = main(["learn", str(tmp_path / "clinic.csv"), "--mapping", str(tmp_path / "map.yaml"), "--label", "gtps=Dx GTPS",
                 "-o", str(out), "--report", str(report), "--max-iter", "2", "--seed", "3"])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "300 rows read, 0 skipped" in printed and "learned on 240 rows" in printed
    assert "held-out calibration (60 rows" in printed and "numbers that moved most" in printed
    model = load_model(out)
    assert model.version in printed and model.version != load_model().version
    # sex was read through the mapping: its distribution was learned from the answers
    assert model.priors.risk_factors["sex"].distribution["female"].learned["rows"] == 240
    page = report.read_text(encoding="utf-8")
    assert page.count("<img") == 3 and page.count("src='data:image/png;base64,") == 3
    assert not re.search(r"(src|href)=['\"]?https?:", page)  # nothing fetched from the network
    assert "Reliability" in page and "log_loss after" in page and "not a validated clinical device" in page


def test_parquet_with_simulate_labels_and_no_holdout(bundled, tmp_path, capsys):
    frame = simulate(bundled, 200, seed=5, missing=0.3)  # true_* as 1/0, as hipdx simulate writes them
    frame.to_parquet(tmp_path / "sim.parquet")
    code = main(["learn", str(tmp_path / "sim.parquet"), "-o", str(tmp_path / "out"), "--holdout", "0", "--max-iter", "1"])
    printed = capsys.readouterr().out
    assert code == 0 and "learned on 200 rows" in printed and "no held-out labelled rows" in printed
    assert load_model(tmp_path / "out").version != bundled.version


def _expect_refusal(args, tmp_path, capsys, *fragments):
    out = tmp_path / "never"
    assert main(["learn", *args, "-o", str(out)]) == 2
    err = capsys.readouterr().err
    for fragment in fragments:
        assert fragment in err, err
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".never")]


def test_a_label_that_is_not_a_state(labelled, tmp_path, capsys):
    frame = labelled.copy()
    frame.loc[4, "true_fai"] = "maybe"
    frame.to_csv(tmp_path / "bad.csv", index=False)
    _expect_refusal([str(tmp_path / "bad.csv")], tmp_path, capsys, "true_fai", "row 5: 'maybe'", "allowed: present, absent")


def test_a_condition_column_missing(labelled, tmp_path, capsys):
    labelled.drop(columns=["true_stress_fracture"]).to_csv(tmp_path / "missing.csv", index=False)
    _expect_refusal([str(tmp_path / "missing.csv")], tmp_path, capsys, "true_stress_fracture", "stress_fracture", "missing")


def test_no_labelled_rows(labelled, tmp_path, capsys):
    frame = labelled.copy()
    for c in frame.columns:
        if c.startswith("true_"):
            frame[c] = None
    frame.to_csv(tmp_path / "unlabelled.csv", index=False)
    _expect_refusal([str(tmp_path / "unlabelled.csv")], tmp_path, capsys, "no labelled rows")


def test_unknown_condition_in_label_option_and_bad_holdout(labelled, tmp_path, capsys):
    labelled.to_csv(tmp_path / "ok.csv", index=False)
    _expect_refusal([str(tmp_path / "ok.csv"), "--label", "hip_bursitis=dx"], tmp_path, capsys, "hip_bursitis", "not a condition")
    _expect_refusal([str(tmp_path / "ok.csv"), "--holdout", "1.5"], tmp_path, capsys, "--holdout")


def test_an_existing_output_folder_is_refused(labelled, tmp_path, capsys):
    labelled.to_csv(tmp_path / "ok.csv", index=False)
    used = tmp_path / "used"
    used.mkdir()
    (used / "keep.txt").write_text("mine")
    assert main(["learn", str(tmp_path / "ok.csv"), "-o", str(used)]) == 2
    assert "not an empty folder" in capsys.readouterr().err
    assert [p.name for p in used.iterdir()] == ["keep.txt"]


def test_rows_with_unreadable_answers_are_skipped_and_counted(labelled, tmp_path, capsys):
    frame = labelled.copy()
    frame.loc[[2, 7], "night_pain"] = "sometimes"
    frame.to_csv(tmp_path / "typo.csv", index=False)
    code = main(["learn", str(tmp_path / "typo.csv"), "-o", str(tmp_path / "out"), "--max-iter", "1"])
    printed = capsys.readouterr().out
    assert code == 0
    assert "300 rows read, 2 skipped" in printed and "skipped row 3: " in printed and "night_pain" in printed
    assert isinstance(pd.read_csv(tmp_path / "typo.csv"), pd.DataFrame)


def test_a_semicolon_survey_with_a_ragged_row_is_read_like_hipdx_score(labelled, tmp_path, capsys):
    """The input goes through hipdx score's reader: the dialect is sniffed, and a row the reader
    cannot take (one field too many) is skipped with the reader's own message, not a crash."""
    path = tmp_path / "semicolon.csv"
    labelled.to_csv(path, index=False, sep=";")
    lines = path.read_text().splitlines()
    lines[5] += ";extra"  # data row 5
    path.write_text("\n".join(lines) + "\n")
    code = main(["learn", str(path), "-o", str(tmp_path / "out"), "--max-iter", "1"])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "300 rows read, 1 skipped" in printed and "skipped row 5: " in printed
