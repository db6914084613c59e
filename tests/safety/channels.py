"""The channels a case can travel through, as one registry the safety tests iterate over.

A channel is a function ``(ctx, case) -> Outcome``: it sends the case the way a user of that
channel would and reports, in one shape, what came back. Add a channel with ``@channel("name")``
(the CDS Hooks channel is to be added by whoever owns ``service/cds_hooks.py``: send the case as a
QuestionnaireResponse and read the cards back into an :class:`Outcome`).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from service.strict_json import DuplicateKeyError, read_json_text


@dataclass
class Outcome:
    """What a channel said about a case. ``None`` in a field = this channel does not carry it."""

    channel: str
    refused: bool  # HTTP 4xx, EvidenceError, a batch row's error, exit code 2
    status: int | None = None  # HTTP status where there is one
    level: str | None = None
    red_flags: set[str] = field(default_factory=set)
    outside_population: bool | None = None
    provisional: bool | None = None
    error_fields: list[str] = field(default_factory=list)
    applicable: bool = True


@dataclass
class Context:
    model: Any
    client: Any  # Flask test client of create_app(model)
    tmp: Path


Channel = Callable[[Context, dict], Outcome]
CHANNELS: dict[str, Channel] = {}


def channel(name: str) -> Callable[[Channel], Channel]:
    def register(fn: Channel) -> Channel:
        CHANNELS[name] = fn
        return fn

    return register


def evidence_of(case: dict) -> dict | None:
    """The case's answers as a dict, or None when a dict cannot say them (a duplicated key)."""
    if "evidence" in case:
        return dict(case["evidence"])
    try:
        body = read_json_text(case["body"])
    except DuplicateKeyError:
        return None
    return dict(body["evidence"])


def body_of(case: dict) -> str:
    return case["body"] if "body" in case else json.dumps({"evidence": case["evidence"]})


def _field_of(message: str) -> str:
    return message.split(":", 1)[0].strip()


@channel("python")
def python_channel(ctx: Context, case: dict) -> Outcome:
    """``HipModel.diagnose``; a refused case is screened (``HipModel.screen``) as the API does."""
    from model import EvidenceError

    evidence = evidence_of(case)
    if evidence is None:
        return Outcome("python", refused=True, applicable=False)
    try:
        t = ctx.model.diagnose(evidence, reasoning=False)
    except EvidenceError as exc:
        sc = ctx.model.screen(evidence)
        return Outcome("python", True, None, sc.triage.level, {f.id for f in sc.triage.red_flags},
                       sc.outside_population is not None, sc.triage.provisional, [e.field for e in sc.errors] or [exc.field])
    d = t.to_dict()
    return Outcome("python", False, None, d["triage"]["level"], {f["id"] for f in d["triage"]["red_flags"]},
                   d["outside_population"] is not None, d["triage"]["provisional"])


@channel("http")
def http_channel(ctx: Context, case: dict) -> Outcome:
    """``POST /v1/diagnosis`` with the raw body (duplicate keys and huge numbers as sent)."""
    resp = ctx.client.post("/v1/diagnosis?reasoning=false", data=body_of(case), content_type="application/json")
    body = resp.get_json()
    if resp.status_code == 200:
        t = body["triage"]
        return Outcome("http", False, 200, t["level"], {f["id"] for f in t["red_flags"]},
                       body["outside_population"] is not None, t["provisional"])
    triage = body.get("triage") or {}
    fields = [body.get("field")] + [e["field"] for e in body.get("unreadable_answers", [])]
    return Outcome("http", True, resp.status_code, triage.get("level"),
                   {f["id"] for f in body.get("red_flags_answered", [])},
                   "outside_population" in body, triage.get("provisional"), [f for f in fields if f])


