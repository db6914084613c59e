"""How a delimited text file is written: encoding, delimiter, decimal mark and header rows.

Survey platforms and spreadsheets export "CSV" in many dialects: ``;`` with decimal commas
(European Excel), tabs in a ``.csv`` or ``.txt`` (Excel's "Unicode text" is UTF-16 with tabs),
Windows-1252, and several header rows (Qualtrics: ids, question text, ``{"ImportId": ...}``;
SurveyMonkey: question, then option). What the user gives (``--delimiter``, ``--decimal``,
``--encoding``, ``--header-rows``) is taken as it is; what is guessed is recorded in
:attr:`Dialect.notes` so the summary can say so. Guesses that could be wrong are refused rather
than made: a header that is not UTF-8 (a cp1252 file can also read as cp850) and a file that reads
as one column although its header holds a ``;`` or a tab.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import re
from dataclasses import dataclass, field

from .errors import BatchError

SAMPLE_BYTES = 256 << 10
CANDIDATE_DELIMITERS = (",", ";", "\t", "|")
_DELIM_NAMES = {",": "','", ";": "';'", "\t": "tab", "|": "'|'"}
SURVEYMONKEY_SECOND_ROW = ("response", "open-ended response")


@dataclass
class Dialect:
    """A delimited file's dialect, decided once from its first bytes and the user's options."""

    encoding: str = "utf-8"
    delimiter: str = ","
    decimal: str = "."
    header_rows: int = 0  # rows below the header line that are not data
    names: list[str] = field(default_factory=list)  # column names (header rows combined)
    questions: dict[str, str] = field(default_factory=dict)  # column -> question text, where the export gives it
    platform: str | None = None  # "Qualtrics" | "SurveyMonkey" | None
    notes: list[str] = field(default_factory=list)  # what was guessed, for the summary
    compressed: bool = False

    def describe(self) -> str:
        parts = [f"encoding {self.encoding}", f"delimiter {_DELIM_NAMES.get(self.delimiter, repr(self.delimiter))}",
                 f"decimal {self.decimal!r}"]
        if self.header_rows:
            parts.append(f"{self.header_rows} row(s) below the header skipped")
        if self.platform:
            parts.append(f"{self.platform} export")
        return ", ".join(parts)


def open_binary(path: str):
    """The file's bytes (gzip-decompressed for ``.gz``)."""
    return gzip.open(path, "rb") if path.lower().endswith(".gz") else open(path, "rb")


def sniff(path: str, *, encoding: str | None = None, delimiter: str | None = None, decimal: str | None = None,
          header_rows: int | None = None, default_delimiter: str | None = None) -> Dialect:
    """Decide the dialect of ``path`` from its first :data:`SAMPLE_BYTES` and the user's options.

    Raises :class:`BatchError` (one line, naming the option to give) when the file cannot be read
    safely: an undecodable header, an empty file, or one column whose header holds ``;`` or a tab.
    """
    d = Dialect(compressed=path.lower().endswith(".gz"))
    try:
        with open_binary(path) as fh:
            sample = fh.read(SAMPLE_BYTES)
    except (OSError, EOFError) as exc:
        raise BatchError(f"{path}: cannot read it: {getattr(exc, 'strerror', None) or exc}") from None
    d.encoding = _encoding(path, sample, encoding, d.notes)
    text = _decode_sample(path, sample, d.encoding)
    records = _first_records(text, None)
    if not records:
        raise BatchError(f"{path}: the file is empty (no header line)")
    header_line = text.split("\n", 1)[0]
    if delimiter is not None:
        if delimiter in ("\\t", "tab", "TAB"):
            delimiter = "\t"
        if len(delimiter) != 1:
            raise BatchError(f"--delimiter must be one character (or 'tab'), got {delimiter!r}")
        d.delimiter = delimiter
    elif default_delimiter is not None:
        d.delimiter = default_delimiter
    else:
        d.delimiter = _guess_delimiter(header_line)
        if d.delimiter != ",":
            d.notes.append(f"delimiter {_DELIM_NAMES[d.delimiter]} (guessed from the header; give --delimiter to override)")
    records = _first_records(text, d.delimiter)
    header = records[0]
    if len(header) == 1 and delimiter is None and re.search(r"[;\t|]", header[0]):
        raise BatchError(f"{path}: the header reads as one column but holds a ';' or a tab: give --delimiter "
                         "(e.g. --delimiter ';' or --delimiter tab)")
    if decimal is not None:
        if decimal not in (".", ","):
            raise BatchError(f"--decimal must be '.' or ',', got {decimal!r}")
        d.decimal = decimal
    elif d.delimiter == ";":
        d.decimal = ","
        d.notes.append("decimal ',' (guessed: ';'-separated files come from locales with decimal commas; give --decimal to override)")
    d.names = [h.strip("\ufeff") for h in header]
    _header_rows(d, records, header_rows)
    return d


