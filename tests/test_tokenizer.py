import pytest
import torch

from latentedit.errors import ModelFolderError
from latentedit.tokenizer import BOS_ID, EOS_ID, MASK_ID, PAD_ID, SPECIAL_TOKENS, UNK_ID, Tokenizer

CORPUS = [
    "the food was great and the staff were friendly .",
    "the service was slow but the pasta was good .",
    "i would not come back to this place .",
    "best pizza in town , highly recommended !",
    "the room was clean and quiet .",
] * 20

SENTENCES = [
    "the food was great .",
    "a completely unseen sentence with rare words like zygote",
    "Crème brûlée, naïve café — 😀👍🏽 日本語",
    "  leading and  double  spaces and trailing ",
    "tabs\tand\nnewlines",
    "UPPER lower 12345 !?",
]


@pytest.fixture(scope="module")
def tok():
    return Tokenizer.train(CORPUS, vocab_size=320)


def test_special_token_ids(tok):
    assert [tok.backend.token_to_id(t) for t in SPECIAL_TOKENS] == [0, 1, 2, 3, 4]
    assert (PAD_ID, BOS_ID, EOS_ID, UNK_ID, MASK_ID) == (0, 1, 2, 3, 4)
    assert 261 < tok.vocab_size <= 320  # byte alphabet + specials + some merges


def test_encode_decode_round_trip_including_unicode(tok):
    batch = tok.encode(SENTENCES, max_length=256)
    assert batch.truncated == 0
    assert tok.decode(batch.ids) == SENTENCES
    assert int(batch.ids.max()) < tok.vocab_size
    assert (batch.ids[batch.mask] >= len(SPECIAL_TOKENS)).sum() == batch.mask.sum() - len(SENTENCES)


def test_merges_make_training_text_shorter_than_bytes(tok):
    text = CORPUS[0]
    assert tok.count_tokens(text) < len(text.encode()) / 2


def test_rows_end_with_eos_and_are_right_padded(tok):
    batch = tok.encode(SENTENCES + [""], max_length=256)
    lengths = batch.mask.sum(1)
    for row, mask, length in zip(batch.ids, batch.mask, lengths):
        assert row[length - 1] == EOS_ID
        assert (row[:length - 1] != EOS_ID).all()
        assert mask[:length].all() and not mask[length:].any()
        assert (row[length:] == PAD_ID).all()
    assert batch.ids.dtype == torch.long and batch.mask.dtype == torch.bool
    assert batch.ids.shape[1] == int(lengths.max())
    assert batch.ids[-1, 0] == EOS_ID and tok.decode(batch.ids[-1:]) == [""]


def test_truncation_counts_and_keeps_eos(tok):
    short, long_ = "the food", "the food was great and the staff were friendly and the room was clean"
    assert tok.count_tokens(short) <= 5 < tok.count_tokens(long_)
    batch = tok.encode([short, long_, long_], max_length=6)
    assert batch.truncated == 2
    assert batch.ids.shape == (3, 6)
    assert batch.ids[1, -1] == EOS_ID and batch.ids[2, -1] == EOS_ID
    assert tok.decode(batch.ids[1:2])[0] == tok.backend.decode(tok.backend.encode(long_).ids[:5])
    assert long_.startswith(tok.decode(batch.ids[1:2])[0])


def test_decode_stops_at_first_eos_and_skips_specials(tok):
    ids = tok.encode(["the food", "was great"], max_length=32).ids
    a = [t for t in ids[0].tolist() if t != PAD_ID][:-1]
    b = [t for t in ids[1].tolist() if t != PAD_ID][:-1]
    assert tok.decode([[BOS_ID] + a + [MASK_ID, EOS_ID] + b + [EOS_ID]]) == ["the food"]
    assert tok.decode([a + [UNK_ID, PAD_ID]]) == ["the food"]


def test_save_load_round_trip(tok, tmp_path):
    path = tmp_path / "tokenizer.json"
    tok.save(path)
    loaded = Tokenizer.load(path)
    assert loaded.vocab_size == tok.vocab_size
    a, b = tok.encode(SENTENCES, max_length=40), loaded.encode(SENTENCES, max_length=40)
    assert torch.equal(a.ids, b.ids) and a.truncated == b.truncated
    assert loaded.decode(b.ids) == tok.decode(a.ids)
    assert loaded.to_json() == tok.to_json()


@pytest.mark.parametrize("content", [b"", b"not json at all", b"\x00\xff\xfe garbage", b'{"version": "1.0"}'])
def test_load_garbage_raises_model_folder_error(tmp_path, content):
    path = tmp_path / "tokenizer.json"
    path.write_bytes(content)
    with pytest.raises(ModelFolderError, match="tokenizer"):
        Tokenizer.load(path)


def test_load_missing_file_raises_model_folder_error(tmp_path):
    with pytest.raises(ModelFolderError, match="missing.json"):
        Tokenizer.load(tmp_path / "missing.json")


def test_foreign_tokenizer_without_our_special_ids_is_refused(tmp_path):
    from tokenizers import Tokenizer as HFTokenizer
    from tokenizers import models, trainers

    backend = HFTokenizer(models.BPE(unk_token="[UNK]"))
    backend.train_from_iterator(CORPUS, trainers.BpeTrainer(vocab_size=100, special_tokens=["[UNK]", "<s>"],
                                                            show_progress=False))
    backend.save(str(tmp_path / "tokenizer.json"))
    with pytest.raises(ModelFolderError, match="<pad>"):
        Tokenizer.load(tmp_path / "tokenizer.json")


def test_special_token_strings_in_text_are_plain_text(tok):
    texts = ["a </s> b", "x <pad> y", "<mask>"]
    batch = tok.encode(texts, max_length=64)
    for row, mask in zip(batch.ids, batch.mask):
        assert (row[mask] >= len(SPECIAL_TOKENS)).sum() == mask.sum() - 1  # only the final </s>
    assert tok.decode(batch.ids) == texts
