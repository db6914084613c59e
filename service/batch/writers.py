"""Writers: the output file (CSV, Parquet or .xlsx, by extension), written under a temporary
name and renamed only when complete, with the run's metadata (model version, mapping used).

While a run writes ``OUT``, the rows go to ``OUT.incomplete-<pid>`` in the same directory: no
file that looks finished exists until it is. An existing ``OUT`` is replaced only at the end
(``os.replace``, atomic on one file system). A run killed so hard that it could not clean up
(SIGKILL, power loss) leaves that clearly named file; the next run removes it
(:func:`remove_leftovers`) once the process that wrote it is gone.
"""

from __future__ import annotations

import glob
import json
import os
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from .errors import BatchError

OUTPUT_KINDS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".xlsx": "xlsx"}
METADATA_KEY = b"hipdx"
XLSX_MAX_ROWS = 1_048_575  # Excel's row limit, less the header


def output_kind(path: str | Path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in OUTPUT_KINDS:
        raise BatchError(f"output file {str(path)!r}: unsupported extension {suffix or '(none)'!r}; use .csv, .parquet or .xlsx")
    return OUTPUT_KINDS[suffix]


def file_format(path: str | Path, role: str = "output") -> str:
    """The output kind of ``path`` ("csv", "parquet" or "xlsx"); :class:`BatchError` otherwise."""
    return output_kind(path)


def incomplete_name(path: str, pid: int | None = None) -> str:
    return f"{path}.incomplete-{pid or os.getpid()}"


def sidecar_name(path: str) -> str:
    """``OUT.meta.json``: the metadata of a CSV or .xlsx output."""
    return f"{path}.meta.json"


def check_output(path: str) -> None:
    """Refuse an output that cannot be written, before any work: a directory, a missing or read-only directory."""
    if os.path.isdir(path):
        raise BatchError(f"output {path} is a directory; give a file name")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise BatchError(f"output directory {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise BatchError(f"output directory {parent} is not writable")
    if os.path.exists(path) and not os.access(path, os.W_OK):
        raise BatchError(f"output {path} is read-only")


def remove_leftovers(path: str) -> list[str]:
    """Remove ``OUT.incomplete-<pid>`` files of runs that are no longer running; returns them."""
    removed = []
    for leftover in glob.glob(glob.escape(path) + ".incomplete-*"):
        m = re.search(r"\.incomplete-(\d+)$", leftover)
        if not m or _alive(int(m.group(1))):
            continue
        try:
            os.remove(leftover)
            removed.append(leftover)
        except OSError:
            pass
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class OutputWriter:
    """Writes tables of one schema to CSV, Parquet or .xlsx under :func:`incomplete_name`;
    :meth:`commit` renames it to ``path`` (and writes the metadata), :meth:`abort` removes it.

    CSV: posteriors rounded to ``digits`` (None: exact), a UTF-8 BOM when ``bom``; header as
    written in the input (``names``). Parquet: exact posteriors, ``red_flags`` as a list of
    ids, the metadata under the schema key ``hipdx``. The metadata of CSV and .xlsx go to
    ``OUT.meta.json``.
    """

    def __init__(self, path: str, schema: pa.Schema, *, names: list[str] | None = None, digits: int | None = 6,
                 bom: bool = False, metadata: dict | None = None, sheet: str = "scores") -> None:
        self.path = path
        self.kind = output_kind(path)
        self.tmp = incomplete_name(path)
        self.digits = digits
        self.metadata = metadata or {}
        self.rows = 0
        self._closed = False
        if self.kind == "csv":
            import pyarrow.csv as pcsv

            self.schema = pa.schema([f.with_name(n) for f, n in zip(schema, names or schema.names, strict=True)])
            self._sink = pa.OSFile(self.tmp, "wb")
            if bom:
                self._sink.write(b"\xef\xbb\xbf")
            self._writer = pcsv.CSVWriter(self._sink, self.schema)
        elif self.kind == "parquet":
            import pyarrow.parquet as pq

            fields = [pa.field(f.name, pa.list_(pa.string())) if f.name == "red_flags" else f for f in schema]
            meta = {METADATA_KEY: json.dumps(self.metadata).encode()}
            self.schema = pa.schema(fields, metadata={**(schema.metadata or {}), **meta})
            self._writer = pq.ParquetWriter(self.tmp, self.schema)
        else:
            try:
                from openpyxl import Workbook
            except ImportError:
                raise BatchError("writing .xlsx needs openpyxl: pip install openpyxl") from None
            self.schema = schema
            self._book = Workbook(write_only=True)
            self._sheet = self._book.create_sheet(sheet)
            self._sheet.append(list(schema.names))
            open(self.tmp, "wb").close()  # claim the name now, like the other kinds

    def write(self, table: pa.Table) -> None:
        self.rows += table.num_rows
        if self.kind == "csv":
            if self.digits is not None:
                table = pa.Table.from_arrays([pc.round(c, self.digits) if n.startswith("p_") else c
                                              for n, c in zip(self.schema.names, table.columns, strict=True)],
                                             schema=self.schema)
            else:
                table = table.rename_columns(self.schema.names)
            self._writer.write_table(table)
        elif self.kind == "parquet":
            columns = []
            for f, c in zip(self.schema, table.columns, strict=True):
                if f.name == "red_flags":
                    c = pc.split_pattern(pc.fill_null(c, ""), "; ")
                    c = pa.array([[x for x in v if x] if v is not None else [] for v in c.to_pylist()], type=pa.list_(pa.string()))
                columns.append(c)
            self._writer.write_table(pa.Table.from_arrays(columns, schema=self.schema))
        else:
            if self.rows > XLSX_MAX_ROWS:
                raise BatchError(f"{self.path}: Excel sheets hold at most {XLSX_MAX_ROWS:,} rows; write .csv or .parquet")
            for row in zip(*(_xlsx_cells(c) for c in table.columns), strict=True):
                self._sheet.append(list(row))

    def commit(self) -> None:
        """Finish the file and put it in place (metadata first for CSV/.xlsx, so both are there)."""
        self._close()
        if self.kind != "parquet" and self.metadata:
            side_tmp = incomplete_name(sidecar_name(self.path))
            with open(side_tmp, "w", encoding="utf-8") as fh:
                json.dump(self.metadata, fh, indent=2)
            os.replace(self.tmp, self.path)
            os.replace(side_tmp, sidecar_name(self.path))
        else:
            os.replace(self.tmp, self.path)

    def abort(self) -> None:
        try:
            self._close()
        except Exception:  # noqa: BLE001, S110 - the temporary file is removed whatever happened
            pass
        finally:
            for leftover in (self.tmp, incomplete_name(sidecar_name(self.path))):
                if os.path.exists(leftover):
                    os.remove(leftover)

    def _close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.kind == "csv":
            self._writer.close()
            self._sink.close()
        elif self.kind == "parquet":
            self._writer.close()
        else:
            about = self._book.create_sheet("about")
            for key, value in _flatten(self.metadata):
                about.append([key, value])
            self._book.save(self.tmp)


def _xlsx_cells(column: pa.ChunkedArray | pa.Array) -> list:
    values = column.to_pylist()
    if pa.types.is_timestamp(column.type) and getattr(column.type, "tz", None):
        values = [v.replace(tzinfo=None) if v is not None else None for v in values]
    return values


def _flatten(meta: dict, prefix: str = ""):
    for key, value in meta.items():
        if isinstance(value, dict):
            yield from _flatten(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value if isinstance(value, (str, int, float)) or value is None else json.dumps(value)
