"""``hipdx mapping draft|check``: propose a mapping for a survey file, and show what one does to it."""

from __future__ import annotations

import argparse
import os
import sys


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    d = sub.add_parser("draft", help="propose a mapping (YAML, a confidence comment on every entry)",
                       description="Propose a mapping by fuzzy-matching each column's header, question text and answers "
                                   "to the model's variables, questions and states. Edit it, then check it.")
    d.add_argument("survey", metavar="SURVEY_FILE")
    d.add_argument("-o", "--output", metavar="MAP.yaml", help="write the draft here (default: stdout); never overwrites")
    d.add_argument("--dictionary", metavar="REDCAP_DICT.csv", help="a REDCap data dictionary: field labels and choices")
    c = sub.add_parser("check", help="per column: the answers seen and what each maps to",
                       description="Apply MAP.yaml to SURVEY_FILE and list, per mapped column, every answer seen "
                                   "(how often) and what it maps to, or the error a row would get.")
    c.add_argument("mapping", metavar="MAP.yaml")
    c.add_argument("survey", metavar="SURVEY_FILE")
    for q in (d, c):
        q.add_argument("--delimiter", metavar="C")
        q.add_argument("--decimal", metavar="C")
        q.add_argument("--encoding", metavar="E")
        q.add_argument("--header-rows", type=int, default=None, metavar="N")
        q.add_argument("--sheet", metavar="NAME")
        q.add_argument("--priors", metavar="DIR", help="priors directory (default: the bundled priors)")


def run(args: argparse.Namespace) -> int:
    from model.priors import PriorsError, load_priors
    from model.vocabulary import Vocabulary

    from .batch import BatchError, ReadOptions
    from .batch.draft import check_mapping, draft_mapping
    from .batch.mapping import MappingError, load_mapping

    read = ReadOptions(encoding=args.encoding, delimiter=args.delimiter, decimal=args.decimal,
                       header_rows=args.header_rows, sheet=args.sheet)
    try:
        vocabulary = Vocabulary(load_priors(args.priors))
        if args.action == "draft":
            if args.output and os.path.exists(args.output):
                raise BatchError(f"{args.output} exists; the draft never overwrites a mapping (give another -o)")
            text = draft_mapping(args.survey, vocabulary, read, args.dictionary)
            if args.output:
                with open(args.output, "x", encoding="utf-8") as fh:
                    fh.write(text)
                print(f"hipdx mapping: draft written to {args.output}; check it with "
                      f"`hipdx mapping check {args.output} {args.survey}`", file=sys.stderr)
            else:
                sys.stdout.write(text)
        else:
            print(check_mapping(load_mapping(args.mapping, vocabulary), args.survey, read))
    except (BatchError, MappingError, PriorsError) as exc:
        print(f"hipdx mapping: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"hipdx mapping: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    return 0
