"""``hipdx simulate``: forward-sample synthetic runners from the network into a CSV/Parquet file."""

from __future__ import annotations

import argparse
import os
import sys

CHUNK_ROWS = 100_000


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-n", type=int, required=True, metavar="N", help="number of runners")
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="output file (.csv or .parquet)")
    p.add_argument("--seed", type=int, default=None, metavar="S", help="random seed (same seed, same file)")
    p.add_argument("--missing", type=float, default=0.0, metavar="RATE",
                   help="chance that each answer is left blank (default 0)")
    p.add_argument("--priors", metavar="DIR", help="priors directory (default: the bundled priors)")


def write_simulated(model, n: int, path: str, seed: int | None = None, missing: float = 0.0,
                    chunk_rows: int = CHUNK_ROWS) -> None:
    """Sample ``n`` runners in chunks (flat memory) and write them to ``path`` (.csv / .parquet)."""
    import numpy as np
    import pyarrow as pa

    from model.simulate import simulate

    from .batch import OutputWriter, file_format

    file_format(path, "output")
    rng = np.random.default_rng(seed)
    fields = [pa.field(v, pa.string()) for v in model.evidence_order]
    fields += [pa.field(f"true_{c}", pa.int64()) for c in model.conditions]
    schema = pa.schema(fields)
    writer = OutputWriter(path, schema, digits=None)
    try:
        done = 0
        while done < n or (n == 0 and done == 0):
            k = min(chunk_rows, n - done)
            frame = simulate(model, k, seed=rng, missing=missing)
            writer.write(pa.Table.from_pandas(frame, schema=schema, preserve_index=False))
            done += k
            if n == 0:
                break
        writer.commit()
    except BaseException:
        writer.abort()
        raise


def run(args: argparse.Namespace) -> int:
    from model import load_model

    from .batch import BatchError, file_format

    try:
        file_format(args.output, "output")
        if args.n < 0:
            raise BatchError(f"-n must be >= 0, got {args.n}")
        if not 0.0 <= args.missing <= 1.0:
            raise BatchError(f"--missing must be between 0 and 1, got {args.missing}")
    except BatchError as exc:
        print(f"hipdx simulate: {exc}", file=sys.stderr)
        return 2
    model = load_model(args.priors)
    write_simulated(model, args.n, args.output, seed=args.seed, missing=args.missing)
    print(f"hipdx simulate: wrote {args.n:,} runners to {os.fspath(args.output)}", file=sys.stderr)
    return 0
