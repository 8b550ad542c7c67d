import pytest
import torch

from latentedit import VAEConfig


def tiny_config(**changes) -> VAEConfig:
    """A VAEConfig small enough for CPU tests (d_model 32, one or two layers)."""
    values = dict(vocab_size=64, d_model=32, d_ff=64, num_heads=2, d_kv=16, encoder_layers=1,
                  decoder_layers=2, dropout=0.0, latent_tokens=2, latent_dim=8, max_length=12)
    values.update(changes)
    return VAEConfig(**values)


@pytest.fixture(scope="session")
def make_config():
    return tiny_config


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny models run as fast on one thread, and several threads slow down ~10x when other
    processes keep the cores busy (OpenMP threads wait on each other)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


# -- a tiny trained Transformer-VAE for the editing tests (heads, directions, search, editor) -----

REVIEW_NOUNS = ("food", "service", "staff", "room", "pizza", "coffee", "music", "view")
POSITIVE_WORDS = {"great": 5.0, "amazing": 5.0, "lovely": 4.0, "good": 4.0}
NEGATIVE_WORDS = {"awful": 1.0, "rude": 1.0, "bad": 2.0, "cold": 2.0}


class ReviewCorpus:
    """64 short reviews "the <noun> was <adjective> ." in two clusters (positive / negative),
    with a sentiment label and a numeric rating (1..5) fixed by the adjective."""

    def __init__(self):
        self.positive = [f"the {n} was {a} ." for n in REVIEW_NOUNS for a in POSITIVE_WORDS]
        self.negative = [f"the {n} was {a} ." for n in REVIEW_NOUNS for a in NEGATIVE_WORDS]
        self.texts = self.positive + self.negative
        self.labels = ["pos"] * len(self.positive) + ["neg"] * len(self.negative)
        words = {**POSITIVE_WORDS, **NEGATIVE_WORDS}
        self.ratings = [words[text.split()[-2]] for text in self.texts]


@pytest.fixture(scope="session")
def review_corpus():
    return ReviewCorpus()


@pytest.fixture(scope="session")
def review_model(review_corpus):
    """A TransformerVAE (d_model 32, latent 2x8, plain autoencoder) + Tokenizer trained with Adam
    until it reconstructs every review teacher-forced for 20 steps in a row (a few seconds)."""
    import time

    from latentedit import Tokenizer, TransformerVAE

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(0)
        texts = review_corpus.texts
        tokenizer = Tokenizer.train(texts, vocab_size=400, min_frequency=1)
        batch = tokenizer.encode(texts, max_length=12)
        model = TransformerVAE(tiny_config(vocab_size=tokenizer.vocab_size, decoder_layers=1, regularizer="none"))
        model.tokenizer = tokenizer
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
        start, perfect = time.perf_counter(), 0
        for _ in range(600):
            out = model(batch.ids, batch.mask)
            optimizer.zero_grad()
            out.loss.backward()
            optimizer.step()
            perfect = perfect + 1 if float(out.token_accuracy) == 1.0 else 0
            if perfect >= 20 or time.perf_counter() - start > 40:
                break
        return model.eval()
    finally:
        torch.set_num_threads(before)


@pytest.fixture(scope="session")
def _fitted_review_editor(review_model, review_corpus):
    """The tiny model wrapped in a LatentEditor with a "sentiment" classification head, a "rating"
    regression head and a "positive" direction (negative -> positive reviews, judged by the head)."""
    from latentedit import LatentEditor

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(0)
        corpus = review_corpus
        editor = LatentEditor(review_model, quiet=True)
        editor.fit_head("sentiment", corpus.texts, labels=corpus.labels)
        editor.fit_head("rating", corpus.texts, values=corpus.ratings)
        editor.learn_direction("positive", corpus.positive, corpus.negative, head="sentiment", target="pos")
        return editor
    finally:
        torch.set_num_threads(before)


@pytest.fixture
def review_editor(_fitted_review_editor):
    """A fresh LatentEditor per test over the shared model, heads and directions (tests may add or
    remove heads and directions without affecting each other)."""
    from latentedit import LatentEditor

    fitted = _fitted_review_editor
    return LatentEditor(fitted.model, heads=dict(fitted.heads), directions=dict(fitted.directions), quiet=True)
