"""Python-guarded decoding: which prefixes can still parse, and the guard that keeps a decoder on them."""

import ast

import pytest
import torch

from latentedit import LatentEditor
from latentedit.errors import InputError
from latentedit.python_syntax import PythonSyntax, _as_text, ending_length, parses, token_bytes, viable_prefix
from latentedit.tokenizer import Tokenizer

# Lines of the kinds the standard library holds: every prefix of each must count as viable.
LINES = [
    "x = foo(1, 2)",
    "return self._value",
    "args = {'option': arg_string, 'matches': options}",
    "classlist = [value for (key, value) in classes]",
    "parameters = (*(check(p) for p in params),)",
    "return f\"<{type(self).__qualname__} at {id(self):#x}>\"",
    "prefix = f'n{len(self._prefix_map)}'",
    "_whitespace = '\\t\\n\\x0b\\x0c\\r '",
    "self._fp.write(b'\\x09')",
    "def default_command(self, dummy): pass",
    "if co.co_flags & inspect.CO_VARARGS: n = n+1",
    "from .forkserver import set_forkserver_preload",
    "return ForwardRef(arg, module=module, is_class=allow_special_forms)",
    "key = lambda item: (item[1], -item[0]) if reverse else item",
    "x = a if b else c  # a comment (with a bracket",
    "raise ValueError('bad value %r' % (value,)) from None",
    "import os.path as osp",
    "with open(name) as stream: data = stream.read()",
    'doc = """a triple-quoted string"""',
    "s = 'naïve café'",
]


@pytest.mark.parametrize("line", LINES)
def test_every_prefix_of_a_line_that_parses_is_viable(line):
    assert parses(line)
    assert [line[:k] for k in range(1, len(line) + 1) if not viable_prefix(line[:k])] == []


@pytest.mark.parametrize("prefix", ["x = foo(a]", "x = )", "return (a # never closed", "x = 1\ny = 2", "x = f'{a]'",
                                    "x = (1 2"])
def test_prefixes_no_completion_saves_are_not_viable(prefix):
    assert not viable_prefix(prefix)


def test_parses_and_ending_length():
    assert parses("x = f(a, b)") and not parses("x = f(a, b") and not parses("  ")
    assert ending_length("x = 1") == 0 and ending_length("x = f(a, 'b") == 2  # "')"
    assert ending_length("x = f'{len(a") == 3  # ")}'": an f-string's open field closes before its quote
    assert ending_length("x = a + # note") is None  # the comment ends the line before the operand
    assert ending_length("x = a an") == 3  # "d _": a keyword cut short


def test_as_text_keeps_a_character_cut_short_and_refuses_broken_bytes():
    assert _as_text(b"x = 1") == "x = 1"
    assert _as_text("s = 'é".encode()[:-1]) == "s = 'a"  # the first byte of "é": a character to come
    assert _as_text(b"x = \xff") is None and _as_text(b"\x80") is None


def test_token_bytes_spell_what_the_tokenizer_decodes():
    tokenizer = Tokenizer.train(LINES * 20, vocab_size=300)
    backend = tokenizer.backend
    surfaces = token_bytes(backend)
    assert len(surfaces) == backend.get_vocab_size()
    ids = backend.encode("x = foo(1, 2)").ids
    assert b"".join(surfaces[i] for i in ids).decode() == backend.decode(ids)
    assert all(surfaces[backend.token_to_id(s)] == b"" for s in ("<pad>", "</s>"))


# A toy vocabulary: id -> text; </s> is id 2.
VOCAB = ["<pad>", "<s>", "</s>", "x", " =", " (", "1", ")", "]", "'", " +"]
EOS = 2


def toy_guard(rows: int, keep: int = 1, max_tokens: int | None = None):
    syntax = PythonSyntax([b"" if v.startswith("<") else v.encode() for v in VOCAB], eos_id=EOS)
    return syntax.guard(rows, keep=keep, max_tokens=max_tokens)