def _encoding(path: str, sample: bytes, given: str | None, notes: list[str]) -> str:
    if given is not None:
        try:
            return codecs.lookup(given).name
        except LookupError:
            raise BatchError(f"--encoding {given!r} is not an encoding Python knows (e.g. utf-8, cp1252, latin-1, utf-16)") from None
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8"  # the reader drops the BOM
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        notes.append("encoding UTF-16 (from its byte-order mark)")
        return "utf-16"
    head = sample[:4096]
    if len(head) >= 4 and head.count(0) >= len(head) // 4:  # text with every other byte zero
        enc = "utf-16-le" if head[1] == 0 else "utf-16-be"
        notes.append(f"encoding {enc} (guessed from zero bytes; give --encoding to override)")
        return enc
    return "utf-8"


def _decode_sample(path: str, sample: bytes, encoding: str) -> str:
    if encoding.replace("_", "-").startswith("utf-8"):
        first_line = sample.split(b"\n", 1)[0]
        try:
            first_line.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            byte = first_line[exc.start:exc.start + 1].hex()
            raise BatchError(f"{path}: the header is not UTF-8 (byte 0x{byte} at position {exc.start}); give --encoding, "
                             "e.g. --encoding cp1252 for Excel on Windows, or --encoding latin-1") from None
        return sample.decode("utf-8-sig", errors="replace")
    try:
        return sample.decode(encoding, errors="replace").lstrip("\ufeff")
    except UnicodeError as exc:  # e.g. an odd number of bytes in UTF-16 (a cut sample)
        raise BatchError(f"{path}: cannot decode it as {encoding}: {exc}") from None


def _guess_delimiter(header_line: str) -> str:
    counts = dict.fromkeys(CANDIDATE_DELIMITERS, 0)
    quoted = False
    for ch in header_line:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(CANDIDATE_DELIMITERS, key=lambda c: (counts[c], c == ","))
    return best if counts[best] else ","


def _first_records(text: str, delimiter: str | None, n: int = 4) -> list[list[str]]:
    if delimiter is None:
        line = text.split("\n", 1)[0]
        return [[line]] if line.strip() else []
    text = text.rsplit("\n", 1)[0] if text.count("\n") > n + 1 else text  # drop a cut last line
    out = []
    for rec in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter):
        if rec:
            out.append(rec)
        if len(out) >= n:
            break
    return out


def _is_import_id(cell: str) -> bool:
    cell = cell.strip()
    if not cell.startswith("{"):
        return False
    try:
        return "ImportId" in json.loads(cell)
    except ValueError:
        return False


def _header_rows(d: Dialect, records: list[list[str]], given: int | None) -> None:
    """Recognise Qualtrics (ImportId row) and SurveyMonkey (question + option rows) exports."""
    second = records[1] if len(records) > 1 else []
    third = records[2] if len(records) > 2 else []
    if third and sum(_is_import_id(c) for c in third) >= max(1, len(third) // 2):
        d.platform = "Qualtrics"
        d.questions = {n: q for n, q in zip(d.names, second, strict=False) if q.strip()}
        if given is None:
            d.header_rows = 2
            d.notes.append("Qualtrics export recognised by its ImportId row: the question-text and ImportId rows are not data")
    elif second and any(n.strip().lower() == "respondent id" for n in d.names) and \
            any(c.strip().lower() in SURVEYMONKEY_SECOND_ROW for c in second):
        d.platform = "SurveyMonkey"
        if given is None:
            d.header_rows = 1
            d.notes.append("SurveyMonkey export recognised (question row, then option row): column names are "
                           "'question - option' for multi-column questions")
        d.names, d.questions = _surveymonkey_names(d.names, second)
    if given is not None:
        if given < 0:
            raise BatchError(f"--header-rows must be 0 or more, got {given}")
        d.header_rows = given


def _surveymonkey_names(first: list[str], second: list[str]) -> tuple[list[str], dict[str, str]]:
    names, questions = [], {}
    question = ""
    for i, q in enumerate(first):
        if q.strip():
            question = q.strip()
        option = second[i].strip() if i < len(second) else ""
        if not option or option.lower() in SURVEYMONKEY_SECOND_ROW:
            name = question if q.strip() else f"{question} - {option or i}"
        else:
            name = f"{question} - {option}"
        names.append(name)
        questions[name] = question
    return names, questions
