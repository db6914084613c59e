"""Streamed scoring of survey files: CSV or Parquet in, the same rows with posteriors out.

The input is read in chunks (pyarrow's streaming CSV reader, or Parquet row batches), each chunk
is scored by the model, and the output is written incrementally, so memory stays flat whatever the
file size. Every input column is written back untouched (CSV cells are read as text), in the same
order and row order, followed by ``p_<condition>`` for every condition, ``triage``, ``red_flags``
and ``error``. Rows out = rows in: a row that cannot be scored keeps empty posteriors and says why.

Chunks can be scored by several worker processes (``jobs``), or by a Dask cluster
(:func:`score_file_dask`); the output is the same file either way.
"""

from __future__ import annotations

import collections
import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from .mapping import MappingError, SurveyMapping, load_mapping

FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
DEFAULT_CHUNK_ROWS = 10_000
SCORE_TAIL = ("triage", "red_flags", "error")


class BatchError(Exception):
    """A problem with the whole job (unreadable file, bad mapping, clashing columns): exit 2."""


def file_format(path: str | Path, role: str) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise BatchError(f"{role} file {str(path)!r}: unsupported extension {suffix or '(none)'!r}; "
                         "use .csv or .parquet")
    return FORMATS[suffix]


# ------------------------------------------------------------------------------------ planning
@dataclass
class Plan:
    """What to do with each input column, decided once from the header."""

    columns: list[str]
    conditions: list[str]
    direct: list[str]  # input columns named by a variable id or alias: read as they are
    mapping: SurveyMapping | None
    warnings: list[str] = field(default_factory=list)

    @property
    def score_names(self) -> list[str]:
        return [f"p_{c}" for c in self.conditions] + list(SCORE_TAIL)

    @property
    def needed(self) -> list[str]:
        """Input columns the scorer reads."""
        mapped = [r.column for r in self.mapping.rules] if self.mapping else []
        return list(dict.fromkeys(self.direct + mapped))


def make_plan(columns: list[str], vocabulary, conditions: list[str], mapping: SurveyMapping | None) -> Plan:
    dupes = [c for c, k in collections.Counter(columns).items() if k > 1]
    if dupes:
        raise BatchError(f"the input has duplicate column names: {', '.join(map(repr, dupes))}; rename them")
    plan = Plan(list(columns), list(conditions), [], mapping)
    clash = [c for c in plan.score_names if c in columns]
    if clash:
        raise BatchError(f"the input already has column(s) {', '.join(map(repr, clash))}, which the output adds "
                         "(is it an already scored file?); drop or rename them first")
    if mapping is not None:
        problems = mapping.check_columns(columns)
        if problems:
            raise BatchError("\n".join(problems))
    mapped = set(mapping.by_column) if mapping else set()
    for c in columns:
        if c in mapped:
            continue
        if c in vocabulary.variables or c in vocabulary.aliases:
            plan.direct.append(c)
            continue
        hint = vocabulary.suggest_field(c)
        if hint:
            plan.warnings.append(f"column {c!r} is not a variable; did you mean {hint!r}? It is passed through unscored")
    if not plan.direct and not mapped:
        plan.warnings.append("no input column is a variable id or alias (and no --mapping): every row gets the prior "
                             "probabilities; see `hipdx score --help` for --mapping")
    return plan


# ------------------------------------------------------------------------------------ scoring
def score_frame(frame: pd.DataFrame, plan: Plan, model) -> pd.DataFrame:
    """The score columns (``p_*``, triage, red_flags, error) for a chunk of input rows."""
    evidence = frame[plan.direct]
    map_errors: list[str | None] = []
    origin: dict[str, str] = {}
    if plan.mapping is not None:
        mapped, map_errors, origin = plan.mapping.apply(frame)
        evidence = pd.concat([evidence, mapped], axis=1) if len(evidence.columns) else mapped
    scores = model.score(evidence)
    if origin:  # messages should name the survey's column, not our evidence column
        pattern = re.compile(r"(^|; )(" + "|".join(map(re.escape, sorted(origin, key=len, reverse=True))) + r"): ")
        scores["error"] = pd.Series([pattern.sub(lambda mt: f"{mt.group(1)}{origin[mt.group(2)]}: ", e) if isinstance(e, str)
                                     else None for e in scores["error"].tolist()], index=scores.index, dtype=object)
    bad = np.array([e is not None for e in map_errors], dtype=bool)
    if bad.any():
        _unscore(scores, bad, map_errors, evidence, model)
    return scores


