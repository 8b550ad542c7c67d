"""Batched decoding from latent codes with a key/value cache: greedy, sampling, beam search.

Each function takes the model and z (B, K, dz) and returns ids (B, T): every row ends with
</s> (unless it hit max_length) and is right-padded with <pad>.
"""

from __future__ import annotations

import torch
from transformers.cache_utils import DynamicCache, EncoderDecoderCache


def _new_cache() -> EncoderDecoderCache:
    return EncoderDecoderCache(DynamicCache(), DynamicCache())


def _step_loop(model, z: torch.Tensor, max_length: int, choose) -> torch.Tensor:
    """Shared loop of greedy and sampling: choose(logits (B', V)) -> next ids (B',).

    Rows that have produced </s> leave the batch (and the cache), so a long straggler does not
    make every finished row pay for its steps.
    """
    cfg = model.config
    memory, offset = model.latent_context(z)
    cache = _new_cache()
    batch = z.shape[0]
    output = torch.full((batch, max_length), cfg.pad_token_id, dtype=torch.long, device=z.device)
    active = torch.arange(batch, device=z.device)  # rows still being decoded
    current = torch.full((batch, 1), cfg.bos_token_id, dtype=torch.long, device=z.device)
    length = 0
    for step in range(max_length):
        logits = model.decoder_logits(current, memory, offset, cache)[:, -1].float()  # (B', V)
        next_ids = choose(logits)
        output[active, step] = next_ids
        length = step + 1
        running = next_ids != cfg.eos_token_id
        if not running.any():
            break
        if not running.all():
            keep = running.nonzero().squeeze(1)
            active, next_ids, memory = active[keep], next_ids[keep], memory[keep]
            offset = offset[keep] if offset is not None else None
            cache.reorder_cache(keep)
        current = next_ids.unsqueeze(1)
    return output[:, :length]


def greedy(model, z: torch.Tensor, max_length: int) -> torch.Tensor:
    return _step_loop(model, z, max_length, lambda logits: logits.argmax(-1))


def sample(
    model,
    z: torch.Tensor,
    max_length: int,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Ancestral sampling with temperature and optional top-k / nucleus (top-p) filtering."""
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")

    def choose(logits: torch.Tensor) -> torch.Tensor:
        logits = logits / temperature
        if top_k > 0:
            kth = logits.topk(min(top_k, logits.shape[-1]), dim=-1).values[:, -1:]
            logits = logits.masked_fill(logits < kth, float("-inf"))
        if top_p < 1.0:
            sorted_logits, order = logits.sort(dim=-1, descending=True)
            cumulative = sorted_logits.softmax(-1).cumsum(-1)
            drop_sorted = cumulative - sorted_logits.softmax(-1) > top_p  # keep the first token always
            drop = drop_sorted.scatter(1, order, drop_sorted)
            logits = logits.masked_fill(drop, float("-inf"))
        probs = logits.softmax(-1)
        return torch.multinomial(probs, 1, generator=generator).squeeze(1)

    return _step_loop(model, z, max_length, choose)


def beam_search(model, z: torch.Tensor, max_length: int, num_beams: int = 4, length_penalty: float = 1.0) -> torch.Tensor:
    """Beam search; the best finished beam per row by log-prob / length**length_penalty."""
    cfg = model.config
    batch = z.shape[0]
    z = z.repeat_interleave(num_beams, dim=0)  # (B*nb, K, dz)
    memory, offset = model.latent_context(z)
    cache = _new_cache()
    scores = torch.full((batch, num_beams), float("-inf"), device=z.device)
    scores[:, 0] = 0.0  # all beams start identical: keep one alive
    scores = scores.view(-1)  # (B*nb,)
    sequences = torch.empty((batch * num_beams, 0), dtype=torch.long, device=z.device)
    finished = torch.zeros(batch * num_beams, dtype=torch.bool, device=z.device)
    current = torch.full((batch * num_beams, 1), cfg.bos_token_id, dtype=torch.long, device=z.device)
    for _ in range(max_length):
        log_probs = model.decoder_logits(current, memory, offset, cache)[:, -1].float().log_softmax(-1)
        vocab = log_probs.shape[-1]
        # a finished beam can only continue with <pad> at no cost
        log_probs[finished] = float("-inf")
        log_probs[finished, cfg.pad_token_id] = 0.0
        candidates = (scores.unsqueeze(1) + log_probs).view(batch, num_beams * vocab)
        top_scores, top_index = candidates.topk(num_beams, dim=-1)  # (B, nb)
        origin = (top_index // vocab + torch.arange(batch, device=z.device).unsqueeze(1) * num_beams).view(-1)
        tokens = (top_index % vocab).view(-1)
        cache.reorder_cache(origin)
        sequences = torch.cat([sequences[origin], tokens.unsqueeze(1)], dim=1)
        finished = finished[origin] | (tokens == cfg.eos_token_id)
        scores = top_scores.view(-1)
        if finished.all():
            break
        current = tokens.unsqueeze(1)
    lengths = (sequences != cfg.pad_token_id).sum(1).clamp(min=1).float()
    normalized = (scores / lengths**length_penalty).view(batch, num_beams)
    best = normalized.argmax(-1) + torch.arange(batch, device=z.device) * num_beams
    return sequences[best]
