"""The one configuration object of a Transformer-VAE: backbone, bottleneck and regulariser.

Everything a model needs to be rebuilt is here; it is written to ``config.json`` in a model
folder and validated both when built in code and when read from disk.

>>> cfg = VAEConfig(vocab_size=512, d_model=64, latent_tokens=2, latent_dim=16)
>>> cfg.code_size
32
>>> VAEConfig.from_dict(cfg.to_dict()) == cfg
True
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from typing import Any

from .errors import ConfigError
from .validation import check_bool, check_choice, check_int, check_number

REGULARIZERS = ("mmd", "kl_free_bits", "kl_mdr", "none")
MMD_KERNELS = ("imq", "rbf")
POOLINGS = ("attention", "mean")
FEED_FORWARDS = ("relu", "gated-gelu")


@dataclass(frozen=True)
class VAEConfig:
    """Hyperparameters of :class:`latentedit.model.TransformerVAE`.

    Backbone (Hugging Face T5 stacks built from this config, no download):
        vocab_size, d_model, d_ff, num_heads, d_kv, encoder_layers, decoder_layers, dropout,
        feed_forward ("relu" as in T5 v1.0 or "gated-gelu" as in T5 v1.1),
        max_length (tokens per example, end-of-sequence token included).
    Bottleneck:
        latent_tokens (K) x latent_dim (dz); the flat code has K*dz numbers.
        pooling: "attention" (K learned queries attend over the encoder output) or "mean".
        inject_embeddings: also add a projection of z to every decoder input embedding.
    Regulariser:
        "mmd" (MMD to a standard normal; kernel "imq" or "rbf", weight mmd_weight),
        "kl_free_bits" (KL with a floor of free_bits nats per latent dimension),
        "kl_mdr" (KL with a minimum desired rate target_rate in nats per example,
        enforced by a learned Lagrange multiplier), or "none" (plain autoencoder).
        beta weighs the KL term.
    Training-time noise (no weights depend on it, so a continued run may change it):
        word_dropout replaces decoder inputs by <mask>; input_deletion deletes each encoder input
        token (never </s>) with that probability, so that texts a few tokens apart must share a
        code: a denoising autoencoder (Shen et al. 2020, "Educating text autoencoders");
        latent_noise adds Gaussian noise of that standard deviation to every code the decoder
        reads, so that a ball around each code decodes to its text.
    Auxiliary loss:
        bag_of_words > 0 adds that weight times a bag-of-words loss: the code alone, through one
        linear map into the (tied) embeddings, predicts the text's tokens regardless of order,
        so that what a text is about is linearly readable from its code (Zhao et al. 2017). On
        the default model it did not lift the AG News topic probe and cost reconstruction
        (benchmarks/results/bag_of_words.md), so no built-in model uses it.
    """

    vocab_size: int = 8192
    d_model: int = 256
    d_ff: int = 1024
    num_heads: int = 4
    d_kv: int = 64
    encoder_layers: int = 3
    decoder_layers: int = 3
    dropout: float = 0.1
    feed_forward: str = "relu"
    max_length: int = 48
    latent_tokens: int = 4
    latent_dim: int = 64
    pooling: str = "attention"
    inject_embeddings: bool = True
    regularizer: str = "mmd"
    mmd_kernel: str = "imq"
    mmd_weight: float = 10.0
    beta: float = 1.0
    free_bits: float = 0.5
    target_rate: float = 16.0
    word_dropout: float = 0.0
    input_deletion: float = 0.0
    latent_noise: float = 0.0
    bag_of_words: float = 0.0
    pad_token_id: int = 0
    bos_token_id: int = 1
    eos_token_id: int = 2
    mask_token_id: int = 4

    def __post_init__(self) -> None:
        for name in ("vocab_size", "d_model", "d_ff", "num_heads", "d_kv", "encoder_layers", "decoder_layers",
                     "latent_tokens", "latent_dim"):
            check_int(name, getattr(self, name), minimum=1, error=ConfigError, expected="a positive integer")
        check_int("max_length", self.max_length, minimum=2, error=ConfigError)
        for name in ("pad_token_id", "bos_token_id", "eos_token_id", "mask_token_id"):
            check_int(name, getattr(self, name), minimum=0, maximum=self.vocab_size - 1, error=ConfigError)
        for name in ("dropout", "word_dropout", "input_deletion"):
            check_number(name, getattr(self, name), 0.0, 1.0, open_max=True, error=ConfigError)
        for name in ("mmd_weight", "beta", "free_bits", "target_rate", "bag_of_words", "latent_noise"):
            check_number(name, getattr(self, name), minimum=0.0, error=ConfigError)
        check_choice("regularizer", self.regularizer, REGULARIZERS, ConfigError)
        check_choice("mmd_kernel", self.mmd_kernel, MMD_KERNELS, ConfigError)
        check_choice("pooling", self.pooling, POOLINGS, ConfigError)
        check_choice("feed_forward", self.feed_forward, FEED_FORWARDS, ConfigError)
        check_bool("inject_embeddings", self.inject_embeddings, ConfigError)

    @property
    def code_size(self) -> int:
        """Length of the flat latent code (latent_tokens * latent_dim)."""
        return self.latent_tokens * self.latent_dim

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "VAEConfig":
        """Build from a dict, refusing unknown keys with the list of known ones."""
        if not isinstance(values, dict):
            raise ConfigError(f"a model config must be a mapping, got {type(values).__name__}")
        unknown, known = unknown_keys(cls, values)
        if unknown:
            raise ConfigError(f"unknown model config keys {unknown}; known keys: {known}")
        return cls(**values)

    def replace(self, **changes: Any) -> "VAEConfig":
        return dataclasses.replace(self, **changes)


def unknown_keys(cls, values: dict) -> tuple[list, list[str]]:
    """The keys of ``values`` that are not fields of dataclass ``cls`` (sorted by repr, so keys of
    any type can be listed), and the field names."""
    known = {f.name for f in fields(cls)}
    return sorted(set(values) - known, key=repr), sorted(known)
