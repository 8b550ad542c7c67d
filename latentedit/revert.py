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


#: Partial reverts of a text with more changed spans than this are not made (2**spans candidates).
MAX_PARTIAL_SPANS = 8


def partial_reverts(source: str, text: str, max_spans: int = MAX_PARTIAL_SPANS) -> list[str]:
    """Every text that puts the source's words back into some of the changed spans of ``text``
    (any subset but none and all), or [] when it has more than ``max_spans`` spans (2**spans
    texts). Unlike a chain of single-span reverts, this reaches an edit whose steps on the way
    the heads would not accept.

    >>> partial_reverts("the food was cold and late .", "a meal was great and late !")[:3]
    ['the food was great and late !', 'a meal was cold and late !', 'the food was cold and late !']
    """
    spans, source_words = changed_spans(source, text), source.split()
    if len(spans) > max_spans:
        return []
    candidates = []
    for mask in range(1, 2 ** len(spans) - 1):  # bit s set: span s goes back to the source
        words = text.split()
        for s in reversed(range(len(spans))):  # right to left: earlier spans keep their positions
            if mask >> s & 1:
                i1, i2, j1, j2 = spans[s]
                words[i1:i2] = source_words[j1:j2]
        candidates.append(" ".join(words))
    return [candidate for candidate in dict.fromkeys(candidates) if candidate != text]
