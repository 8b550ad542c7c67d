"""Batched decoding from latent codes with a key/value cache: greedy, sampling, beam search.

Each function takes the model and z (B, K, dz) and returns ids (B, T): every row ends with
</s> (unless it hit max_length) and is right-padded with <pad>.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import torch
from transformers.cache_utils import DynamicCache, EncoderDecoderCache

# Greedy decoding and sampling never repeat a 4-gram of tokens: on the default model this keeps
# exact match on 1000 Yelp dev sentences (15.2%) and lifts BLEU to the input from 20.0 to 26.0 by
# stopping loops such as "super super super ..."; 0.2% of real Yelp sentences repeat a word trigram.
NO_REPEAT_NGRAM = 4

# Checking drafts in one parallel pass pays while a decoding step is bound by reading the weights,
# not by arithmetic: on the default model (1 CPU thread) drafted greedy decoding of Yelp dev
# sentences that decode back to themselves took 0.2x the time of plain greedy for batches of 1-8
# rows, 0.5x for 32 and 1.06x for 128; sentences that do not took 0.84x (1 row) to 1.1x (8 rows)
# and 2x (128 rows). Larger batches are decoded without their drafts.
DRAFT_MAX_ROWS = 8


class TokenGuard(Protocol):
    """Which tokens each row of a greedy or beam decoding may write next (a row's state follows what it
    wrote): :class:`latentedit.lexicon.WordGuard` (known words) and
    :class:`latentedit.python_syntax.SyntaxGuard` (Python that can still parse)."""

    def select(self, rows: Sequence[int]) -> "TokenGuard":
        """A guard of only ``rows`` (in that order), in their current states."""

    def advance(self, rows: Sequence[int], tokens: Sequence[int]) -> None:
        """Rows ``rows`` wrote ``tokens``."""

    def restrict_(self, logits: torch.Tensor, rows: Sequence[int]) -> torch.Tensor:
        """Forbid (-inf) in ``logits`` (len(rows), V) what each row may not write next, in place;
        a row left with nothing allowed keeps its logits."""


def _new_cache() -> EncoderDecoderCache:
    return EncoderDecoderCache(DynamicCache(), DynamicCache())


def banned_repeats(history: torch.Tensor, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Tokens that would repeat an n-gram: history (B, T) -> (rows, tokens) to forbid next.

    A row whose last n-1 tokens already occurred earlier, followed by token t, may not produce t
    now (so a decoder cannot loop on "super super super ...").
    """
    width = history.shape[1]
    if n < 2 or width < n:
        empty = torch.zeros(0, dtype=torch.long, device=history.device)
        return empty, empty
    windows = history.unfold(1, n, 1)  # (B, T-n+1, n): every n-gram so far
    prefix = history[:, width - n + 1 :]  # (B, n-1): the tokens the next n-gram starts with
    matches = (windows[:, :, :-1] == prefix.unsqueeze(1)).all(-1)  # (B, T-n+1)
    rows, where = matches.nonzero(as_tuple=True)
    return rows, windows[rows, where, -1]


def anchor_bonus(anchor: torch.Tensor, previous: torch.Tensor | None, vocab: int, pad_id: int) -> torch.Tensor:
    """Where a decoded row would continue its source text: anchor (B, L) source ids (padded with
    ``pad_id``), previous (B,) the last decoded ids or None at the first step -> (B, V) with 1.0
    on every token that follows an occurrence of ``previous`` in the source (at the first step:
    the source's first token), else 0.0.

    >>> anchor_bonus(torch.tensor([[5, 6, 5, 7]]), torch.tensor([5]), 8, 0).nonzero().tolist()
    [[0, 6], [0, 7]]
    """
    bonus = torch.zeros(anchor.shape[0], vocab, device=anchor.device)
    if previous is None:
        return bonus.scatter_(1, anchor[:, :1], 1.0)
    follows = (anchor[:, :-1] == previous.unsqueeze(1)) & (anchor[:, 1:] != pad_id)  # (B, L-1)
    return bonus.scatter_reduce_(1, anchor[:, 1:], follows.float(), reduce="amax")


