"""``hipdx learn``: update the cited priors from runners with confirmed diagnoses (MAP-EM).

Reads a labelled CSV/Parquet file the way ``hipdx score`` reads a survey (variable columns, or a
``--mapping``), plus one label column per condition (``true_<condition>``: present / absent /
empty = not known; 1/0 too, as ``hipdx simulate`` writes them). Learns on a random part of the rows,
writes a complete priors folder with a ``learned`` record on every learned number, and compares
calibration before and after on the held-out rows (printed, and ``--report`` as HTML).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

EPILOG = """\
Method: each cited number becomes a Beta (probability), Dirichlet (risk-factor distribution) or
log-normal (relative risk) prior centred on its value, as strong as its range is narrow; EM with
the exact engine computes expected counts where answers or labels are missing, and the M-step
maximises the expected log likelihood plus the log prior. See README "Learning from confirmed
diagnoses". The source priors are never written; PRIORS_DIR must be new or empty.
"""


class LearnError(Exception):
    """A problem with the whole run (input, labels, output folder): exit 2, nothing written."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.epilog = EPILOG
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("input", metavar="LABELLED", help="labelled file (any format hipdx score reads: .csv, .parquet, .xlsx, .sav, .dta, ...)")
    p.add_argument("-o", "--output", required=True, metavar="PRIORS_DIR", help="new priors folder to write")
    p.add_argument("--mapping", metavar="MAP.yaml", help="how survey columns and answers map to variables (as hipdx score)")
    p.add_argument("--label", action="append", default=[], metavar="CONDITION=COLUMN",
                   help="label column for a condition when it is not true_<condition> (repeatable)")
    p.add_argument("--holdout", type=float, default=0.2, metavar="FRACTION",
                   help="share of rows kept out of learning to compare calibration (default 0.2; 0 = none)")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="random seed of the held-out split (default 0)")
    p.add_argument("--report", metavar="REPORT.html", help="write an HTML report (figures embedded, no network)")
    p.add_argument("--priors", metavar="DIR", help="priors to start from (default: the bundled priors)")
    p.add_argument("--max-iter", type=int, default=50, metavar="N", help="EM iterations at most (default 50)")


@dataclass
class LearnRun:
    """Everything one run produced: the learning result, the data split and the calibration tables."""

    result: object
    before: object  # the model learned from
    after: object  # the model on the learned priors
    rows_read: int
    rows_skipped: int
    skipped_examples: list[str]
    train_rows: int
    holdout_rows: int
    labelled_rows: int
    scores_before: pd.DataFrame | None
    scores_after: pd.DataFrame | None
    reliability_before: pd.DataFrame | None
    reliability_after: pd.DataFrame | None
    seconds: dict[str, float] = field(default_factory=dict)

    def moved_table(self, top: int = 15) -> pd.DataFrame:
        """The learned numbers that moved most: path, kind, prior and learned value, effective cases."""
        rows = [{"path": n.path, "kind": n.kind, "prior": n.prior_value, "learned": n.value,
                 "learned_low": n.range[0], "learned_high": n.range[1], "prior_cases": n.prior_cases,
                 "effective_cases": n.effective_cases, "change_log_odds": n.change}
                for n in self.result.moved()[:top]]
        return pd.DataFrame(rows)


@dataclass
class LabelledTable:
    """The whole input file, read by ``hipdx score``'s reader: ``frame`` (columns under the
    reader's unique names; CSV cells as text), ``source`` (header as written, format, value labels,
    decimal mark) and ``read_errors`` (a reader's error per row, e.g. a ragged CSV row, or None)."""

    frame: pd.DataFrame
    source: object
    read_errors: list[str | None]


def read_table(path: str) -> LabelledTable:
    """Read ``path`` whole with ``hipdx score``'s reader (:func:`service.batch.open_input`); raises
    :class:`service.batch.BatchError` when the file cannot be read."""
    import pyarrow as pa

    from .batch import open_input

    source = open_input(path, 1 << 20)
    tables, errors = [], []
    for chunk in source.chunks:
        tables.append(chunk.table)
        errors.extend(chunk.errors if chunk.errors is not None else [None] * chunk.table.num_rows)
    table = pa.concat_tables(tables) if tables else source.schema.empty_table()
    return LabelledTable(table.to_pandas(), source, errors)


