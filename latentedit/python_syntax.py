"""Python-guarded decoding: a decoder that may only write a line of Python that can still parse.

A decoder reading a code between two lines' codes often writes a line that is nearly Python but
leaves a bracket or a quote open, closes the wrong bracket, or stops mid-expression. With a
:class:`SyntaxGuard`, greedy and beam decoding try each row's likeliest next tokens in order and
keep only those after which the line can still be completed to one that ``ast.parse`` accepts
(:func:`viable_prefix`), and end a row (</s>) only where its line parses (:func:`parses`). The
code and the decoder's scores do not change; only which tokens may come next. Validity then
comes from the guard, not from the latent space: report guarded and unguarded decoding apart.

:func:`viable_prefix` tries a few short completions (close an open string, f-string field and
the open brackets, add a name, ``: _``, `` in _``, `` else _``, finish a keyword cut short, ...).
It errs toward allowing (tests/test_python_syntax.py checks that every prefix of lines of many
kinds counts as viable), and a prefix it allows may still have no likely way on ("f(a, h=" can
only go on as "h=="): a row none of whose :data:`CANDIDATES` likeliest tokens fit tries the
tokens of one byte, and keeps its scores when none of those fit either (the guard never blocks a
decode). Near the length limit a row writes only what it can still complete in time.

>>> viable_prefix("x = foo(a, "), viable_prefix("x = foo(a]"), viable_prefix("print('hi")
(True, False, True)
>>> parses("x = foo(a, b)"), parses("x = foo(a, b")
(True, False)
"""

from __future__ import annotations

import functools
import keyword
import re
from collections.abc import Sequence

import torch

from .python_lines import parses_as_python

# What may follow a prefix before its brackets close and after (the shortest completion that parses counts).
MIDDLES = ("", " _", "_", "0000", "=_", ",", "_,", "()", "_()", " _ in _", " in _", " else _", " _ else _", ": _", " _: _",
           " _ import _", " import _", " _ for _ in _", "_}", "}")
AFTERS = ("", ": _", " else _")
CLOSERS = {"(": ")", "[": "]", "{": "}"}
KEYWORDS = tuple(keyword.kwlist + keyword.softkwlist)
TRAILING_NAME = re.compile(r"[A-Za-z_][A-Za-z_0-9]*$")
CANDIDATES = 64  # the likeliest tokens a row's guard checks at each step before giving up
HEADROOM = 8  # tokens before the length limit from which a row writes only what it can still complete in time


#: Whether a text is a non-empty line that ``ast.parse`` accepts: the check that scores validity
#: (:func:`~latentedit.python_lines.parses_as_python`), cached, since the guard asks it of many completions.
parses = functools.lru_cache(maxsize=500_000)(parses_as_python)


def _open_state(text: str) -> tuple[list[str], str, bool] | None:
    """What ``text`` leaves open: (closers of its open brackets, innermost last; what closes an
    open string, "" if none: its quote, after what closes an f-string's open replacement field
    or a dangling backslash; whether the text ends in a comment), or None when it closes a
    bracket it did not open."""
    stack: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "#":
            return stack, "", True
        if c in "'\"":
            quote = text[i : i + 3] if text[i : i + 3] in ("'''", '"""') else c
            j = i + len(quote)
            while j < n and not text.startswith(quote, j):
                j += 2 if text[j] == "\\" else 1
            if j >= n:
                letters = TRAILING_NAME.search(" " + text[:i])
                field = _field_ending(text[i + len(quote) :]) if letters and "f" in letters.group().lower() else ""
                if field is None:
                    return None
                return stack, ("n" if j > n else "") + field + quote, False  # "n": end a dangling backslash as "\n"
            i = j + len(quote)
            continue
        if c in CLOSERS:
            stack.append(CLOSERS[c])
        elif c in ")]}":
            if not stack or stack.pop() != c:
                return None
        i += 1
    return stack, "", False


def _field_ending(content: str) -> str | None:
    """What closes the open replacement field of an f-string's ``content`` so far ("" if none is
    open; None when what it holds cannot be closed)."""
    depth, start, i = 0, -1, 0
    while i < len(content):
        if content.startswith(("{{", "}}"), i) and depth == 0:
            i += 2
            continue
        if content[i] == "{":
            depth, start = depth + 1, (i if depth == 0 else start)
        elif content[i] == "}" and depth:
            depth -= 1
        i += 1
    if depth == 0:
        return ""
    state = _open_state(content[start + 1 :])
    if state is None:
        return None
    if state[2]:  # "#" in a field is a format spec's ("{n:#x")
        return "}"
    return state[1] + "".join(reversed(state[0])) + "}"