@dataclass
class LengthPrior:
    """Ends rows near reference lengths: at every step past its reference length, a row's </s>
    logit gains ``weight`` more (``lengths`` (B,) in tokens, without </s>; after writing t
    tokens, </s> gains weight * max(0, t - length)). An edit then ends near its source's length
    instead of rambling on once the decoder leaves the source's wording."""

    lengths: torch.Tensor  # (B,)
    weight: float
    eos_id: int

    def select(self, rows: torch.Tensor | Sequence[int]) -> "LengthPrior":
        return LengthPrior(self.lengths[torch.as_tensor(rows, device=self.lengths.device)], self.weight, self.eos_id)

    def add_(self, logits: torch.Tensor, step: int) -> torch.Tensor:
        """Add the </s> bonus to ``logits`` (B, V) after ``step`` written tokens, in place."""
        logits[:, self.eos_id] += self.weight * (step - self.lengths).clamp(min=0).to(logits.dtype)
        return logits


def length_prior(lengths: torch.Tensor | None, weight: float, eos_id: int) -> LengthPrior | None:
    """A :class:`LengthPrior`, or None when there is none to apply (no lengths or weight 0)."""
    return LengthPrior(lengths, float(weight), eos_id) if lengths is not None and weight > 0 else None


def _adjusted(logits: torch.Tensor, history: torch.Tensor, pad_id: int, no_repeat_ngram: int,
              anchor: torch.Tensor | None, anchor_weight: float, prior: LengthPrior | None = None) -> torch.Tensor:
    """Step logits (B, V) after ``history`` (B, t) decoded ids: the anchor bonus and the length
    prior's </s> bonus added, and repeated n-grams banned (in place; see :func:`_step_loop`)."""
    step = history.shape[1]
    if anchor is not None and anchor_weight > 0:
        logits += anchor_weight * anchor_bonus(anchor, history[:, -1] if step else None, logits.shape[-1], pad_id)
    if prior is not None:
        prior.add_(logits, step)
    if no_repeat_ngram >= 2 and step >= no_repeat_ngram - 1:
        rows, tokens = banned_repeats(history, no_repeat_ngram)
        logits[rows, tokens] = float("-inf")
    return logits


def _next_logits(logits: torch.Tensor, history: torch.Tensor, pad_id: int, no_repeat_ngram: int,
                 anchor: torch.Tensor | None, anchor_weight: float, guard: TokenGuard | None,
                 rows: list[int], prior: LengthPrior | None = None) -> torch.Tensor:
    """Step logits (B, V) after ``history`` (B, t): the anchor and length bonuses added, then,
    with a ``guard`` (its rows ``rows``), only what the guard allows, then repeated n-grams banned
    (see :func:`_adjusted`). The guard outranks the ban: a row the two together leave nothing
    keeps what the guard allows."""
    if guard is None:
        return _adjusted(logits, history, pad_id, no_repeat_ngram, anchor, anchor_weight, prior)
    logits = _adjusted(logits, history, pad_id, 0, anchor, anchor_weight, prior)
    allowed = guard.restrict_(logits, rows).clone()
    logits = _adjusted(logits, history, pad_id, no_repeat_ngram, None, 0.0)
    stuck = ~torch.isfinite(logits).any(-1)
    logits[stuck] = allowed[stuck]
    return logits


def _step_loop(model, z: torch.Tensor, max_length: int, choose, no_repeat_ngram: int = 0,
               anchor: torch.Tensor | None = None, anchor_weight: float = 0.0,
               prefix: torch.Tensor | None = None, cache: EncoderDecoderCache | None = None,
               guard: TokenGuard | None = None, prior: LengthPrior | None = None) -> torch.Tensor:
    """Shared loop of greedy and sampling: choose(logits (B', V)) -> next ids (B',).

    Rows that have produced </s> leave the batch (and the cache), so a long straggler does not
    make every finished row pay for its steps. With ``no_repeat_ngram`` = n >= 2, no row repeats
    an n-gram of tokens (see :func:`banned_repeats`). With source ids ``anchor`` (B, L) and
    ``anchor_weight`` > 0, each row's logits gain that much for every token that would continue
    its source (see :func:`anchor_bonus`): the decoder keeps the source's wording wherever the
    code does not pull strongly elsewhere. ``prefix`` (B, m), m >= 1, resumes after m tokens
    already chosen, with ``cache`` holding the decoder's states of <s> and prefix[:, :-1]. A
    ``guard`` (one row per row of z, see :class:`TokenGuard`) lets each row write only what it
    allows (known words, :mod:`latentedit.lexicon`; Python, :mod:`latentedit.python_syntax`). A
    length ``prior`` (:class:`LengthPrior`, one row per row of z) ends rows near its lengths.
    """
    cfg = model.config
    memory, offset = model.latent_context(z)
    batch = z.shape[0]
    output = torch.full((batch, max_length), cfg.pad_token_id, dtype=torch.long, device=z.device)
    active = torch.arange(batch, device=z.device)  # rows still being decoded
    if prefix is None:  # a cache of an unused prefix is ignored
        cache, begin = _new_cache(), 0
        current = torch.full((batch, 1), cfg.bos_token_id, dtype=torch.long, device=z.device)
    else:
        begin = prefix.shape[1]
        output[:, :begin], current = prefix, prefix[:, -1:]
        if guard is not None:
            for t in range(begin):
                guard.advance(range(batch), prefix[:, t].tolist())
    length = begin
    for step in range(begin, max_length):
        logits = model.decoder_logits(current, memory, offset, cache)[:, -1].float()  # (B', V)
        logits = _next_logits(logits, output[active, :step], cfg.pad_token_id, no_repeat_ngram,
                              anchor[active] if anchor is not None else None, anchor_weight, guard, active.tolist(),
                              prior.select(active) if prior is not None else None)
        next_ids = choose(logits)
        if guard is not None:
            guard.advance(active.tolist(), next_ids.tolist())
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