def parse_label_options(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        cond, sep, column = item.partition("=")
        if not sep or not cond.strip() or not column.strip():
            raise LearnError(f"--label {item!r}: expected CONDITION=COLUMN, e.g. gtps=diagnosis_gtps")
        out[cond.strip()] = column.strip()
    return out


def prepare(data: LabelledTable, model, mapping_path: str | None, label_overrides: dict[str, str]):
    """(Observed rows, skipped row mask, messages of skipped rows) from a labelled table.

    The evidence columns are planned and read exactly as ``hipdx score`` does
    (:func:`service.batch.make_plan`, :func:`service.batch.scoring.evidence_of`: variable ids,
    aliases, questions, value labels, decimal commas, a mapping); the label columns are left out of
    that plan. A row the reader or the mapping cannot read, or with an answer that is not a state,
    is skipped (counted and shown). Raises :class:`LearnError` for a missing or bad label column, or
    when no readable row has a label; :class:`service.batch.BatchError` / ``MappingError`` for a
    header or mapping that cannot be read.
    """
    from model.learning import LabelError, Observed, encode_labels, label_columns

    from .batch import make_plan
    from .batch.mapping import load_mapping
    from .batch.scoring import evidence_of

    frame, source = data.frame, data.source
    try:
        columns = label_columns(model.conditions, label_overrides)
        labels = encode_labels(frame, columns)
    except LabelError as exc:
        raise LearnError(f"label column {exc}") from None
    mapping = load_mapping(mapping_path, model.vocabulary) if mapping_path else None
    label_set = set(columns.values())
    keep_cols = [i for i, f in enumerate(source.schema.names) if f not in label_set]
    names = [source.names[i] for i in keep_cols]
    fields = [source.schema.names[i] for i in keep_cols]
    plan = make_plan(names, fields, model.vocabulary, model.conditions, mapping,
                     decimal=source.decimal, value_labels=source.value_labels)
    evidence, map_errors, _ = evidence_of(frame, plan, model.vocabulary)
    codes, errors = model.vocabulary.encode_frame(evidence, model.evidence_order)
    messages = [r or m or e for r, m, e in zip(data.read_errors, map_errors, errors, strict=True)]
    skipped = np.array([m is not None for m in messages], dtype=bool)
    n_rf = len(model.risk_factor_ids)
    observed = Observed(codes[:, :n_rf], codes[:, n_rf:], labels)
    keep = ~skipped
    if not (labels[keep] >= 0).any():
        raise LearnError("no labelled rows: every label column (" + ", ".join(columns.values())[:200]
                         + ") is empty in the readable rows; learning needs confirmed diagnoses")
    examples = [f"row {i + 1}: {messages[i]}" for i in np.nonzero(skipped)[0][:3]]
    return observed.take(keep), skipped, examples


def learn_file(input_path: str, output: str, mapping: str | None = None, labels: dict[str, str] | None = None,
               holdout: float = 0.2, seed: int = 0, priors: str | None = None, max_iter: int = 50) -> LearnRun:
    """Run ``hipdx learn`` without the printing: returns a :class:`LearnRun`; raises :class:`LearnError`."""
    from model import PriorsError, load_model
    from model.learning import learn, reliability, scores, write_learned_priors

    from .batch import BatchError
    from .batch.mapping import MappingError

    if not 0.0 <= holdout < 1.0:
        raise LearnError(f"--holdout must be at least 0 and below 1, got {holdout}")
    out = Path(output)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise LearnError(f"{output}: already exists and is not an empty folder; choose a new PRIORS_DIR")
    t0 = time.perf_counter()
    try:
        before = load_model(priors)
        if out.resolve() == Path(before.priors.directory).resolve():
            raise LearnError(f"{output}: is the source priors folder; learned priors go to a new folder")
        data = read_table(input_path)
        observed, skipped, examples = prepare(data, before, mapping, labels or {})
    except (BatchError, MappingError, PriorsError) as exc:
        raise LearnError(str(exc)) from None
    t_read = time.perf_counter() - t0
    rng = np.random.default_rng(seed)
    n = len(observed)
    is_holdout = np.zeros(n, dtype=bool)
    is_holdout[rng.permutation(n)[: int(round(holdout * n))]] = True
    train, test = observed.take(~is_holdout), observed.take(is_holdout)
    if not (train.labels >= 0).any():
        raise LearnError("no labelled rows left for learning after the held-out split; lower --holdout")
    t1 = time.perf_counter()
    result = learn(before.priors, train, max_iter=max_iter)
    t_learn = time.perf_counter() - t1
    try:
        written = write_learned_priors(before.priors, result.numbers, out, data=Path(input_path).name, rows=len(train))
    except PriorsError as exc:
        raise LearnError(str(exc)) from None
    after = load_model(written.directory)
    run = LearnRun(result, before, after, len(data.frame), int(skipped.sum()), examples, len(train), len(test),
                   int((observed.labels >= 0).any(axis=1).sum()), None, None, None, None,
                   {"read": t_read, "learn": t_learn})
    if len(test) and (test.labels >= 0).any():
        p_before = before.engine.posterior(test.rf_codes, test.finding_codes).marginals
        p_after = after.engine.posterior(test.rf_codes, test.finding_codes).marginals
        run.scores_before = scores(p_before, test.labels, before.conditions)
        run.scores_after = scores(p_after, test.labels, after.conditions)
        run.reliability_before = reliability(p_before, test.labels, before.conditions)
        run.reliability_after = reliability(p_after, test.labels, after.conditions)
    run.seconds["total"] = time.perf_counter() - t0
    return run


def summary_text(run: LearnRun) -> str:
    """The printed summary: data, speed, convergence, the numbers that moved most, calibration."""
    r = run.result
    lines = [
        f"hipdx learn: {run.rows_read:,} rows read, {run.rows_skipped:,} skipped (unreadable answers), "
        f"{run.labelled_rows:,} with at least one label",
        f"learned on {run.train_rows:,} rows in {r.seconds:.1f} s ({run.train_rows / max(r.seconds, 1e-9):,.0f} rows/s; "
        f"E-steps {r.timings.get('e_step', 0):.1f} s, M-steps {r.timings.get('m_step', 0):.1f} s), "
        f"{r.iterations} EM iterations, {'converged' if r.converged else 'NOT converged (raise --max-iter)'}",
        f"model version {run.before.version} -> {run.after.version} ({run.after.priors.directory})",
    ]
    for ex in run.skipped_examples:
        lines.append(f"  skipped {ex}")
    lines.append("\nnumbers that moved most (prior -> learned [95% range], effective cases):")
    for n in r.moved()[:10]:
        lines.append(f"  {n.path:<70} {n.prior_value:8.4g} -> {n.value:8.4g} [{n.range[0]:.4g}, {n.range[1]:.4g}]"
                     f"  cases {n.prior_cases:,.0f} -> {n.effective_cases:,.0f}")
    if run.scores_before is not None:
        lines.append(f"\nheld-out calibration ({run.holdout_rows:,} rows; labelled pairs per condition):")
        both = pd.concat([run.scores_before[["n"]], run.scores_before[["log_loss", "brier"]].add_suffix("_before"),
                          run.scores_after[["log_loss", "brier"]].add_suffix("_after")], axis=1)
        with pd.option_context("display.width", 200, "display.float_format", "{:.4f}".format):
            lines.append(both.to_string())
    else:
        lines.append("\nno held-out labelled rows: calibration not compared (--holdout 0?)")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    try:
        labels = parse_label_options(args.label)
        result = learn_file(args.input, args.output, mapping=args.mapping, labels=labels, holdout=args.holdout,
                            seed=args.seed, priors=args.priors, max_iter=args.max_iter)
    except LearnError as exc:
        print(f"hipdx learn: {exc}", file=sys.stderr)
        return 2
    print(summary_text(result))
    if args.report:
        from .learn_report import write_report

        write_report(result, args.report)
        print(f"report: {args.report}")
    return 0
