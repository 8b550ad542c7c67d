"""Evaluate a trained Transformer-VAE: reconstruction, interpolation, a probe, latent health, plots.

    from latentedit.evaluation import evaluate
    report = evaluate("runs/sample/model", texts, labels=labels, kind="text", out_dir="eval")
    latentedit eval --model runs/sample/model --data test.tsv --column text --labels-column label --out eval

``evaluate`` returns one JSON-ready dict and, with ``out_dir``, writes ``report.json`` and PNG plots
there (each file atomically). Numbers are in nats unless said otherwise; "code" is the flat
K*dz latent; q(z|x) = N(mu(x), diag exp(logvar(x))) is the encoder's posterior and p(z) = N(0, I).

reconstruction (free-running greedy decoding from the posterior mean, DESIGN.md section 5, or
    with ``refine`` = N > 0 from the codes refined N steps, see :mod:`latentedit.refine`)
    ``teacher_forced_accuracy``, ``greedy_exact_match``, ``greedy_token_accuracy`` (aligned):
    :func:`latentedit.metrics.reconstruction_report` on the texts tokenised to the model's
    max_length (``truncated`` counts the cut ones). ``bleu4``: :func:`corpus_bleu` of the
    detokenised greedy outputs against the input texts (whitespace tokens, one reference each).
interpolation (``slerp`` and ``lerp`` between the codes (posterior means, or refined codes) of
    ``pairs`` pairs of distinct texts, drawn with ``seed``; ``steps`` = 11 points, the 9 inner ones are scored; see
    :func:`score_interpolations`): ``distinct_share``, ``new_share``; for kind="python" also
    ``valid_share`` (inner points that :func:`~latentedit.python_lines.parses_as_python`),
    ``valid_new_share`` and, for reference, ``ends_valid_share`` and ``sources_valid_share``.
probe (with labels): logistic regression on the codes (standardised) vs the same classifier on
    TF-IDF unigrams+bigrams of the texts, on the same ``StratifiedKFold`` folds; mean accuracy.
health
    ``rate``: E_x KL(q(z|x) || p(z)), analytic, mean over texts. ``kl_per_dimension`` likewise per
    latent dimension. ``active_units``: :func:`latentedit.metrics.active_units` of the posterior
    means (variance over texts > 0.01). ``reconstruction_at_mean``: -log p(x|z=mu) per text.
    ``distortion``: E_q(z|x)[-log p(x|z)], Monte Carlo over the k importance samples.
    ``elbo`` = -(distortion + rate) on the texts of the importance-weighted estimate.
    ``mutual_information``: I_q(x; z) = E_x[KL(q(z|x)||p(z))] - KL(q(z)||p(z)), computed as in
    He et al. (2019) (after Hoffman & Johnson 2016): E_x[-H(q(z|x))] (analytic) - E_q(z)[log q(z)],
    with z ~ q(z|x) and log q(z) from :func:`aggregate_log_density`. It cannot exceed about
    log N (``mutual_information_ceiling``) for N texts: near that ceiling the posteriors barely
    overlap and the estimate is saturated, not large. ``marginal_kl``: KL(q(z)||p(z)) =
    E_q(z)[log q(z)] - E_x E_q(z|x)[log p(z)] (the second term analytic), so that
    rate = mutual_information + marginal_kl holds exactly.
    ``mmd``: a permutation two-sample test (:func:`mmd_test`) between posterior samples
    z ~ q(z|x) (one per text, flat codes) and as many prior samples; small p_value: q(z) != p(z).
    ``iw``: importance-weighted NLL with k samples (:func:`importance_weighted_nll`),
    log p(x) ~ logsumexp_k[log p(x|z_k) + log p(z_k) - log q(z_k|x)] - log k, nats per text;
    ``perplexity`` = exp(total NLL / total tokens), tokens counting the end-of-sequence token.

>>> corpus_bleu(["a b c d"], ["a b c d"])
100.0
>>> round(corpus_bleu(["a b c d"], ["a b c d e f g h"]), 2)  # brevity penalty exp(1 - 8/4)
36.79
"""

from __future__ import annotations

import math
import random
import warnings
from collections import Counter
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .errors import InputError
from .metrics import active_units, reconstruction_report
from .model_folder import atomic_file
from .regularizers import gaussian_kl, kernel_matrix
from .validation import check_choice, check_int, check_text

LOG_2PI = math.log(2.0 * math.pi)
KINDS = ("text", "python")


# -- BLEU ------------------------------------------------------------------------------------------