def _unscore(scores: pd.DataFrame, bad: np.ndarray, map_errors: list, evidence: pd.DataFrame, model) -> None:
    """Rows with an unmapped answer: empty posteriors, the mapping's message first, and triage
    from the red-flag answers alone (as ``HipModel.score`` does for its own unreadable rows)."""
    rows = np.nonzero(bad)[0]
    p_cols = [c for c in scores.columns if c.startswith("p_")]
    scores.iloc[rows, [scores.columns.get_loc(c) for c in p_cols]] = np.nan
    old = scores["error"].to_numpy(dtype=object)
    errs = np.array([e if isinstance(e, str) else None for e in old], dtype=object)
    for i in rows:
        errs[i] = map_errors[i] if errs[i] is None else f"{map_errors[i]}; {errs[i]}"
    scores["error"] = pd.Series(errs, index=scores.index, dtype=object)
    codes, _ = model.vocabulary.encode_frame(evidence.iloc[rows], model.evidence_order)
    states = {v: model.variables[v].states for v in model.evidence_order}
    marg = np.full((len(rows), len(model.conditions)), np.nan)
    levels, flags = model.triage_rules.assess_batch(codes, model.evidence_order, states, marg, model.conditions)
    levels = np.where(flags == "", None, levels)
    scores.iloc[rows, scores.columns.get_loc("triage")] = levels
    scores.iloc[rows, scores.columns.get_loc("red_flags")] = flags


def score_arrays(scores: pd.DataFrame, plan: Plan) -> list[pa.Array]:
    """The score columns as arrow arrays (missing posteriors and messages as nulls)."""
    out = []
    for name in plan.score_names:
        values = scores[name]
        if name.startswith("p_"):
            out.append(pa.array(values.to_numpy(dtype=float), type=pa.float64(), from_pandas=True))
        else:
            out.append(pa.array(values.to_numpy(dtype=object), type=pa.string(), from_pandas=True))
    return out


def output_schema(in_schema: pa.Schema, plan: Plan) -> pa.Schema:
    fields = list(in_schema)
    fields += [pa.field(n, pa.float64()) for n in plan.score_names if n.startswith("p_")]
    fields += [pa.field(n, pa.string()) for n in SCORE_TAIL]
    return pa.schema(fields)


# ------------------------------------------------------------------------------------ reading
CSV_BLOCK_BYTES = 1 << 20  # the streaming reader reads many blocks ahead: memory ~ block size


def _csv_options(path: str):
    import pyarrow.csv as pcsv

    try:
        with pcsv.open_csv(path, read_options=pcsv.ReadOptions(block_size=1 << 20)) as probe:
            names = probe.schema.names
    except pa.ArrowInvalid as exc:
        raise BatchError(f"{path}: cannot read it as CSV: {exc}") from None
    convert = pcsv.ConvertOptions(column_types={n: pa.string() for n in names}, strings_can_be_null=False,
                                  quoted_strings_can_be_null=False)
    return names, convert


def open_input(path: str, fmt: str, chunk_rows: int) -> tuple[pa.Schema, Iterator[pa.Table], int | None]:
    """The input's schema, its rows in tables of ``chunk_rows`` (last one shorter), and its row
    count when known up front (Parquet)."""
    if not os.path.exists(path):
        raise BatchError(f"input file not found: {path}")
    if fmt == "parquet":
        import pyarrow.parquet as pq

        try:
            pf = pq.ParquetFile(path)
        except (pa.ArrowInvalid, OSError) as exc:
            raise BatchError(f"{path}: cannot read it as Parquet: {exc}") from None
        schema = pf.schema_arrow
        batches = (pa.Table.from_batches([b], schema=schema) for b in pf.iter_batches(batch_size=chunk_rows))
        return schema, _rechunk(batches, chunk_rows, schema), pf.metadata.num_rows
    import pyarrow.csv as pcsv

    names, convert = _csv_options(path)
    schema = pa.schema([pa.field(n, pa.string()) for n in names])

    def tables() -> Iterator[pa.Table]:
        try:
            with pcsv.open_csv(path, read_options=pcsv.ReadOptions(block_size=CSV_BLOCK_BYTES),
                               parse_options=pcsv.ParseOptions(newlines_in_values=True),
                               convert_options=convert) as reader:
                for batch in reader:
                    yield pa.Table.from_batches([batch], schema=schema)
        except pa.ArrowInvalid as exc:
            raise BatchError(f"{path}: malformed CSV: {exc}") from None

    return schema, _rechunk(tables(), chunk_rows, schema), None


