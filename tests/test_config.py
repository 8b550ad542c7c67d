import dataclasses
import json
import math

import pytest

from latentedit.config import FEED_FORWARDS, MMD_KERNELS, POOLINGS, REGULARIZERS, VAEConfig
from latentedit.errors import ConfigError, LatentEditError


@pytest.mark.parametrize(
    "field, value",
    [
        ("vocab_size", 0),
        ("d_model", -32),
        ("d_ff", 0),
        ("num_heads", -1),
        ("encoder_layers", 0),
        ("latent_tokens", 0),
        ("latent_dim", -8),
        ("d_model", 32.0),
        ("d_model", "32"),
        ("d_model", True),  # a bool is not a size
        ("latent_dim", False),
        ("max_length", 1),
        ("max_length", None),
        ("dropout", 1.0),
        ("dropout", -0.1),
        ("dropout", math.nan),
        ("dropout", True),
        ("word_dropout", 1.5),
        ("mmd_weight", math.nan),
        ("mmd_weight", math.inf),
        ("beta", -1.0),
        ("beta", math.nan),
        ("free_bits", -0.5),
        ("target_rate", math.nan),
        ("target_rate", "16"),
        ("regularizer", "vae"),
        ("regularizer", "MMD"),
        ("mmd_kernel", "gaussian"),
        ("pooling", "max"),
        ("feed_forward", "swiglu"),
        ("inject_embeddings", 1),
        ("inject_embeddings", "true"),
        ("pad_token_id", -1),
        ("eos_token_id", 8192),  # equal to the default vocab_size: out of range
        ("mask_token_id", True),
    ],
)
def test_bad_value_raises_config_error_naming_the_field(field, value):
    with pytest.raises(ConfigError, match=field) as caught:
        VAEConfig(**{field: value})
    assert isinstance(caught.value, LatentEditError) and isinstance(caught.value, ValueError)
    assert repr(value) in str(caught.value) or field == "max_length"


def test_choice_error_lists_the_allowed_values():
    for field, choices in [("regularizer", REGULARIZERS), ("mmd_kernel", MMD_KERNELS),
                           ("pooling", POOLINGS), ("feed_forward", FEED_FORWARDS)]:
        with pytest.raises(ConfigError) as caught:
            VAEConfig(**{field: "nope"})
        assert all(choice in str(caught.value) for choice in choices)


def test_token_ids_checked_against_vocab_size():
    with pytest.raises(ConfigError, match="mask_token_id"):
        VAEConfig(vocab_size=4)  # mask id 4 does not fit
    assert VAEConfig(vocab_size=5).mask_token_id == 4


def test_valid_edge_values_accepted():
    cfg = VAEConfig(dropout=0.0, word_dropout=0.99, beta=0, free_bits=0, mmd_weight=0,
                    target_rate=0, max_length=2, latent_tokens=1, latent_dim=1)
    assert cfg.code_size == 1
    for regularizer in REGULARIZERS:
        for pooling in POOLINGS:
            assert VAEConfig(regularizer=regularizer, pooling=pooling).regularizer == regularizer


def test_replace_validates():
    cfg = VAEConfig()
    assert cfg.replace(d_model=64).d_model == 64
    with pytest.raises(ConfigError, match="d_model"):
        cfg.replace(d_model=0)


def test_config_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        VAEConfig().d_model = 3


def test_code_size():
    assert VAEConfig(latent_tokens=3, latent_dim=20).code_size == 60


def test_from_dict_rejects_unknown_keys_and_lists_known_ones():
    with pytest.raises(ConfigError) as caught:
        VAEConfig.from_dict({"d_model": 64, "hidden_size": 64, "num_layers": 2})
    message = str(caught.value)
    assert "hidden_size" in message and "num_layers" in message
    assert "d_model" in message.split("known keys")[1] and "latent_dim" in message


@pytest.mark.parametrize("value", [None, [1, 2], "d_model=3"])
def test_from_dict_rejects_non_mapping(value):
    with pytest.raises(ConfigError, match="mapping"):
        VAEConfig.from_dict(value)


def test_from_dict_validates_values():
    with pytest.raises(ConfigError, match="pooling"):
        VAEConfig.from_dict({"pooling": "max"})


def test_round_trip_through_dict_and_json():
    cfg = VAEConfig(vocab_size=300, d_model=48, latent_tokens=3, latent_dim=7, pooling="mean",
                    inject_embeddings=False, regularizer="kl_mdr", target_rate=5.5, feed_forward="gated-gelu")
    assert VAEConfig.from_dict(cfg.to_dict()) == cfg
    assert VAEConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    assert VAEConfig.from_dict({}) == VAEConfig()
    partial = VAEConfig.from_dict({"d_model": 64})
    assert partial.d_model == 64 and partial.d_ff == VAEConfig().d_ff