def viable_prefix(text: str) -> bool:
    """Whether some short completion of the one-line prefix ``text`` parses (see the module)."""
    return ending_length(text) is not None


@functools.lru_cache(maxsize=500_000)
def ending_length(text: str) -> int | None:
    """The characters of the shortest completion of the one-line prefix ``text`` that parses, among
    those :func:`viable_prefix` tries; None when none does.

    >>> ending_length("x = 1"), ending_length("x = f(a, 'b"), ending_length("x = f(a +"), ending_length("x = )")
    (0, 2, 2, None)
    """
    if "\n" in text or "\r" in text:
        return None
    state = _open_state(text)
    if state is None:
        return None
    stack, quote, comment = state
    if comment:  # a one-line comment ends the line: what comes before it must be whole
        return 0 if not stack and parses(text) else None
    closers = "".join(reversed(stack))
    bases = [text]
    name = TRAILING_NAME.search(text) if not quote else None
    if name:  # a keyword cut short ("x = a an": "and") or a name begun as one ("f(a, is": "is_x")
        word = name.group()
        bases += [text[: name.start()] + kw for kw in KEYWORDS if kw.startswith(word) and kw != word]
        if any(kw.startswith(word) for kw in KEYWORDS):
            bases.append(text + "_")
    best = None
    for base in bases:
        for ending in _endings(quote, closers):  # shortest first
            length = len(base) - len(text) + len(ending)
            if best is not None and length >= best:
                break
            if parses(base + ending):
                best = length
                break
    return best


@functools.lru_cache(maxsize=10_000)
def _endings(quote: str, closers: str) -> tuple[str, ...]:
    """Short completions of a prefix that leaves ``quote`` and ``closers`` open (see the module),
    shortest first."""
    return tuple(sorted(dict.fromkeys(_all_endings(quote, closers)), key=len))


def _all_endings(quote: str, closers: str):
    for middle in MIDDLES:
        for after in AFTERS:
            yield middle + quote + closers + after
            if quote:  # "{'a': b, 'c" + "': _}"
                yield quote + middle + closers + after
    for k in range(1, len(closers)):  # "[v for (k, v" + ") in _]", "(*(f(p) for p in _" + "),)"
        for middle in MIDDLES:
            yield middle + quote + closers[:k] + " in _" + closers[k:]
            yield middle + quote + closers[:k] + "," + closers[k:]


def _as_text(raw: bytes) -> str | None:
    """UTF-8 ``raw`` as text, a character cut short at its end written as "a" (a letter is as good
    as any character in a string, a comment or a name); None for bytes no text holds."""
    for cut in range(4):
        try:
            text = raw[: len(raw) - cut].decode("utf-8")
        except UnicodeDecodeError:
            continue
        if cut == 0:
            return text
        try:
            raw[len(raw) - cut :].decode("utf-8")
        except UnicodeDecodeError as error:
            if error.reason == "unexpected end of data":
                return text + "a"
        return None
    return None


def token_bytes(backend) -> list[bytes]:
    """Each token id's bytes under a byte-level BPE ``backend`` (a tokenizers.Tokenizer), whose
    tokens spell bytes in GPT-2's printable alphabet ("Ġ" is a space); special tokens: b""."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    shifted = [b for b in range(256) if b not in printable]
    char_to_byte = {chr(b): b for b in printable} | {chr(256 + k): b for k, b in enumerate(shifted)}
    special = {token.content for token in backend.get_added_tokens_decoder().values()}
    surfaces = []
    for index in range(backend.get_vocab_size()):
        token = backend.id_to_token(index) or ""
        surfaces.append(b"" if token in special else bytes(char_to_byte.get(c, ord("?")) for c in token))
    return surfaces


class PythonSyntax:
    """A tokenizer's tokens as bytes, to build :class:`SyntaxGuard` s for its decodings."""

    def __init__(self, surfaces: Sequence[bytes], eos_id: int):
        self.surfaces, self.eos_id = list(surfaces), eos_id

    def guard(self, rows: int, keep: int = 1, max_tokens: int | None = None) -> SyntaxGuard:
        """A guard for ``rows`` rows that allows each row's ``keep`` likeliest viable tokens per step
        (greedy: 1; beam search: its beam count). With the decoding's
        ``max_tokens`` (its max_length, </s> included), a row within :data:`HEADROOM` tokens of it
        may only write what it can still complete (:func:`ending_length`) in the tokens left, so that it ends
        before the limit cuts it off (an open string can otherwise run on to it)."""
        return SyntaxGuard(self, [b""] * rows, [0] * rows, keep, max_tokens)

    @functools.cached_property
    def rescues(self) -> list[int]:
        """Tokens a row tries when none of its likeliest fit: </s> and the tokens of one byte."""
        return [self.eos_id] + [token for token, surface in enumerate(self.surfaces) if len(surface) == 1]


