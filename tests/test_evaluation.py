"""latentedit.evaluation: known answers on synthetic posteriors and stubbed decodes, a tiny model for
the model-based estimates, and `latentedit eval` end to end."""

import json
import math

import pytest
import torch

import latentedit.cli as cli
from latentedit import InputError, LatentEditor, TransformerVAE
from latentedit.evaluation import (
    aggregate_log_density,
    choose_pairs,
    corpus_bleu,
    evaluate,
    importance_weighted_nll,
    information_terms,
    interpolation_paths,
    latent_health,
    mmd_test,
    probe,
    reconstruction_metrics,
    score_interpolations,
)
from latentedit.regularizers import mmd

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# -- BLEU ------------------------------------------------------------------------------------------


def test_bleu_hand_computed():
    # sentence 1: 1-grams 5/6, 2-grams 3/5, 3-grams 1/4, 4-grams 0/3; sentence 2 is exact: 5/5, 4/4, 3/3, 2/2
    hypotheses = ["the cat sat on the mat", "a b c d e"]
    references = ["the cat is on the mat", "a b c d e"]
    expected = 100 * ((10 / 11) * (7 / 9) * (4 / 7) * (2 / 5)) ** 0.25  # c = r = 11: no brevity penalty
    assert corpus_bleu(hypotheses, references) == pytest.approx(expected)
    assert corpus_bleu(hypotheses[:1], references[:1]) == 0.0  # no 4-gram match, no smoothing
    assert corpus_bleu(["a b c d"], ["a b c d e f g h"]) == pytest.approx(100 * math.exp(1 - 8 / 4))
    # clipping: "the" matches at most twice; several references: the closest length counts
    assert corpus_bleu(["the the the the"], ["the cat the dog"], max_order=1) == pytest.approx(50.0)
    assert corpus_bleu(["a b c d"], [["a b c d e f g h", "a b c d"]]) == pytest.approx(100.0)
    assert corpus_bleu(["", "x"], ["a b", "y"]) == 0.0
    with pytest.raises(InputError):
        corpus_bleu(["a"], [])


def test_perfect_reconstruction_scores_one_and_bleu_100(review_model, review_corpus):
    section, report = reconstruction_metrics(LatentEditor(review_model, quiet=True), review_corpus.texts)
    assert report.teacher_forced_accuracy == 1.0  # the fixture trains until it is
    assert section["greedy_token_accuracy"] == 1.0
    assert section["greedy_exact_match"] == 1.0
    assert section["bleu4"] == pytest.approx(100.0)
    assert section["examples"] == len(review_corpus.texts) and section["truncated"] == 0


# -- latent health on synthetic posteriors ---------------------------------------------------------


def test_mmd_test_passes_prior_codes_and_fails_shifted_ones():
    x, y = torch.randn(200, 8, generator=gen(1)), torch.randn(200, 8, generator=gen(2))
    same = mmd_test(x, y, permutations=200, generator=gen(3))
    assert same["p_value"] > 0.05
    assert same["statistic"] == pytest.approx(float(mmd(x.double(), y.double())), abs=1e-9)
    assert mmd_test(x + 0.5, y, permutations=200, generator=gen(3))["p_value"] < 0.01
    assert mmd_test(x * 0.5, y, permutations=200, generator=gen(3))["p_value"] < 0.01  # too narrow also fails
    # calibrated: under the null, p < 0.05 about 5% of the time
    rejected = sum(mmd_test(torch.randn(60, 4, generator=gen(s)), torch.randn(60, 4, generator=gen(100 + s)),
                            permutations=100, generator=gen(s))["p_value"] < 0.05 for s in range(20))
    assert rejected <= 3


def test_active_units_counts_a_dead_dimension_as_dead():
    mean = torch.stack([torch.linspace(-2, 2, 50), torch.full((50,), 0.7), torch.linspace(1, -1, 50)], dim=1)
    health = latent_health(mean, torch.zeros(50, 3), permutations=20)
    assert health["active_units"] == 2 and health["code_size"] == 3
    assert health["kl_per_dimension"][1] == pytest.approx(0.5 * 0.7**2, abs=1e-6)  # KL of N(0.7, 1) to N(0, 1)
    assert health["mmd"]["codes"].startswith("posterior samples")


