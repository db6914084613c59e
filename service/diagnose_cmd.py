"""``hipdx diagnose``: one runner's diagnosis as JSON, from ``var=state`` pairs or a JSON object."""

from __future__ import annotations

import argparse
import json
import sys


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--evidence", "-e", nargs="+", default=[], metavar="VAR=STATE",
                   help="answers as var=state pairs (e.g. sex=female age=45 pain_lying_on_side=present), "
                        "or one JSON object, or @file.json")
    p.add_argument("--priors", metavar="DIR", help="priors directory (default: the bundled priors)")
    p.add_argument("--format", choices=("json", "fhir"), default="json",
                   help="json: the diagnosis (as POST /v1/diagnosis); fhir: a FHIR R4 RiskAssessment")


def parse_evidence_args(items: list[str]) -> dict:
    """``var=state`` pairs, a JSON object, or ``@file.json`` -> a dict of raw answers."""
    if len(items) == 1 and items[0].startswith("@"):
        with open(items[0][1:], encoding="utf-8") as fh:
            return json.load(fh)
    if len(items) == 1 and items[0].lstrip().startswith("{"):
        return json.loads(items[0])
    evidence: dict = {}
    for item in items:
        if "=" not in item:
            raise ValueError(f"expected VAR=STATE, got {item!r}")
        key, value = item.split("=", 1)
        try:
            evidence[key.strip()] = float(value) if key.strip() in ("age", "rest_days_per_week", "weekly_training_hours") else value
        except ValueError:
            evidence[key.strip()] = value
    return evidence


def run(args: argparse.Namespace) -> int:
    from model import EvidenceError, load_model

    try:
        evidence = parse_evidence_args(args.evidence)
    except (ValueError, OSError) as exc:
        print(f"hipdx diagnose: {exc}", file=sys.stderr)
        return 2
    model = load_model(args.priors)
    try:
        diagnosis = model.diagnose(evidence)
    except EvidenceError as exc:
        print(f"hipdx diagnose: {exc}", file=sys.stderr)
        return 2
    result = diagnosis.to_dict()
    if getattr(args, "format", "json") == "fhir":
        from .fhir.risk_assessment import risk_assessment

        result = risk_assessment(result)
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0
