"""The Python-lines corpus builder: selection rules on a made-up standard library, determinism on a
slice of the real one."""

import json

import pytest

from latentedit.python_lines import (
    build_extra_training,
    build_python_lines,
    main,
    parses_as_python,
    source_files,
    split_of,
    statement_kinds,
    stdlib_path,
)

MODULE = '''"""Module docstring."""
import os
x
1
...
os.sep
y = compute(1, 2)  # a trailing comment is not part of the statement
if y: z = 2
a = 1; b = 2
total = sum(
    values)
tab = "a\tb"
odd = "\x0c"
long_name_statement = "this statement is far longer than the limit of sixty characters"


def f(value):
    """Function docstring."""
    value
    if value > 1:
        return value * 2
    elif value: value = 3
    pass
    return value


class C:
    size = 4
    'a bare string'
'''


@pytest.fixture
def fake_stdlib(tmp_path):
    root = tmp_path / "stdlib"
    (root / "pkg" / "tests").mkdir(parents=True)
    (root / "test").mkdir()
    (root / "idlelib" / "idle_test").mkdir(parents=True)
    (root / "site-packages" / "thirdparty").mkdir(parents=True)
    (root / "mod.py").write_text(MODULE)
    (root / "pkg" / "__init__.py").write_text("from .core import run\n")
    (root / "pkg" / "tests" / "check.py").write_text("in_tests_dir = 1\n")
    (root / "test" / "support.py").write_text("in_test_dir = 1\n")
    (root / "idlelib" / "idle_test" / "t.py").write_text("in_idle_test = 1\n")
    (root / "site-packages" / "thirdparty" / "m.py").write_text("third_party = 1\n")
    (root / "test_top.py").write_text("test_file = 1\n")
    (root / "broken.py").write_text("def broken(:\n    pass\n")
    (root / "latin.py").write_bytes(b"# -*- coding: latin-1 -*-\nname = '\xe9t\xe9'\n")
    (root / "notes.txt").write_text("not_python = 1\n")
    return root


def read_all(folder):
    return {name: (folder / f"{name}.txt").read_text(encoding="utf-8").splitlines() for name in ("train", "valid", "test")}


def test_selection_rules(fake_stdlib, tmp_path):
    counts = build_python_lines(tmp_path / "out", max_chars=60, stdlib=fake_stdlib)
    parts = read_all(tmp_path / "out")
    lines = [line for part in parts.values() for line in part]
    expected = {"import os", "y = compute(1, 2)", "if y: z = 2", "z = 2", "a = 1", "b = 2", "pass",
                "return value * 2", "return value", "value = 3", "size = 4", "from .core import run", "name = 'été'"}
    assert sorted(lines) == sorted(expected)  # each once; multi-line statements (def, class, total = ...) left out
    assert counts["files"] == 3 and counts["skipped_files"] == 1  # mod, pkg/__init__, latin; broken is skipped
    assert counts["excluded_bare"] == 8  # docstrings x3, x, 1, ..., os.sep, value
    assert counts["excluded_long"] == 1 and counts["excluded_unprintable"] == 2  # tab, form feed
    assert counts["excluded_unparsable"] == 1  # "elif value: value = 3" starts with elif
    assert counts["distinct"] == len(expected) == counts["train"] + counts["valid"] + counts["test"]
    info = json.loads((tmp_path / "out" / "python_lines.json").read_text())
    assert info["counts"] == counts and info["max_chars"] == 60
    for name, part in parts.items():
        assert all(split_of(line, 0.05, 0.05) == name for line in part)


def test_roots_limit_the_corpus_and_missing_roots_fail(fake_stdlib, tmp_path):
    counts = build_python_lines(tmp_path / "pkg", roots=["pkg"], stdlib=fake_stdlib, valid_fraction=0, test_fraction=0)
    assert read_all(tmp_path / "pkg") == {"train": ["from .core import run"], "valid": [], "test": []}
    assert counts["files"] == 1
    with pytest.raises(FileNotFoundError):
        build_python_lines(tmp_path / "none", roots=["nowhere"], stdlib=fake_stdlib)
    with pytest.raises(ValueError):
        build_python_lines(tmp_path / "none", max_chars=0, stdlib=fake_stdlib)