def test_aggregate_log_density_matches_brute_force():
    n, s, d = 6, 2, 3
    mean, logvar = torch.randn(n, d, generator=gen(0)), torch.randn(n, d, generator=gen(1)) * 0.3
    z = torch.randn(n, s, d, generator=gen(2))
    normal = torch.distributions.Normal(mean.double().unsqueeze(0), (0.5 * logvar.double()).exp().unsqueeze(0))
    log_q = normal.log_prob(z.double().reshape(n * s, 1, d)).sum(-1).view(n, s, n)  # log q(z_is | x_j)
    whole = torch.logsumexp(log_q, dim=2) - math.log(n)
    assert torch.allclose(aggregate_log_density(z, mean, logvar, batch_size=100), whole)
    # two minibatches of 3: own posterior weighs 1/N, the two others (N-1)/(N(M-1)) each
    expected = torch.empty(n, s, dtype=torch.float64)
    for i in range(n):
        batch = range(0, 3) if i < 3 else range(3, 6)
        for k in range(s):
            terms = [log_q[i, k, j] + (-math.log(n) if j == i else math.log((n - 1) / (n * 2))) for j in batch]
            expected[i, k] = torch.logsumexp(torch.stack(terms), 0)
    assert torch.allclose(aggregate_log_density(z, mean, logvar, batch_size=3), expected)


def test_mutual_information_is_zero_when_the_posterior_ignores_x_and_positive_otherwise():
    n, d = 1000, 4
    ignoring = information_terms(torch.full((n, d), 0.3), torch.full((n, d), -1.0), samples=4, generator=gen(0))
    assert abs(ignoring["mutual_information"]) < 0.05
    assert ignoring["marginal_kl"] == pytest.approx(ignoring["rate"], abs=0.05)  # all rate is marginal KL
    informative = information_terms(torch.randn(n, d, generator=gen(1)) * 2, torch.full((n, d), -2.0), samples=4,
                                    generator=gen(2))
    assert 4.0 < informative["mutual_information"] <= informative["mutual_information_ceiling"] + 0.1
    for terms in (ignoring, informative):
        assert terms["rate"] == pytest.approx(terms["mutual_information"] + terms["marginal_kl"], abs=1e-9)


def test_marginal_kl_is_zero_when_the_aggregate_posterior_is_the_prior():
    n, d = 1000, 2
    exact = information_terms(torch.zeros(n, d), torch.zeros(n, d), samples=8, generator=gen(0))  # q(z|x) = p(z)
    assert exact["rate"] == 0.0 and abs(exact["marginal_kl"]) < 0.03
    # q(z|x) = N(m_x, 0.5) with m_x ~ N(0, 0.5): q(z) = N(0, 1) = p(z), while I(x; z) = 2 * 0.5 log 2
    variance = 0.5
    mixture = information_terms(torch.randn(n, d, generator=gen(1)) * math.sqrt(1 - variance),
                                torch.full((n, d), math.log(variance)), samples=4, generator=gen(2))
    assert abs(mixture["marginal_kl"]) < 0.05
    assert mixture["mutual_information"] == pytest.approx(d * 0.5 * math.log(1 / variance), abs=0.1)


# -- model-based estimates -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def vae(review_corpus, make_config):
    """An untrained VAE with the MMD regulariser (so forward(sample=True) samples) and a wide posterior."""
    from latentedit import Tokenizer

    torch.manual_seed(0)
    tokenizer = Tokenizer.train(review_corpus.texts, vocab_size=300, min_frequency=1)
    model = TransformerVAE(make_config(vocab_size=tokenizer.vocab_size, decoder_layers=1)).eval()
    model.tokenizer = tokenizer
    return model


def test_importance_weighted_nll_with_one_sample_is_the_elbo(vae, review_corpus):
    batch = vae.tokenizer.encode(review_corpus.texts[:16], 12)
    torch.manual_seed(5)
    with torch.no_grad():
        out = vae(batch.ids, batch.mask, sample=True)  # z = mean + randn_like(mean) * std
    std = (0.5 * out.logvar).exp()
    log_p = torch.distributions.Normal(0.0, 1.0).log_prob(out.latent).flatten(1).sum(1)
    log_q = torch.distributions.Normal(out.mean, std).log_prob(out.latent).flatten(1).sum(1)
    negative_elbo = float(out.reconstruction) + float((log_q - log_p).mean())
    torch.manual_seed(5)
    iw = importance_weighted_nll(vae, batch.ids, batch.mask, k=1)  # the same noise, drawn the same way
    assert iw["nll"] == pytest.approx(negative_elbo, rel=1e-5)
    assert iw["elbo_nll"] == pytest.approx(iw["nll"], rel=1e-9)
    assert iw["tokens"] == int(batch.mask.sum()) and iw["examples"] == 16
    assert iw["perplexity"] == pytest.approx(math.exp(iw["nll"] * 16 / iw["tokens"]), rel=1e-6)


