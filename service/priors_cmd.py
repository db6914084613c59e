"""``hipdx priors``: every number in the priors with its kind, value, range and source."""

from __future__ import annotations

import argparse
import json
import sys

import pandas as pd


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=["table", "csv", "json"], default="table", help="output format (default: table)")
    p.add_argument("--priors", metavar="DIR", help="priors directory (default: the bundled priors)")


def priors_frame(priors_dir: str | None = None) -> pd.DataFrame:
    """One row per prior: path, kind, value, range, source, quote or reason, verbal word/anchor."""
    from model.priors import load_priors

    rows = []
    for pr in load_priors(priors_dir).all_priors():
        rows.append({
            "path": pr.path, "kind": pr.kind, "value": pr.value, "low": pr.low, "high": pr.high,
            "file": pr.file, "source": pr.source or "", "word": pr.word or "", "anchor": pr.anchor or "",
            "quote": pr.quote or "", "reason": pr.reason or "", "derivation": (pr.derivation or "").strip(),
        })
    return pd.DataFrame(rows)


def run(args: argparse.Namespace) -> int:
    df = priors_frame(args.priors)
    if args.format == "csv":
        df.to_csv(sys.stdout, index=False)
    elif args.format == "json":
        json.dump(df.to_dict(orient="records"), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        shown = df.assign(
            range=[f"[{lo:g}, {hi:g}]" for lo, hi in zip(df["low"], df["high"], strict=True)],
            cited=[q if q else r for q, r in zip(df["quote"], df["reason"], strict=True)],
        )
        shown["cited"] = shown["cited"].str.slice(0, 70)
        shown["source"] = shown["source"].str.slice(0, 3)
        with pd.option_context("display.max_rows", None, "display.width", 250, "display.max_colwidth", 75):
            print(shown[["path", "kind", "value", "range", "source", "cited"]].to_string(index=False))
        counts = df["kind"].value_counts().to_dict()
        print(f"\n{len(df)} priors: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    return 0