def corpus_bleu(hypotheses: Sequence[str], references: Sequence[str | Sequence[str]], max_order: int = 4) -> float:
    """Corpus BLEU (Papineni et al. 2002) in 0..100 on whitespace tokens, without smoothing.

    references[i] is one reference string or a list of them for hypotheses[i]. Clipped n-gram
    matches and n-gram counts (n = 1..max_order) are summed over the corpus; BLEU is
    BP * exp(mean_n log(matches_n / count_n)), with brevity penalty BP = exp(1 - r/c) when the
    hypotheses' total length c is not above r, the sum of the reference lengths closest to each
    hypothesis length (the shorter on ties). Any order without a match gives 0 (as multi-bleu.perl).
    """
    if len(hypotheses) != len(references):
        raise InputError(f"{len(hypotheses)} hypotheses but {len(references)} references")
    matches, counts = [0] * max_order, [0] * max_order
    hyp_length = ref_length = 0
    for hypothesis, refs in zip(hypotheses, references):
        words = hypothesis.split()
        refs_words = [r.split() for r in ([refs] if isinstance(refs, str) else refs)]
        hyp_length += len(words)
        ref_length += min((abs(len(r) - len(words)), len(r)) for r in refs_words)[1]
        for n in range(1, max_order + 1):
            grams = Counter(tuple(words[i : i + n]) for i in range(len(words) - n + 1))
            most = Counter()
            for ref in refs_words:
                most |= Counter(tuple(ref[i : i + n]) for i in range(len(ref) - n + 1))
            matches[n - 1] += sum(min(count, most[gram]) for gram, count in grams.items())
            counts[n - 1] += max(len(words) - n + 1, 0)
    if hyp_length == 0 or min(matches) == 0:
        return 0.0
    log_precision = sum(math.log(m / c) for m, c in zip(matches, counts)) / max_order
    brevity = 1.0 if hyp_length > ref_length else math.exp(1.0 - ref_length / hyp_length)
    return 100.0 * brevity * math.exp(log_precision)


# -- interpolation ---------------------------------------------------------------------------------


