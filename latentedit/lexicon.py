"""Known words: decoding that writes only words of the training corpus (or of the source).

A decoder built on subword tokens can glue pieces into words no text holds ("how incus is
greatider"), most often from codes an edit moved off the data. A :class:`Lexicon` is the set of
whitespace-separated words the model's training corpus holds (those seen at least twice); during
greedy or beam decoding a :class:`WordGuard` forbids every token that would make the word being
written something no lexicon word starts with, and every word boundary (a token that begins with
a space, or </s>) while the word is not complete. Each row may also write the words of its own source
text (an edit's input keeps its names and rare words). Only which tokens may come next changes:
the code and the decoder's scores do not. A :class:`Speller` matches words to tokens as the
tokenizer writes both (byte-level BPE: "Ġfood" is " food", "Ã©" is "é"), so multi-byte
characters are checked like any other.

>>> lexicon = Lexicon(["the", "food", "was", "great", "."])
>>> speller = lexicon.speller(["", " the", " food", " f", "ood", "ound", "</s>"], eos_id=6)
>>> guard = speller.guard([""])  # one row, no words of its own
>>> guard.allowed(0).nonzero().squeeze(1).tolist()  # a text starts with (the start of) a known word
[1, 2, 3]
>>> guard.advance([0], [2]); guard.allowed(0).nonzero().squeeze(1).tolist()  # after " food": a new word or the end
[1, 2, 3, 6]
>>> guard.advance([0], [3]); guard.allowed(0).nonzero().squeeze(1).tolist()  # after " f": only "ood" completes a word
[4]
"""

from __future__ import annotations

import bisect
import collections
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import torch

LEXICON_FILE = "lexicon.txt"  # in a model folder: one word per line
MIN_COUNT = 2  # a corpus word joins the lexicon when seen at least this often
MASK_CACHE = 20_000  # partial words whose masks a speller keeps (8 KB each for 8k tokens)


class Lexicon:
    """A set of words (whitespace-free strings) with fast prefix queries."""

    def __init__(self, words: Iterable[str]):
        self.words = frozenset(w for w in words if w and not any(c.isspace() for c in w))
        self._sorted = sorted(self.words)

    def __len__(self) -> int:
        return len(self.words)

    @classmethod
    def from_texts(cls, texts: Iterable[str], min_count: int = MIN_COUNT) -> "Lexicon":
        """The words seen at least ``min_count`` times in ``texts``."""
        counts = collections.Counter(word for text in texts for word in text.split())
        return cls(word for word, count in counts.items() if count >= min_count)

    @classmethod
    def load(cls, path: str | Path) -> "Lexicon":
        return cls(Path(path).read_text(encoding="utf-8").split("\n"))

    def save(self, path: str | Path) -> None:
        """Write one word per line, atomically."""
        from .model_folder import atomic_file

        with atomic_file(path) as stream:
            stream.write("\n".join(self._sorted) + "\n")

    def starting_with(self, prefix: str) -> list[str]:
        """The words that begin with ``prefix`` (in sorted order)."""
        start = bisect.bisect_left(self._sorted, prefix)
        end = bisect.bisect_left(self._sorted, prefix + "\U0010ffff")
        return self._sorted[start:end]

    def speller(self, surfaces: Sequence[str], eos_id: int, space: str = " ",
                spell: Callable[[str], str] | None = None) -> "Speller":
        """The lexicon in a tokenizer's terms: ``surfaces`` each token id as the tokenizer writes
        it, where a leading ``space`` starts a word (" food"), ``eos_id`` the id of </s>, and
        ``spell`` a word as the tokenizer writes it (default: as it is)."""
        return Speller(self, surfaces, eos_id, space, spell)


