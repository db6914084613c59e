"""``hipdx evaluate CASES.yaml``: top-1, top-3, safe triage, log probability of the expected
condition and confident misses, per case and overall, on published cases (``vignettes/dev.yaml``
format; see :mod:`model.learning.cases` for the definitions)."""

from __future__ import annotations

import argparse
import json
import sys


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("cases", metavar="CASES.yaml", help="cases in the format of vignettes/dev.yaml")
    p.add_argument("--priors", metavar="DIR", help="priors directory (default: the bundled priors)")
    p.add_argument("--format", choices=["text", "json"], default="text", help="output format (default: text)")


def read_cases(path: str) -> list:
    """The YAML file's list of cases (structure checked later against the model)."""
    import yaml

    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def format_text(results, summary) -> str:
    """A fixed-width table, one line per case, then the overall figures."""
    lines = [f"{'case':<8} {'rank':>4} {'p_expect':>8} {'top condition':<22} {'p_top':>6} {'triage':<14} {'bounds':<24} flags"]
    for r in results:
        if r.error:
            lines.append(f"{r.id:<8} error: {r.error}")
            continue
        top_id, top_p = r.top[0]
        lo, hi = r.triage_bounds
        bounds = "" if (lo, hi) == (None, None) else f">={lo or '-'} <={hi or '-'}"
        flags = []
        if r.top3 is False:
            flags.append("MISS-TOP3")
        if r.safe_triage is False:
            flags.append("UNSAFE-TRIAGE")
        if r.confident_miss:
            flags.append("CONFIDENT-MISS")
        if r.textbook and r.top1 is False:
            flags.append("textbook-not-first")
        rank = "-" if r.rank is None else str(r.rank)
        pe = "-" if r.p_expected is None else f"{r.p_expected:.3f}"
        lines.append(f"{r.id:<8} {rank:>4} {pe:>8} {top_id:<22} {top_p:>6.3f} {str(r.triage):<14} {bounds:<24} {' '.join(flags)}")
    s = summary
    mean = "-" if s.mean_log_p_expected is None else f"{s.mean_log_p_expected:.3f}"
    lines += [
        "",
        f"top-1: {s.top1}/{s.with_expect}   top-3: {s.top3}/{s.with_expect}   textbook top-1: {s.textbook_top1}/{s.textbook}",
        f"safe triage: {s.safe_triage}/{s.with_triage}   mean log P(expected): {mean}",
        f"confident misses (wrong top condition at >= 0.9): {len(s.confident_misses)}"
        + (f" ({', '.join(s.confident_misses)})" if s.confident_misses else ""),
    ]
    if s.errors:
        lines.append(f"cases with unreadable evidence: {', '.join(s.errors)}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    import yaml

    from model import load_model
    from model.learning.cases import CaseError, evaluate

    try:
        cases = read_cases(args.cases)
    except OSError as exc:
        print(f"hipdx evaluate: cannot read {args.cases}: {exc}", file=sys.stderr)
        return 2
    except yaml.YAMLError as exc:
        print(f"hipdx evaluate: {args.cases} is not valid YAML: {exc}", file=sys.stderr)
        return 2
    model = load_model(args.priors)
    try:
        results, summary = evaluate(model, cases)
    except CaseError as exc:
        print(f"hipdx evaluate: {args.cases}: {exc}", file=sys.stderr)
        return 2
    if args.format == "json":
        json.dump({"model": {"name": model.name, "version": model.version},
                   "summary": summary.to_dict(), "cases": [r.to_dict() for r in results]}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(format_text(results, summary))
    return 0