@channel("batch")
def batch_channel(ctx: Context, case: dict) -> Outcome:
    """``HipModel.score`` on a one-row table (the batch scorer's model call)."""
    evidence = evidence_of(case)
    if evidence is None:
        return Outcome("batch", refused=True, applicable=False)
    from model import EvidenceError

    frame = pd.DataFrame([evidence], dtype=object) if evidence else pd.DataFrame(index=[0])
    try:
        row = ctx.model.score(frame).iloc[0]
    except EvidenceError as exc:  # a column header is refused: the whole table is (issue 14)
        return Outcome("batch", True, None, None, set(), None, None, [exc.field])
    error = row["error"]
    return Outcome("batch", error is not None, None, row["triage"], set(filter(None, row["red_flags"].split("; "))),
                   row["outside_population"] is not None, bool(row["provisional"]),
                   [_field_of(m) for m in error.split("; ")] if error else [])


@channel("score-file")
def score_file_channel(ctx: Context, case: dict) -> Outcome:
    """``hipdx score`` (the batch file writer) on a one-row CSV: what a survey analyst gets."""
    from service.batch import Job, score_file

    evidence = evidence_of(case)
    if evidence is None:
        return Outcome("score-file", refused=True, applicable=False)
    src, out = ctx.tmp / f"{case['id']}.csv", ctx.tmp / f"{case['id']}.scored.csv"
    # a survey row with nothing answered: the question columns are there, every cell blank
    row = {k: ("" if v is None else str(v)) for k, v in evidence.items()} or {"fever": ""}
    pd.DataFrame([row], dtype=str).to_csv(src, index=False)
    from service.batch import BatchError

    try:
        score_file(Job(str(src), str(out), warn=lambda msg: None, progress=False))
    except BatchError as exc:  # the job is refused as a whole (e.g. a header that misspells a variable)
        named = re.search(r"'([^']+)'", str(exc))
        return Outcome("score-file", True, None, None, set(), None, None, [named.group(1) if named else _field_of(str(exc))])
    got = pd.read_csv(out, dtype=str, keep_default_na=False).iloc[0]
    error = got["error"] or None
    empty = error is not None and error.startswith("empty row")  # reported as empty, not refused: no triage
    return Outcome("score-file", error is not None and not empty, None, got["triage"] or None,
                   set(filter(None, got["red_flags"].split("; "))),
                   (got["outside_population"] != "") if "outside_population" in got else None,
                   (got["provisional"].lower() == "true" or empty) if "provisional" in got else None,
                   [_field_of(m) for m in error.split("; ")] if error else [])


@channel("cli-diagnose")
def cli_channel(ctx: Context, case: dict) -> Outcome:
    """``hipdx diagnose --evidence '<json>'`` (in process): stdout JSON, or exit 2 with the red
    flags of the readable answers on stderr."""
    from service import diagnose_cmd

    if "evidence" in case:
        evidence_text = json.dumps(case["evidence"])
    else:  # the raw text of the evidence object, duplicate keys and long numbers as sent
        text = case["body"]
        try:
            read_json_text(text)
        except DuplicateKeyError as exc:
            if exc.path == "evidence":  # the CLI takes the evidence object itself: nothing to send
                return Outcome("cli-diagnose", refused=True, applicable=False)
        evidence_text = text[text.index(":") + 1: text.rindex("}")].strip()
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = diagnose_cmd.run(argparse.Namespace(evidence=[evidence_text], priors=None, format="json"))
    if code == 0:
        d = json.loads(out.getvalue())
        t = d["triage"]
        return Outcome("cli-diagnose", False, None, t["level"], {f["id"] for f in t["red_flags"]},
                       d["outside_population"] is not None, t["provisional"])
    lines = err.getvalue().splitlines()
    flags = {m.group(1) for line in lines if (m := re.match(r"^  (\w+) \(", line))}
    level_line = next((line for line in lines if line.startswith("triage from the readable answers alone: ")), "")
    level = level_line.rsplit(": ", 1)[-1].replace(" ", "_") if level_line else None
    fields = [_field_of(line.removeprefix("hipdx diagnose: ")) for line in lines if line.startswith("hipdx diagnose: ")]
    return Outcome("cli-diagnose", True, None, level if level in ("emergency", "urgent", "see_clinician", "self_care") else None,
                   flags, any(line.startswith("outside the model's population") for line in lines), None, fields)