class Speller:
    """Which tokens spell lexicon words (see :meth:`Lexicon.speller`); it caches what it works
    out, so one speller serves every batch a model decodes."""

    def __init__(self, lexicon: Lexicon, surfaces: Sequence[str], eos_id: int, space: str = " ",
                 spell: Callable[[str], str] | None = None):
        self.spell = spell or (lambda word: word)
        self.lexicon = Lexicon(map(self.spell, lexicon.words))  # spelled as the tokens are
        self.surfaces, self.eos_id, self.space = list(surfaces), eos_id, space
        self.vocab = len(self.surfaces)
        self.by_surface: dict[str, list[int]] = collections.defaultdict(list)
        for token, surface in enumerate(self.surfaces):
            self.by_surface[surface].append(token)
        self._masks: dict[str, torch.Tensor] = {}  # partial word -> (V,) lexicon mask (see lexicon_mask)
        self._starts: torch.Tensor | None = None  # (V,) tokens that start a lexicon word after a space

    def tokens_after(self, partial: str, words: Iterable[str]) -> set[int]:
        """Tokens that extend ``partial`` toward one of ``words`` (spelled, all starting with it;
        give them a leading space for the tokens that start them as a new word)."""
        tokens = set()
        for word in words:
            rest = word[len(partial):]
            for end in range(1, len(rest) + 1):
                tokens.update(self.by_surface.get(rest[:end], ()))
        return tokens

    def lexicon_mask(self, partial: str) -> torch.Tensor:
        """(V,) bool, cached: the tokens that extend ``partial`` toward a lexicon word, and, when
        ``partial`` is empty or a lexicon word, those that start a new lexicon word after a space
        (and </s> after a word)."""
        if partial not in self._masks:
            if len(self._masks) > MASK_CACHE:
                self._masks.clear()
            mask = torch.zeros(self.vocab, dtype=torch.bool)
            mask[sorted(self.tokens_after(partial, self.lexicon.starting_with(partial)))] = True
            if partial == "" or partial in self.lexicon.words:
                mask |= self.word_starts()
                mask[self.eos_id] = partial != ""
            self._masks[partial] = mask
        return self._masks[partial]

    def word_starts(self) -> torch.Tensor:
        """(V,) bool: the tokens that start a lexicon word after a space."""
        if self._starts is None:
            prefixes = {w[:end] for w in self.lexicon.words for end in range(1, len(w) + 1)}
            cut = len(self.space)
            self._starts = torch.tensor([s.startswith(self.space) and s[cut:] in prefixes for s in self.surfaces])
        return self._starts

    def guard(self, rows: Sequence[str]) -> "WordGuard":
        """A :class:`WordGuard` for a batch: ``rows`` one text per row whose words it may write too."""
        return WordGuard(self, rows)


class WordGuard:
    """Which tokens each row of a greedy or beam decoding may write next so that every word it writes is
    a lexicon word or a word of the row's own text (see :class:`Lexicon`).

    A row's state is the word it is writing, spelled as the tokens are ("" before the first
    token)."""

    def __init__(self, speller: Speller, rows: Sequence[str]):
        self.speller = speller
        self.row_words = [frozenset(map(speller.spell, text.split())) for text in rows]
        self.partial: list[str] = [""] * len(rows)

    def select(self, rows: Sequence[int]) -> "WordGuard":
        """A guard of only ``rows`` (in that order), in their current states."""
        chosen = WordGuard(self.speller, [])
        chosen.row_words = [self.row_words[r] for r in rows]
        chosen.partial = [self.partial[r] for r in rows]
        return chosen

    def allowed(self, row: int) -> torch.Tensor:
        """(V,) bool: the tokens row ``row`` may write next."""
        partial = self.partial[row]
        mask = self.speller.lexicon_mask(partial)
        own = self.row_words[row]
        if not own:
            return mask
        mask = mask.clone()
        mask[sorted(self.speller.tokens_after(partial, [w for w in own if w.startswith(partial)]))] = True
        if partial == "" or partial in self.speller.lexicon.words or partial in own:  # a new word may start
            mask[sorted(self.speller.tokens_after("", [self.speller.space + w for w in own]))] = True
            if partial not in self.speller.lexicon.words and partial != "":
                mask |= self.speller.word_starts()
                mask[self.speller.eos_id] = True
        return mask

    def advance(self, rows: Sequence[int], tokens: Sequence[int]) -> None:
        """Rows ``rows`` wrote ``tokens``: update the words they are writing."""
        space = self.speller.space
        for row, token in zip(rows, tokens):
            surface = self.speller.surfaces[token]
            starts = surface.startswith(space)
            self.partial[row] = surface[len(space):] if starts else self.partial[row] + surface

    def restrict_(self, logits: torch.Tensor, rows: Sequence[int]) -> torch.Tensor:
        """Forbid (-inf) in ``logits`` (len(rows), V) what each row may not write next, in place;
        a row left with nothing allowed keeps its logits (the guard never blocks a decode)."""
        allowed = torch.stack([self.allowed(row) for row in rows]).to(logits.device)  # (B, tokenizer V)
        width = logits.shape[-1]  # a model may score more ids than its tokenizer has
        allowed = torch.nn.functional.pad(allowed, (0, max(0, width - allowed.shape[1])))[:, :width]
        masked = logits.masked_fill(~allowed, float("-inf"))
        kept = torch.isfinite(masked).any(-1)
        logits[kept] = masked[kept]
        return logits
