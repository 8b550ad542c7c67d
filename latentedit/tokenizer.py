"""Byte-level BPE tokenizer, trained per corpus and saved as ``tokenizer.json`` with the model.

>>> tok = Tokenizer.train(["the food was great .", "the service was slow ."] * 50, vocab_size=300)
>>> batch = tok.encode(["the food was slow ."], max_length=16)
>>> tok.decode(batch.ids)
['the food was slow .']
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import torch
from tokenizers import Tokenizer as HFTokenizer
from tokenizers import decoders, models, pre_tokenizers, trainers

from .errors import InputError, ModelFolderError
from .validation import check_int, check_path, check_text

SPECIAL_TOKENS = ["<pad>", "<s>", "</s>", "<unk>", "<mask>"]  # ids 0..4, as in VAEConfig
PAD_ID, BOS_ID, EOS_ID, UNK_ID, MASK_ID = range(5)
MAX_VOCAB_SIZE = 1_000_000  # larger vocabularies make the BPE trainer panic or exhaust memory


@dataclass
class EncodedBatch:
    """Token ids ending with </s>, right-padded with <pad>.

    ids (B, T) long, mask (B, T) bool; truncated counts the examples cut to max_length.
    """

    ids: torch.Tensor
    mask: torch.Tensor
    truncated: int


class Tokenizer:
    """Thin wrapper around a Hugging Face ``tokenizers`` byte-level BPE model."""

    def __init__(self, backend: HFTokenizer):
        for expected_id, token in enumerate(SPECIAL_TOKENS):
            if backend.token_to_id(token) != expected_id:
                raise ModelFolderError(
                    f"tokenizer special token {token!r} must have id {expected_id}; "
                    "this tokenizer.json was not made by latentedit"
                )
        backend.encode_special_tokens = True  # "</s>" typed in a text is text, not an end of sequence
        self.backend = backend

    @classmethod
    def train(cls, texts: Iterable[str], vocab_size: int = 8192, min_frequency: int = 2) -> "Tokenizer":
        """Train a byte-level BPE on an iterable of texts."""
        vocab_size = check_int("vocab_size", vocab_size, minimum=len(SPECIAL_TOKENS), maximum=MAX_VOCAB_SIZE)
        min_frequency = check_int("min_frequency", min_frequency, minimum=0)
        if isinstance(texts, (str, bytes)):
            raise InputError(f"texts must be a list of strings, not one {type(texts).__name__}")
        try:
            items = iter(texts)
        except TypeError:
            raise InputError(f"texts must be a list of strings, got {type(texts).__name__}") from None
        checked = (check_text(text, f"text {index}", allow_empty=True) for index, text in enumerate(items))
        backend = HFTokenizer(models.BPE(unk_token="<unk>"))
        backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        backend.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            min_frequency=min_frequency,
            special_tokens=SPECIAL_TOKENS,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        )
        backend.train_from_iterator(checked, trainer=trainer)
        return cls(backend)

    @classmethod
    def load(cls, path: str | Path) -> "Tokenizer":
        path = check_path("tokenizer path", path, ModelFolderError)
        try:
            return cls(HFTokenizer.from_file(str(path)))
        except ModelFolderError:
            raise
        except Exception as error:  # tokenizers raises plain Exceptions with terse text
            raise ModelFolderError(f"cannot read tokenizer file {path}: {error}") from None

    def save(self, path: str | Path) -> None:
        self.backend.save(str(path))

    def to_json(self) -> str:
        return self.backend.to_str()

    @property
    def vocab_size(self) -> int:
        return self.backend.get_vocab_size()

    def encode(self, texts: list[str], max_length: int) -> EncodedBatch:
        """Encode texts to ids + </s>; texts longer than max_length tokens are truncated."""
        texts = _check_texts(texts)
        max_length = check_int("max_length", max_length, minimum=2)
        pieces = [encoding.ids for encoding in self.backend.encode_batch(texts, add_special_tokens=False)]
        limit = max_length - 1  # room for </s>
        truncated = sum(len(p) > limit for p in pieces)
        rows = [p[:limit] + [EOS_ID] for p in pieces]
        width = max(len(r) for r in rows) if rows else 1
        ids = torch.full((len(rows), width), PAD_ID, dtype=torch.long)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
        return EncodedBatch(ids=ids, mask=ids != PAD_ID, truncated=truncated)

    def count_tokens(self, text: str) -> int:
        check_text(text, allow_empty=True)
        return len(self.backend.encode(text, add_special_tokens=False).ids)

    def decode(self, ids: torch.Tensor | list[list[int]]) -> list[str]:
        """Decode rows of ids, stopping each row at its first </s> and skipping specials (and ids
        outside the vocabulary)."""
        if isinstance(ids, torch.Tensor):
            if ids.ndim != 2 or ids.dtype.is_floating_point or ids.dtype.is_complex or ids.dtype == torch.bool:
                raise InputError(f"ids must be a 2-D tensor of integer token ids, got {ids.dtype} of shape {tuple(ids.shape)}")
            rows = ids.tolist()
        elif isinstance(ids, (list, tuple)) and all(isinstance(row, (list, tuple)) for row in ids):
            rows = ids
        else:
            raise InputError(f"ids must be a 2-D tensor or a list of lists of token ids, got {type(ids).__name__}")
        vocab_size = self.vocab_size
        cleaned = []
        for index, row in enumerate(rows):
            if not all(isinstance(t, int) and not isinstance(t, bool) for t in row):
                raise InputError(f"row {index} of ids holds something other than integer token ids")
            if EOS_ID in row:
                row = row[: row.index(EOS_ID)]
            cleaned.append([t for t in row if len(SPECIAL_TOKENS) <= t < vocab_size])
        return self.backend.decode_batch(cleaned, skip_special_tokens=True)


def _check_texts(texts) -> list[str]:
    """A list or tuple of str (each encodable to UTF-8; empty ones allowed) as a list."""
    if not isinstance(texts, (list, tuple)):
        raise InputError(f"texts must be a list of strings, got {type(texts).__name__}")
    return [check_text(text, f"text {index}", allow_empty=True) for index, text in enumerate(texts)]
