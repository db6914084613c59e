"""Readers: any supported survey file -> its header and its rows as Arrow tables, in chunks.

Formats follow the extension: ``.csv``, ``.tsv``, ``.txt`` (each optionally ``.gz``), ``.parquet``,
``.xlsx`` / ``.xlsm`` / ``.xls`` (pandas with python-calamine, or openpyxl), SPSS ``.sav`` /
``.zsav`` / ``.por``, Stata ``.dta``, SAS ``.sas7bdat`` / ``.xpt`` (pyreadstat). Text files are read
as text cells (nothing is converted); the other formats keep their types.

Delimited text goes through pyarrow's streaming reader (fast, flat memory). When that reader
meets a row it cannot take (a row with too few or too many fields, bytes that are not valid in the
encoding), reading continues from that row with Python's ``csv`` module, which gives each such row
its own error (:attr:`Chunk.errors`) instead of failing the job: rows out = rows in.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa

from .dialect import Dialect, open_binary, sniff
from .errors import BatchError

TEXT_SUFFIXES = {".csv": None, ".tsv": "\t", ".txt": None, ".tab": "\t"}
EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xls")
STAT_SUFFIXES = {".sav": "read_sav", ".zsav": "read_sav", ".por": "read_por", ".dta": "read_dta",
                 ".sas7bdat": "read_sas7bdat", ".xpt": "read_xport"}
INPUT_KINDS = "CSV/TSV/TXT (optionally .gz), Parquet, Excel (.xlsx, .xls), SPSS (.sav), Stata (.dta), SAS (.sas7bdat, .xpt)"
CSV_BLOCK_BYTES = 1 << 20  # the streaming reader reads many blocks ahead: memory ~ block size


@dataclass
class ReadOptions:
    """What the user said about the input (None: decide from the file)."""

    encoding: str | None = None
    delimiter: str | None = None
    decimal: str | None = None
    header_rows: int | None = None
    sheet: str | None = None


@dataclass
class Chunk:
    """Some consecutive rows of the input, and a read error (or None) per row when any row has one."""

    table: pa.Table
    errors: list[str | None] | None = None


@dataclass
class Source:
    """An opened input: its header as written (names may repeat), its rows in chunks, and what was
    learnt about it (format, guesses, question texts and value labels for the mapping)."""

    names: list[str]
    schema: pa.Schema  # the same columns under unique names (see :func:`unique_names`)
    chunks: Iterator[Chunk]
    total: int | None
    format: str  # e.g. "CSV (encoding utf-8, delimiter ';', decimal ',')"
    notes: list[str] = field(default_factory=list)
    questions: dict[str, str] = field(default_factory=dict)
    value_labels: dict[str, dict[str, str]] = field(default_factory=dict)  # column -> code (as text) -> label
    decimal: str = "."
    hint: str = ""  # where else the answers may be, added to an error about the columns (a workbook's other sheets)


def suffix_of(path: str | Path) -> str:
    """The format-deciding extension, lower case, without a trailing ``.gz`` (``.csv`` for ``x.csv.gz``)."""
    name = Path(path).name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    return Path(name).suffix


def input_kind(path: str | Path) -> str:
    s = suffix_of(path)
    if s in TEXT_SUFFIXES:
        return "text"
    if s in (".parquet", ".pq"):
        return "parquet"
    if s in EXCEL_SUFFIXES:
        return "excel"
    if s in STAT_SUFFIXES:
        return "stat"
    raise BatchError(f"input file {str(path)!r}: unsupported extension {s or '(none)'!r}; use {INPUT_KINDS}")


def unique_names(names: list[str]) -> list[str]:
    """Names made unique by adding `` (2)``, `` (3)`` ... to repeats (the first keeps its name)."""
    taken = set(names)
    out, seen = [], set()
    for n in names:
        name, k = n, 1
        while name in seen:
            k += 1
            name = f"{n} ({k})"
            if name in taken and name not in seen and name != n:
                continue
        seen.add(name)
        out.append(name)
    return out


def open_input(path: str, chunk_rows: int, options: ReadOptions | None = None) -> Source:
    """Open ``path`` for reading in chunks of ``chunk_rows`` rows; :class:`BatchError` if it cannot be read."""
    options = options or ReadOptions()
    kind = input_kind(path)
    if not os.path.exists(path):
        raise BatchError(f"input file not found: {path}")
    if os.path.isdir(path):
        raise BatchError(f"input {path} is a directory, not a file")
    if kind == "text":
        return _open_text(path, chunk_rows, options)
    if kind == "parquet":
        return _open_parquet(path, chunk_rows)
    if kind == "excel":
        frame, notes, hint = _read_excel(path, options)
        try:
            names, frame, dialect = _header_rows_of_frame(frame, options)
        except BatchError as exc:
            raise BatchError(with_hint(str(exc), hint)) from None
        source = _from_frame(frame, names, chunk_rows, "Excel" + (f" ({dialect})" if dialect else ""), notes, {})
        source.hint = hint
        return source
    return _open_stat(path, chunk_rows)


# ------------------------------------------------------------------------------------ text
def _open_text(path: str, chunk_rows: int, options: ReadOptions) -> Source:
    d = sniff(path, encoding=options.encoding, delimiter=options.delimiter, decimal=options.decimal,
              header_rows=options.header_rows, default_delimiter=TEXT_SUFFIXES[suffix_of(path)])
    names = unique_names(d.names)
    schema = pa.schema([pa.field(n, pa.string()) for n in names])
    chunks = _rechunk(_text_tables(path, d, names), chunk_rows, schema)
    return Source(d.names, schema, chunks, None, f"delimited text ({d.describe()})", list(d.notes), d.questions, {}, d.decimal)


def _text_tables(path: str, d: Dialect, names: list[str]) -> Iterator[Chunk]:
    import pyarrow.csv as pcsv

    read = pcsv.ReadOptions(block_size=CSV_BLOCK_BYTES, column_names=names, skip_rows=1,
                            skip_rows_after_names=d.header_rows, encoding=d.encoding)
    parse = pcsv.ParseOptions(delimiter=d.delimiter, newlines_in_values=True)
    convert = pcsv.ConvertOptions(column_types={n: pa.string() for n in names}, strings_can_be_null=False,
                                  quoted_strings_can_be_null=False)
    done = 0
    try:
        with pcsv.open_csv(path, read_options=read, parse_options=parse, convert_options=convert) as reader:
            for batch in reader:
                done += batch.num_rows
                yield Chunk(pa.Table.from_batches([batch]))
        return
    except (pa.ArrowInvalid, UnicodeError):
        pass  # a row the fast reader cannot take: go on from the first row not yet given, row by row
    yield from _python_csv_tables(path, d, names, skip=done)


def _python_csv_tables(path: str, d: Dialect, names: list[str], skip: int, rows_per_table: int = 5000) -> Iterator[Chunk]:
    """The rows after the first ``skip`` data rows, read by Python's csv module: a row with too few
    or too many fields is padded or cut and gets an error, a cell with bytes not valid in the file's
    encoding keeps them as U+FFFD and gets an error; the job goes on."""
    width = len(names)
    with open_binary(path) as raw:
        text = io.TextIOWrapper(raw, encoding=d.encoding, errors="surrogateescape", newline="")
        reader = csv.reader(text, delimiter=d.delimiter)
        skipped = 0
        for rec in reader:
            if rec:
                skipped += 1
            if skipped >= 1 + d.header_rows + skip:
                break
        cols: list[list[str]] = [[] for _ in range(width)]
        errs: list[str | None] = []
        line_no = 1 + d.header_rows + skip
        try:
            for rec in reader:
                if not rec:
                    continue
                line_no += 1
                message = None
                if len(rec) != width:
                    message = (f"row {line_no} of the file has {len(rec)} field(s), the header has {width} "
                               f"(a delimiter or quote is missing or extra); the row is not scored")
                    rec = (rec + [""] * width)[:width]
                bad = [names[j] for j, cell in enumerate(rec) if _has_surrogates(cell)]
                if bad:
                    rec = [_repair(cell) for cell in rec]
                    msg = (f"{', '.join(map(repr, bad))}: bytes that are not valid {d.encoding} "
                           "(give --encoding, e.g. cp1252); the row is not scored")
                    message = msg if message is None else f"{message}; {msg}"
                for j in range(width):
                    cols[j].append(rec[j])
                errs.append(message)
                if len(errs) >= rows_per_table:
                    yield _chunk_of(cols, errs, names)
                    cols, errs = [[] for _ in range(width)], []
        except csv.Error as exc:
            raise BatchError(f"{path}: malformed at row {line_no}: {exc}") from None
        except UnicodeError as exc:
            raise BatchError(f"{path}: cannot decode it as {d.encoding}: {exc}") from None
        if errs:
            yield _chunk_of(cols, errs, names)


def _has_surrogates(cell: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in cell)


def _repair(cell: str) -> str:
    return cell.encode("utf-8", "surrogateescape").decode("utf-8", "replace") if _has_surrogates(cell) else cell


def _chunk_of(cols: list[list[str]], errs: list[str | None], names: list[str]) -> Chunk:
    table = pa.Table.from_arrays([pa.array(c, type=pa.string()) for c in cols], names=names)
    return Chunk(table, errs if any(e is not None for e in errs) else None)


def _rechunk(chunks: Iterator[Chunk], rows: int, schema: pa.Schema) -> Iterator[Chunk]:
    """The same rows in chunks of exactly ``rows`` (the last one shorter)."""
    buffer: list[Chunk] = []
    held = 0
    for c in chunks:
        if c.table.num_rows == 0:
            continue
        buffer.append(c)
        held += c.table.num_rows
        while held >= rows:
            whole = _concat(buffer, schema)
            yield _slice(whole, 0, rows)
            rest = _slice(whole, rows, None)
            buffer, held = ([rest] if rest.table.num_rows else []), rest.table.num_rows
    if held:
        yield _concat(buffer, schema)


def _concat(chunks: list[Chunk], schema: pa.Schema) -> Chunk:
    if len(chunks) == 1:
        return chunks[0]
    table = pa.concat_tables([c.table.cast(schema) if c.table.schema != schema else c.table for c in chunks])
    if all(c.errors is None for c in chunks):
        return Chunk(table)
    errs: list[str | None] = []
    for c in chunks:
        errs.extend(c.errors if c.errors is not None else [None] * c.table.num_rows)
    return Chunk(table, errs)


def _slice(c: Chunk, start: int, stop: int | None) -> Chunk:
    n = (stop if stop is not None else c.table.num_rows) - start
    errs = c.errors[start:start + n] if c.errors is not None else None
    return Chunk(c.table.slice(start, n), errs if errs and any(e is not None for e in errs) else None)


# ------------------------------------------------------------------------------------ Parquet
def _open_parquet(path: str, chunk_rows: int) -> Source:
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise BatchError(f"{path}: cannot read it as Parquet: {exc}") from None
    schema = pf.schema_arrow
    names = list(schema.names)
    uniq = unique_names(names)
    schema = pa.schema([f.with_name(n) for f, n in zip(schema, uniq, strict=True)])
    tables = (Chunk(pa.Table.from_batches([b]).rename_columns(uniq)) for b in pf.iter_batches(batch_size=chunk_rows))
    return Source(names, schema, _rechunk(tables, chunk_rows, schema), pf.metadata.num_rows, "Parquet")


# ------------------------------------------------------------------------------------ frames
def _read_excel(path: str, options: ReadOptions) -> tuple[pd.DataFrame, list[str], str]:
    """The sheet ``options.sheet`` (a name, or a 0-based number; default the first) without a
    header, the notes about it, and a hint naming the other sheets when the first was read by
    default from a workbook of several (an error about the columns then says where else to look)."""
    engine = _excel_engine(path)
    try:
        book = pd.ExcelFile(path, engine=engine)
    except Exception as exc:  # noqa: BLE001 - a reader's own error for a damaged file: one line
        raise BatchError(f"{path}: cannot read it as Excel: {type(exc).__name__}: {exc}") from None
    with book:
        sheets = [str(name) for name in book.sheet_names]
        listing = ", ".join(repr(name) for name in sheets)
        sheet: str | int = options.sheet if options.sheet is not None else 0
        if isinstance(sheet, str) and sheet.isdigit() and sheet not in sheets:  # a number (a sheet named "2024" is a name)
            sheet = int(sheet)
        if isinstance(sheet, int) and not 0 <= sheet < len(sheets):
            raise BatchError(f"{path}: --sheet {sheet}: the workbook has {len(sheets)} sheet(s), numbered from 0: {listing}")
        if isinstance(sheet, str) and sheet not in sheets:
            raise BatchError(f"{path}: --sheet {sheet!r} is not a sheet of the workbook; its sheets: {listing}")
        try:
            frame = pd.read_excel(book, sheet_name=sheet, header=None, dtype=object)
        except Exception as exc:  # noqa: BLE001 - a damaged sheet: one line
            raise BatchError(f"{path}: cannot read sheet {sheet!r}: {type(exc).__name__}: {exc}") from None
    if options.sheet is not None:
        return frame, [f"sheet {options.sheet!r}"], ""
    if len(sheets) == 1:
        return frame, [], ""
    hint = f"the workbook has {len(sheets)} sheets ({listing}); the first, {sheets[0]!r}, was read: give --sheet to read another"
    return frame, [hint], hint


def with_hint(message: str, hint: str) -> str:
    """An error message with the input's hint (``Source.hint``) appended, when it has one."""
    return f"{message}\n{hint}" if hint else message


