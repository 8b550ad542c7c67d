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

from .errors import DataFormatError, InputError

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
    path = Path(os.fspath(path))
    fmt = format.lower() if format else path.suffix.lower().lstrip(".")
    if format and fmt not in _FORMATS:
        raise InputError(f"format must be one of {', '.join(_FORMATS)}; got {format!r}")
    fmt = fmt if fmt in _FORMATS else "txt"
    if path.is_dir():
        raise DataFormatError(f"{path}: is a directory, expected a text file")
    if not path.is_file():
        raise DataFormatError(f"{path}: file not found")
    if fmt == "txt" and column is not None:
        raise DataFormatError(
            f"{path}: column={column!r} given, but the file is read as plain text "
            "(one example per line); pass format='csv', 'tsv' or 'jsonl'"
        )
    reader = {"txt": _iter_txt, "csv": _iter_table, "tsv": _iter_table, "jsonl": _iter_jsonl}[fmt]
    return reader(path, column, fmt)


def _lines(path: Path, f) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, decoded_line)`` keeping line endings; fail on bad UTF-8."""
    for n, raw in enumerate(f, 1):
        try:
            yield n, raw.decode("utf-8-sig" if n == 1 else "utf-8")
        except UnicodeDecodeError as e:
            raise DataFormatError(f"{path}:{n}: not valid UTF-8 ({e.reason} at byte {e.start + 1} of the line)") from None


def _iter_txt(path: Path, column, fmt) -> Iterator[str]:
    with open(path, "rb") as f:
        for _, line in _lines(path, f):
            if text := line.strip():
                yield text


def _iter_table(path: Path, column: str | None, fmt: str) -> Iterator[str]:
    with open(path, "rb") as f:
        lines = (line for _, line in _lines(path, f))
        tsv = {"delimiter": "\t", "quoting": csv.QUOTE_NONE} if fmt == "tsv" else {}
        rows = csv.reader(lines, **tsv)  # rows.line_num = physical lines read so far
        start = 1  # first line of the record being parsed (records may span lines)
        try:
            header = [h.strip() for h in next(rows, [])]
            if not header:
                raise DataFormatError(f"{path}: file is empty, expected a header row")
            if column not in header:
                what = f"no column {column!r}" if column else f"a column name is required for {fmt.upper()}"
                raise DataFormatError(f"{path}:1: {what}; available columns: {', '.join(map(repr, header))}")
            index = header.index(column)
            start = rows.line_num + 1
            for row in rows:
                if any(field.strip() for field in row):
                    if len(row) != len(header):
                        raise DataFormatError(
                            f"{path}:{start}: expected {len(header)} fields like the header, got {len(row)}"
                        )
                    if text := row[index].strip():
                        yield text
                start = rows.line_num + 1
        except csv.Error as e:
            raise DataFormatError(f"{path}:{start}: malformed {fmt.upper()} row ({e})") from None


def _iter_jsonl(path: Path, column: str | None, fmt) -> Iterator[str]:
    with open(path, "rb") as f:
        for n, line in _lines(path, f):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise DataFormatError(f"{path}:{n}: not valid JSON ({e.msg})") from None
            if not isinstance(obj, dict):
                raise DataFormatError(f"{path}:{n}: expected a JSON object, got {type(obj).__name__}")
            if column not in obj:
                what = f"no key {column!r}" if column else "a column (key) name is required for JSONL"
                raise DataFormatError(f"{path}:{n}: {what}; available keys: {', '.join(map(repr, obj)) or 'none'}")
            value = obj[column]
            if not isinstance(value, str):
                kind = "null" if value is None else type(value).__name__
                raise DataFormatError(f"{path}:{n}: value of {column!r} must be a string, got {kind}")
            if text := value.strip():
                yield text