def test_extra_training_lines_never_hold_a_held_out_statement(fake_stdlib, tmp_path):
    build_python_lines(tmp_path / "out", max_chars=60, stdlib=fake_stdlib, valid_fraction=0.3, test_fraction=0.3)
    parts = read_all(tmp_path / "out")
    assert parts["train"] and parts["valid"] + parts["test"]
    fresh = [f"extra_{i} = run({i})" for i in range(40)]
    extra = tmp_path / "site-packages" / "lib"
    extra.mkdir(parents=True)
    (extra / "a.py").write_text("\n".join(fresh + parts["train"] + parts["valid"] + parts["test"]) + "\n")
    (extra / "tests").mkdir()
    (extra / "tests" / "t.py").write_text("in_tests = 1\n")
    counts = build_extra_training(tmp_path / "out", tmp_path / "site-packages", stdlib_repeats=2)
    lines = (tmp_path / "out" / "train_extra.txt").read_text(encoding="utf-8").splitlines()
    kept = [t for t in fresh if split_of(t, 0.3, 0.3) == "train"]
    assert 0 < len(kept) < len(fresh)  # the hash sends the rest to held-out splits: they are dropped
    assert lines[: 2 * len(parts["train"])] == parts["train"] * 2
    assert sorted(lines[2 * len(parts["train"]):]) == sorted(kept)
    assert counts["extra"] == len(kept) and counts["lines"] == len(lines)
    assert not set(lines) & set(parts["valid"] + parts["test"])
    info = json.loads((tmp_path / "out" / "train_extra.json").read_text())
    assert info["counts"] == counts
    with pytest.raises(ValueError):
        build_extra_training(tmp_path / "out", tmp_path / "site-packages", stdlib_repeats=0)
    with pytest.raises(FileNotFoundError, match="build the corpus first"):
        build_extra_training(tmp_path / "nowhere", tmp_path / "site-packages")


def test_deterministic_on_a_slice_of_the_real_stdlib(tmp_path, capsys):
    first = build_python_lines(tmp_path / "a", max_chars=64, roots=["json", "email/utils.py"])
    assert main([str(tmp_path / "b"), "--max-chars", "64", "--roots", "json", "email/utils.py"]) == 0
    assert json.loads(capsys.readouterr().out) == first
    for name in ("train.txt", "valid.txt", "test.txt", "python_lines.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    parts = read_all(tmp_path / "a")
    lines = [line for part in parts.values() for line in part]
    assert first["distinct"] == len(lines) == len(set(lines)) > 100
    assert first["valid"] > 0 and first["test"] > 0 and first["train"] > 10 * first["valid"]
    assert all(parses_as_python(line) and len(line) <= 64 for line in lines)
    assert not {"__all__", "json", "None"} & set(lines)  # bare names never appear


def test_real_test_folders_are_skipped():
    stdlib = stdlib_path()
    if not (stdlib / "unittest" / "test").is_dir():
        pytest.skip("this Python ships without unittest/test")
    files = [p.relative_to(stdlib) for p in source_files(stdlib, ["unittest"])]
    assert files and all(p.parts[0] == "unittest" and "test" not in p.parts[1:-1] for p in files)
    assert any(p.name == "case.py" for p in files)


def test_parses_as_python():
    assert parses_as_python("return x") and parses_as_python("x = '\\d'")  # only the parser runs
    assert not parses_as_python("") and not parses_as_python("x = (") and not parses_as_python("a\0b")


def test_statement_kinds_label_the_probe():
    lines = ["x = 1", "y = f(x)", "return x", "f(x)", "import os", "x = = 1"]
    assert statement_kinds(lines, rare=1) == ["Assign", "Assign", "Return", "Expr", "Import", "invalid"]
    assert statement_kinds(lines, rare=2) == ["Assign", "Assign", "other", "other", "other", "invalid"]
