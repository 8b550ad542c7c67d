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
    scores[3, ID["Ġgreat"]], scores[3, ID["Ġfine"]], scores[3, ID["Ġcold"]] = 3.0, 2.0, 5.0  # the source's own word ranks first
    scores[0, ID["a"]] = 1.0
    candidates = word_substitutions("the food was cold .", source, scores, vocab, k=2)
    assert "the food was great ." in candidates and "the food was fine ." in candidates
    assert "a food was cold ." in candidates
    for text in candidates:
        changed = [(a, b) for a, b in zip(text.split(), "the food was cold .".split()) if a != b]
        assert len(text.split()) == 5 and len(changed) == 1
    at_word_3 = [t.split()[3] for t in candidates if t.split()[3] != "cold"]
    assert at_word_3 == ["great", "fine"]  # the k best, the source's word skipped
    assert len(candidates) == len(set(candidates)) <= 5 * 2


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