def _excel_engine(path: str) -> str:
    try:
        import python_calamine  # noqa: F401

        return "calamine"
    except ImportError:
        pass
    if suffix_of(path) == ".xls":
        raise BatchError("reading .xls needs python-calamine: pip install python-calamine")
    try:
        import openpyxl  # noqa: F401
    except ImportError:
        raise BatchError("reading .xlsx needs python-calamine or openpyxl: pip install python-calamine") from None
    return "openpyxl"


def _header_rows_of_frame(frame: pd.DataFrame, options: ReadOptions) -> tuple[list[str], pd.DataFrame, str]:
    """Column names from a sheet read without a header (the same Qualtrics/SurveyMonkey rules as CSV)."""
    from .dialect import _header_rows

    if frame.empty:
        raise BatchError("the sheet is empty (no header row)")
    frame = frame.dropna(axis=1, how="all") if frame.iloc[0].isna().any() else frame
    head = [["" if _is_na(v) else _text(v) for v in frame.iloc[i].tolist()] for i in range(min(3, len(frame)))]
    d = Dialect(names=head[0])
    _header_rows(d, head, options.header_rows)
    body = frame.iloc[1 + d.header_rows:].reset_index(drop=True)
    body.columns = range(body.shape[1])
    described = ([f"{d.platform} export"] if d.platform else []) + (
        [f"{d.header_rows} row(s) below the header skipped"] if d.header_rows else [])
    return d.names, body, ", ".join(described)


