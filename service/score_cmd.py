"""``hipdx score``: score a survey file (CSV, Excel, SPSS, Stata, SAS, Parquet), streamed in chunks."""

from __future__ import annotations

import argparse
import os
import signal
import sys

EPILOG = """\
Input formats follow the extension: .csv .tsv .txt (also .gz), .parquet, .xlsx .xls, .sav (SPSS),
.dta (Stata), .sas7bdat .xpt (SAS). Delimiter, decimal mark and encoding of text files are read
from the file where safe (what was guessed is said in the summary) and can be given. Qualtrics
exports are recognised by their ImportId row and SurveyMonkey exports by their option row.

Output (.csv, .parquet or .xlsx): every input column untouched, then p_<condition> for every
condition, triage, red_flags and error (a row that cannot be scored keeps empty posteriors and
says why; an empty row is kept, with an error). The output appears only when complete; it records
the model version and the mapping (Parquet metadata key 'hipdx'; OUT.meta.json beside CSV/.xlsx).
Survey columns not named by variable ids are described by a --mapping YAML file; draft one with
`hipdx mapping draft IN -o map.yaml`. A summary goes to stderr. Exit 2: the job cannot be done.
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.epilog = EPILOG
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("input", metavar="IN", help="survey file")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="output file (.csv, .parquet or .xlsx)")
    p.add_argument("--mapping", metavar="MAP.yaml", help="how survey columns and answers map to variables and states")
    g = p.add_argument_group("reading the input")
    g.add_argument("--delimiter", metavar="C", help="field delimiter of a text file: ',', ';', '|' or 'tab' (default: from the header)")
    g.add_argument("--decimal", metavar="C", help="decimal mark of numbers in a text file: '.' or ',' (default: ',' for ';'-files)")
    g.add_argument("--encoding", metavar="E", help="text encoding, e.g. utf-8, cp1252, latin-1, utf-16 (default: from the BOM, else utf-8)")
    g.add_argument("--header-rows", type=int, default=None, metavar="N",
                   help="rows below the header line that are not data (default: 2 for Qualtrics, 1 for SurveyMonkey, else 0)")
    g.add_argument("--sheet", metavar="NAME", help="Excel sheet name or 0-based number (default: the first)")
    g = p.add_argument_group("writing the output")
    g.add_argument("--digits", type=int, default=6, metavar="N", help="decimals of posteriors in CSV (default 6; Parquet is exact)")
    g.add_argument("--csv-bom", action="store_true", help="start a CSV output with a UTF-8 BOM (for Excel on Windows)")
    g.add_argument("--report", metavar="REPORT.html", help="also write a self-contained HTML report of the run")
    g = p.add_argument_group("running")
    g.add_argument("--dask", nargs="?", const="", default=None, metavar="SCHEDULER",
                   help="score chunks on a local Dask cluster, or on the Dask scheduler at this address")
    g.add_argument("--chunk-rows", type=int, default=None, metavar="N", help="rows per chunk (default 5000); memory grows with it")
    g.add_argument("--jobs", "-j", type=int, default=None, metavar="N",
                   help="worker processes scoring chunks in parallel (default: number of CPUs, at most 4); "
                        "inputs of up to 100,000 rows are scored in this process")
    g.add_argument("--priors", metavar="DIR", help="priors directory (default: the bundled priors)")
    g.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bar on stderr (default: only when stderr is a terminal)")


class Terminated(BaseException):
    """SIGTERM or SIGHUP: unwind like Ctrl-C, so the incomplete output is removed."""


def _terminate(signum, frame) -> None:
    raise Terminated(signum)


def _exit_now(code: int) -> None:
    """Leave at once after an interruption (the output is already removed): the process pool's
    exit hook would join a feeder thread that can block forever on a pipe to workers now dead."""
    sys.stderr.flush()
    sys.stdout.flush()
    os._exit(code)


def run(args: argparse.Namespace) -> int:
    from model import PriorsError

    from .batch import DEFAULT_CHUNK_ROWS, BatchError, Job, ReadOptions, score_file, score_file_dask

    jobs = args.jobs if args.jobs is not None else min(4, os.cpu_count() or 1)
    read = ReadOptions(encoding=args.encoding, delimiter=args.delimiter, decimal=args.decimal,
                       header_rows=args.header_rows, sheet=args.sheet)
    job = Job(args.input, args.output, mapping=args.mapping, priors=args.priors,
              chunk_rows=args.chunk_rows or DEFAULT_CHUNK_ROWS, jobs=max(1, jobs), progress=args.progress,
              read=read, digits=args.digits, csv_bom=args.csv_bom, report=args.report)
    previous = {}
    for sig in (signal.SIGTERM, signal.SIGHUP):
        try:
            previous[sig] = signal.signal(sig, _terminate)
        except (ValueError, OSError):  # not the main thread
            pass
    try:
        if args.dask is not None:
            summary = score_file_dask(job, scheduler=args.dask or None)
        else:
            summary = score_file(job)
    except (BatchError, PriorsError) as exc:
        print(f"hipdx score: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # full disk, a file that vanished, a permission changed under us
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        print(f"hipdx score: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    except Terminated as exc:
        print(f"hipdx score: stopped by signal {exc.args[0]}; no output written", file=sys.stderr)
        _exit_now(128 + int(exc.args[0]))
    except KeyboardInterrupt:
        print("hipdx score: interrupted; no output written", file=sys.stderr)
        _exit_now(130)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print(summary.text(), file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m service.score_cmd`` (what ``hipdx bench`` times in a subprocess)."""
    parser = argparse.ArgumentParser(prog="hipdx score")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
