"""A corpus of single-line Python statements taken from the standard library on this machine.

    python -m latentedit.python_lines data/python_lines            # train.txt, valid.txt, test.txt
    python -m latentedit.python_lines OUT --max-chars 64 --roots json email
    python -m latentedit.python_lines OUT --extra-root .venv/lib/python3.11/site-packages  # + train_extra.txt

The Python-lines benchmark of the seed Transformer-VAE (interpolations judged by ``ast.parse``)
needs short, self-contained statements. What is kept, precisely:

* **Files**: every ``*.py`` file under ``sysconfig.get_paths()["stdlib"]`` (or under the given
  ``roots``, folders or files relative to it), read in sorted order. Skipped: any file below a
  folder named ``test``, ``tests``, ``idle_test``, ``__pycache__``, ``site-packages`` or
  ``dist-packages``, and files named ``test_*.py``, ``*_test.py`` or ``conftest.py``. Files that
  cannot be decoded (their coding cookie is honoured) or parsed by this Python are skipped and
  counted.
* **Statements**: every :class:`ast.stmt` node at any depth (module level, in functions, classes,
  loop bodies, ...) whose first and last line are the same line. Its text is the exact source
  segment (as ``ast.get_source_segment`` gives it: no indentation, no trailing comment; one of several
  statements joined by ``;`` comes alone). A one-line compound statement (``if x: return y``) is
  kept whole, and its inner statement (``return y``) separately.
* **Excluded**: expression statements that only name something, whose value is a constant
  (docstrings, ``1``, ``...``), a bare name (``x``) or a dotted name (``os.sep``); texts longer
  than ``max_chars`` characters; texts with a character that is not printable (tabs, control
  characters, line or paragraph separators inside string literals; they would break the
  one-line-per-example files); texts that ``ast.parse`` refuses on their own (the segment of a
  one-line ``elif`` branch starts with ``elif``). ``pass``, ``break``, ``return x``, ``yield x``
  and the like are kept: ``ast.parse`` accepts them alone, although ``compile`` would refuse some
  outside a function.
* **Distinct**: each text once, however often it occurs.
* **Split**: by hash, not by file: SHA-256 of the UTF-8 text, its first 8 bytes as a number in
  [0, 1); below ``valid_fraction`` -> valid, below ``valid_fraction + test_fraction`` -> test,
  otherwise train. Each file is ordered by that hash (a fixed shuffle). The same Python
  installation therefore gives byte-identical files, and a statement keeps its split when the
  corpus grows (e.g. with another ``max_chars``).

>>> parses_as_python("x = foo(1, 2)"), parses_as_python("x = = 1"), parses_as_python("  ")
(True, False, False)
>>> is_bare_expression(ast.parse("os.sep").body[0]), is_bare_expression(ast.parse("f(x)").body[0])
(True, False)
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import re
import sys
import sysconfig
import tokenize
import warnings
from collections import Counter
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from .model_folder import atomic_file

_LINE_ENDS = re.compile(r"\r\n|\r|\n")
EXCLUDED_DIRS = frozenset({"test", "tests", "idle_test", "__pycache__", "site-packages", "dist-packages"})
SPLITS = ("train", "valid", "test")


def parses_as_python(text: str) -> bool:
    """True when ``text`` is non-empty (not only whitespace) and ``ast.parse`` accepts it.

    Only the parser runs: ``return x`` outside a function counts as valid, as in the seed
    model's evaluation. Warnings (e.g. invalid escape sequences) are silenced.
    """
    if not text.strip():
        return False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError):
        return False
    return True


def is_bare_expression(node: ast.stmt) -> bool:
    """An expression statement that only names something: a constant (docstrings included), a name
    or a dotted name."""
    if not isinstance(node, ast.Expr):
        return False
    value = node.value
    while isinstance(value, ast.Attribute):
        value = value.value
    return isinstance(value, (ast.Constant, ast.Name))


def stdlib_path() -> Path:
    return Path(sysconfig.get_paths()["stdlib"])


def source_files(stdlib: Path, roots: Sequence[str] | None = None) -> list[Path]:
    """The ``.py`` files to read, sorted by their path relative to ``stdlib``."""
    tops = [stdlib / root for root in roots] if roots else [stdlib]
    found: set[Path] = set()
    for top in tops:
        if not top.exists():
            raise FileNotFoundError(f"{top}: no such file or folder in the standard library")
        candidates: Iterable[Path] = [top] if top.is_file() else top.rglob("*.py")
        for path in candidates:
            relative = path.relative_to(stdlib)
            if path.suffix != ".py" or not path.is_file() or _excluded(relative):
                continue
            found.add(path)
    return sorted(found, key=lambda p: p.relative_to(stdlib).as_posix())


def _excluded(relative: Path) -> bool:
    name = relative.name
    if any(part in EXCLUDED_DIRS for part in relative.parts[:-1]):
        return True
    return name.startswith("test_") or name.endswith("_test.py") or name == "conftest.py"


def parse_file(path: Path) -> tuple[str, ast.Module] | None:
    """A file's source and syntax tree; None when it cannot be read or parsed."""
    try:
        with tokenize.open(path) as stream:  # honours the coding cookie and a BOM
            source = stream.read()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(source, filename=str(path))
    except (SyntaxError, UnicodeDecodeError, ValueError, RecursionError, MemoryError, OSError):
        return None
    return source, tree