def _is_na(v) -> bool:
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def _text(v) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _open_stat(path: str, chunk_rows: int) -> Source:
    try:
        import pyreadstat
    except ImportError:
        raise BatchError("reading SPSS, Stata and SAS files needs pyreadstat: pip install pyreadstat") from None
    reader = getattr(pyreadstat, STAT_SUFFIXES[suffix_of(path)])
    try:
        frame, meta = reader(path)
    except Exception as exc:  # noqa: BLE001 - pyreadstat's own error for a damaged file: one line
        raise BatchError(f"{path}: cannot read it: {type(exc).__name__}: {exc}") from None
    names = [str(c) for c in frame.columns]
    labels: dict[str, dict[str, str]] = {}
    for col, table in (getattr(meta, "variable_value_labels", None) or {}).items():
        labels[str(col)] = {_text(code): str(label) for code, label in table.items()}
    questions = {str(k): str(v) for k, v in zip(names, getattr(meta, "column_labels", None) or [], strict=False) if v}
    kind = {".sav": "SPSS", ".zsav": "SPSS", ".por": "SPSS portable", ".dta": "Stata"}.get(suffix_of(path), "SAS")
    notes = [f"{len(labels)} column(s) with value labels: answers map by code or by label"] if labels else []
    frame.columns = range(frame.shape[1])
    src = _from_frame(frame, names, chunk_rows, kind, notes, labels)
    src.questions = questions
    return src


def _from_frame(frame: pd.DataFrame, names: list[str], chunk_rows: int, fmt: str, notes: list[str],
                labels: dict[str, dict[str, str]]) -> Source:
    uniq = unique_names(names)
    arrays = [_arrow_column(frame[i]) for i in range(len(names))]
    table = pa.Table.from_arrays(arrays, names=uniq)
    schema = table.schema

    def chunks() -> Iterator[Chunk]:
        for start in range(0, table.num_rows, chunk_rows):
            yield Chunk(table.slice(start, chunk_rows))

    return Source(list(names), schema, chunks(), table.num_rows, fmt, notes, {}, labels)


def _arrow_column(series: pd.Series) -> pa.Array:
    """A column with its own type where it has one; mixed columns (numbers and text) as text."""
    values = series.infer_objects() if series.dtype == object else series
    try:
        return pa.array(values, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
        return pa.array([None if _is_na(v) else _text(v) for v in series.tolist()], type=pa.string())
