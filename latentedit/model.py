"""The Transformer-VAE: T5 encoder -> K latent tokens -> T5 decoder.

text ids (B, T) --T5 encoder--> hidden (B, T, d) --pool--> (B, K, d)
    --Linear--> posterior mean, logvar (B, K, dz) --sample--> z (B, K, dz)
    --Linear+LayerNorm per token--> memory (B, K, d) --T5 decoder (cross-attention)--> logits

>>> import torch
>>> from latentedit import VAEConfig, TransformerVAE
>>> model = TransformerVAE(VAEConfig(vocab_size=64, d_model=32, d_ff=64, num_heads=2, d_kv=16,
...                                  encoder_layers=1, decoder_layers=1, latent_tokens=2, latent_dim=8))
>>> ids = torch.tensor([[5, 6, 7, 2]])
>>> out = model(ids, ids != 0)
>>> out.logits.shape, out.latent.shape
(torch.Size([1, 4, 64]), torch.Size([1, 2, 8]))
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from transformers import T5Config
from transformers.cache_utils import EncoderDecoderCache
from transformers.models.t5.modeling_t5 import T5Stack

from .config import VAEConfig
from .regularizers import MinimumDesiredRate, free_bits_kl, gaussian_kl, mmd_to_prior

# The keyword of T5Stack.forward that takes the decoder's key/value cache: transformers 5.24 renamed
# past_key_values to cache (the old name still works there, with a FutureWarning on every call).
CACHE_KEYWORD = "cache" if "cache" in inspect.signature(T5Stack.forward).parameters else "past_key_values"

IGNORE_INDEX = -100


@dataclass
class VAEOutput:
    """What one forward pass returns. Losses are nats per example (mean over the batch)."""

    loss: torch.Tensor  # scalar to minimise: reconstruction + regulariser terms
    reconstruction: torch.Tensor  # cross-entropy summed over tokens
    rate: torch.Tensor  # analytic KL(q(z|x) || N(0, I)) summed over latent dimensions
    mmd: torch.Tensor  # MMD between latent tokens and prior samples (0 unless regularizer="mmd")
    multiplier: torch.Tensor  # MDR Lagrange multiplier (0 unless regularizer="kl_mdr")
    bag_of_words: torch.Tensor  # order-free reconstruction loss from z alone (0 unless config.bag_of_words > 0)
    token_accuracy: torch.Tensor  # teacher-forced next-token accuracy on non-pad targets
    logits: torch.Tensor  # (B, T, V)
    latent: torch.Tensor  # z used by the decoder (B, K, dz)
    mean: torch.Tensor  # (B, K, dz)
    logvar: torch.Tensor  # (B, K, dz)


class LatentPooling(nn.Module):
    """Pools encoder states (B, T, d) to K latent tokens (B, K, d)."""

    def __init__(self, config: VAEConfig):
        super().__init__()
        self.kind = config.pooling
        k, d = config.latent_tokens, config.d_model
        if self.kind == "attention":
            self.queries = nn.Parameter(torch.randn(k, d) * d**-0.5)
            self.attention = nn.MultiheadAttention(d, config.num_heads, batch_first=True)
        else:
            self.expand = nn.Linear(d, k * d)
        self.norm = nn.LayerNorm(d)
        self.k = k

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        batch = hidden.shape[0]
        if self.kind == "attention":
            queries = self.queries.unsqueeze(0).expand(batch, -1, -1)  # (B, K, d)
            pooled, _ = self.attention(queries, hidden, hidden, key_padding_mask=~mask, need_weights=False)
        else:
            weights = mask.unsqueeze(-1).to(hidden.dtype)  # (B, T, 1)
            mean = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)  # (B, d)
            pooled = self.expand(mean).view(batch, self.k, -1)  # (B, K, d)
        return self.norm(pooled)


class TransformerVAE(nn.Module):
    """A T5-style variational autoencoder over short sequences; see :class:`VAEConfig`."""

    def __init__(self, config: VAEConfig):
        super().__init__()
        self.config = config
        t5 = T5Config(
            vocab_size=config.vocab_size, d_model=config.d_model, d_kv=config.d_kv, d_ff=config.d_ff,
            num_layers=config.encoder_layers, num_decoder_layers=config.decoder_layers,
            num_heads=config.num_heads, dropout_rate=config.dropout,
            feed_forward_proj=config.feed_forward, pad_token_id=config.pad_token_id,
            eos_token_id=config.eos_token_id, decoder_start_token_id=config.bos_token_id,
            use_cache=False, tie_word_embeddings=True,
        )
        self.shared = nn.Embedding(config.vocab_size, config.d_model)
        nn.init.normal_(self.shared.weight, std=1.0)
        self.encoder = T5Stack(T5Config(**{**t5.to_dict(), "is_decoder": False, "is_encoder_decoder": False}))
        self.decoder = T5Stack(T5Config(**{**t5.to_dict(), "is_decoder": True, "is_encoder_decoder": False,
                                           "num_layers": config.decoder_layers}))
        self.encoder.set_input_embeddings(self.shared)
        self.decoder.set_input_embeddings(self.shared)
        self.pool = LatentPooling(config)
        self.to_posterior = nn.Linear(config.d_model, 2 * config.latent_dim)
        self.to_memory = nn.Sequential(nn.Linear(config.latent_dim, config.d_model), nn.LayerNorm(config.d_model))
        self.to_embedding = nn.Linear(config.code_size, config.d_model) if config.inject_embeddings else None
        self.mdr = MinimumDesiredRate(config.target_rate) if config.regularizer == "kl_mdr" else None
        self.to_bag = nn.Linear(config.code_size, config.d_model) if config.bag_of_words > 0 else None
        self.tokenizer = None  # set by from_pretrained / the trainer; saved with the model

    # -- encoder side -------------------------------------------------------------------------

    def encode(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior parameters: ids (B, T), mask (B, T) -> mean, logvar (B, K, dz)."""
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask.long()).last_hidden_state
        pooled = self.pool(hidden, attention_mask.bool())  # (B, K, d)
        mean, logvar = self.to_posterior(pooled).chunk(2, dim=-1)
        return mean, logvar.clamp(-12.0, 8.0)

    # -- decoder side -------------------------------------------------------------------------

    def latent_context(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """z (B, K, dz) -> decoder memory (B, K, d) and the embedding offset (B, 1, d) or None."""
        memory = self.to_memory(z)
        offset = self.to_embedding(z.flatten(1)).unsqueeze(1) if self.to_embedding is not None else None
        return memory, offset

    def decoder_logits(
        self,
        decoder_input_ids: torch.Tensor,
        memory: torch.Tensor,
        offset: torch.Tensor | None,
        cache: EncoderDecoderCache | None = None,
    ) -> torch.Tensor:
        """Next-token logits (B, T, V) for decoder inputs (B, T); with a cache, T new tokens."""
        embeds = self.shared(decoder_input_ids)  # (B, T, d)
        if offset is not None:
            embeds = embeds + offset
        hidden = self.decoder(
            inputs_embeds=embeds, encoder_hidden_states=memory,
            use_cache=cache is not None, **{CACHE_KEYWORD: cache},
        ).last_hidden_state  # (B, T, d)
        return (hidden * self.config.d_model**-0.5) @ self.shared.weight.t()  # tied output layer

    def decoder_inputs(self, input_ids: torch.Tensor) -> torch.Tensor:
        """Shift targets right behind <s>; in training, replace some inputs by <mask>."""
        bos = torch.full_like(input_ids[:, :1], self.config.bos_token_id)
        shifted = torch.cat([bos, input_ids[:, :-1]], dim=1)  # (B, T)
        if self.training and self.config.word_dropout > 0:
            drop = torch.rand(shifted.shape, device=shifted.device) < self.config.word_dropout
            drop[:, 0] = False
            drop &= shifted != self.config.pad_token_id
            shifted = shifted.masked_fill(drop, self.config.mask_token_id)
        return shifted

    def encoder_inputs(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """In training, delete each token but </s> with probability config.input_deletion and
        close the gaps: ids, mask (B, T) -> ids, mask (B, T), right-padded."""
        if not (self.training and self.config.input_deletion > 0):
            return input_ids, attention_mask
        keep = attention_mask.bool() & (
            (torch.rand(input_ids.shape, device=input_ids.device) >= self.config.input_deletion)
            | (input_ids == self.config.eos_token_id))
        order = torch.argsort((~keep).to(torch.int8), dim=1, stable=True)  # kept tokens first, in order
        keep = keep.gather(1, order)
        ids = input_ids.gather(1, order).masked_fill(~keep, self.config.pad_token_id)
        return ids, keep.to(attention_mask.dtype)

    # -- training -----------------------------------------------------------------------------

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        beta: float | None = None,
        sample: bool | None = None,
    ) -> VAEOutput:
        """ids (B, T) ending in </s>, right-padded; mask (B, T). beta overrides config.beta
        (for annealing schedules); sample defaults to training mode (never for "none")."""
        cfg = self.config
        beta = cfg.beta if beta is None else beta
        sample = self.training if sample is None else sample
        mean, logvar = self.encode(*self.encoder_inputs(input_ids, attention_mask))
        if sample and cfg.regularizer != "none":
            z = mean + torch.randn_like(mean) * (0.5 * logvar).exp()
        else:
            z = mean
        read = z + torch.randn_like(z) * cfg.latent_noise if self.training and cfg.latent_noise > 0 else z
        memory, offset = self.latent_context(read)
        logits = self.decoder_logits(self.decoder_inputs(input_ids), memory, offset)

        labels = input_ids.masked_fill(~attention_mask.bool(), IGNORE_INDEX)  # (B, T)
        batch = input_ids.shape[0]
        reconstruction = F.cross_entropy(
            logits.flatten(0, 1).float(), labels.flatten(), ignore_index=IGNORE_INDEX, reduction="sum"
        ) / batch
        kl = gaussian_kl(mean.float(), logvar.float())  # (B, K, dz)
        rate = kl.sum((1, 2)).mean()
        zero = logits.new_zeros((), dtype=torch.float32)
        mmd, multiplier, regularization = zero, zero, zero
        if cfg.regularizer == "mmd":
            mmd = mmd_to_prior(z.float(), cfg.mmd_kernel)
            regularization = cfg.mmd_weight * mmd
        elif cfg.regularizer == "kl_free_bits":
            regularization = beta * free_bits_kl(kl.flatten(1), cfg.free_bits)
        elif cfg.regularizer == "kl_mdr":
            multiplier = self.mdr.multiplier.detach()
            regularization = beta * rate + self.mdr.penalty(rate)

        bag = self.bag_of_words_loss(z, labels) if self.to_bag is not None else zero

        predicted = logits.argmax(-1)
        valid = labels != IGNORE_INDEX
        accuracy = (predicted[valid] == labels[valid]).float().mean()
        return VAEOutput(
            loss=reconstruction + regularization + cfg.bag_of_words * bag, reconstruction=reconstruction, rate=rate,
            mmd=mmd, multiplier=multiplier, bag_of_words=bag, token_accuracy=accuracy, logits=logits, latent=z,
            mean=mean, logvar=logvar,
        )

    def bag_of_words_loss(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """-sum over each text's tokens of log p(token | z), order ignored, mean over the batch:
        z (B, K, dz), labels (B, T) with IGNORE_INDEX on padding."""
        logits = self.to_bag(z.flatten(1)) @ self.shared.weight.t()  # (B, V), tied to the embeddings
        counts = torch.zeros_like(logits, dtype=torch.float32).scatter_add_(
            1, labels.clamp(min=0), (labels != IGNORE_INDEX).float())  # (B, V) token counts
        return -(counts * logits.float().log_softmax(-1)).sum(-1).mean()

    # -- generation ---------------------------------------------------------------------------

    @torch.no_grad()
    def generate(self, z: torch.Tensor, method: str = "greedy", max_length: int | None = None, **options) -> torch.Tensor:
        """Decode latent codes z (B, K, dz) or flat (B, K*dz) to ids (B, T).

        method: "greedy", "sample" (temperature, top_k, top_p, generator) or "beam" (num_beams,
        length_penalty). Rows end with </s> and are padded with <pad>.
        """
        from . import decoding

        z = z.view(z.shape[0], self.config.latent_tokens, self.config.latent_dim)
        max_length = max_length or self.config.max_length
        if method == "greedy":
            return decoding.greedy(self, z, max_length, **options)
        if method == "sample":
            return decoding.sample(self, z, max_length, **options)
        if method == "beam":
            return decoding.beam_search(self, z, max_length, **options)
        raise ValueError(f"unknown decoding method {method!r}; use 'greedy', 'sample' or 'beam'")

    # -- weights on disk ------------------------------------------------------------------------

    def tensors_to_save(self) -> dict[str, torch.Tensor]:
        """State dict without the encoder/decoder views of the shared embedding (stored once)."""
        return {name: tensor.detach().cpu().contiguous() for name, tensor in self.state_dict().items()
                if not name.endswith("embed_tokens.weight")}

    def load_saved_tensors(self, tensors: dict[str, torch.Tensor], source: str = "weights") -> None:
        """Load what :meth:`tensors_to_save` wrote; a mismatch raises ModelFolderError."""
        from .errors import ModelFolderError

        expected = {name: t.shape for name, t in self.state_dict().items() if not name.endswith("embed_tokens.weight")}
        missing = sorted(set(expected) - set(tensors))
        unexpected = sorted(set(tensors) - set(expected))
        wrong_shape = sorted(k for k in set(expected) & set(tensors) if tensors[k].shape != expected[k])
        if missing or unexpected or wrong_shape:
            raise ModelFolderError(
                f"{source} do not match the model config: missing {missing[:5]}, unexpected {unexpected[:5]}, "
                f"wrong shapes {wrong_shape[:5]}; the files come from different models"
            )
        self.load_state_dict(tensors, strict=False)

    def load_t5_backbone(self, folder: str | Path) -> list[str]:
        """Initialise the encoder and decoder stacks from a local Hugging Face T5 folder.

        Reads ``model.safetensors`` only (never a pickle). Block and final-norm weights must
        match this config's backbone (d_model, d_ff, d_kv, heads, layers, feed_forward); the
        embedding table is copied too when the vocabulary sizes agree (a latentedit tokenizer
        usually differs from T5's, so it is usually trained afresh). Returns the copied names.
        """
        from safetensors.torch import load_file

        from .errors import ModelFolderError

        weights = Path(folder) / "model.safetensors"
        if not weights.is_file():
            raise ModelFolderError(f"{folder} has no model.safetensors; only safetensors T5 checkpoints are read")
        source = load_file(str(weights))
        own = self.state_dict()
        stacks = ("encoder.block.", "encoder.final_layer_norm.", "decoder.block.", "decoder.final_layer_norm.")
        wanted = [n for n in own if n.startswith(stacks)]
        missing = [n for n in wanted if n not in source]
        wrong = [n for n in wanted if n in source and source[n].shape != own[n].shape]
        if missing or wrong:
            raise ModelFolderError(
                f"{weights} does not fit this backbone: missing {missing[:3]}, wrong shapes {wrong[:3]}; "
                "set d_model, d_ff, d_kv, num_heads, layers and feed_forward to the T5 checkpoint's values"
            )
        copied = {n: source[n] for n in wanted}
        if "shared.weight" in source and source["shared.weight"].shape == own["shared.weight"].shape:
            copied["shared.weight"] = source["shared.weight"]
        self.load_state_dict(copied, strict=False)
        return sorted(copied)

    # -- model folder -------------------------------------------------------------------------

    def save_pretrained(self, folder: str | Path) -> None:
        """Write config.json, model.safetensors and tokenizer.json atomically."""
        from .model_folder import save_model

        save_model(self, folder)

    @classmethod
    def from_pretrained(cls, folder: str | Path, device: str | torch.device = "cpu") -> "TransformerVAE":
        """Load a model folder (safetensors only) with its tokenizer as ``model.tokenizer``."""
        from .model_folder import load_model

        return load_model(folder, device=device)
