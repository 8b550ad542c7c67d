import pytest
import torch

from latentedit import LatentEditor
from latentedit.errors import InputError
from latentedit.lexicon import LEXICON_FILE, Lexicon

SURFACES = ["<pad>", "<s>", "</s>", " the", " food", " f", "ood", "ound", "the", "Ã"]
EOS = 2


def allowed(guard, row=0) -> list[int]:
    return guard.allowed(row).nonzero().squeeze(1).tolist()


def test_from_texts_counts_words_and_round_trips(tmp_path):
    lexicon = Lexicon.from_texts(["the food was great .", "the food was cold .", "great"], min_count=2)
    assert lexicon.words == {"the", "food", "was", "great", "."}
    lexicon.save(tmp_path / "words.txt")
    assert Lexicon.load(tmp_path / "words.txt").words == lexicon.words
    assert lexicon.starting_with("f") == ["food"] and lexicon.starting_with("x") == []
    assert Lexicon(["two words", "", "one"]).words == {"one"}  # no whitespace in a word


def test_guard_writes_only_whole_lexicon_words():
    guard = Lexicon(["the", "food", "found"]).speller(SURFACES, EOS).guard([""])
    assert allowed(guard) == [3, 4, 5, 8]  # a first word, with or without a space; never </s> first
    guard.advance([0], [8])  # "the": complete, so a new word or the end may follow
    assert allowed(guard) == [2, 3, 4, 5]
    guard.advance([0], [5])  # " f": only "ood" and "ound" complete a word; no boundary yet
    assert allowed(guard) == [6, 7]


def test_speller_matches_words_as_the_tokenizer_spells_them():
    spell = {"café": "cafÃ©"}.get  # byte-level BPE writes "é" as "Ã©"
    speller = Lexicon(["café"]).speller(["</s>", "Ġcaf", "Ã", "©", "Ġcafé"], eos_id=0, space="Ġ", spell=spell)
    guard = speller.guard([""])
    assert allowed(guard) == [1]  # "Ġcafé" is no word as the tokenizer writes it
    guard.advance([0], [1])
    assert allowed(guard) == [2]
    guard.advance([0], [2])
    assert allowed(guard) == [3]
    guard.advance([0], [3])
    assert allowed(guard) == [0, 1]


def test_guard_lets_a_row_write_its_own_words():
    speller = Lexicon(["the"]).speller(SURFACES, EOS)
    guard = speller.guard(["the food", ""])
    assert 4 in allowed(guard, 0) and 4 not in allowed(guard, 1)
    guard.advance([0, 1], [5, 3])  # row 0 starts " f" toward its own "food"
    assert allowed(guard, 0) == [6]
    guard.advance([0], [6])
    assert EOS in allowed(guard, 0)
    chosen = guard.select([1, 0])
    assert chosen.partial == ["the", "food"] and allowed(chosen, 1) == allowed(guard, 0)


def test_guard_never_blocks_a_row():
    guard = Lexicon(["the"]).speller(SURFACES, EOS).guard(["", ""])
    logits = torch.zeros(2, len(SURFACES) + 2)  # a model may score more ids than its tokenizer has
    logits[1, [3, 8]] = float("-inf")
    restricted = guard.restrict_(logits.clone(), [0, 1])
    assert torch.isfinite(restricted[0]).nonzero().squeeze(1).tolist() == [3, 8]
    assert torch.equal(restricted[1], logits[1])  # nothing allowed was left: the row keeps its logits


@pytest.fixture
def small_lexicon(review_corpus):
    """The review corpus's words without the negative adjectives."""
    return Lexicon(w for text in review_corpus.positive for w in text.split())


def test_decode_known_words(review_editor, review_corpus, small_lexicon):
    codes = review_editor.encode(review_corpus.negative)
    plain = review_editor.decode(codes)
    assert any(w not in small_lexicon.words for text in plain for w in text.split())  # the guard has work to do
    with pytest.raises(InputError, match="lexicon"):
        review_editor.decode(codes, known_words=True)
    review_editor.lexicon = small_lexicon
    guarded = review_editor.decode(codes, known_words=True)
    assert all(w in small_lexicon.words for text in guarded for w in text.split())
    own = review_editor.decode(codes, known_words=True, anchor=review_corpus.negative, anchor_weight=0.0)
    assert own == plain  # each row may write its own text's words


@pytest.mark.parametrize("rows", [slice(0, 8), slice(3, 6)])
def test_drafts_do_not_change_guarded_decoding(review_editor, review_corpus, small_lexicon, rows):
    review_editor.lexicon = small_lexicon
    texts = review_corpus.negative[rows]
    codes = review_editor.encode(texts) + 0.5 * torch.randn(len(texts), review_editor.model.config.code_size)
    drafts = texts[1:] + texts[:1]  # wrong drafts that share a prefix with the decodes
    drafted = review_editor.decode(codes, known_words=True, draft=drafts)
    plain = review_editor.decode(codes, known_words=True, anchor=drafts, anchor_weight=0.0)
    assert drafted == plain


def test_edits_use_the_lexicon_and_folders_keep_it(review_editor, small_lexicon, tmp_path):
    review_editor.lexicon = small_lexicon
    results = review_editor.shift(["the food was awful ."], "positive", strength=3.0)
    assert all(w in small_lexicon.words | {"awful"} for w in results[0].text.split())
    review_editor.save(tmp_path / "model")
    assert (tmp_path / "model" / LEXICON_FILE).is_file()
    assert LatentEditor.load(tmp_path / "model").lexicon.words == small_lexicon.words


def test_beam_search_writes_known_words_too(review_editor, review_corpus, small_lexicon):
    review_editor.lexicon = small_lexicon
    codes = review_editor.encode(review_corpus.negative[:8])
    beams = review_editor.decode(codes, method="beam", num_beams=3, known_words=True)
    assert all(w in small_lexicon.words for text in beams for w in text.split())
    own = review_editor.decode(codes, method="beam", num_beams=3, known_words=True, anchor=review_corpus.negative[:8],
                               anchor_weight=0.0)
    assert own == review_editor.decode(codes, method="beam", num_beams=3)  # each row may write its own words


def test_edits_decode_by_anchored_beam_search(review_editor):
    review_editor.edit_beams = 4
    source = "the food was awful ."
    copied = review_editor.shift([source], "positive", strength=3.0, anchor=1e4)[0]
    assert copied.text == source  # so strong an anchor copies the source, in beam search as in greedy
    moved = review_editor.shift([source], "positive", strength="auto", max_strength=6.0, revert=True)[0]
    assert moved.text != source and moved.scores["sentiment"] == "pos"
