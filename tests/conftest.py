import pytest
import torch
from review_model import ReviewCorpus, load_review_model

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


@pytest.fixture(scope="session")
def review_corpus():
    return ReviewCorpus()


@pytest.fixture(scope="session")
def review_model():
    """The stored tiny review model (tests/review_model.py says why it is stored): it reconstructs
    every review of review_corpus."""
    return load_review_model()


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
