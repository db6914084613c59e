"""``hipdx diagnose`` prints a readable report (JSON on request); ``hipdx priors`` fits 100 columns."""

from __future__ import annotations

import json

from model.priors import bundled_sources
from service.cli import main
from service.priors_cmd import priors_frame

GTPS = ["sex=female", "age=45", "pain_lateral_hip=present", "pain_lying_on_side=present"]


def run(capsys, *argv: str) -> str:
    assert main(list(argv)) == 0
    return capsys.readouterr().out


def test_diagnose_prints_triage_first_then_the_table_why_and_next_questions(capsys, model):
    out = run(capsys, "diagnose", "-e", *GTPS)
    lines = out.splitlines()
    assert all(len(line) <= 100 for line in lines)
    assert lines[2] == "TRIAGE: SEE A CLINICIAN - See a clinician (doctor or physiotherapist) (provisional)"
    starts = [out.index(h) for h in ("TRIAGE:", "Conditions, most probable first", "Why (", "Ask next", "hipdx is decision support")]
    assert starts == sorted(starts)
    d = model.diagnose({"sex": "female", "age": 45, "pain_lateral_hip": "present", "pain_lying_on_side": "present"})
    table = lines[lines.index("Conditions, most probable first") + 2:][:len(d.conditions)]
    names = [c.name for c in d.conditions]
    assert [row[2:48].rstrip().rstrip("…") for row in table] == [n[:46].rstrip() if len(n) <= 46 else n[:45].rstrip() for n in names]
    gtps = table[0]
    lo, hi = d.conditions[0].interval
    assert f"{100 * d.probability('gtps'):.0f}%" in gtps and f"{100 * lo:.0f}% - {100 * hi:.0f}%" in gtps
    assert f'{bundled_sources()["002_3cff6c4d9534aba2.txt"].title}: "Pain is usually felt on the outside of the hip"' in out
    assert f"1. {d.next_questions[0]['question']}" in out


def test_diagnose_red_flag_report(capsys):
    out = run(capsys, "diagnose", "-e", "cannot_bear_weight=present")
    assert out.splitlines()[2].startswith("TRIAGE: EMERGENCY")
    assert "! RED FLAG cannot_bear_weight: Cannot put weight on the leg" in out


def test_diagnose_json_is_the_api_body(capsys, model):
    out = run(capsys, "diagnose", "--format", "json", "-e", *GTPS)
    expected = model.diagnose({"sex": "female", "age": 45.0, "pain_lateral_hip": "present", "pain_lying_on_side": "present"})
    assert json.loads(out) == json.loads(json.dumps(expected.to_dict()))


def test_diagnose_bad_answer_is_a_clear_error(capsys):
    assert main(["diagnose", "-e", "pain_groin=sometimes"]) == 2
    assert "pain_groin" in capsys.readouterr().err


def test_priors_table_fits_100_columns_and_names_sources_by_title(capsys):
    out = run(capsys, "priors")
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 100
    frame = priors_frame()
    text = "\n".join(lines)
    for path in frame["path"]:
        assert any(line.startswith(path + " ") or line == path for line in lines), path  # every path in full
    assert 'Hip pain after running: "runners who take less than two rest days per week' in text
    assert f"{len(frame)} priors:" in text


def test_priors_wide_prints_everything(capsys):
    frame = priors_frame()
    out = run(capsys, "priors", "--wide")
    longest = max(frame["quote"], key=len)
    assert longest in out and max(len(line) for line in out.splitlines()) > 100
    assert set(frame["title"]) - {""} <= set(bundled_sources()[f].title for f in bundled_sources())


def test_text_report_shows_keys_other_issues_add(model):
    from service.text_report import format_text

    body = model.diagnose({"age": 45, "pain_lateral_hip": "present"}).to_dict()
    body["triage"].update({"level": None, "provisional": True, "open_questions": ["fever"],
                           "reasons": [{"rule": "r", "reason": "Because of a rule", "source": "001_836542559a107186.txt",
                                        "title": "Hip pain after running", "quote": "a quote"}]})
    body["outside_population"] = {"reason": "under 18"}
    body["explanations"] = [{"present": ["gtps"], "probability": 0.58}, {"present": [], "probability": 0.1}]
    out = format_text(body)
    assert "TRIAGE: NOT RATED" in out and "(provisional)" in out
    assert '  - Because of a rule [Hip pain after running: "a quote"]' in out
    assert "  ? To settle the triage, ask: fever" in out and "OUTSIDE THE MODEL'S POPULATION: under 18" in out
    assert "    58%  gtps" in out and "none of the conditions in the model" in out
    assert out.index("TRIAGE") < out.index("Most likely explanations") < out.index("Conditions, most probable first")
    assert max(len(line) for line in out.splitlines()) <= 100