def _rechunk(tables: Iterator[pa.Table], rows: int, schema: pa.Schema) -> Iterator[pa.Table]:
    buffer: list[pa.Table] = []
    held = 0
    for t in tables:
        buffer.append(t)
        held += t.num_rows
        while held >= rows:
            whole = pa.concat_tables(buffer)
            yield whole.slice(0, rows)
            rest = whole.slice(rows)
            buffer, held = ([rest] if rest.num_rows else []), rest.num_rows
    if held:
        yield pa.concat_tables(buffer)


class OutputWriter:
    """Writes tables of the output schema to CSV or Parquet, into a temporary file that replaces
    ``path`` only when everything was written (no half-written output after a failure)."""

    def __init__(self, path: str, fmt: str, schema: pa.Schema) -> None:
        self.path = path
        self.tmp = f"{path}.partial-{os.getpid()}"
        self.schema = schema
        if fmt == "csv":
            import pyarrow.csv as pcsv

            self._writer = pcsv.CSVWriter(self.tmp, schema)
        else:
            import pyarrow.parquet as pq

            self._writer = pq.ParquetWriter(self.tmp, schema)

    def write(self, table: pa.Table) -> None:
        self._writer.write_table(table)

    def commit(self) -> None:
        self._writer.close()
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        try:
            self._writer.close()
        finally:
            if os.path.exists(self.tmp):
                os.remove(self.tmp)


# ------------------------------------------------------------------------------------ summary
@dataclass
class Summary:
    rows_read: int = 0
    rows_scored: int = 0
    reasons: collections.Counter = field(default_factory=collections.Counter)
    seconds: float = 0.0
    partitions: int = 0  # chunks or Dask partitions written

    @property
    def rows_with_errors(self) -> int:
        return self.rows_read - self.rows_scored

    def add(self, errors: pa.Array | pd.Series, splitter: Callable[[str], list[str]]) -> None:
        series = errors.to_pandas() if isinstance(errors, pa.Array | pa.ChunkedArray) else errors
        self.rows_read += len(series)
        self.partitions += 1
        counts = series.dropna().value_counts()
        self.rows_scored += len(series) - int(counts.sum())
        for message, k in counts.items():
            for reason in dict.fromkeys(error_reason(p) for p in splitter(message)):
                self.reasons[reason] += int(k)

    def text(self) -> str:
        rate = self.rows_read / self.seconds if self.seconds > 0 else float("inf")
        lines = [f"hipdx score: {self.rows_read:,} rows read, {self.rows_scored:,} scored, "
                 f"{self.rows_with_errors:,} with errors; {self.seconds:.1f} s ({rate:,.0f} rows/s)"]
        if self.reasons:
            lines.append("rows with errors, by reason (a row with several problems counts under each):")
            width = len(f"{max(self.reasons.values()):,}")
            for reason, k in sorted(self.reasons.items(), key=lambda kv: (-kv[1], kv[0])):
                lines.append(f"  {k:>{width},} x {reason}")
        return "\n".join(lines)


_REASONS = [
    (re.compile(r"^(?P<c>.*?): unknown state .*; allowed: (?P<a>.*?)(?: \(did you mean .*\))?$", re.S),
     r"\g<c>: unknown state; allowed: \g<a>"),
    (re.compile(r"^(?P<c>.*?): unmapped answer .*; allowed: (?P<a>.*)$", re.S), r"\g<c>: unmapped answer; allowed: \g<a>"),
    (re.compile(r"^(?P<c>.*?): .* is not a number of (?P<u>.*)$", re.S), r"\g<c>: not a number of \g<u>"),
    (re.compile(r"^(?P<c>.*?): \S+ is outside the allowed range (?P<r>.*)$", re.S), r"\g<c>: outside the allowed range \g<r>"),
    (re.compile(r"^(?P<c>.*?): says (?P<v>\S+) = .* but (?P<o>.*) says .*$", re.S), r"\g<c>: disagrees with \g<o> on \g<v>"),
]


def error_reason(message: str) -> str:
    """A row's error message with the offending value taken out, to group rows by reason."""
    for pattern, repl in _REASONS:
        if pattern.match(message):
            return pattern.sub(repl, message)
    return message


def message_splitter(names: list[str]) -> Callable[[str], list[str]]:
    """Split a row's '; '-joined messages at the start of each '<column>: ' message."""
    alternatives = "|".join(map(re.escape, sorted(set(names), key=len, reverse=True)))
    pattern = re.compile(r"; (?=(?:" + alternatives + r"): )") if alternatives else None
    return (lambda m: pattern.split(m)) if pattern else (lambda m: [m])