def single_line_statements(source: str, tree: ast.AST, max_chars: int, counts: dict) -> Iterator[str]:
    """Texts of the one-line statements of a parsed file that pass the filters (see the module doc)."""
    lines = _LINE_ENDS.split(source)  # numbered as the parser numbers them (not str.splitlines)
    for node in ast.walk(tree):
        if not isinstance(node, ast.stmt) or node.lineno != node.end_lineno:
            continue
        counts["statements"] += 1
        if is_bare_expression(node):
            counts["excluded_bare"] += 1
            continue
        # ast.get_source_segment(source, node), without re-splitting the file for every node;
        # column offsets count UTF-8 bytes
        line = lines[node.lineno - 1].encode("utf-8")
        text = line[node.col_offset : node.end_col_offset].decode("utf-8").strip()
        if len(text) > max_chars:
            counts["excluded_long"] += 1
        elif not text.isprintable():
            counts["excluded_unprintable"] += 1
        elif not parses_as_python(text):
            counts["excluded_unparsable"] += 1
        else:
            yield text


def statement_kinds(lines: Sequence[str], rare: int = 20) -> list[str]:
    """The kind of each line's statement (its ``ast`` class name: Assign, Return, Expr, ...), the
    label of the Python-lines probe; kinds seen fewer than ``rare`` times in ``lines`` become "other",
    and a line that does not parse is "invalid".

    >>> statement_kinds(["x = 1", "y = 2", "return x", "x = = 1"], rare=2)
    ['Assign', 'Assign', 'other', 'invalid']
    """
    kinds = [type(ast.parse(line).body[0]).__name__ if parses_as_python(line) else "invalid" for line in lines]
    counts = Counter(kinds)
    return [k if k == "invalid" or counts[k] >= rare else "other" for k in kinds]


def split_of(text: str, valid_fraction: float, test_fraction: float) -> str:
    """"train", "valid" or "test", a pure function of the text."""
    position = _hash_key(text) / 2.0**64
    if position < valid_fraction:
        return "valid"
    if position < valid_fraction + test_fraction:
        return "test"
    return "train"