class SyntaxGuard:
    """Which tokens each row may write next so that its line can still parse (see the module).

    A row's state is the bytes it wrote (None once it wrote </s>) and how many tokens."""

    def __init__(self, syntax: PythonSyntax, written: list[bytes | None], counts: list[int], keep: int,
                 max_tokens: int | None):
        self.syntax, self.written, self.counts, self.keep, self.max_tokens = syntax, written, counts, keep, max_tokens

    def select(self, rows: Sequence[int]) -> SyntaxGuard:
        """A guard of only ``rows`` (in that order), in their current states."""
        return SyntaxGuard(self.syntax, [self.written[r] for r in rows], [self.counts[r] for r in rows], self.keep,
                           self.max_tokens)

    def advance(self, rows: Sequence[int], tokens: Sequence[int]) -> None:
        """Rows ``rows`` wrote ``tokens``."""
        for row, token in zip(rows, tokens):
            if self.written[row] is not None:
                self.written[row] = None if token == self.syntax.eos_id else self.written[row] + self._bytes(token)
                self.counts[row] += 1

    def allows(self, row: int, token: int) -> bool:
        """Whether row ``row`` may write ``token`` next."""
        written = self.written[row]
        if written is None:
            return True
        if token == self.syntax.eos_id:
            return parses(written.decode("utf-8", errors="replace"))
        extended = _as_text(written + self._bytes(token))
        needed = None if extended is None else ending_length(extended)
        if needed is None:
            return False
        left = self.max_tokens - self.counts[row] - 2 if self.max_tokens else HEADROOM  # tokens left before </s>
        return left >= HEADROOM or needed <= left  # a character of the ending takes at most one token

    def restrict_(self, logits: torch.Tensor, rows: Sequence[int]) -> torch.Tensor:
        """Forbid (-inf) in ``logits`` (len(rows), V) all but each row's :attr:`keep` likeliest tokens
        that it :meth:`allows`, in place: among its :data:`CANDIDATES` likeliest, else among the
        :attr:`PythonSyntax.rescues` (a prefix that could go on, "f(a, h=" as "h==", may have no
        likely way on); a row none of those fit keeps its logits."""
        top = logits.topk(min(CANDIDATES, logits.shape[-1]), dim=-1)
        for i, row in enumerate(rows):
            if self.written[row] is None:
                continue
            likeliest = [token for score, token in zip(top.values[i].tolist(), top.indices[i].tolist()) if score > float("-inf")]
            chosen = self._first_allowed(row, likeliest)
            if not chosen:
                rescues = [t for t in self.syntax.rescues if t < logits.shape[-1] and logits[i, t] > float("-inf")]
                chosen = self._first_allowed(row, sorted(rescues, key=lambda t: -float(logits[i, t])))
            if chosen:
                kept = logits[i, chosen].clone()
                logits[i] = float("-inf")
                logits[i, chosen] = kept
        return logits

    def _first_allowed(self, row: int, tokens: Sequence[int]) -> list[int]:
        """The first :attr:`keep` of ``tokens`` that row ``row`` may write."""
        chosen = []
        for token in tokens:
            if len(chosen) == self.keep:
                break
            if self.allows(row, token):
                chosen.append(token)
        return chosen

    def _bytes(self, token: int) -> bytes:
        surfaces = self.syntax.surfaces
        return surfaces[token] if 0 <= token < len(surfaces) else b""