def test_importance_weighted_nll_tightens_with_more_samples(vae, review_corpus):
    batch = vae.tokenizer.encode(review_corpus.texts[::4], 12)
    one = importance_weighted_nll(vae, batch.ids, batch.mask, k=1, generator=gen(0))
    fifty = importance_weighted_nll(vae, batch.ids, batch.mask, k=50, batch_rows=200, generator=gen(0))
    assert fifty["nll"] <= one["nll"]
    assert fifty["nll"] <= fifty["elbo_nll"]  # log-mean-exp >= mean of logs, per text
    assert fifty["per_text_nll"].shape == (batch.ids.shape[0],)
    with pytest.raises(InputError):
        importance_weighted_nll(vae, batch.ids, batch.mask, k=0)


# -- interpolation and probe -----------------------------------------------------------------------


def test_interpolation_scores_on_stubbed_decodes():
    paths = [
        ["x = 1", "x = 2", "x = (", "x = 1", "", "y = 3"],   # inner: valid new, invalid, valid old, empty
        ["f(a)", "f(b)", "f(b)", "g(a)", "def", "g(a)"],      # inner: valid new, valid new, valid old, invalid
    ]
    scores = score_interpolations(paths, "python", sources=[("x = 1", "y = 3"), ("f(a)", "g(a) +")])
    assert scores["pairs"] == 2 and scores["inner_points"] == 8
    assert scores["valid_share"] == pytest.approx(5 / 8)  # x = 2, x = 1, f(b), f(b), g(a)
    assert scores["new_share"] == pytest.approx(6 / 8)  # all but "x = 1" and the second "g(a)"
    assert scores["valid_new_share"] == pytest.approx(3 / 8)
    assert scores["distinct_share"] == pytest.approx((4 / 4 + 3 / 4) / 2)
    assert scores["ends_valid_share"] == 1.0
    assert scores["sources_valid_share"] == pytest.approx(3 / 4)
    text = score_interpolations(paths, "text")
    assert "valid_share" not in text and text["distinct_share"] == scores["distinct_share"]
    with pytest.raises(InputError):
        score_interpolations([["a", "b"]], "text")


def test_interpolation_paths_end_at_the_reconstructions(review_model, review_corpus):
    editor = LatentEditor(review_model, quiet=True)
    pairs = choose_pairs(review_corpus.texts, 3, seed=1)
    assert len(pairs) == 3 and all(a != b for a, b in pairs)
    assert choose_pairs(review_corpus.texts, 3, seed=1) == pairs and len(choose_pairs(["a", "a", "b"], 5)) == 1
    for method in ("slerp", "lerp"):
        paths = interpolation_paths(editor, pairs, steps=5, method=method)
        assert [len(p) for p in paths] == [5, 5, 5]
        assert [(p[0], p[-1]) for p in paths] == pairs  # the model reconstructs every review
    beamed = interpolation_paths(editor, pairs, steps=5, num_beams=2)
    assert [p[2] for p in beamed] == [editor.interpolate(a, b, steps=5, num_beams=2)[2].text for a, b in pairs]


def test_probe_compares_codes_and_tfidf_on_the_same_folds():
    labels = ["pos", "neg"] * 20
    codes = torch.tensor([[3.0 if label == "pos" else -3.0, i % 3] for i, label in enumerate(labels)])
    texts = [f"{'good' if label == 'pos' else 'bad'} thing {i}" for i, label in enumerate(labels)]
    result = probe(codes, texts, labels, folds=5)
    assert result["folds"] == 5 and result["codes_accuracy"] == 1.0 and result["tfidf_accuracy"] == 1.0
    assert len(result["codes_fold_accuracies"]) == len(result["tfidf_fold_accuracies"]) == 5
    assert result["majority_accuracy"] == 0.5
    noise = probe(torch.randn(40, 2, generator=gen(0)), texts, labels)
    assert noise["codes_accuracy"] < 0.8
    assert probe(codes[:6], texts[:6], ["a"] * 5 + ["b"])["skipped"]
    assert probe(codes[:6], texts[:6], ["a"] * 4 + ["b"] * 2)["folds"] == 2


# -- the whole suite -------------------------------------------------------------------------------


