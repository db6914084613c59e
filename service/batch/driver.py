"""A scoring run from start to end: open the input, plan, score chunk by chunk, write atomically."""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pyarrow as pa

from .errors import BatchError
from .mapping import MappingError, load_mapping
from .plan import Plan, make_plan
from .readers import ReadOptions, Source, open_input, with_hint
from .summary import Summary, message_splitter
from .workers import IN_PROCESS_ROWS, Task, prestart, scored_chunks
from .writers import OutputWriter, check_output, output_kind, remove_leftovers

DEFAULT_CHUNK_ROWS = 5_000  # a worker's working memory grows with it; 5,000 rows score as fast as 10,000


@dataclass
class Job:
    """Everything a scoring run needs."""

    input: str
    output: str
    mapping: str | None = None
    priors: str | None = None
    chunk_rows: int = DEFAULT_CHUNK_ROWS
    jobs: int = 1
    in_process_rows: int = IN_PROCESS_ROWS  # inputs up to this many rows are scored without workers
    progress: bool | None = None  # None: when stderr is a terminal
    read: ReadOptions = field(default_factory=ReadOptions)
    digits: int | None = 6  # CSV posteriors rounded to this many decimals (None: exact)
    csv_bom: bool = False
    report: str | None = None  # an HTML report of the run
    warn: Callable[[str], None] = field(default=lambda msg: print(f"hipdx score: warning: {msg}", file=sys.stderr))

    def prepare(self, source: Source) -> tuple[Plan, Task, dict]:
        """Validate the mapping and the header (in this process, without loading pgmpy); returns
        the plan, the workers' task and the output's metadata."""
        from model.priors import load_priors
        from model.vocabulary import Vocabulary

        priors = load_priors(self.priors)
        vocabulary = Vocabulary(priors)
        mapping = None
        if self.mapping is not None:
            mapping = load_mapping(self.mapping, vocabulary)
        try:
            plan = make_plan(source.names, list(source.schema.names), vocabulary, list(priors.conditions), mapping,
                             decimal=source.decimal, value_labels=source.value_labels)
        except (MappingError, BatchError) as exc:  # the header does not fit: say where else the answers may be
            raise BatchError(with_hint(str(exc), source.hint)) from None
        for w in plan.warnings:
            self.warn(w)
        task = Task(self.priors, mapping.text if mapping else None, str(self.mapping), tuple(source.names),
                    tuple(source.schema.names), source.decimal,
                    tuple((c, tuple(t.items())) for c, t in sorted(source.value_labels.items())))
        text = mapping.text if mapping else None
        metadata = {
            "model": {"name": "hipdx", "version": priors.version},
            "mapping": None if mapping is None else {"path": os.path.abspath(self.mapping), "text": text,
                                                     "sha256": hashlib.sha256(text.encode()).hexdigest()},
            "input": {"path": os.path.abspath(self.input), "format": source.format, "notes": source.notes + plan.notes},
            "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "disclaimer": "decision support built from web articles, not a validated clinical device",
        }
        return plan, task, metadata