# ------------------------------------------------------------------------------------ workers
_WORKER: dict[str, Any] = {}
_BLAS_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def _scorer(priors: str | None, mapping_text: str | None, mapping_source: str, columns: tuple[str, ...]):
    """(model, plan) for this process, built once per job and cached (workers load the model once)."""
    key = (priors, mapping_text, mapping_source, columns)
    if _WORKER.get("key") != key:
        from model import load_model

        model = load_model(priors)
        mapping = _mapping_from_text(mapping_text, mapping_source, model.vocabulary) if mapping_text is not None else None
        _WORKER.update(key=key, model=model, plan=make_plan(list(columns), model.vocabulary, model.conditions, mapping))
    return _WORKER["model"], _WORKER["plan"]


def _mapping_from_text(text: str, source: str, vocabulary) -> SurveyMapping:
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False, encoding="utf-8") as fh:
        fh.write(text)
    try:
        mapping = load_mapping(fh.name, vocabulary)
    finally:
        os.remove(fh.name)
    mapping.source = source
    return mapping


def _score_table(table: pa.Table, job: tuple) -> pa.Table:
    """Worker task: the score columns for one chunk (only the columns the scorer reads are sent)."""
    model, plan = _scorer(*job)
    frame = table.to_pandas()
    scores = score_frame(frame, plan, model)
    return pa.Table.from_arrays(score_arrays(scores, plan), names=plan.score_names)


def score_partition(frame: pd.DataFrame, job: tuple) -> pd.DataFrame:
    """Dask task: one partition of the input, with the score columns appended."""
    model, plan = _scorer(*job)
    scores = score_frame(frame, plan, model)
    scores.index = frame.index
    return pd.concat([frame, scores[plan.score_names]], axis=1)


# ------------------------------------------------------------------------------------ driver
@dataclass
class Job:
    """Everything a scoring run needs, in a form worker processes can rebuild it from."""

    input: str
    output: str
    mapping: str | None = None
    priors: str | None = None
    chunk_rows: int = DEFAULT_CHUNK_ROWS
    jobs: int = 1
    progress: bool | None = None  # None: when stderr is a terminal
    warn: Callable[[str], None] = field(default=lambda msg: print(f"hipdx score: warning: {msg}", file=sys.stderr))

    def prepare(self, columns: list[str]) -> tuple[Plan, tuple]:
        """Validate the mapping and the header (in this process, without loading pgmpy)."""
        from model.priors import load_priors
        from model.vocabulary import Vocabulary

        priors = load_priors(self.priors)
        vocabulary = Vocabulary(priors)
        mapping_text = None
        mapping = None
        if self.mapping is not None:
            mapping = load_mapping(self.mapping, vocabulary)
            mapping_text = Path(self.mapping).read_text(encoding="utf-8")
        plan = make_plan(columns, vocabulary, list(priors.conditions), mapping)
        for w in plan.warnings:
            self.warn(w)
        return plan, (self.priors, mapping_text, str(self.mapping), tuple(plan.needed))


def score_file(job: Job) -> Summary:
    """Score ``job.input`` into ``job.output``, streamed; returns the summary."""
    if job.chunk_rows < 1:
        raise BatchError(f"--chunk-rows must be at least 1, got {job.chunk_rows}")
    in_fmt, out_fmt = file_format(job.input, "input"), file_format(job.output, "output")
    _same_file_guard(job)
    start = time.perf_counter()
    schema, tables, total = open_input(job.input, in_fmt, job.chunk_rows)
    try:
        plan, task = job.prepare(schema.names)
    except MappingError as exc:
        raise BatchError(str(exc)) from None
    split = message_splitter(list(schema.names) + (plan.mapping.targets if plan.mapping else []))
    writer = OutputWriter(job.output, out_fmt, output_schema(schema, plan))
    summary = Summary()
    bar = _progress(job, total)
    try:
        for table, scored in _scored_chunks(tables, plan, task, job):
            writer.write(pa.Table.from_arrays(table.columns + scored.columns, schema=writer.schema))
            summary.add(scored.column("error"), split)
            bar.update(table.num_rows)
        writer.commit()
    except BaseException:
        writer.abort()
        raise
    finally:
        bar.close()
    summary.seconds = time.perf_counter() - start
    return summary