def choose_pairs(texts: Sequence[str], pairs: int, seed: int = 0) -> list[tuple[str, str]]:
    """Up to ``pairs`` pairs of distinct texts: the distinct texts shuffled with ``seed``, taken two by two."""
    distinct = list(dict.fromkeys(texts))
    random.Random(seed).shuffle(distinct)
    count = min(pairs, len(distinct) // 2)
    return [(distinct[2 * i], distinct[2 * i + 1]) for i in range(count)]


def interpolation_paths(editor, pairs: Sequence[tuple[str, str]], steps: int = 11, method: str = "slerp",
                        refine: int | None = None, num_beams: int = 1, python_syntax: bool = False) -> list[list[str]]:
    """Decodings of ``steps`` evenly spaced codes from each pair's first code to its second (ends
    included), as :meth:`LatentEditor.interpolate` but encoding and decoding in batches: greedy, or
    beam search with ``num_beams`` > 1, guarded to Python that parses with ``python_syntax``; the
    ends' codes are refined ``refine`` steps (None: the editor's setting)."""
    from .editor import beam_options, lerp, slerp

    if not pairs:
        return []
    blend = slerp if method == "slerp" else lerp
    codes = editor.encode([text for pair in pairs for text in pair], refine=refine).view(len(pairs), 2, -1)
    ts = torch.linspace(0.0, 1.0, steps)
    path = torch.stack([blend(a, b, float(t)) for a, b in codes for t in ts])  # (P*steps, D)
    texts = editor.decode(path, **beam_options(num_beams), python_syntax=python_syntax)
    return [texts[i * steps : (i + 1) * steps] for i in range(len(pairs))]


def score_interpolations(paths: Sequence[Sequence[str]], kind: str = "text",
                         sources: Sequence[tuple[str, str]] | None = None) -> dict:
    """Scores of decoded interpolation paths (each: the texts at t = 0, ..., 1, ends included).

    The inner points (all but the two ends) of every path are pooled:
    ``distinct_share``: per path, distinct inner texts / inner points, averaged over paths;
    ``new_share``: inner points whose text differs from both decoded ends of their path.
    For kind="python" also: ``valid_share``: inner points that parse (``ast.parse``, empty
    text invalid); ``valid_new_share``: inner points both valid and new; ``ends_valid_share``:
    decoded ends that parse; ``sources_valid_share`` (given the source pairs): sources that parse.
    """
    from .python_lines import parses_as_python

    if kind not in KINDS:
        raise InputError(f"kind must be one of {KINDS}, got {kind!r}")
    inner_points = new = valid = valid_new = 0
    distinct = []
    for path in paths:
        if len(path) < 3:
            raise InputError("an interpolation path needs at least 3 points (two ends and one inner point)")
        ends, inner = (path[0], path[-1]), list(path[1:-1])
        inner_points += len(inner)
        distinct.append(len(set(inner)) / len(inner))
        for text in inner:
            is_new = text not in ends
            new += is_new
            if kind == "python" and parses_as_python(text):
                valid += 1
                valid_new += is_new
    result = {"pairs": len(paths), "inner_points": inner_points,
              "distinct_share": sum(distinct) / len(distinct) if distinct else None,
              "new_share": new / inner_points if inner_points else None}
    if kind == "python":
        ends = [text for path in paths for text in (path[0], path[-1])]
        result.update(valid_share=valid / inner_points if inner_points else None,
                      valid_new_share=valid_new / inner_points if inner_points else None,
                      ends_valid_share=sum(map(parses_as_python, ends)) / len(ends) if ends else None)
        if sources is not None:
            flat = [text for pair in sources for text in pair]
            result["sources_valid_share"] = sum(map(parses_as_python, flat)) / len(flat) if flat else None
    return result


# -- probe -----------------------------------------------------------------------------------------


def probe(codes: torch.Tensor | np.ndarray, texts: Sequence[str], labels: Sequence, folds: int = 5, seed: int = 0) -> dict:
    """Cross-validated accuracy of logistic regression on the codes vs on TF-IDF features.

    Both use ``LogisticRegression(max_iter=2000)`` on the same ``StratifiedKFold(folds, shuffle,
    seed)`` folds (fewer folds when the rarest label has fewer texts); codes are standardised
    per dimension, TF-IDF (unigrams and bigrams, sublinear tf) is fitted on each training fold.
    """
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    labels = np.asarray([str(label) for label in labels])
    counts = Counter(labels.tolist())
    if len(counts) < 2 or min(counts.values()) < 2:
        return {"skipped": "the probe needs at least two labels with two texts each", "labels": dict(counts)}
    n_splits = min(folds, min(counts.values()))
    splitter = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    features = {"codes": np.asarray(codes, dtype=np.float64), "tfidf": np.asarray(texts, dtype=object)}
    makers = {
        "codes": lambda: make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)),
        "tfidf": lambda: make_pipeline(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
                                       LogisticRegression(max_iter=2000)),
    }
    scores: dict[str, list[float]] = {name: [] for name in features}
    for train, test in splitter.split(features["codes"], labels):
        for name, data in features.items():
            classifier = makers[name]().fit(data[train], labels[train])
            scores[name].append(float((classifier.predict(data[test]) == labels[test]).mean()))
    result = {"folds": n_splits, "examples": len(labels), "labels": dict(sorted(counts.items())),
              "majority_accuracy": max(counts.values()) / len(labels)}
    for name, values in scores.items():
        result[f"{name}_accuracy"] = float(np.mean(values))
        result[f"{name}_accuracy_std"] = float(np.std(values))
        result[f"{name}_fold_accuracies"] = values
    return result


# -- latent health (plain tensors, no model) -------------------------------------------------------


