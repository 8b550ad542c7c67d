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