def teacher_forced_scores(model, z: torch.Tensor, ids: torch.Tensor, contrast: torch.Tensor | None = None,
                          contrast_weight: float = 0.0) -> torch.Tensor:
    """Next-token scores (B, L, V) at every position of ids (B, L) (ending with </s>, padded),
    decoded from z (B, K, dz) with the ids as the decoder's inputs: row t scores the token after
    <s> ids[:, :t]. The logits; or, with ``contrast`` codes (B, K, dz) and a ``contrast_weight``
    w > 0, log p(.|z) + w * (log p(.|z) - log p(.|contrast)): tokens that the move from the
    contrast codes to z makes likelier gain, tokens both codes agree on keep their rank."""
    inputs = torch.cat([torch.full_like(ids[:, :1], model.config.bos_token_id), ids[:, :-1]], 1)
    scores = lambda codes: model.decoder_logits(inputs, *model.latent_context(codes)).float()  # noqa: E731
    if contrast is None or not contrast_weight > 0:
        return scores(z)
    own, other = scores(z).log_softmax(-1), scores(contrast).log_softmax(-1)
    return own + contrast_weight * (own - other)


def greedy(model, z: torch.Tensor, max_length: int, no_repeat_ngram: int = NO_REPEAT_NGRAM,
           anchor: torch.Tensor | None = None, anchor_weight: float = 0.0,
           draft: torch.Tensor | None = None, guard: TokenGuard | None = None,
           lengths: torch.Tensor | None = None, length_weight: float = 0.0) -> torch.Tensor:
    """Greedy decoding. With ``draft`` (B, L) ids (each row ending with </s>, padded with <pad>),
    e.g. the source text of an edit, one teacher-forced pass checks the draft first: a row whose
    greedy choice matches its draft through </s> is done without a step loop, and the step loop
    of the others starts after the longest prefix that they all share with their drafts. The
    output is the greedy decode either way (up to float rounding between the parallel pass and
    cached steps). Batches of more than :data:`DRAFT_MAX_ROWS` rows ignore their drafts. With a
    ``guard`` (:class:`TokenGuard`), every token written is one the guard allows; it must allow each
    row's draft (a word guard: give it the draft's words), so that a draft greedy agrees with is
    what the guarded decode writes too. With reference ``lengths`` (B,) in tokens and
    ``length_weight`` > 0, a :class:`LengthPrior` ends each row near its length."""
    choose = lambda logits: logits.argmax(-1)  # noqa: E731
    cfg = model.config
    prior = length_prior(lengths, length_weight, cfg.eos_token_id)
    if draft is None or z.shape[0] > DRAFT_MAX_ROWS:
        return _step_loop(model, z, max_length, choose, no_repeat_ngram, anchor, anchor_weight, guard=guard, prior=prior)
    draft = draft[:, :max_length].to(z.device)
    batch, width = draft.shape
    memory, offset = model.latent_context(z)
    cache = _new_cache()
    inputs = torch.cat([torch.full((batch, 1), cfg.bos_token_id, dtype=torch.long, device=z.device), draft[:, :-1]], 1)
    logits = model.decoder_logits(inputs, memory, offset, cache).float()  # (B, L, V)
    chosen = torch.stack([_adjusted(logits[:, t], draft[:, :t], cfg.pad_token_id, no_repeat_ngram, anchor, anchor_weight,
                                    prior).argmax(-1) for t in range(width)], 1)  # (B, L): greedy choice after each draft prefix
    agreed = (chosen == draft).long().cumprod(1).sum(1)  # (B,) leading draft tokens greedy agrees with
    is_end = draft == cfg.eos_token_id
    ends = is_end.long().argmax(1)  # (B,) where each draft's </s> is
    done = (is_end.any(1) & (agreed > ends)) | (agreed == max_length)
    output = draft.masked_fill(~done.unsqueeze(1), cfg.pad_token_id)
    rest = (~done).nonzero().squeeze(1)
    if len(rest):
        shared = int(agreed[rest].min())  # steps every remaining row can skip
        prefix = None
        if shared:
            cache.crop(shared - width)  # keep the states of <s> and the shared prefix but its last token
            cache.reorder_cache(rest)
            prefix = draft[rest, :shared]
        tail = _step_loop(model, z[rest], max_length, choose, no_repeat_ngram,
                          anchor[rest] if anchor is not None else None, anchor_weight, prefix=prefix, cache=cache,
                          guard=guard.select(rest.tolist()) if guard is not None else None,
                          prior=prior.select(rest) if prior is not None else None)
        length = max(tail.shape[1], output.shape[1])
        output = torch.nn.functional.pad(output, (0, length - output.shape[1]), value=cfg.pad_token_id)
        output[rest] = torch.nn.functional.pad(tail, (0, length - tail.shape[1]), value=cfg.pad_token_id)
    used = int((output != cfg.pad_token_id).sum(1).max())
    return output[:, :max(used, 1)]


