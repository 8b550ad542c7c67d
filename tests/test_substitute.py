import torch

from latentedit.substitute import WordVocabulary, word_substitutions

TOKENS = ["<pad>", "<s>", "</s>", "<unk>", "<mask>", "the", "a", "Ġfood", "Ġwas", "Ġcold", "Ġgreat", "Ġ.", "Ġgo", "od",
          "Ġfine"]
ID = {token: i for i, token in enumerate(TOKENS)}


def ids(*tokens: str) -> list[int]:
    return [ID[t] for t in tokens]


def test_word_starts_leave_out_special_tokens():
    vocab = WordVocabulary(TOKENS)
    assert [TOKENS[i] for i in vocab.first.nonzero().flatten()] == ["the", "a", "od"]
    assert [TOKENS[i] for i in vocab.inner.nonzero().flatten()] == ["Ġfood", "Ġwas", "Ġcold", "Ġgreat", "Ġ.", "Ġgo", "Ġfine"]
    assert vocab.words[ID["Ġgreat"]] == "great"


def test_each_candidate_swaps_one_word_for_a_best_scored_token():
    vocab = WordVocabulary(TOKENS)
    source = ids("the", "Ġfood", "Ġwas", "Ġcold", "Ġ.")
    scores = torch.zeros(len(source), len(TOKENS))
    for t, best in enumerate((["a", "od"], ["Ġgo", "Ġfine"], ["Ġgreat", "Ġgo"], ["Ġcold", "Ġgreat", "Ġfine"], ["Ġfine", "Ġgo"])):
        for rank, token in enumerate(best):
            scores[t, ID[token]] = 10.0 - rank  # the source's own word ranks first at word 3
    candidates = word_substitutions("the food was cold .", source, scores, vocab, k=2)
    assert candidates == ["a food was cold .", "od food was cold .", "the go was cold .", "the fine was cold .",
                          "the food great cold .", "the food go cold .", "the food was great .", "the food was fine .",
                          "the food was cold fine", "the food was cold go"]


def test_proposing_the_next_word_deletes_this_one():
    """The proposals see only the words to their left: "recommend" proposed at "not" in "would not
    recommend" means going on without "not", not "would recommend recommend"."""
    tokens = ["<pad>", "<s>", "</s>", "<unk>", "<mask>", "i", "Ġwould", "Ġnot", "Ġrecommend", "Ġhighly"]
    vocab = WordVocabulary(tokens)
    scores = torch.zeros(4, len(tokens))
    scores[2, 8], scores[2, 9] = 5.0, 4.0  # at "not": "recommend", then "highly"
    candidates = word_substitutions("i would not recommend", [5, 6, 7, 8], scores, vocab, k=2)
    assert "i would recommend" in candidates and "i would highly recommend" in candidates
    assert "i would recommend recommend" not in candidates


def test_a_multi_token_word_is_replaced_whole():
    vocab = WordVocabulary(TOKENS)
    source = ids("the", "Ġgo", "od", "Ġfood")  # "the good food": "good" is two tokens
    scores = torch.zeros(len(source), len(TOKENS) + 3)  # models may score ids past the tokenizer's
    scores[1, ID["Ġcold"]] = 4.0
    candidates = word_substitutions("the good food", source, scores, vocab, k=1)
    assert "the cold food" in candidates


def test_texts_whose_words_do_not_line_up_with_their_tokens_get_no_candidates():
    vocab = WordVocabulary(TOKENS)
    scores = torch.zeros(3, len(TOKENS))
    assert word_substitutions("the food was", ids("the", "Ġfood"), scores, vocab) == []  # truncated
    assert word_substitutions("", [], scores, vocab) == []