def _hash_key(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


def collect_lines(stdlib: Path | None = None, roots: Sequence[str] | None = None, max_chars: int = 80) -> tuple[set[str], dict]:
    """The distinct statements (see the module doc) and counts of what was seen and dropped."""
    if isinstance(max_chars, bool) or not isinstance(max_chars, int) or max_chars < 1:
        raise ValueError(f"max_chars must be a positive integer, got {max_chars!r}")
    stdlib = Path(stdlib) if stdlib is not None else stdlib_path()
    counts = dict(files=0, skipped_files=0, statements=0, excluded_bare=0, excluded_long=0,
                  excluded_unprintable=0, excluded_unparsable=0)
    lines: set[str] = set()
    for path in source_files(stdlib, roots):
        parsed = parse_file(path)
        if parsed is None:
            counts["skipped_files"] += 1
            continue
        counts["files"] += 1
        lines.update(single_line_statements(*parsed, max_chars=max_chars, counts=counts))
    counts["distinct"] = len(lines)
    return lines, counts


def build_python_lines(out_dir: str | Path, max_chars: int = 80, roots: Sequence[str] | None = None,
                       valid_fraction: float = 0.05, test_fraction: float = 0.05,
                       stdlib: str | Path | None = None) -> dict:
    """Write ``train.txt``, ``valid.txt``, ``test.txt`` (one statement per line, UTF-8) and
    ``python_lines.json`` (options and counts) into ``out_dir``; returns the counts.

    ``roots`` limits the corpus to some folders or files of the standard library (relative paths,
    e.g. ``["json", "email/utils.py"]``); ``stdlib`` replaces the standard library folder (tests).
    Every file is written atomically.
    """
    if not (0 <= valid_fraction and 0 <= test_fraction and valid_fraction + test_fraction < 1):
        raise ValueError("valid_fraction and test_fraction must be >= 0 and sum to less than 1")
    lines, counts = collect_lines(stdlib, roots, max_chars)
    parts: dict[str, list[str]] = {name: [] for name in SPLITS}
    for text in sorted(lines, key=lambda t: (_hash_key(t), t)):
        parts[split_of(text, valid_fraction, test_fraction)].append(text)
    out = Path(out_dir)
    for name in SPLITS:
        with atomic_file(out / f"{name}.txt") as stream:
            stream.write("".join(line + "\n" for line in parts[name]))
        counts[name] = len(parts[name])
    info = {
        "source": "single-line statements of the Python standard library (latentedit.python_lines)",
        "python": sys.version.split()[0], "stdlib": str(Path(stdlib) if stdlib is not None else stdlib_path()),
        "roots": list(roots) if roots else None, "max_chars": max_chars,
        "valid_fraction": valid_fraction, "test_fraction": test_fraction, "counts": counts,
    }
    with atomic_file(out / "python_lines.json") as stream:
        stream.write(json.dumps(info, indent=2) + "\n")
    return counts


def build_extra_training(corpus_dir: str | Path, extra_root: str | Path, stdlib_repeats: int = 3,
                         max_chars: int = 80) -> dict:
    """Write ``train_extra.txt`` into a built corpus: its train split ``stdlib_repeats`` times, plus the
    statements of another tree of Python files (``extra_root``, e.g. a ``site-packages`` folder; same
    filters as the standard library's) that the hash puts in the train split and that the corpus
    does not hold, so no held-out statement is trained on. More lines of code to learn from than
    the standard library's ~53,000; the valid and test splits stay the standard library's. Writes
    ``train_extra.json`` (counts, the distributions found) too; returns the counts.
    """
    if isinstance(stdlib_repeats, bool) or not isinstance(stdlib_repeats, int) or stdlib_repeats < 1:
        raise ValueError(f"stdlib_repeats must be a positive integer, got {stdlib_repeats!r}")
    corpus, root = Path(corpus_dir), Path(extra_root)
    info_path = corpus / "python_lines.json"
    if not info_path.exists():
        raise FileNotFoundError(f"{info_path}: build the corpus first (python -m latentedit.python_lines {corpus})")
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such folder")
    info = json.loads(info_path.read_text(encoding="utf-8"))
    parts = {name: (corpus / f"{name}.txt").read_text(encoding="utf-8").splitlines() for name in SPLITS}
    known = set().union(*parts.values())
    found, counts = collect_lines(root, None, max_chars)
    extra = sorted((t for t in found if t not in known
                    and split_of(t, info["valid_fraction"], info["test_fraction"]) == "train"),
                   key=lambda t: (_hash_key(t), t))
    lines = parts["train"] * stdlib_repeats + extra
    with atomic_file(corpus / "train_extra.txt") as stream:
        stream.write("".join(line + "\n" for line in lines))
    counts.update(stdlib_train=len(parts["train"]), stdlib_repeats=stdlib_repeats, extra=len(extra), lines=len(lines))
    record = {"extra_root": str(root), "max_chars": max_chars, "counts": counts,
              "distributions": sorted(p.name.removesuffix(".dist-info") for p in root.glob("*.dist-info"))}
    with atomic_file(corpus / "train_extra.json") as stream:
        stream.write(json.dumps(record, indent=2) + "\n")
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m latentedit.python_lines",
                                     description="Build a corpus of single-line Python statements from the standard library.")
    parser.add_argument("out", help="output folder (train.txt, valid.txt, test.txt, python_lines.json)")
    parser.add_argument("--max-chars", type=int, default=80, help="longest statement kept (default: %(default)s)")
    parser.add_argument("--roots", nargs="+", metavar="PATH", help="only these stdlib folders/files (relative paths)")
    parser.add_argument("--valid-fraction", type=float, default=0.05)
    parser.add_argument("--test-fraction", type=float, default=0.05)
    parser.add_argument("--extra-root", metavar="DIR",
                        help="then also write train_extra.txt: the train split plus this tree's statements (e.g. site-packages)")
    parser.add_argument("--stdlib-repeats", type=int, default=3, help="copies of the train split in train_extra.txt")
    args = parser.parse_args(argv)
    try:
        counts = build_python_lines(args.out, args.max_chars, args.roots, args.valid_fraction, args.test_fraction)
        if args.extra_root:
            counts["train_extra"] = build_extra_training(args.out, args.extra_root, args.stdlib_repeats, args.max_chars)
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(json.dumps(counts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
