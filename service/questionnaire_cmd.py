"""``hipdx questionnaire``: write the hipdx Questionnaire (or CodeSystem) as FHIR R4 JSON."""

from __future__ import annotations

import argparse
import json
import sys


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", metavar="FILE", help="write here (default: standard output)")
    p.add_argument("--resource", choices=("Questionnaire", "CodeSystem"), default="Questionnaire",
                   help="which generated resource to write (default: Questionnaire)")
    p.add_argument("--priors", metavar="DIR", help="priors directory (default: the bundled priors)")


def run(args: argparse.Namespace) -> int:
    from model import load_model

    from .fhir.questionnaire import questionnaire
    from .fhir.terminology import code_system

    model = load_model(args.priors)
    resource = questionnaire(model) if args.resource == "Questionnaire" else code_system(model)
    text = json.dumps(resource, indent=2, ensure_ascii=False) + "\n"
    if args.output:
        with open(args.output, "w", encoding="utf-8") as fh:
            fh.write(text)
    else:
        sys.stdout.write(text)
    return 0
