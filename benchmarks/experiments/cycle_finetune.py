"""Experiment (2026-12-03): teach the decoder alone to land where a shift asks (latent cycle consistency).

A sentiment shift moves a code to z' = moved(code(x), strength * direction, keep norm); the shipped
decoder writes a text whose code lands elsewhere (often a different sentence). Here the decoder
decodes z' greedily, with straight-through one-hot tokens (forward: the argmax token, as at
inference; backward: the softmax), the frozen encoder re-reads the result, and the loss is the
squared distance from the re-read code to z'. Half of each batch is plain teacher-forced
reconstruction of the default corpus, which keeps the decoder a language model. The encoder, the
tied embeddings and everything before the code are frozen: codes, heads and directions stay as shipped.

    python benchmarks/experiments/cycle_finetune.py WEIGHT MINUTES OUT      # e.g. 0.1 30 runs/cycle/model
"""

import random
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from finetuning import decoder_parameters, decoding_loss, rows, save_beside_default, schedule  # this folder

from latentedit import LatentEditor, datasets
from latentedit.editor import moved
from trainers.default_corpus import corpus_sources

WEIGHT, MINUTES, OUT = float(sys.argv[1]), float(sys.argv[2]), Path(sys.argv[3])
LR, SHIFTED, RECONSTRUCTED, WARMUP, STRENGTHS, EXTRA_TOKENS = 3e-4, 32, 64, 50, (3.0, 12.0), 3
torch.manual_seed(0)
torch.set_num_threads(2)
editor = LatentEditor.load("default")
model, tokenizer, cfg = editor.model, editor.tokenizer, editor.model.config
root = datasets.data_root()  # $LATENTEDIT_DATA, else ../shared/data
pool, labels = datasets.yelp(root, "pool")
pool_ids = tokenizer.encode(pool, cfg.max_length)
toward = torch.stack([editor._direction(goal).vector for goal in ("positive", "negative")])  # label -> other sentiment
corpus = [t for texts in corpus_sources(root).values() for t in texts]
texts = random.Random(0).sample(corpus, 60_000)
rec_ids = tokenizer.encode(texts, cfg.max_length)

trainable = decoder_parameters(model)
optimizer = torch.optim.AdamW(trainable, lr=LR, weight_decay=0.01)
embedding = model.shared.weight  # (V, d)


def reencoded_codes(z: torch.Tensor, length: int) -> torch.Tensor:
    """Greedy straight-through decoding of z (B, K, dz) for up to ``length`` tokens, re-read by the
    frozen encoder -> code means (B, K, dz), differentiable in the decoder's weights."""
    memory, offset = model.latent_context(z)
    batch = len(z)
    inputs = embedding[cfg.bos_token_id].expand(batch, 1, -1)  # (B, 1, d)
    tokens = []
    for _ in range(length):
        hidden = model.decoder(inputs_embeds=inputs + offset, encoder_hidden_states=memory).last_hidden_state[:, -1]
        probabilities = ((hidden * cfg.d_model**-0.5) @ embedding.t()).float().softmax(-1)  # (B, V)
        hard = F.one_hot(probabilities.argmax(-1), probabilities.shape[-1]).to(probabilities)
        tokens.append(hard + probabilities - probabilities.detach())  # straight-through
        inputs = torch.cat([inputs, (tokens[-1] @ embedding).unsqueeze(1)], 1)
    onehots = torch.stack(tokens, 1)  # (B, T, V)
    ids = onehots.argmax(-1)
    ended = (ids == cfg.eos_token_id).long().cumsum(1)
    mask = (ended == 0) | ((ended == 1) & (ids == cfg.eos_token_id))  # up to and with the first </s>
    hidden = model.encoder(inputs_embeds=onehots @ embedding, attention_mask=mask.long()).last_hidden_state
    mean, _ = model.to_posterior(model.pool(hidden, mask)).chunk(2, dim=-1)
    return mean


generator = torch.Generator().manual_seed(0)
start, step, log = time.time(), 0, []
model.train()
model.encoder.eval()  # frozen: no dropout in the codes it gives or re-reads
while (used := (time.time() - start) / 60 / MINUTES) < 1:
    for group in optimizer.param_groups:
        group["lr"] = LR * schedule(step, used, WARMUP)
    index = torch.randint(len(pool), (SHIFTED,), generator=generator)
    ids, mask = rows(pool_ids, index)
    with torch.no_grad():
        codes, _ = model.encode(ids, mask)  # (B, K, dz)
    strengths = torch.empty(SHIFTED, 1).uniform_(*STRENGTHS, generator=generator)
    vectors = strengths * toward[torch.tensor([labels[i] for i in index.tolist()])]
    targets = moved(codes.flatten(1), vectors, torch.tensor([1.0]), keep_norm=True).squeeze(1).view_as(codes)
    reread = reencoded_codes(targets, int(mask.sum(1).max()) + EXTRA_TOKENS)
    cycle = (reread - targets).pow(2).sum((1, 2)).mean()
    rec_index = torch.randint(len(texts), (RECONSTRUCTED,), generator=generator)
    rec_ids_batch, rec_mask = rows(rec_ids, rec_index)
    with torch.no_grad():
        mean, logvar = model.encode(rec_ids_batch, rec_mask)
    sampled = mean + torch.randn(mean.shape, generator=generator) * (0.5 * logvar).exp()  # posterior samples
    reconstruction, _ = decoding_loss(model, sampled, rec_ids_batch, rec_mask)
    (reconstruction + WEIGHT * cycle).backward()
    torch.nn.utils.clip_grad_norm_(trainable, 1.0)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    log.append((cycle.item(), reconstruction.item(), (targets - codes).pow(2).sum((1, 2)).mean().item()))
    step += 1
    if step % 10 == 0:
        cyc, rec, moved_by = (sum(v) / len(v) for v in zip(*log[-10:]))
        print(f"step {step} {time.time() - start:.0f}s cycle {cyc:.1f} (the shift moved codes {moved_by:.1f}) rec {rec:.2f}",
              flush=True)
save_beside_default(model, OUT)
print("saved", OUT, "steps", step)
