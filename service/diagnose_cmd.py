"""``hipdx diagnose``: one runner's diagnosis from ``var=state`` pairs or a JSON object, as a
readable text report (default) or JSON (``--format json``, exactly the API body)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any


def _text(diagnosis: Any) -> str:
    from .text_report import format_text

    return format_text(diagnosis.to_dict())


def _json(diagnosis: Any) -> str:
    return json.dumps(diagnosis.to_dict(), indent=2) + "\n"


def _fhir(diagnosis: Any) -> str:
    from .fhir.risk_assessment import risk_assessment

    return json.dumps(risk_assessment(diagnosis.to_dict()), indent=2) + "\n"


# --format choices: name -> (Diagnosis -> text to print).
FORMATS: dict[str, Callable[[Any], str]] = {"text": _text, "json": _json, "fhir": _fhir}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--evidence", "-e", nargs="+", default=[], metavar="VAR=STATE",
                   help="answers as var=state pairs (e.g. sex=female age=45 pain_lying_on_side=present), "
                        "or one JSON object, or @file.json")
    p.add_argument("--priors", metavar="DIR", help="priors directory (default: the bundled priors)")
    p.add_argument("--format", "-f", choices=list(FORMATS), default="text",
                   help="text: a readable report (triage first, conditions with intervals, why, next questions); "
                        "json: exactly the body of POST /v1/diagnosis; fhir: a FHIR R4 RiskAssessment (default: text)")


def parse_evidence_args(items: list[str]) -> dict:
    """``var=state`` pairs, a JSON object, or ``@file.json`` -> a dict of raw answers.

    Raises ``ValueError`` for malformed input, a key given twice (JSON or pairs) included."""
    if len(items) == 1 and items[0].startswith("@"):
        with open(items[0][1:], encoding="utf-8") as fh:
            return _json_object(fh.read())
    if len(items) == 1 and items[0].lstrip().startswith("{"):
        return _json_object(items[0])
    evidence: dict = {}
    for item in items:
        if "=" not in item:
            raise ValueError(f"expected VAR=STATE, got {item!r}")
        key, value = item.split("=", 1)
        if key.strip() in evidence:
            raise ValueError(f"{key.strip()}: given more than once; give each answer once")
        try:
            evidence[key.strip()] = float(value) if key.strip() in ("age", "rest_days_per_week", "weekly_training_hours") else value
        except ValueError:
            evidence[key.strip()] = value
    return evidence


def _json_object(text: str) -> dict:
    from .strict_json import read_json_text

    doc = read_json_text(text)
    if not isinstance(doc, dict):
        raise ValueError(f"expected a JSON object of variable: state, got {type(doc).__name__}")
    return dict(doc)


def run(args: argparse.Namespace) -> int:
    from model import EvidenceError, load_model

    from .strict_json import DuplicateKeyError

    try:
        evidence = parse_evidence_args(args.evidence)
    except DuplicateKeyError as exc:
        print(f"hipdx diagnose: {exc}; give each answer once", file=sys.stderr)
        if "." not in exc.path:  # a duplicated answer: its red flags are still shown
            _print_screening(load_model(args.priors).screen_pairs(exc.obj.pairs or []))
        return 2
    except (ValueError, OSError) as exc:
        print(f"hipdx diagnose: {exc}", file=sys.stderr)
        return 2
    model = load_model(args.priors)
    try:
        diagnosis = model.diagnose(evidence)
    except EvidenceError as exc:
        print(f"hipdx diagnose: {exc}", file=sys.stderr)
        _print_screening(model.screen(evidence))
        return 2
    sys.stdout.write(FORMATS[args.format](diagnosis))
    return 0


def _print_screening(screening) -> None:
    """A refused case still shows its red flags, population check and the triage they alone give."""
    t = screening.triage
    for err in screening.errors[1:]:
        print(f"hipdx diagnose: {err}", file=sys.stderr)
    if t.red_flags:
        print("red flags among the answers that could be read:", file=sys.stderr)
        for f in t.red_flags:
            print(f"  {f.id} ({f.level.replace('_', ' ')}): {f.reason}", file=sys.stderr)
    if screening.outside_population is not None:
        print(f"outside the model's population: {screening.outside_population.reason}", file=sys.stderr)
    level = t.level.replace("_", " ") if t.level else "none (correct the answers above)"
    print(f"triage from the readable answers alone: {level}", file=sys.stderr)