def log_density_matrix(z: torch.Tensor, mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """log N(z_a; mean_n, diag exp(logvar_n)) for every pair: z (A, D), mean/logvar (N, D) -> (A, N).

    Three matrix products in float64 (no (A, N, D) tensor).
    """
    z, mean, logvar = z.double(), mean.double(), logvar.double()
    precision = torch.exp(-logvar)  # (N, D)
    quadratic = (z * z) @ precision.t() - 2.0 * z @ (mean * precision).t() + (mean * mean * precision).sum(1)
    return -0.5 * (quadratic + logvar.sum(1) + z.shape[1] * LOG_2PI)


def aggregate_log_density(z: torch.Tensor, mean: torch.Tensor, logvar: torch.Tensor, batch_size: int = 2048) -> torch.Tensor:
    """log q(z) of the aggregate posterior q(z) = 1/N sum_n q(z|x_n), at z (N, S, D) where z[i] was
    drawn from q(z|x_i); returns (N, S) float64.

    Minibatch-weighted sampling: the N texts are cut into minibatches of M >= batch_size texts (one
    minibatch when N <= 2 * batch_size) and q(z_i) is estimated from the i-th text's minibatch
    only, with normalised importance weights (Chen et al. 2018, appendix C): the text's own
    posterior weighs 1/N, each of the M - 1 others (N - 1) / (N (M - 1)). With M = N this is
    exactly 1/N sum_n q(z|x_n).
    """
    n, samples, dim = z.shape
    if n == 0:
        raise InputError("the aggregate posterior needs at least one code")
    result = torch.empty(n, samples, dtype=torch.float64)
    for rows in torch.arange(n).tensor_split(max(1, n // max(batch_size, 2))):
        m = len(rows)
        densities = log_density_matrix(z[rows].reshape(m * samples, dim), mean[rows], logvar[rows])  # (mS, m)
        weights = torch.full_like(densities, math.log((n - 1) / (n * (m - 1))) if m > 1 else 0.0)
        weights[torch.arange(m * samples), torch.arange(m).repeat_interleave(samples)] = -math.log(n)
        result[rows] = torch.logsumexp(densities + weights, dim=1).view(m, samples)
    return result


def information_terms(mean: torch.Tensor, logvar: torch.Tensor, samples: int = 1, batch_size: int = 2048,
                      generator: torch.Generator | None = None) -> dict:
    """Rate, mutual information I_q(x; z) and marginal KL(q(z) || p(z)) from posteriors (N, D).

    rate = mean_i KL(q(z|x_i) || p); mutual_information = mean_i[-H(q(z|x_i))] - mean log q(z_is);
    marginal_kl = mean log q(z_is) - mean_i E_q(z|x_i)[log p(z)], with z_is ~ q(z|x_i) (``samples``
    per text) and log q from :func:`aggregate_log_density`; rate = mutual_information + marginal_kl.
    """
    mean, logvar = mean.double().cpu(), logvar.double().cpu()
    n, dim = mean.shape
    noise = torch.randn((n, samples, dim), generator=generator, dtype=torch.float64)
    z = mean.unsqueeze(1) + noise * (0.5 * logvar).exp().unsqueeze(1)  # (N, S, D)
    log_qz = aggregate_log_density(z, mean, logvar, batch_size)
    negative_entropy = -0.5 * (dim * (LOG_2PI + 1.0) + logvar.sum(1))  # E_q(z|x)[log q(z|x)], (N,)
    cross = -0.5 * (dim * LOG_2PI + (mean * mean + logvar.exp()).sum(1))  # E_q(z|x)[log p(z)], (N,)
    mutual_information = float(negative_entropy.mean() - log_qz.mean())
    marginal_kl = float(log_qz.mean() - cross.mean())
    return {"rate": float((negative_entropy - cross).mean()), "mutual_information": mutual_information,
            "marginal_kl": marginal_kl, "mutual_information_ceiling": math.log(n), "samples_per_text": samples}


def mmd_test(x: torch.Tensor, y: torch.Tensor, permutations: int = 200, kernel: str = "imq",
             generator: torch.Generator | None = None) -> dict:
    """Permutation two-sample test with the unbiased squared MMD (:func:`latentedit.regularizers.mmd`,
    multi-scale kernel of :func:`~latentedit.regularizers.kernel_matrix`) between x (n, D) and y (m, D).

    The statistic is recomputed for ``permutations`` random relabellings of the pooled samples;
    p_value = (1 + #{permuted >= observed}) / (1 + permutations).
    """
    n, m = x.shape[0], y.shape[0]
    if n < 2 or m < 2:
        raise InputError("the MMD test needs at least two samples on each side")
    pooled = torch.cat([x, y]).double()
    gram = kernel_matrix(pooled, pooled, kernel)
    gram.fill_diagonal_(0.0)  # the unbiased estimate leaves out k(x_i, x_i)
    total = n + m

    def statistic(in_x: torch.Tensor) -> torch.Tensor:  # (P, n+m) 0/1 -> (P,)
        in_y = 1.0 - in_x
        gx, gy = in_x @ gram, in_y @ gram
        return ((gx * in_x).sum(1) / (n * (n - 1)) + (gy * in_y).sum(1) / (m * (m - 1))
                - 2.0 * (gx * in_y).sum(1) / (n * m))

    observed = statistic((torch.arange(total) < n).double().unsqueeze(0))[0]
    exceed = 0
    for start in range(0, permutations, 256):
        count = min(256, permutations - start)
        order = torch.stack([torch.randperm(total, generator=generator) for _ in range(count)])
        exceed += int((statistic((order < n).double()) >= observed).sum())
    return {"statistic": float(observed), "p_value": (1 + exceed) / (1 + permutations),
            "permutations": permutations, "samples": [n, m], "kernel": kernel}


def latent_health(mean: torch.Tensor, logvar: torch.Tensor, seed: int = 0, mmd_samples: int = 1000,
                  permutations: int = 200, mi_samples: int = 1, batch_size: int = 2048) -> dict:
    """The model-free health numbers from posterior parameters mean, logvar (N, D): rate and KL per
    dimension, active units, mutual information, marginal KL, and the MMD test of posterior samples
    (at most ``mmd_samples`` texts) against prior samples."""
    generator = torch.Generator().manual_seed(seed)
    mean, logvar = mean.float().cpu(), logvar.float().cpu()
    terms = information_terms(mean, logvar, mi_samples, batch_size, generator)
    chosen = torch.randperm(mean.shape[0], generator=generator)[:mmd_samples]
    posterior = mean[chosen] + torch.randn(mean[chosen].shape, generator=generator) * (0.5 * logvar[chosen]).exp()
    prior = torch.randn(posterior.shape, generator=generator)
    test = mmd_test(posterior, prior, permutations, generator=generator) if len(chosen) >= 2 else None
    if test is not None:
        test["codes"] = "posterior samples z ~ q(z|x), one per text, against as many N(0, I) samples"
    return {
        **terms,
        "kl_per_dimension": [round(float(v), 6) for v in gaussian_kl(mean, logvar).mean(0)],
        "active_units": active_units(mean), "code_size": mean.shape[1], "mmd": test,
    }


# -- model-based estimates -------------------------------------------------------------------------


@torch.no_grad()
def posterior(model, ids: torch.Tensor, mask: torch.Tensor, batch_size: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """Flat posterior parameters mean, logvar (N, K*dz) on the CPU, in float32."""
    device = next(model.parameters()).device
    means, logvars = [], []
    for start in range(0, ids.shape[0], batch_size):
        mean, logvar = model.encode(ids[start : start + batch_size].to(device), mask[start : start + batch_size].to(device))
        means.append(mean.flatten(1).float().cpu())
        logvars.append(logvar.flatten(1).float().cpu())
    return torch.cat(means), torch.cat(logvars)


@torch.no_grad()
def importance_log_weights(model, ids: torch.Tensor, mask: torch.Tensor, k: int = 50, batch_rows: int = 512,
                           generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """log w_k = log p(x|z_k) + log p(z_k) - log q(z_k|x) and log p(x|z_k) for z_k ~ q(z|x): (N, k) each.

    Noise is drawn on the CPU per batch of examples as one (B, k, K, dz) tensor (from ``generator``,
    else the global generator). Teacher-forced decoding, no word dropout (the model is put in eval
    mode while this runs).
    """
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    per_batch = max(1, batch_rows // k)
    log_w, log_px = [], []
    try:
        for start in range(0, ids.shape[0], per_batch):
            batch_ids = ids[start : start + per_batch].to(device)
            batch_mask = mask[start : start + per_batch].to(device)
            b, length = batch_ids.shape
            mean, logvar = model.encode(batch_ids, batch_mask)  # (B, K, dz)
            mean, logvar = mean.float(), logvar.float()
            noise = torch.randn((b, k, *mean.shape[1:]), generator=generator).to(device)  # (B, k, K, dz)
            z = mean.unsqueeze(1) + noise * (0.5 * logvar).exp().unsqueeze(1)
            log_pz = (-0.5 * (z * z + LOG_2PI)).flatten(2).sum(-1)  # (B, k)
            log_qz = (-0.5 * (noise * noise + logvar.unsqueeze(1) + LOG_2PI)).flatten(2).sum(-1)
            flat_z = z.flatten(0, 1).to(next(model.parameters()).dtype)  # (B*k, K, dz)
            repeated = batch_ids.repeat_interleave(k, dim=0)  # (B*k, T)
            memory, offset = model.latent_context(flat_z)
            logits = model.decoder_logits(model.decoder_inputs(repeated), memory, offset).float()
            labels = repeated.masked_fill(~batch_mask.bool().repeat_interleave(k, dim=0), -100)
            nll = F.cross_entropy(logits.flatten(0, 1), labels.flatten(), ignore_index=-100, reduction="none")
            log_px_z = -nll.view(b * k, length).sum(1).view(b, k)
            log_px.append(log_px_z.cpu())
            log_w.append((log_px_z + log_pz - log_qz).cpu())
    finally:
        model.train(was_training)
    return torch.cat(log_w), torch.cat(log_px)


def importance_weighted_nll(model, ids: torch.Tensor, mask: torch.Tensor, k: int = 50, batch_rows: int = 512,
                            generator: torch.Generator | None = None) -> dict:
    """Importance-weighted estimate of -log p(x) (Burda et al. 2016) with k samples from q(z|x).

    ``nll``: mean over texts of -(logsumexp_k log w_k - log k), nats per text (an upper bound on the
    true NLL in expectation, tighter as k grows); ``elbo_nll``: mean of -mean_k log w_k, the Monte
    Carlo negative ELBO from the same samples (equal to ``nll`` when k = 1); ``distortion``: mean of
    -log p(x|z_k); ``perplexity``: exp(sum of NLL / tokens), tokens counting </s>. ``per_text_nll``
    is a tensor (N,) for callers (left out of JSON reports).
    """
    check_int("k", k, minimum=1)
    log_w, log_px = importance_log_weights(model, ids, mask, k, batch_rows, generator)
    per_text = -(torch.logsumexp(log_w.double(), dim=1) - math.log(k))  # (N,)
    tokens = int(mask.sum())
    return {"k": k, "examples": ids.shape[0], "tokens": tokens, "nll": float(per_text.mean()),
            "elbo_nll": float(-log_w.double().mean(1).mean()), "distortion": float(-log_px.double().mean()),
            "perplexity": math.exp(float(per_text.sum()) / max(tokens, 1)), "per_text_nll": per_text}


# -- reconstruction --------------------------------------------------------------------------------


@torch.no_grad()
def greedy_texts(model, tokenizer, codes: torch.Tensor, max_length: int, batch_size: int = 256) -> list[str]:
    """Greedy decodings of codes (N, D) of at most ``max_length`` tokens."""
    device, dtype = next(model.parameters()).device, model.shared.weight.dtype
    texts = []
    for start in range(0, codes.shape[0], batch_size):
        batch = codes[start : start + batch_size].to(device, dtype)
        texts.extend(tokenizer.decode(model.generate(batch, max_length=max_length).cpu()))
    return texts


def reconstruction_metrics(editor, texts: Sequence[str], batch_size: int = 256, examples: int = 5,
                           refine: int | None = None) -> tuple[dict, object]:
    """The reconstruction section (see the module doc) and the ReconstructionReport it came from,
    decoding the codes ``editor.encode`` gives (``refine`` steps; None: the editor's setting)."""
    model, tokenizer = editor.model, editor.tokenizer
    batch = tokenizer.encode(list(texts), model.config.max_length)
    refine = editor.refine if refine is None else refine
    codes = editor.encode(list(texts), refine=refine)
    report = reconstruction_report(model, batch.ids, batch.mask, batch_size, codes=codes if refine else None)
    outputs = greedy_texts(model, tokenizer, codes, batch.ids.shape[1] + 4, batch_size)
    section = {
        "examples": report.examples, "truncated": batch.truncated, "refine": refine,
        "teacher_forced_accuracy": report.teacher_forced_accuracy, "greedy_exact_match": report.greedy_exact_match,
        "greedy_token_accuracy": report.greedy_token_accuracy, "bleu4": corpus_bleu(outputs, list(texts)),
        "samples": [{"source": s, "reconstruction": o} for s, o in zip(texts[:examples], outputs[:examples])],
    }
    return section, report


# -- plots -----------------------------------------------------------------------------------------


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save_figure(figure, path: Path) -> None:
    plt = _pyplot()
    with atomic_file(path, "wb") as stream, warnings.catch_warnings():
        # decoded text of a young model can hold any byte; a missing glyph is drawn as a box
        warnings.filterwarnings("ignore", message="Glyph .* missing from font", category=UserWarning)
        figure.savefig(stream, format="png", dpi=100, bbox_inches="tight")
    plt.close(figure)


def plot_codes(codes: torch.Tensor, labels: Sequence | None, path: str | Path, seed: int = 0) -> None:
    """Posterior means projected on their first two principal components, coloured by label."""
    from sklearn.decomposition import PCA

    plt = _pyplot()
    data = np.asarray(codes, dtype=np.float64)
    points = PCA(n_components=2, random_state=seed).fit_transform(data) if min(data.shape) >= 2 else np.zeros((len(data), 2))
    figure, axis = plt.subplots(figsize=(6.5, 5.5))
    if labels is None:
        axis.scatter(points[:, 0], points[:, 1], s=6, alpha=0.6)
    else:
        names = np.asarray([str(label) for label in labels])
        for name in sorted(set(names.tolist()))[:20]:
            chosen = names == name
            axis.scatter(points[chosen, 0], points[chosen, 1], s=6, alpha=0.6, label=name)
        axis.legend(fontsize=8, markerscale=2, loc="best")
    axis.set_title(f"posterior means, PCA ({len(data)} texts)")
    axis.set_xlabel("PC 1")
    axis.set_ylabel("PC 2")
    _save_figure(figure, Path(path))


def plot_interpolations(examples: Sequence[dict], path: str | Path, width: int = 60) -> None:
    """A table per pair: t, the slerp text and the lerp text (cut to ``width`` characters)."""
    plt = _pyplot()
    shown = list(examples) or [{"t": [], "slerp": [], "lerp": []}]
    rows = sum(len(e["t"]) + 2 for e in shown)
    figure, axes = plt.subplots(len(shown), 1, figsize=(11, 0.28 * rows + 0.6), squeeze=False)

    def cut(text: str) -> str:
        text = " ".join(text.split())
        return text if len(text) <= width else text[: width - 1] + "\u2026"

    for axis, example in zip(axes[:, 0], shown):
        axis.axis("off")
        cells = [[f"{t:.1f}", cut(a), cut(b)] for t, a, b in zip(example["t"], example["slerp"], example["lerp"])]
        if cells:
            table = axis.table(cellText=cells, colLabels=["t", "slerp", "lerp"], colWidths=[0.06, 0.47, 0.47],
                               loc="center", cellLoc="left")
            table.auto_set_font_size(False)
            table.set_fontsize(8)
        axis.set_title(f"{cut(example.get('start', ''))}  \u2192  {cut(example.get('end', ''))}", fontsize=9)
    _save_figure(figure, Path(path))


def plot_kl_per_dimension(kl_per_dimension: Sequence[float], path: str | Path) -> None:
    """KL(q(z_d|x) || p(z_d)) per latent dimension, averaged over texts, sorted."""
    plt = _pyplot()
    values = sorted(kl_per_dimension, reverse=True)
    figure, axis = plt.subplots(figsize=(8, 3.5))
    axis.bar(range(len(values)), values, width=1.0)
    axis.set_xlabel("latent dimension (sorted)")
    axis.set_ylabel("mean KL (nats)")
    axis.set_title(f"rate per dimension (total {sum(values):.2f} nats)")
    _save_figure(figure, Path(path))


# -- the suite -------------------------------------------------------------------------------------


def evaluate(editor_or_model_path, texts: Sequence[str], labels: Sequence | None = None, kind: str = "text",
             pairs: int = 50, k: int = 50, out_dir: str | Path | None = None, seed: int = 0, *,
             steps: int = 11, metrics_path: str | Path | None = None, iw_examples: int | None = 512,
             mmd_samples: int = 1000, permutations: int = 200, folds: int = 5, batch_size: int = 256,
             refine: int | None = None, num_beams: int = 1) -> dict:
    """Run every evaluation on ``texts`` (held-out data) and return the report (see the module doc).

    editor_or_model_path: a LatentEditor, a TransformerVAE with its tokenizer, or a model folder /
    built-in name. labels (one per text) enable the probe and colour the code map. kind "python"
    adds the ``ast.parse`` validity of interpolations. ``iw_examples`` texts (a seeded sample; None:
    all) get the k-sample importance-weighted NLL. With ``out_dir``: report.json, codes.png,
    interpolation.png, kl_per_dimension.png and, given a trainer's ``metrics_path``,
    training_curves.png. ``refine`` > 0 refines the codes that reconstructions and interpolations
    start from (see :mod:`latentedit.refine`; None: the editor's setting); the latent health and
    the probe always describe the encoder's posterior. ``num_beams`` > 1 decodes the interpolation
    points by beam search instead of greedily. The same seed gives the same report.
    """
    editor = _as_editor(editor_or_model_path)
    texts = _check_texts(texts)
    if labels is not None:
        labels = [str(label) for label in labels]
        if len(labels) != len(texts):
            raise InputError(f"{len(labels)} labels for {len(texts)} texts: give one label per text")
    check_choice("kind", kind, KINDS)
    for name, value, least in (("pairs", pairs, 0), ("k", k, 1), ("steps", steps, 3), ("permutations", permutations, 1),
                               ("folds", folds, 2), ("mmd_samples", mmd_samples, 2)):
        check_int(name, value, minimum=least)
    refine = editor.refine if refine is None else check_int("refine", refine, minimum=0)
    num_beams = check_int("num_beams", num_beams, minimum=1)
    if metrics_path is not None and not Path(metrics_path).is_file():
        raise InputError(f"metrics file {metrics_path} not found")
    model = editor.model
    config = model.config

    reconstruction, report = reconstruction_metrics(editor, texts, batch_size, refine=refine)
    batch = editor.tokenizer.encode(texts, config.max_length)
    mean, logvar = posterior(model, batch.ids, batch.mask, batch_size)
    health = latent_health(mean, logvar, seed=seed, mmd_samples=mmd_samples, permutations=permutations)
    health["reconstruction_at_mean"] = report.reconstruction
    order = torch.randperm(len(texts), generator=torch.Generator().manual_seed(seed))
    chosen = order[: iw_examples] if iw_examples else order
    iw = importance_weighted_nll(model, batch.ids[chosen], batch.mask[chosen], k,
                                 generator=torch.Generator().manual_seed(seed + 1))
    iw.pop("per_text_nll")
    rate_on_chosen = float(gaussian_kl(mean[chosen].double(), logvar[chosen].double()).sum(1).mean())
    health.update(distortion=iw["distortion"], elbo=-(iw["distortion"] + rate_on_chosen), iw=iw)

    chosen_pairs = choose_pairs(texts, pairs, seed)
    paths = {method: interpolation_paths(editor, chosen_pairs, steps, method, refine, num_beams) for method in ("slerp", "lerp")}
    interpolation = {"steps": steps, "pairs": len(chosen_pairs), "refine": refine, "beams": num_beams,
                     **{m: score_interpolations(p, kind, chosen_pairs) for m, p in paths.items()}}
    ts = [round(float(t), 4) for t in torch.linspace(0.0, 1.0, steps)]
    interpolation["samples"] = [{"start": a, "end": b, "t": ts, "slerp": paths["slerp"][i], "lerp": paths["lerp"][i]}
                                for i, (a, b) in enumerate(chosen_pairs[:5])]

    result = {
        "model": str(editor_or_model_path) if isinstance(editor_or_model_path, (str, Path)) else None,
        "kind": kind, "examples": len(texts), "seed": seed, "regularizer": config.regularizer,
        "code_size": config.code_size, "reconstruction": reconstruction, "interpolation": interpolation,
        "probe": probe(mean, texts, labels, folds, seed) if labels is not None else None,
        "health": health, "files": {},
    }
    if config.regularizer == "none":
        result["note"] = ("plain autoencoder (regularizer 'none'): the posterior variances were never trained, so rate, "
                          "mutual information, marginal KL, the MMD test and the IW NLL describe an untrained q(z|x)")
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        files = result["files"]
        plot_codes(mean, labels, out / "codes.png", seed)
        files["codes"] = str(out / "codes.png")
        plot_interpolations(interpolation["samples"][:3], out / "interpolation.png")
        files["interpolation"] = str(out / "interpolation.png")
        plot_kl_per_dimension(health["kl_per_dimension"], out / "kl_per_dimension.png")
        files["kl_per_dimension"] = str(out / "kl_per_dimension.png")
        if metrics_path is not None:
            from trainers.plots import plot_metrics

            plot_metrics(metrics_path, out / "training_curves.png")
            files["training_curves"] = str(out / "training_curves.png")
        files["report"] = str(out / "report.json")
        write_report(result, out / "report.json")
    return result


def write_report(report: dict, path: str | Path) -> None:
    """The report as indented JSON (NaN and infinities as null), written atomically."""
    import json

    with atomic_file(path) as stream:
        stream.write(json.dumps(json_safe(report), indent=2) + "\n")


def json_safe(value):
    """Plain JSON values: NaN/inf -> None, tensors and numpy numbers -> Python numbers."""
    if isinstance(value, torch.Tensor):
        value = value.tolist()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def _as_editor(source):
    from .editor import LatentEditor
    from .model import TransformerVAE

    if isinstance(source, LatentEditor):
        return source
    if isinstance(source, TransformerVAE):
        return LatentEditor(source, quiet=True)
    editor = LatentEditor.load(source)
    editor.quiet = True
    return editor


def _check_texts(texts) -> list[str]:
    if isinstance(texts, str) or not isinstance(texts, (list, tuple)):
        raise InputError("texts must be a list of strings")
    if len(texts) < 2:
        raise InputError(f"evaluation needs at least two texts, got {len(texts)}")
    for index, text in enumerate(texts):
        check_text(text, f"text {index}")
    return list(texts)
