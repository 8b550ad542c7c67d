"""Revert candidates (revert.py): single-span reverts and partial reverts of any subset of spans."""

import itertools

from latentedit.revert import changed_spans, partial_reverts, revert_candidates

SOURCE = "the food was cold and the staff was rude ."
EDIT = "a meal was great and some staff was lovely !"  # 4 changed spans


def test_partial_reverts_are_every_subset_of_spans_but_none_and_all():
    assert len(changed_spans(SOURCE, EDIT)) == 4
    candidates = partial_reverts(SOURCE, EDIT)
    assert len(candidates) == 2**4 - 2 and len(set(candidates)) == len(candidates)
    assert SOURCE not in candidates and EDIT not in candidates
    assert "the food was great and some staff was lovely !" in candidates  # one span back
    assert "a meal was cold and the staff was rude ." in candidates  # three spans back, none of them alone
    for candidate in candidates:  # each keeps some spans of the edit and puts the others back
        assert 1 <= len(changed_spans(SOURCE, candidate)) <= 3


def test_partial_reverts_hold_the_single_span_reverts():
    assert set(revert_candidates(SOURCE, EDIT)) <= set(partial_reverts(SOURCE, EDIT))


def test_partial_reverts_of_a_one_span_edit_and_of_a_copy_are_empty():
    assert partial_reverts(SOURCE, SOURCE.replace("cold", "hot")) == []
    assert partial_reverts(SOURCE, SOURCE) == []


def test_too_many_spans_give_no_partial_reverts():
    words = SOURCE.split()
    edit = " ".join(w.upper() if i % 2 == 0 else w for i, w in enumerate(words))  # 5 changed spans
    assert len(changed_spans(SOURCE, edit)) == 5
    assert partial_reverts(SOURCE, edit, max_spans=4) == []
    assert len(partial_reverts(SOURCE, edit, max_spans=5)) == 2**5 - 2


def test_partial_reverts_rejoin_words_with_single_spaces():
    for candidate in partial_reverts("a  b c", "x b  y"):
        assert "  " not in candidate
    assert sorted(partial_reverts("a b c", "x b y")) == sorted(" ".join(p) for p in itertools.product("ax", "b", "cy")
                                                           if p not in (("a", "b", "c"), ("x", "b", "y")))
