import doctest
import types

import pytest

import latentedit.data
from latentedit.data import SAMPLE_REVIEWS, iter_texts, read_texts
from latentedit.errors import DataFormatError, InputError


def write(tmp_path, name, content):
    p = tmp_path / name
    (p.write_bytes if isinstance(content, bytes) else p.write_text)(content)
    return p


def test_docstring_example_runs():
    assert doctest.testmod(latentedit.data).failed == 0


def test_txt_skips_empty_lines_and_strips(tmp_path):
    p = write(tmp_path, "a.txt", "first line\r\n\n   \n  keep  inner  space \nlast")
    assert read_texts(p) == ["first line", "keep  inner  space", "last"]


def test_unknown_extension_reads_as_txt(tmp_path):
    assert read_texts(write(tmp_path, "a.log", "x\ny\n")) == ["x", "y"]


def test_csv_named_column_with_quoting(tmp_path):
    p = write(tmp_path, "a.csv", 'id,text\n1,hello world\n2,"a, quoted\nfield"\n3,\n\n4,  last \n')
    assert read_texts(p, column="text") == ["hello world", "a, quoted\nfield", "last"]


def test_tsv_named_column(tmp_path):
    p = write(tmp_path, "a.tsv", 'label\ttext\n0\tsays "hi" here\n1\tbye\n')
    assert read_texts(p, "text") == ['says "hi" here', "bye"]


def test_jsonl_named_column(tmp_path):
    p = write(tmp_path, "a.jsonl", '{"text": "one", "y": 1}\n\n{"text": "  "}\n{"text": "two"}\n')
    assert read_texts(p, column="text") == ["one", "two"]


def test_explicit_format_overrides_extension(tmp_path):
    p = write(tmp_path, "a.txt", "text,label\nhi,1\n")
    assert read_texts(p, "text", format="csv") == ["hi"]
    with pytest.raises(InputError, match="format must be one of"):
        read_texts(p, format="xml")


@pytest.mark.parametrize(
    "name,content",
    [("a.csv", "id,text,label\n1,x,0\n"), ("a.tsv", "id\ttext\tlabel\n1\tx\t0\n"),
     ("a.jsonl", '{"id": 1, "text": "x", "label": 0}\n')],
)
def test_missing_or_unknown_column_lists_available(tmp_path, name, content):
    p = write(tmp_path, name, content)
    for column in (None, "sentence"):
        with pytest.raises(DataFormatError) as e:
            read_texts(p, column)
        msg = str(e.value)
        assert str(p) in msg and "'id', 'text', 'label'" in msg


def test_column_with_txt_file_is_refused(tmp_path):
    with pytest.raises(DataFormatError, match="plain text"):
        read_texts(write(tmp_path, "a.txt", "text\nhi\n"), column="text")


@pytest.mark.parametrize(
    "line,message",
    [('{"text": "ok"', "not valid JSON"), ('["a list"]', "expected a JSON object"),
     ('{"other": "x"}', "no key 'text'"), ('{"text": 3}', "must be a string, got int"),
     ('{"text": null}', "must be a string, got null")],
)
def test_bad_jsonl_line_reports_file_and_line(tmp_path, line, message):
    p = write(tmp_path, "a.jsonl", '{"text": "fine"}\n\n' + line + "\n")
    with pytest.raises(DataFormatError, match=message) as e:
        read_texts(p, "text")
    assert str(e.value).startswith(f"{p}:3: ")


def test_non_utf8_reports_line(tmp_path):
    p = write(tmp_path, "a.txt", b"ok\nstill ok\ncaf\xe9 latin-1\n")
    with pytest.raises(DataFormatError, match="not valid UTF-8") as e:
        read_texts(p)
    assert str(e.value).startswith(f"{p}:3: ")


def test_utf8_bom_is_ignored(tmp_path):
    p = write(tmp_path, "a.csv", "\ufefftext\ncafé\n".encode("utf-8"))
    assert read_texts(p, "text") == ["café"]


@pytest.mark.parametrize("name,sep", [("a.csv", ","), ("a.tsv", "\t")])
def test_ragged_row_reports_line(tmp_path, name, sep):
    rows = ["text", "label"], ["good", "1"], ["multi\nline" if sep == "," else "x", "0"], ["bad"]
    body = "\n".join(sep.join(f'"{f}"' if "\n" in f else f for f in r) for r in rows)
    p = write(tmp_path, name, body + "\n")
    bad_line = 5 if sep == "," else 4
    with pytest.raises(DataFormatError, match="expected 2 fields like the header, got 1") as e:
        read_texts(p, "text")
    assert str(e.value).startswith(f"{p}:{bad_line}: ")


def test_empty_table_file(tmp_path):
    with pytest.raises(DataFormatError, match="empty"):
        read_texts(write(tmp_path, "a.csv", ""), "text")


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(DataFormatError, match="file not found") as e:
        read_texts(tmp_path / "nope.txt")
    assert str(tmp_path / "nope.txt") in str(e.value)
    with pytest.raises(DataFormatError, match="is a directory"):
        read_texts(tmp_path)


def test_bundled_sample_loads():
    texts = read_texts(SAMPLE_REVIEWS, column="text")
    labels = read_texts(SAMPLE_REVIEWS, column="label")
    assert len(texts) == 400 == len(set(texts))
    assert labels.count("0") == labels.count("1") == 200
    assert all(4 <= len(t.split()) <= 12 for t in texts)


def test_iter_texts_is_lazy(tmp_path):
    p = write(tmp_path, "a.jsonl", '{"text": "one"}\n{"text": "two"}\nnot json\n')
    it = iter_texts(p, "text")
    assert isinstance(it, types.GeneratorType)
    assert next(it) == "one" and next(it) == "two"  # the bad line 3 is not read yet
    with pytest.raises(DataFormatError, match=":3: "):
        next(it)


def test_iter_texts_checks_path_at_call_time(tmp_path):
    with pytest.raises(DataFormatError, match="file not found"):
        iter_texts(tmp_path / "missing.csv", "text")
