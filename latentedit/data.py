"""Read training / input texts from .txt, .csv, .tsv or .jsonl files.

>>> import tempfile, pathlib
>>> p = pathlib.Path(tempfile.mkdtemp()) / "reviews.jsonl"
>>> _ = p.write_text('{"text": "great food !"}\\n\\n{"text": " slow service . "}\\n')
>>> read_texts(p, column="text")
['great food !', 'slow service .']
>>> read_texts(SAMPLE_REVIEWS, column="text")[:1]
['ok never going back to this place again .']
"""

import csv
import json
import os
from pathlib import Path
from typing import Iterator

from .errors import DataFormatError
from .validation import check_choice, check_path, check_str

#: 400 short Yelp sentences (200 negative, 200 positive); columns ``text`` and ``label``.
SAMPLE_REVIEWS = Path(__file__).with_name("samples") / "sample_reviews.tsv"

_FORMATS = ("txt", "csv", "tsv", "jsonl")


def read_texts(path, column: str | None = None, *, format: str | None = None) -> list[str]:
    """Return all non-empty, whitespace-stripped examples in ``path`` as a list.

    ``format`` is one of ``txt`` (one example per line), ``csv`` (RFC 4180 quoting),
    ``tsv`` (tab-separated, no quoting) or ``jsonl``; by default it comes from the file
    extension (unknown extensions read as ``txt``). ``column`` names the header column
    (csv/tsv) or object key (jsonl) holding the text; it is required for those formats.
    Raises :class:`DataFormatError` naming the file and 1-based line on any bad input.
    """
    return list(iter_texts(path, column, format=format))


def iter_texts(path, column: str | None = None, *, format: str | None = None) -> Iterator[str]:
    """Like :func:`read_texts` but yield examples one at a time, in constant memory.

    The path and arguments are checked at call time; the file is read while iterating.
    """
    path = checked_path(path)
    fmt = _format(path, format)
    if fmt == "txt":
        if column is not None:
            raise DataFormatError(
                f"{path}: column={column!r} given, but the file is read as plain text "
                "(one example per line); pass format='csv', 'tsv' or 'jsonl'"
            )
        return (text for _, text in iter_lines(path) if text)
    return _texts_of_records(path, column, fmt)


def _texts_of_records(path: Path, column: str | None, fmt: str) -> Iterator[str]:
    for n, record in iter_records(path, (column,), format=fmt):
        value = record[column]
        if not isinstance(value, str):
            kind = "null" if value is None else type(value).__name__
            raise DataFormatError(f"{path}:{n}: value of {column!r} must be a string, got {kind}")
        if text := value.strip():
            yield text


def iter_lines(path) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, stripped_line)`` for every line of a UTF-8 text file, empty ones
    included (for outputs that must stay line-aligned with their input)."""
    path = checked_path(path)
    with open(path, "rb") as f:
        for n, line in _lines(path, f):
            yield n, line.strip()


def iter_records(path, columns: tuple[str | None, ...], *, format: str | None = None) -> Iterator[tuple[int, dict]]:
    """Yield ``(line_number, record)`` of a CSV/TSV (header row) or JSONL file; every name in
    ``columns`` must exist (the error lists the available ones). Blank lines are skipped."""
    path = checked_path(path)
    fmt = _format(path, format)
    for column in columns:
        if column is not None:
            check_str("column", column)
    if fmt == "txt":
        raise DataFormatError(f"{path}: records with named columns are read from a .csv, .tsv or .jsonl file")
    return _jsonl_records(path, columns) if fmt == "jsonl" else _table_records(path, columns, fmt)


def checked_path(path) -> Path:
    """The path of an existing, readable regular file, or a DataFormatError saying what is wrong."""
    path = check_path("path", path, DataFormatError)
    if path.is_dir():
        raise DataFormatError(f"{path}: is a directory, expected a text file")
    if not path.is_file():
        raise DataFormatError(f"{path}: file not found")
    if not os.access(path, os.R_OK):
        raise DataFormatError(f"{path}: cannot read (permission denied)")
    return path


def _format(path: Path, format: str | None) -> str:
    if format is not None:
        return check_choice("format", format.lower() if isinstance(format, str) else format, _FORMATS)
    fmt = path.suffix.lower().lstrip(".")
    return fmt if fmt in _FORMATS else "txt"


def _lines(path: Path, f) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, decoded_line)`` keeping line endings; fail on bad UTF-8."""
    for n, raw in enumerate(f, 1):
        try:
            yield n, raw.decode("utf-8-sig" if n == 1 else "utf-8")
        except UnicodeDecodeError as e:
            raise DataFormatError(f"{path}:{n}: not valid UTF-8 ({e.reason} at byte {e.start + 1} of the line)") from None


def _table_records(path: Path, columns: tuple[str, ...], fmt: str) -> Iterator[tuple[int, dict]]:
    with open(path, "rb") as f:
        lines = (line for _, line in _lines(path, f))
        tsv = {"delimiter": "\t", "quoting": csv.QUOTE_NONE} if fmt == "tsv" else {}
        rows = csv.reader(lines, **tsv)  # rows.line_num = physical lines read so far
        start = 1  # first line of the record being parsed (records may span lines)
        try:
            header = [h.strip() for h in next(rows, [])]
            if not header:
                raise DataFormatError(f"{path}: file is empty, expected a header row")
            for column in columns:
                if column not in header:
                    what = f"no column {column!r}" if column else f"a column name is required for {fmt.upper()}"
                    raise DataFormatError(f"{path}:1: {what}; available columns: {', '.join(map(repr, header))}")
            start = rows.line_num + 1
            for row in rows:
                if any(field.strip() for field in row):
                    if len(row) != len(header):
                        raise DataFormatError(
                            f"{path}:{start}: expected {len(header)} fields like the header, got {len(row)}"
                        )
                    yield start, dict(zip(header, row))
                start = rows.line_num + 1
        except csv.Error as e:
            raise DataFormatError(f"{path}:{start}: malformed {fmt.upper()} row ({e})") from None


def _jsonl_records(path: Path, columns: tuple[str, ...]) -> Iterator[tuple[int, dict]]:
    with open(path, "rb") as f:
        for n, line in _lines(path, f):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                raise DataFormatError(f"{path}:{n}: not valid JSON ({e.msg})") from None
            if not isinstance(record, dict):
                raise DataFormatError(f"{path}:{n}: expected a JSON object, got {type(record).__name__}")
            for column in columns:
                if column not in record:
                    what = f"no key {column!r}" if column else "a column (key) name is required for JSONL"
                    raise DataFormatError(f"{path}:{n}: {what}; available keys: {', '.join(map(repr, record)) or 'none'}")
            yield n, record