def score_file(job: Job, client=None) -> Summary:
    """Score ``job.input`` into ``job.output``, streamed; returns the summary. ``client``: a Dask
    client to score the chunks on (else ``job.jobs`` local worker processes)."""
    if job.chunk_rows < 1:
        raise BatchError(f"--chunk-rows must be at least 1, got {job.chunk_rows}")
    if job.digits is not None and not 0 <= job.digits <= 17:
        raise BatchError(f"--digits must be 0 to 17, got {job.digits}")
    output_kind(job.output)
    check_output(job.output)
    if os.path.exists(job.output) and os.path.exists(job.input) and os.path.samefile(job.input, job.output):
        raise BatchError("the output file is the input file; write to another file")
    if job.report:
        _check_report(job.report)
    for leftover in remove_leftovers(job.output):
        job.warn(f"removed {leftover}, left by an interrupted run")
    start = time.perf_counter()
    source = open_input(job.input, job.chunk_rows, job.read)
    if client is None and job.jobs > 1 and _large(job, source):
        prestart(job.priors)  # the workers' model loads while this process reads the header and the mapping
    try:
        plan, task, metadata = job.prepare(source)
    except MappingError as exc:
        raise BatchError(str(exc)) from None
    split = message_splitter(list(source.names) + (plan.mapping.targets if plan.mapping else []))
    summary = Summary(input_format=source.format, notes=source.notes + plan.notes,
                      model_version=metadata["model"]["version"], mapping=job.mapping, output=job.output)
    metadata["mapping_path"] = job.mapping
    writer = None
    bar = _progress(job, source.total)
    chunks = scored_chunks(source.chunks, plan, task, job.jobs, client, total=source.total,
                           in_process_rows=job.in_process_rows)
    try:
        for chunk, scored in chunks:
            if writer is None:
                score_schema = scored.schema
                schema = pa.schema(list(source.schema) + list(score_schema))
                writer = _open_writer(job, schema, source.names + score_schema.names, metadata)
            elif scored.schema != score_schema:
                scored = scored.cast(score_schema)
            writer.write(pa.Table.from_arrays(chunk.table.columns + scored.columns, schema=schema))
            summary.add(scored, split)
            bar.update(chunk.table.num_rows)
        if writer is None:  # no data rows: an output with the header only
            writer = _empty_writer(job, source, plan, metadata)
        summary.seconds = time.perf_counter() - start
        metadata["rows"] = summary.rows_read
        writer.commit()
    except BaseException:
        chunks.close()
        if writer is not None:
            writer.abort()
        raise
    finally:
        bar.close()
    if job.report:
        from .report import write_report

        write_report(job.report, summary, metadata)
    return summary


def score_file_dask(job: Job, scheduler: str | None = None, client=None) -> Summary:
    """The same scoring with chunks scored on Dask: a local cluster (default), the scheduler at
    ``scheduler``, or an existing ``client``; the output is identical to :func:`score_file`'s."""
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise BatchError("--dask needs Dask: pip install 'hipdx[dask]'") from None
    output_kind(job.output)
    if not os.path.exists(job.input):
        raise BatchError(f"input file not found: {job.input}")
    own = cluster = None
    if client is None:
        if scheduler:
            client = own = Client(scheduler)
        else:
            cluster = LocalCluster(n_workers=os.cpu_count() or 1, threads_per_worker=1, processes=True, dashboard_address=None)
            client = own = Client(cluster)
    try:
        return score_file(job, client=client)
    finally:
        if own is not None:
            own.close()
        if cluster is not None:
            cluster.close()


def _large(job: Job, source: Source) -> bool:
    """Whether the input surely has more than ``job.in_process_rows`` rows (so workers will score
    it): its row count when known, else a text file of more than 1 KiB per such row."""
    if source.total is not None:
        return source.total > job.in_process_rows
    try:
        return os.path.getsize(job.input) > 1024 * job.in_process_rows
    except OSError:
        return False


def _check_report(path: str) -> None:
    """Refuse a report that cannot be written before scoring: no matplotlib, or a bad path."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise BatchError("--report needs matplotlib: pip install 'hipdx[report]'") from None
    if not path.lower().endswith((".html", ".htm")):
        raise BatchError(f"--report {path}: give a .html file name")
    check_output(path)


def _empty_writer(job: Job, source: Source, plan: Plan, metadata: dict) -> OutputWriter:
    fields = [pa.field(f"p_{c}", pa.float64()) for c in plan.conditions] + [pa.field(n, pa.string()) for n in ("triage", "red_flags", "error")]
    schema = pa.schema(list(source.schema) + fields)
    return _open_writer(job, schema, source.names + [f.name for f in fields], metadata)


def _open_writer(job: Job, schema: pa.Schema, names: list[str], metadata: dict) -> OutputWriter:
    try:
        return OutputWriter(job.output, schema, names=names, digits=job.digits, bom=job.csv_bom, metadata=metadata)
    except OSError as exc:
        found = re.search(r"\[errno \d+\] (.*)$", str(exc))  # pyarrow's message names our temporary file
        detail = found.group(1) if found else (exc.strerror or str(exc))
        raise BatchError(f"cannot create the output {job.output}: {detail}") from None


def _progress(job: Job, total: int | None):
    show = sys.stderr.isatty() if job.progress is None else job.progress
    from tqdm import tqdm

    return tqdm(total=total, unit=" rows", unit_scale=True, file=sys.stderr, disable=not show, desc="scoring")
