"""The ``hipdx`` command: one sub-command per module, each with ``add_arguments`` and ``run``.

Command modules keep heavy imports (pgmpy, dask, gunicorn) inside ``run`` so that ``hipdx
--help`` stays instant.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS: dict[str, tuple[str, str]] = {
    "serve": ("service.serve", "run the HTTP service (Flask app under gunicorn)"),
    "diagnose": ("service.diagnose_cmd", "diagnose one runner from evidence given on the command line"),
    "score": ("service.score_cmd", "score a survey file: CSV, Excel, SPSS, Stata, SAS, Parquet (streamed; optional Dask)"),
    "mapping": ("service.mapping_cmd", "draft a survey mapping from a survey file, or check one against it"),
    "simulate": ("service.simulate_cmd", "forward-sample synthetic runners from the network"),
    "learn": ("service.learn_cmd", "update the priors from runners with confirmed diagnoses (MAP-EM); writes a new priors folder"),
    "export": ("service.export_cmd", "write the network as BIF, XMLBIF, NET (Hugin), XDSL (GeNIe) or UAI"),
    "evaluate": ("service.evaluate_cmd", "measure the model on published cases (top-1, top-3, safe triage, misses)"),
    "priors": ("service.priors_cmd", "print every prior with its kind, value, range and source"),
    "bench": ("service.bench", "benchmark the engine against pgmpy (and pyAgrum if installed)"),
    "loadtest": ("service.loadtest", "load-test a running hipdx HTTP service on loopback"),
    "questionnaire": ("service.questionnaire_cmd", "write the FHIR Questionnaire (or CodeSystem) generated from the model"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hipdx",
        description="Probabilistic decision support for hip pain in runners. Not a validated clinical device.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_module=module)
        importlib.import_module(module).add_arguments(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    module = importlib.import_module(args._module)
    try:
        return int(module.run(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