def test_evaluate_python_kind_and_input_checks(review_model, review_corpus, tmp_path):
    editor = LatentEditor(review_model, quiet=True)
    texts = review_corpus.texts[:24]
    report = evaluate(editor, texts, kind="python", pairs=2, k=2, seed=3, permutations=20)
    assert report["probe"] is None and report["files"] == {}
    assert set(report["interpolation"]["slerp"]) >= {"valid_share", "valid_new_share", "sources_valid_share"}
    assert report["interpolation"]["slerp"]["sources_valid_share"] == 0.0  # reviews are not Python
    assert report["health"]["iw"]["k"] == 2 and report["health"]["iw"]["examples"] == 24
    again = evaluate(editor, texts, kind="python", pairs=2, k=2, seed=3, permutations=20)
    assert json.dumps(again, sort_keys=True) == json.dumps(report, sort_keys=True)  # same seed, same report
    beamed = evaluate(editor, texts, kind="python", pairs=2, k=2, seed=3, permutations=20, num_beams=2)
    pairs = choose_pairs(texts, 2, seed=3)
    assert beamed["interpolation"]["beams"] == 2 and report["interpolation"]["beams"] == 1
    assert beamed["interpolation"]["samples"][0]["lerp"] == interpolation_paths(editor, pairs, method="lerp", num_beams=2)[0]
    for bad in (dict(kind="java"), dict(k=0), dict(pairs=-1), dict(labels=["a"]), dict(num_beams=0)):
        with pytest.raises(InputError):
            evaluate(editor, texts, **bad)
    with pytest.raises(InputError):
        evaluate(editor, ["only one"])


def test_cli_eval_end_to_end(review_model, review_corpus, tmp_path, capsys):
    LatentEditor(review_model, quiet=True).save(tmp_path / "run" / "model")
    rows = ["text\tlabel"] + [f"{t}\t{label}" for t, label in zip(review_corpus.texts, review_corpus.labels)]
    (tmp_path / "test.tsv").write_text("\n".join(rows) + "\n")
    metrics = [{"split": "train", "step": s, "loss": 3.0 / s, "reconstruction": 2.0 / s, "rate": 1.0,
                "token_accuracy": 0.5} for s in (1, 2, 3)]
    metrics.append({"split": "valid", "step": 3, "reconstruction": 1.0, "rate": 1.0, "teacher_forced_accuracy": 0.9,
                    "greedy_exact_match": 0.5, "active_units": 4})
    (tmp_path / "run" / "metrics.jsonl").write_text("".join(json.dumps(m) + "\n" for m in metrics))
    out = tmp_path / "eval"
    code = cli.main(["eval", "--model", str(tmp_path / "run" / "model"), "--data", str(tmp_path / "test.tsv"),
                     "--labels-column", "label", "--out", str(out), "--pairs", "3", "--k", "4", "--json"])
    stdout, stderr = capsys.readouterr()
    assert code == 0, stderr
    report = json.loads(stdout)
    on_disk = json.loads((out / "report.json").read_text())
    assert on_disk == report
    assert report["reconstruction"]["bleu4"] == pytest.approx(100.0)
    assert report["probe"]["codes_accuracy"] > 0.5 and report["probe"]["folds"] == 5
    health = report["health"]
    assert set(health) >= {"rate", "distortion", "active_units", "mutual_information", "marginal_kl", "mmd", "iw"}
    assert health["iw"]["k"] == 4 and health["iw"]["perplexity"] > 1.0
    assert report["interpolation"]["pairs"] == 3 and "valid_share" not in report["interpolation"]["slerp"]
    for name in ("codes", "interpolation", "kl_per_dimension", "training_curves"):  # metrics.jsonl found beside model
        path = out / f"{name}.png"
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    code = cli.main(["eval", "--model", str(tmp_path / "run" / "model"), "--data", str(tmp_path / "test.tsv"),
                     "--out", str(tmp_path / "eval2"), "--pairs", "1", "--k", "1", "--max-examples", "10", "--refine", "3"])
    stdout, stderr = capsys.readouterr()
    assert code == 0, stderr
    assert "bleu" in stdout.lower() and "refined 3 steps" in stdout
    refined = json.loads((tmp_path / "eval2" / "report.json").read_text())
    assert refined["examples"] == 10 and refined["reconstruction"]["refine"] == refined["interpolation"]["refine"] == 3
    assert report["reconstruction"]["refine"] == 0 and refined["interpolation"]["beams"] == 1
    code = cli.main(["eval", "--model", str(tmp_path / "run" / "model"), "--data", str(tmp_path / "test.tsv"),
                     "--out", str(tmp_path / "eval3"), "--pairs", "1", "--k", "1", "--max-examples", "10", "--beams", "3"])
    assert code == 0 and json.loads((tmp_path / "eval3" / "report.json").read_text())["interpolation"]["beams"] == 3
    assert cli.main(["eval", "--model", str(tmp_path / "run" / "model"), "--data", str(tmp_path / "missing.txt")]) == 2
    assert "error:" in capsys.readouterr().err
