"""``hipdx priors``: every number in the priors with its kind, value, range and source (by title).

The default table fits a 100-column terminal (one line of numbers, one line of citation cut with
an ellipsis); ``--wide`` prints every text in full; ``--format csv|json`` gives every column."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from typing import Any

import pandas as pd


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=["table", "csv", "json"], default="table", help="output format (default: table)")
    p.add_argument("--priors", metavar="DIR", help="priors directory (default: the bundled priors)")
    p.add_argument("--wide", action="store_true", help="table: every quote, reason and path in full (lines as long as they need)")
    p.add_argument("--width", type=int, default=WIDTH, help=f"table: columns to fit (default: {WIDTH})")


WIDTH = 100


def priors_frame(priors_dir: str | None = None) -> pd.DataFrame:
    """One row per prior: path, kind, value, range, source, quote or reason, verbal word/anchor."""
    from model.priors import load_priors, source_title

    rows = []
    for pr in load_priors(priors_dir).all_priors():
        rows.append({
            "path": pr.path, "kind": pr.kind, "value": pr.value, "low": pr.low, "high": pr.high,
            "file": pr.file, "source": pr.source or "", "title": source_title(pr.source) or "", "word": pr.word or "", "anchor": pr.anchor or "",
            "quote": pr.quote or "", "reason": pr.reason or "", "derivation": (pr.derivation or "").strip(),
        })
    return pd.DataFrame(rows)


def citation(row: Mapping[str, Any]) -> str:
    """The source by title with its quote, or the reason of an assumption (with its source's title
    when it names one)."""
    title = row["title"]
    if row["quote"]:
        return f'{title}: "{row["quote"]}"' if title else f'"{row["quote"]}"'
    if row["reason"]:
        return f"{title}: assumption: {row['reason']}" if title else f"assumption: {row['reason']}"
    return title


def narrow_table(df: pd.DataFrame, width: int = WIDTH) -> list[str]:
    """Two lines per prior: path, kind, value and range (the path alone on its line when long),
    then the citation cut to ``width`` columns with an ellipsis."""
    numbers = 1 + 10 + 1 + 7 + 1 + 14  # kind, value, range
    path_width = max(10, width - numbers)
    lines = [f"{'path':<{path_width}} {'kind':<10} {'value':>7} {'range':>14}", "    source: quote (or assumption: reason)", ""]
    for row in df.to_dict(orient="records"):
        span = f"[{row['low']:g}, {row['high']:g}]"
        nums = f"{row['kind']:<10} {row['value']:>7.4g} {span:>14}"
        if len(row["path"]) <= path_width:
            lines.append(f"{row['path']:<{path_width}} {nums}")
        else:
            lines += [_cut(row["path"], width), f"{'':<{path_width}} {nums}"]
        lines.append("    " + _cut(citation(row), width - 4))
    return lines


def _cut(text: str, width: int) -> str:
    text = " ".join(text.split())  # one line
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


def run(args: argparse.Namespace) -> int:
    df = priors_frame(args.priors)
    if args.format == "csv":
        df.to_csv(sys.stdout, index=False)
    elif args.format == "json":
        json.dump(df.to_dict(orient="records"), sys.stdout, indent=2)
        sys.stdout.write("\n")
    elif getattr(args, "wide", False):
        shown = df.assign(range=[f"[{lo:g}, {hi:g}]" for lo, hi in zip(df["low"], df["high"], strict=True)],
                          cited=[citation(r) for r in df.to_dict(orient="records")])
        with pd.option_context("display.max_rows", None, "display.width", 100000, "display.max_colwidth", None):
            print(shown[["path", "kind", "value", "range", "cited"]].to_string(index=False))
    else:
        print("\n".join(narrow_table(df, getattr(args, "width", WIDTH))))
    if args.format == "table":
        counts = df["kind"].value_counts().to_dict()
        print(f"\n{len(df)} priors: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    return 0