def sample(
    model,
    z: torch.Tensor,
    max_length: int,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    generator: torch.Generator | None = None,
    no_repeat_ngram: int = NO_REPEAT_NGRAM,
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

    return _step_loop(model, z, max_length, choose, no_repeat_ngram)


def beam_search(model, z: torch.Tensor, max_length: int, num_beams: int = 4, length_penalty: float = 1.0,
                anchor: torch.Tensor | None = None, anchor_weight: float = 0.0, no_repeat_ngram: int = 0,
                guard: TokenGuard | None = None, lengths: torch.Tensor | None = None,
                length_weight: float = 0.0) -> torch.Tensor:
    """Beam search; the best finished beam per row by log-prob / length**length_penalty. With
    source ids ``anchor`` (B, L) and ``anchor_weight`` > 0, each step scores tokens by the
    log-softmax of the logits with the anchor bonus added (see :func:`anchor_bonus`), and so with
    the length prior's </s> bonus; ``no_repeat_ngram``, a ``guard`` (one row per row of z),
    ``lengths`` and ``length_weight`` as in :func:`greedy`."""
    cfg = model.config
    if lengths is not None:
        lengths = lengths.repeat_interleave(num_beams, dim=0)  # (B*nb,)
    prior = length_prior(lengths, length_weight, cfg.eos_token_id)
    batch = z.shape[0]
    z = z.repeat_interleave(num_beams, dim=0)  # (B*nb, K, dz)
    if anchor is not None:
        anchor = anchor.repeat_interleave(num_beams, dim=0)  # (B*nb, L)
    beams = list(range(batch * num_beams))
    if guard is not None:
        guard = guard.select([b // num_beams for b in beams])  # one guard row per beam
    memory, offset = model.latent_context(z)
    cache = _new_cache()
    scores = torch.full((batch, num_beams), float("-inf"), device=z.device)
    scores[:, 0] = 0.0  # all beams start identical: keep one alive
    scores = scores.view(-1)  # (B*nb,)
    sequences = torch.empty((batch * num_beams, 0), dtype=torch.long, device=z.device)
    finished = torch.zeros(batch * num_beams, dtype=torch.bool, device=z.device)
    current = torch.full((batch * num_beams, 1), cfg.bos_token_id, dtype=torch.long, device=z.device)
    for _ in range(max_length):
        logits = model.decoder_logits(current, memory, offset, cache)[:, -1].float()
        logits = _next_logits(logits, sequences, cfg.pad_token_id, no_repeat_ngram, anchor, anchor_weight, guard, beams,
                              prior)
        log_probs = logits.log_softmax(-1)
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
        if guard is not None:
            guard = guard.select(origin.tolist())
            guard.advance(beams, tokens.tolist())
        finished = finished[origin] | (tokens == cfg.eos_token_id)
        scores = top_scores.view(-1)
        if finished.all():
            break
        current = tokens.unsqueeze(1)
    lengths = (sequences != cfg.pad_token_id).sum(1).clamp(min=1).float()
    normalized = (scores / lengths**length_penalty).view(batch, num_beams)
    best = normalized.argmax(-1) + torch.arange(batch, device=z.device) * num_beams
    return sequences[best]