def ranked(*tokens: str) -> torch.Tensor:
    """Logits (1, V) that rank ``tokens`` first, in that order."""
    logits = torch.zeros(1, len(VOCAB))
    for rank, token in enumerate(tokens):
        logits[0, VOCAB.index(token)] = 10.0 - rank
    return logits


def allowed(logits: torch.Tensor) -> list[str]:
    return [VOCAB[i] for i in torch.isfinite(logits[0]).nonzero().squeeze(1).tolist()]


def write(guard, *tokens: str) -> None:
    for token in tokens:
        guard.advance([0], [VOCAB.index(token)])


def test_the_guard_keeps_the_likeliest_tokens_that_can_still_parse():
    guard = toy_guard(1, keep=2)
    write(guard, "x", " =", " (", "1")  # "x = (1"
    logits = guard.restrict_(ranked("]", "</s>", ")", " +"), [0])
    assert allowed(logits) == [")", " +"]  # "]" closes the wrong bracket; the line cannot end open
    assert logits[0, VOCAB.index(")")] == 8.0  # kept tokens keep their scores
    write(guard, ")")
    assert allowed(guard.restrict_(ranked("</s>", ")"), [0]))[:1] == ["</s>"]  # "x = (1)" may end


def test_the_guard_closes_what_is_open_before_the_length_limit():
    guard = toy_guard(1, keep=1, max_tokens=7)
    write(guard, "x", " =", " (", "'")  # "x = ('": an open string inside a bracket, 2 tokens before </s>
    assert allowed(guard.restrict_(ranked("1", "'", ")"), [0])) == ["'"]
    free = toy_guard(1, keep=1)
    write(free, "x", " =", " (", "'")
    assert allowed(free.restrict_(ranked("1", "'", ")"), [0])) == ["1"]  # no limit: the string may go on


def test_the_guard_never_blocks_a_row_and_leaves_finished_rows_alone():
    guard = toy_guard(2)
    write(guard, "x", " =", " (", "1", ")", "</s>")  # row 0 finished
    guard.advance([1], [VOCAB.index(")")])  # row 1: ")" -- nothing can save it
    logits = torch.stack([ranked(")")[0], ranked("]")[0]])
    assert torch.equal(guard.restrict_(logits.clone(), [0, 1]), logits)


def test_select_copies_rows_in_their_states():
    guard = toy_guard(2)
    guard.advance([0, 1], [VOCAB.index("x"), VOCAB.index(")")])
    chosen = guard.select([0, 0])
    chosen.advance([0], [VOCAB.index(" =")])
    assert chosen.written == [b"x =", b"x"] and guard.written == [b"x", b")"]


@pytest.fixture(scope="module")
def python_editor():
    return LatentEditor.load("python-lines")


def test_guarded_decoding_writes_python_that_parses(python_editor):
    a, b = "d = {'a': 1, 'b': [2, 3]}", "return self.send(data, flags)"
    codes = python_editor.encode([a, b])
    path = torch.stack([codes[0] * (1 - t) + codes[1] * t for t in torch.linspace(0, 1, 9)])
    guarded = python_editor.decode(path, python_syntax=True)
    for text in guarded:
        ast.parse(text)
    beams = python_editor.decode(path[3:5], method="beam", num_beams=2, python_syntax=True)
    for text in beams:
        ast.parse(text)
    points = python_editor.interpolate(a, b, steps=3, python_syntax=True)
    assert all(parses(p.text) for p in points)
    assert all(parses(text) for text in python_editor.sample(8, seed=0, python_syntax=True))


def test_python_syntax_is_checked(python_editor):
    codes = python_editor.encode(["x = 1"])
    with pytest.raises(InputError, match="python_syntax"):
        python_editor.decode(codes, python_syntax="yes")
    with pytest.raises(InputError, match="takes the options"):
        python_editor.decode(codes, method="sample", python_syntax=True)
    python_editor.lexicon = object()  # any lexicon: the two guards do not combine
    try:
        with pytest.raises(InputError, match="choose one"):
            python_editor.decode(codes, python_syntax=True, known_words=True)
    finally:
        python_editor.lexicon = None