def _scored_chunks(tables: Iterator[pa.Table], plan: Plan, task: tuple, job: Job) -> Iterator[tuple[pa.Table, pa.Table]]:
    """(input chunk, its score columns) in input order; chunks go to ``job.jobs`` worker processes
    when there is more than one chunk, with at most two chunks in flight per worker."""
    first = next(tables, None)
    if first is None:
        return
    second = next(tables, None)
    if second is None or job.jobs <= 1:
        for table in (first, second) if second is not None else (first,):
            yield table, _score_table(table.select(plan.needed), task)
        for table in tables:
            yield table, _score_table(table.select(plan.needed), task)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    ctx = multiprocessing.get_context("spawn")  # pyarrow's threads and fork do not mix
    # One BLAS thread per worker: the workers already use every core; more threads only contend.
    saved = {v: os.environ.get(v) for v in _BLAS_THREAD_VARS}
    os.environ.update(dict.fromkeys(_BLAS_THREAD_VARS, "1"))
    try:
        pool = ProcessPoolExecutor(max_workers=job.jobs, mp_context=ctx)
        for _ in range(job.jobs):  # start the workers now, while the variables are set
            pool.submit(int)
    finally:
        for var, value in saved.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value
    with pool:
        pending: collections.deque = collections.deque()

        def submit(t: pa.Table) -> None:
            pending.append((t, pool.submit(_score_table, t.select(plan.needed), task)))

        submit(first)
        submit(second)
        for table in tables:
            while len(pending) >= 2 * job.jobs:
                t, fut = pending.popleft()
                yield t, fut.result()
            submit(table)
        while pending:
            t, fut = pending.popleft()
            yield t, fut.result()


def _progress(job: Job, total: int | None):
    show = sys.stderr.isatty() if job.progress is None else job.progress
    from tqdm import tqdm

    return tqdm(total=total, unit=" rows", unit_scale=True, file=sys.stderr, disable=not show, desc="scoring")


def _same_file_guard(job: Job) -> None:
    if os.path.exists(job.output) and os.path.exists(job.input) and os.path.samefile(job.input, job.output):
        raise BatchError("the output file is the input file; write to another file")


# ------------------------------------------------------------------------------------ Dask
def score_file_dask(job: Job, scheduler: str | None = None, client=None) -> Summary:
    """The same scoring on ``dask.dataframe`` partitions, on a local cluster (default), the
    scheduler at ``scheduler``, or an existing ``client``; output identical to :func:`score_file`."""
    try:
        import dask.dataframe as dd
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise BatchError("--dask needs Dask: pip install 'hipdx[dask]'") from None
    in_fmt, out_fmt = file_format(job.input, "input"), file_format(job.output, "output")
    _same_file_guard(job)
    if not os.path.exists(job.input):
        raise BatchError(f"input file not found: {job.input}")
    start = time.perf_counter()
    if in_fmt == "csv":
        names, _ = _csv_options(job.input)
        schema = pa.schema([pa.field(n, pa.string()) for n in names])
        ddf = dd.read_csv(job.input, dtype=str, keep_default_na=False, na_filter=False,
                          blocksize=max(64 << 10, job.chunk_rows * 200))
    else:
        import pyarrow.parquet as pq

        schema = pq.ParquetFile(job.input).schema_arrow
        ddf = dd.read_parquet(job.input, split_row_groups=True, dtype_backend="pyarrow")
    try:
        plan, task = job.prepare(schema.names)
    except MappingError as exc:
        raise BatchError(str(exc)) from None
    out_schema = output_schema(schema, plan)
    meta = pd.concat([ddf._meta, pd.DataFrame({n: pd.Series(dtype=float if n.startswith("p_") else object)
                                               for n in plan.score_names})], axis=1)
    scored = ddf.map_partitions(score_partition, task, meta=meta)
    split = message_splitter(list(schema.names) + (plan.mapping.targets if plan.mapping else []))
    own = None
    if client is None:
        if scheduler:
            client = own = Client(scheduler)
        else:
            cluster = LocalCluster(n_workers=os.cpu_count() or 1, threads_per_worker=1, processes=True,
                                   dashboard_address=None)
            client = own = Client(cluster)
    writer = OutputWriter(job.output, out_fmt, out_schema)
    summary = Summary()
    bar = _progress(job, None)
    window = 2 * max(1, len(client.scheduler_info().get("workers", {})))
    try:
        parts = scored.to_delayed()
        futures = collections.deque(client.compute(p) for p in parts[:window])
        nxt = len(futures)
        while futures:
            frame = futures.popleft().result()
            if nxt < len(parts):
                futures.append(client.compute(parts[nxt]))
                nxt += 1
            table = pa.Table.from_pandas(frame, schema=out_schema, preserve_index=False)
            writer.write(table)
            summary.add(table.column("error"), split)
            bar.update(table.num_rows)
        writer.commit()
    except BaseException:
        writer.abort()
        raise
    finally:
        bar.close()
        if own is not None:
            cluster = getattr(own, "cluster", None)
            own.close()
            if cluster is not None and not scheduler:
                cluster.close()
    summary.seconds = time.perf_counter() - start
    return summary
