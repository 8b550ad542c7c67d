"""Experiment (2026-12-04): teach the python-lines decoder to write Python between codes.

The decoder only ever trained on the codes of real lines (plus noise), so a point between two
lines' codes often decodes to a blend that does not parse (unterminated strings, unmatched
brackets: 80% of the valid split's inner points parse). Self-training: decode points between the
codes of pairs of *training* lines with decoding guarded to Python that parses
(`python_syntax=True`: it asks the parser, so it is never how validity is measured), then fine-tune
the decoder to write those lines from those points unguarded. Half of each batch is such points,
half plain reconstruction of training lines (posterior samples, the model's latent noise on both).
The encoder and the tied embeddings are frozen, so the codes stay exactly as shipped. The valid
split scores it (benchmarks/python_noise.py, greedy, unguarded); the test split is not used.

    python benchmarks/experiments/syntax_selftrain.py generate 40000 runs/syntax/points.jsonl
    python benchmarks/experiments/syntax_selftrain.py finetune runs/syntax/points.jsonl 35 runs/syntax/model
    python benchmarks/experiments/syntax_selftrain.py finetune runs/syntax/points.jsonl 30 runs/syntax/model-exact 0
"""

import json
import random
import shutil
import sys
import time
from pathlib import Path

import torch
from finetuning import decoder_parameters, decoding_loss, rows, schedule  # this folder

from latentedit import LatentEditor
from latentedit.editor import lerp, slerp
from latentedit.evaluation import posterior
from latentedit.model_folder import save_model

CORPUS = Path("runs/regularizers/python-corpus")
SHIPPED = Path("latentedit/models/python-lines")
LR, BATCH, WARMUP, RECONSTRUCTIONS, POINT_SHARE, CHUNK = 1e-4, 128, 50, 60_000, 0.5, 512
torch.manual_seed(0)
torch.set_num_threads(2)


def train_lines() -> list[str]:
    return list(dict.fromkeys((CORPUS / "train_extra.txt").read_text(encoding="utf-8").splitlines()))


def generate(count: int, out: Path) -> None:
    """``count`` points, each between the codes of two random training lines (slerp or lerp, t in
    (0.1, 0.9)), with the guarded decoding of each; written as JSON lines."""
    editor = LatentEditor.load("python-lines")
    lines, rng = train_lines(), random.Random(0)
    out.parent.mkdir(parents=True, exist_ok=True)
    start = time.time()
    with out.open("w", encoding="utf-8") as stream:
        for done in range(0, count, CHUNK):
            pairs = [rng.sample(lines, 2) for _ in range(min(CHUNK, count - done))]
            ts = [rng.uniform(0.1, 0.9) for _ in pairs]
            methods = [rng.choice(("slerp", "lerp")) for _ in pairs]
            codes = editor.encode([text for pair in pairs for text in pair], refine=0).view(len(pairs), 2, -1)
            points = torch.stack([(slerp if m == "slerp" else lerp)(a, b, t) for (a, b), t, m in zip(codes, ts, methods)])
            texts = editor.decode(points, python_syntax=True)
            for pair, t, method, text in zip(pairs, ts, methods, texts):
                stream.write(json.dumps({"a": pair[0], "b": pair[1], "t": t, "method": method, "text": text}) + "\n")
            print(f"{done + len(pairs)} points, {time.time() - start:.0f}s", flush=True)


def finetune(points_file: Path, minutes: float, out: Path, point_noise: float | None = None) -> None:
    """``point_noise``: the noise added to the points' codes (default: the model's latent noise)."""
    editor = LatentEditor.load("python-lines")
    model, tokenizer = editor.model, editor.tokenizer
    points = [json.loads(line) for line in points_file.open(encoding="utf-8")]
    shape = (model.config.latent_tokens, model.config.latent_dim)  # one code: (K, dz)
    ends = tokenizer.encode([p[end] for p in points for end in ("a", "b")], model.config.max_length)
    end_means = posterior(model, ends.ids, ends.mask, CHUNK)[0].view(len(points), 2, -1)  # (P, 2, K*dz)
    point_codes = torch.stack([(slerp if p["method"] == "slerp" else lerp)(a, b, p["t"])
                               for p, (a, b) in zip(points, end_means)]).view(len(points), *shape)  # (P, K, dz)
    point_targets = tokenizer.encode([p["text"] for p in points], model.config.max_length)
    texts = random.Random(1).sample(train_lines(), RECONSTRUCTIONS)
    rec_targets = tokenizer.encode(texts, model.config.max_length)
    rec_means, rec_logvars = (flat.view(len(texts), *shape)
                              for flat in posterior(model, rec_targets.ids, rec_targets.mask, CHUNK))
    noise = model.config.latent_noise
    point_noise = noise if point_noise is None else point_noise
    print(f"{len(points)} points, {len(texts)} reconstruction lines, latent noise {noise}, on points {point_noise}", flush=True)

    trainable = decoder_parameters(model)
    optimizer = torch.optim.AdamW(trainable, lr=LR, weight_decay=0.01)
    generator = torch.Generator().manual_seed(0)
    n_points = int(BATCH * POINT_SHARE)
    start, step, log = time.time(), 0, []
    model.train()
    while (used := (time.time() - start) / 60 / minutes) < 1:
        for group in optimizer.param_groups:
            group["lr"] = LR * schedule(step, used, WARMUP)
        point_index = torch.randint(len(points), (n_points,), generator=generator)
        rec_index = torch.randint(len(texts), (BATCH - n_points,), generator=generator)
        codes = point_codes[point_index]
        codes = codes + torch.randn(codes.shape, generator=generator) * point_noise
        point_loss, point_acc = decoding_loss(model, codes, *rows(point_targets, point_index))
        mean, logvar = rec_means[rec_index], rec_logvars[rec_index]
        sampled = mean + torch.randn(mean.shape, generator=generator) * (0.5 * logvar).exp()  # posterior samples
        sampled = sampled + torch.randn(mean.shape, generator=generator) * noise
        rec_loss, rec_acc = decoding_loss(model, sampled, *rows(rec_targets, rec_index))
        (POINT_SHARE * point_loss + (1 - POINT_SHARE) * rec_loss).backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        log.append((point_loss.item(), point_acc, rec_loss.item(), rec_acc))
        step += 1
        if step % 50 == 0:
            pl, pa, rl, ra = (sum(v) / len(v) for v in zip(*log[-50:]))
            print(f"step {step} {time.time() - start:.0f}s points {pl:.2f} (tok acc {pa:.3f}) "
                  f"rec {rl:.2f} (tok acc {ra:.3f})", flush=True)
    model.eval()
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(SHIPPED, out)
    save_model(model, out)
    print("saved", out, "steps", step)


if __name__ == "__main__":
    if sys.argv[1] == "generate":
        generate(int(sys.argv[2]), Path(sys.argv[3]))
    else:
        finetune(Path(sys.argv[2]), float(sys.argv[3]), Path(sys.argv[4]), *map(float, sys.argv[5:6]))
