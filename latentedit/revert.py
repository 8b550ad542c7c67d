"""Minimal edits: put the source's wording back into an edited text, one changed span at a time.

An edit decoded from a shifted code often changes more words than its goal needs. The editor
(``shift(..., strength="auto", revert=True)``, ``optimize(..., revert=True)``) tries each
single-span revert of an arrived text, keeps the one most similar to the source among those the
heads still accept on re-encoding, and repeats until no revert is accepted. This module only
makes the candidates.

>>> revert_candidates("the food was cold .", "the food was great and cheap .")
['the food was cold .']
>>> revert_candidates("the food was cold and late .", "a meal was great and late !")
['the food was great and late !', 'a meal was cold and late !', 'a meal was great and late .']
"""

from __future__ import annotations

import difflib


def changed_spans(source: str, text: str) -> list[tuple[int, int, int, int]]:
    """The word spans where text differs from source: (text start, text end, source start, source end)."""
    matcher = difflib.SequenceMatcher(a=text.split(), b=source.split(), autojunk=False)
    return [(i1, i2, j1, j2) for tag, i1, i2, j1, j2 in matcher.get_opcodes() if tag != "equal"]


def revert_candidates(source: str, text: str) -> list[str]:
    """Every text that puts the source's words back into one changed span of ``text`` (words are
    split on whitespace and joined with one space); none equals ``text`` itself."""
    words, source_words = text.split(), source.split()
    candidates = [" ".join(words[:i1] + source_words[j1:j2] + words[i2:]) for i1, i2, j1, j2 in changed_spans(source, text)]
    return [candidate for candidate in dict.fromkeys(candidates) if candidate != text]
