"""``hipdx score``: score a CSV/Parquet survey file, streamed in chunks (optionally on Dask)."""

from __future__ import annotations

import argparse
import os
import sys

EPILOG = """\
Output: every input column untouched, then p_<condition> for every condition, triage, red_flags
and error (a row that cannot be scored keeps empty posteriors and says why). Formats follow the
extensions (.csv, .parquet). A summary goes to stderr. Survey columns that are not named by our
variable ids are described by a --mapping YAML file (see examples/survey_mapping.yaml).
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.epilog = EPILOG
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("input", metavar="IN", help="survey file (.csv or .parquet)")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="output file (.csv or .parquet)")
    p.add_argument("--mapping", metavar="MAP.yaml", help="how survey columns and answers map to variables and states")
    p.add_argument("--dask", nargs="?", const="", default=None, metavar="SCHEDULER",
                   help="score dask.dataframe partitions on a local cluster, or on the Dask scheduler at this address")
    p.add_argument("--chunk-rows", type=int, default=None, metavar="N",
                   help="rows per chunk (default 10000); memory grows with it")
    p.add_argument("--jobs", "-j", type=int, default=None, metavar="N",
                   help="worker processes scoring chunks in parallel (default: number of CPUs, at most 4)")
    p.add_argument("--priors", metavar="DIR", help="priors directory (default: the bundled priors)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bar on stderr (default: only when stderr is a terminal)")


def run(args: argparse.Namespace) -> int:
    from model import PriorsError

    from .batch import DEFAULT_CHUNK_ROWS, BatchError, Job, score_file, score_file_dask

    jobs = args.jobs if args.jobs is not None else min(4, os.cpu_count() or 1)
    job = Job(args.input, args.output, mapping=args.mapping, priors=args.priors,
              chunk_rows=args.chunk_rows or DEFAULT_CHUNK_ROWS, jobs=max(1, jobs), progress=args.progress)
    try:
        if args.dask is not None:
            summary = score_file_dask(job, scheduler=args.dask or None)
        else:
            summary = score_file(job)
    except (BatchError, PriorsError) as exc:
        print(f"hipdx score: {exc}", file=sys.stderr)
        return 2
    print(summary.text(), file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m service.score_cmd`` (what ``hipdx bench`` times in a subprocess)."""
    parser = argparse.ArgumentParser(prog="hipdx score")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
