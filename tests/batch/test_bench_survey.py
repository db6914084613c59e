"""`hipdx bench`'s survey-format figures: .xlsx and .sav files scored end to end in a subprocess."""

from __future__ import annotations

import argparse
import re

from service.bench import _bench_survey_formats


def test_bench_scores_xlsx_and_sav(model, capsys):
    _bench_survey_formats(model, argparse.Namespace(survey_rows=40, seed=3, missing=0.0, jobs=1))
    out = capsys.readouterr().out
    assert "Survey formats: `hipdx score` on 40 simulated rows as .xlsx and SPSS .sav" in out
    for kind in (".xlsx", ".sav"):
        line = next(x for x in out.splitlines() if x.strip().startswith(kind))
        assert re.search(r"wall time [\d.]+ s \([\d,]+ rows/s\); peak memory [\d,]+ MiB PSS", line), line
    assert "failed" not in out
