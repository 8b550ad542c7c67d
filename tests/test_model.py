import math
import time

import pytest
import torch

from latentedit import Tokenizer, TransformerVAE, decoding
from latentedit.decoding import _new_cache, anchor_bonus, banned_repeats

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SENTENCES = """the cat sat on the mat
a dog ran in the park
my sister likes green tea
we walked to the old bridge
the sun is very hot today
he reads a book every night
she painted the door red
they sold their blue car
birds sing in the morning
the train was late again
i lost my keys at work
our team won the last game
the soup tastes too salty
please close the window now
the kids played in the snow
he fixed the broken chair
rain fell all day long
she bought fresh bread and milk
the movie ended very late
my phone battery is dead
the river flows past the town
we cooked pasta for dinner
the garden needs more water
he forgot his umbrella again
the shop opens at nine
a small boat crossed the lake
the teacher smiled at us
my brother plays the guitar
the coffee here is strong
she wrote a long letter
the lights went out suddenly
we saw a bright shooting star""".splitlines()


def random_model(make_config, **changes):
    torch.manual_seed(0)
    return TransformerVAE(make_config(**changes)).eval()


def trim(row):
    """A generated row up to and including its first </s>."""
    row = list(row)
    return row[: row.index(2) + 1] if 2 in row else row


def log_prob(model, z, rows):
    """Teacher-forced log p(row | z) of each (trimmed) row, summed over its tokens."""
    scores = []
    for code, row in zip(z, rows):
        ids = torch.tensor([trim(row)])
        with torch.no_grad():
            logits = model.decoder_logits(model.decoder_inputs(ids), *model.latent_context(code[None]))
        scores.append(float(logits.log_softmax(-1).gather(-1, ids[..., None]).sum()))
    return scores


def cached_step_logits(model, z, tokens):
    """Feed tokens one at a time through the key/value cache, as decoding.py does."""
    memory, offset = model.latent_context(z)
    cache = _new_cache()
    current = torch.full((z.shape[0], 1), model.config.bos_token_id)
    steps = []
    with torch.no_grad():
        for t in range(tokens.shape[1]):
            steps.append(model.decoder_logits(current, memory, offset, cache)[:, -1])
            current = tokens[:, t : t + 1]
    return torch.stack(steps, 1)


# -- (a) forward pass ------------------------------------------------------------------------


@pytest.mark.parametrize("regularizer", ["mmd", "kl_free_bits", "kl_mdr", "none"])
@pytest.mark.parametrize("pooling", ["attention", "mean"])
@pytest.mark.parametrize("inject", [True, False])
def test_forward_shapes_and_finite_losses(make_config, regularizer, pooling, inject):
    cfg = make_config(regularizer=regularizer, pooling=pooling, inject_embeddings=inject, latent_tokens=3)
    model = TransformerVAE(cfg).train()
    ids = torch.tensor([[5, 6, 7, 8, 2], [9, 10, 2, 0, 0], [11, 2, 0, 0, 0]])
    out = model(ids, ids != 0)
    assert out.logits.shape == (3, 5, 64)
    assert out.latent.shape == out.mean.shape == out.logvar.shape == (3, 3, 8)
    for name in ("loss", "reconstruction", "rate", "mmd", "multiplier", "token_accuracy"):
        value = getattr(out, name)
        assert value.shape == () and torch.isfinite(value), name
    assert 0 <= float(out.token_accuracy) <= 1
    assert float(out.reconstruction.detach()) > 0 and float(out.rate.detach()) >= 0
    regularization = float((out.loss - out.reconstruction).detach())
    if regularizer == "none":
        assert regularization == 0 and torch.equal(out.latent, out.mean)  # a plain autoencoder
    else:
        assert not torch.equal(out.latent, out.mean)  # training samples z
    if regularizer == "mmd":
        assert regularization == pytest.approx(cfg.mmd_weight * float(out.mmd.detach()), rel=1e-5)
    if regularizer == "kl_free_bits":
        assert regularization >= cfg.beta * cfg.free_bits * cfg.code_size - 1e-4
    if regularizer == "kl_mdr":
        assert float(out.multiplier) == pytest.approx(1.0)
    else:
        assert float(out.multiplier) == 0
    out.loss.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    assert model.shared.weight.grad.abs().sum() > 0


def test_reconstruction_is_summed_cross_entropy_over_real_tokens(make_config):
    model = random_model(make_config, regularizer="none")
    ids = torch.tensor([[5, 6, 7, 2], [8, 2, 0, 0]])
    with torch.no_grad():
        out = model(ids, ids != 0)
    log_p = out.logits.log_softmax(-1).gather(-1, ids[..., None]).squeeze(-1)
    expected = -(log_p * (ids != 0)).sum() / 2
    assert float(out.reconstruction) == pytest.approx(float(expected), rel=1e-5)
    accuracy = (out.logits.argmax(-1) == ids)[ids != 0].float().mean()
    assert float(out.token_accuracy) == pytest.approx(float(accuracy))


def test_bag_of_words_loss_counts_each_token_of_the_text(make_config):
    plain = random_model(make_config, regularizer="none")
    model = random_model(make_config, regularizer="none", bag_of_words=0.5)
    ids = torch.tensor([[5, 6, 5, 2], [8, 2, 0, 0]])
    with torch.no_grad():
        out, off = model(ids, ids != 0), plain(ids, ids != 0)
    assert float(off.bag_of_words) == 0.0 and plain.to_bag is None
    with torch.no_grad():
        log_p = (model.to_bag(out.latent.flatten(1)) @ model.shared.weight.t()).log_softmax(-1)  # (B, V)
    expected = -(2 * log_p[0, 5] + log_p[0, 6] + log_p[0, 2] + log_p[1, 8] + log_p[1, 2]) / 2
    assert float(out.bag_of_words) == pytest.approx(float(expected), rel=1e-5)
    assert float(out.loss) == pytest.approx(float(out.reconstruction + 0.5 * out.bag_of_words), rel=1e-5)
    model.train()
    model(ids, ids != 0).loss.backward()
    assert model.to_bag.weight.grad.abs().sum() > 0  # the loss trains its own map and, through z, the encoder
    assert model.encoder.block[0].layer[0].SelfAttention.q.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("pooling", ["attention", "mean"])
def test_posterior_does_not_depend_on_padding(make_config, pooling):
    model = random_model(make_config, pooling=pooling)
    short = torch.tensor([[5, 6, 7, 2]])
    padded = torch.tensor([[5, 6, 7, 2, 0, 0, 0], [9, 10, 11, 12, 13, 14, 2]])
    mean_a, logvar_a = model.encode(short, short != 0)
    mean_b, logvar_b = model.encode(padded, padded != 0)
    assert torch.allclose(mean_a[0], mean_b[0], atol=1e-5)
    assert torch.allclose(logvar_a[0], logvar_b[0], atol=1e-5)
    assert not torch.allclose(mean_b[0], mean_b[1], atol=1e-3)


def test_word_dropout_only_in_training(make_config):
    model = random_model(make_config, word_dropout=0.5)
    ids = torch.randint(5, 64, (8, 10))
    ids[:, 7:] = 0
    ids[:, 6] = 2
    shifted = torch.cat([torch.ones(8, 1, dtype=torch.long), ids[:, :-1]], 1)
    assert torch.equal(model.eval().decoder_inputs(ids), shifted)
    dropped = model.train().decoder_inputs(ids)
    changed = dropped != shifted
    assert (dropped[changed] == 4).all() and (dropped[:, 0] == 1).all()
    assert 0.2 < changed[:, 1:7].float().mean() < 0.8
    assert torch.equal(dropped[:, 8:], shifted[:, 8:])  # padding stays padding


def test_input_deletion_only_in_training_keeps_order_and_end_of_sequence(make_config):
    model = random_model(make_config, input_deletion=0.5)
    torch.manual_seed(0)
    ids = torch.randint(5, 64, (8, 10))
    ids[:, 7:] = 0
    ids[:, 6] = 2
    mask = (ids != 0).long()
    assert model.eval().encoder_inputs(ids, mask) == (ids, mask)
    damaged, damaged_mask = model.train().encoder_inputs(ids, mask)
    lengths = damaged_mask.sum(1)
    assert (lengths < 7).any() and (lengths >= 1).all()
    for row in range(8):
        kept = damaged[row, : lengths[row]].tolist()
        assert kept[-1] == 2 and (damaged[row, lengths[row]:] == 0).all()  # </s> stays, then padding
        source = iter(ids[row, :7].tolist())
        assert all(token in source for token in kept)  # a subsequence of the input: order kept
    assert torch.isfinite(model(ids, mask).loss)


def test_latent_noise_moves_the_code_the_decoder_reads_only_in_training(make_config):
    model = random_model(make_config, regularizer="none", latent_noise=1.0, dropout=0.0)
    ids = torch.randint(5, 64, (4, 6))
    ids[:, 5] = 2
    mask = torch.ones_like(ids)
    quiet = random_model(make_config, regularizer="none", dropout=0.0)
    assert torch.equal(model(ids, mask).logits, quiet(ids, mask).logits)  # eval: no noise
    model.train(), quiet.train()
    noisy, clean = model(ids, mask), quiet(ids, mask)
    assert torch.equal(noisy.latent, clean.latent)  # the code itself (and its regulariser) is unchanged
    assert not torch.allclose(noisy.logits, clean.logits)


# -- (b) the key/value cache reproduces teacher forcing ---------------------------------------


@pytest.mark.parametrize("inject", [True, False])
def test_cached_step_logits_equal_teacher_forced_logits(make_config, inject):
    model = random_model(make_config, inject_embeddings=inject, decoder_layers=3)
    z = torch.randn(4, 2, 8)
    tokens = torch.randint(5, 64, (4, 11))
    memory, offset = model.latent_context(z)
    with torch.no_grad():
        teacher = model.decoder_logits(model.decoder_inputs(tokens), memory, offset)
        in_one_call = model.decoder_logits(model.decoder_inputs(tokens), memory, offset, _new_cache())
    step = cached_step_logits(model, z, tokens)
    assert (teacher[:, 1:] - teacher[:, :-1]).abs().mean() > 0.1  # logits really depend on the prefix
    assert torch.allclose(step, teacher, atol=1e-4)
    assert torch.allclose(in_one_call, teacher, atol=1e-4)  # the pitfall of DESIGN.md section 7


def test_greedy_reproduces_teacher_forced_argmax_random_model(make_config):
    model = random_model(make_config, max_length=10)
    z = torch.randn(5, 2, 8)
    generated = model.generate(z, "greedy", no_repeat_ngram=0)
    _check_greedy_matches_teacher_forcing(model, z, generated)


def _check_greedy_matches_teacher_forcing(model, z, generated):
    memory, offset = model.latent_context(z)
    with torch.no_grad():
        teacher = model.decoder_logits(model.decoder_inputs(generated), memory, offset)
    step = cached_step_logits(model, z, generated)
    assert torch.allclose(step, teacher, atol=1e-4)
    for row, logits in zip(generated.tolist(), teacher):
        length = len(trim(row))
        assert logits[:length].argmax(-1).tolist() == row[:length]
        assert all(t == 0 for t in row[length:])  # padded after </s>


# -- source anchoring -----------------------------------------------------------------------------


def test_anchor_bonus_marks_the_tokens_that_continue_the_source():
    source = torch.tensor([[5, 6, 5, 7, 2, 0], [9, 2, 0, 0, 0, 0]])  # </s> = 2, <pad> = 0
    first = anchor_bonus(source, None, 12, pad_id=0)
    assert first.nonzero().tolist() == [[0, 5], [1, 9]]
    after = anchor_bonus(source, torch.tensor([5, 9]), 12, pad_id=0)
    assert after.nonzero().tolist() == [[0, 6], [0, 7], [1, 2]]  # both continuations of "5"; "9" ends
    assert anchor_bonus(source, torch.tensor([2, 0]), 12, pad_id=0).sum() == 0  # padding continues nothing


def test_greedy_with_zero_anchor_weight_is_plain_greedy(make_config):
    model = random_model(make_config, max_length=10)
    z = torch.randn(4, 2, 8)
    source = torch.randint(3, 64, (4, 6))
    assert torch.equal(model.generate(z, "greedy", anchor=source, anchor_weight=0.0), model.generate(z, "greedy"))


def test_greedy_with_a_large_anchor_weight_copies_the_source(make_config):
    model = random_model(make_config, max_length=12)
    z = torch.randn(3, 2, 8)
    sources = [[7, 11, 13, 17, 2], [19, 23, 2, 0, 0], [29, 31, 37, 41, 43]]  # ends with </s>, or cut
    anchored = model.generate(z, "greedy", anchor=torch.tensor(sources), anchor_weight=1e4, no_repeat_ngram=0)
    plain = model.generate(z, "greedy", no_repeat_ngram=0)
    assert [trim(row) for row in anchored.tolist()[:2]] == [sources[0], sources[1][:3]]
    assert anchored.tolist()[2][:5] == sources[2]  # then free: the source has no continuation
    assert not torch.equal(anchored, plain)


# -- length prior ---------------------------------------------------------------------------------


def test_length_prior_adds_to_eos_per_token_past_each_rows_length():
    prior = decoding.LengthPrior(torch.tensor([2, 5]), 1.5, eos_id=2)
    logits = prior.add_(torch.zeros(2, 6), step=4)
    assert logits[:, 2].tolist() == [3.0, 0.0] and logits.count_nonzero() == 1  # 2 past row 0's length, none past row 1's
    assert prior.select([1]).add_(torch.zeros(1, 6), step=7)[0, 2] == 3.0
    assert decoding.length_prior(None, 1.0, 2) is None and decoding.length_prior(torch.tensor([3]), 0.0, 2) is None


@pytest.mark.parametrize("method", ["greedy", "beam"])
def test_a_heavy_length_prior_ends_rows_one_token_past_their_lengths(make_config, method):
    model = random_model(make_config, max_length=12)
    torch.manual_seed(5)
    z = torch.randn(6, 2, 8) * 3
    options = {"num_beams": 3} if method == "beam" else {}
    plain = [trim(row) for row in model.generate(z, method, no_repeat_ngram=0, **options).tolist()]
    lengths = torch.tensor([1, 2, 3, 4, 5, 6])
    ended = [trim(row) for row in model.generate(z, method, no_repeat_ngram=0, lengths=lengths, length_weight=1e4,
                                                   **options).tolist()]
    assert any(len(p) > n + 2 for p, n in zip(plain, lengths.tolist()))  # the prior has rows to shorten
    for p, e, n in zip(plain, ended, lengths.tolist()):
        assert e[-1] == 2 and len(e) <= n + 2  # at most one token past the length, then </s>
        if len(p) <= n + 2:
            assert e == p  # rows that end in time are left alone
        elif method == "greedy":
            assert e == p[: n + 1] + [2]  # greedy's choices until then are its own
    weightless = model.generate(z, method, no_repeat_ngram=0, lengths=lengths, length_weight=0.0, **options)
    assert [trim(row) for row in weightless.tolist()] == plain


# -- drafts ---------------------------------------------------------------------------------------


def _drafts(plain: torch.Tensor) -> torch.Tensor:
    """Drafts for 4+ greedy rows: the row itself, its first two tokens then a wrong one, a random
    row, and the row cut before its </s>."""
    drafts = plain.clone()
    drafts[1, 2:] = 0
    drafts[1, 2] = (plain[1, 2] + 1) % 60 + 3
    drafts[1, 3] = 2
    drafts[2] = torch.randint(3, 64, (plain.shape[1],))
    drafts[3] = torch.where(drafts[3] == 2, 0, drafts[3])
    return drafts


@pytest.mark.parametrize("options", [{}, {"no_repeat_ngram": 2}, {"anchor_weight": 3.0},
                                     {"lengths": torch.tensor([1, 2, 3, 1, 2, 3]), "length_weight": 2.0}])
def test_drafted_greedy_is_plain_greedy(make_config, options):
    model = random_model(make_config, max_length=10)
    torch.manual_seed(3)
    z = torch.randn(6, 2, 8)
    if "anchor_weight" in options:
        options = {**options, "anchor": torch.randint(3, 64, (6, 5))}
    plain = model.generate(z, "greedy", **options)
    assert plain.shape[1] > 3
    drafted = model.generate(z, "greedy", draft=_drafts(plain), **options)
    assert torch.equal(drafted, plain)


def test_rows_that_match_their_drafts_skip_the_step_loop(memorised, monkeypatch):
    model = memorised[0]
    torch.manual_seed(1)
    z = torch.randn(5, 2, 32)
    plain = model.generate(z, "greedy", no_repeat_ngram=0)
    calls = []
    step_loop = decoding._step_loop
    monkeypatch.setattr(decoding, "_step_loop", lambda model, z, *args, **kwargs: calls.append(
        (z.shape[0], kwargs.get("prefix"))) or step_loop(model, z, *args, **kwargs))
    assert torch.equal(model.generate(z, "greedy", no_repeat_ngram=0, draft=plain), plain)
    assert calls == []  # every row checked in the one parallel pass
    drafts = plain.clone()
    drafts[4, 3] = (plain[4, 3] + 1) % 60 + 3  # row 4 leaves its draft at token 3
    assert torch.equal(model.generate(z, "greedy", no_repeat_ngram=0, draft=drafts), plain)
    assert len(calls) == 1 and calls[0][0] == 1 and torch.equal(calls[0][1], plain[4:, :3])


# -- (c) causality ---------------------------------------------------------------------------


def test_teacher_forced_decoder_is_causal(make_config):
    model = random_model(make_config)
    z = torch.randn(2, 2, 8)
    inputs = torch.randint(5, 64, (2, 10))
    changed = inputs.clone()
    changed[:, 6] = (changed[:, 6] + 1 - 5) % 59 + 5
    memory, offset = model.latent_context(z)
    with torch.no_grad():
        a = model.decoder_logits(inputs, memory, offset)
        b = model.decoder_logits(changed, memory, offset)
    assert torch.allclose(a[:, :6], b[:, :6], atol=1e-6)
    assert not torch.allclose(a[:, 6], b[:, 6])  # the changed position itself sees the change


def test_encoder_is_bidirectional(make_config):
    model = random_model(make_config)
    ids = torch.tensor([[5, 6, 7, 8, 2]])
    other = torch.tensor([[5, 6, 7, 9, 2]])
    hidden = lambda x: model.encoder(input_ids=x, attention_mask=torch.ones_like(x)).last_hidden_state  # noqa: E731
    with torch.no_grad():
        assert not torch.allclose(hidden(ids)[:, 0], hidden(other)[:, 0])


# -- the memorised model, shared by the decoding tests below ----------------------------------


@pytest.fixture(scope="module")
def memorised(make_config):
    torch.manual_seed(0)
    tok = Tokenizer.train(SENTENCES, vocab_size=400)
    batch = tok.encode(SENTENCES, max_length=32)
    cfg = make_config(vocab_size=tok.vocab_size, d_ff=128, num_heads=4, d_kv=8, encoder_layers=2,
                      decoder_layers=2, latent_tokens=2, latent_dim=32, max_length=32, regularizer="none")
    model = TransformerVAE(cfg)
    model.tokenizer = tok
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    start, seconds_to_95, perfect_steps = time.perf_counter(), None, 0
    for _ in range(600):
        out = model(batch.ids, batch.mask)
        optimizer.zero_grad()
        out.loss.backward()
        optimizer.step()
        elapsed = time.perf_counter() - start
        if seconds_to_95 is None and float(out.token_accuracy) >= 0.95:
            seconds_to_95 = elapsed
        perfect_steps = perfect_steps + 1 if float(out.token_accuracy) == 1.0 else 0
        if perfect_steps >= 10 or elapsed > 60:
            break
    model.eval()
    return model, tok, batch, seconds_to_95, time.perf_counter() - start


def test_memorisation_reaches_95_percent_token_accuracy(memorised):
    model, tok, batch, seconds_to_95, total = memorised
    print(f"\nmemorisation: 95% teacher-forced accuracy after {seconds_to_95}s, training stopped after {total:.1f}s")
    assert seconds_to_95 is not None and seconds_to_95 < 60
    with torch.no_grad():
        out = model(batch.ids, batch.mask)
    assert float(out.token_accuracy) >= 0.95


def test_memorised_sentences_reconstruct_with_greedy_decoding(memorised):
    model, tok, batch, _, _ = memorised
    with torch.no_grad():
        z = model(batch.ids, batch.mask).mean
    generated = model.generate(z, "greedy", no_repeat_ngram=0)
    decoded = tok.decode(generated)
    exact = sum(a == b for a, b in zip(decoded, SENTENCES)) / len(SENTENCES)
    print(f"\ngreedy exact-match reconstruction: {exact:.0%}")
    assert exact >= 0.8, [(a, b) for a, b in zip(decoded, SENTENCES) if a != b]
    _check_greedy_matches_teacher_forcing(model, z, generated)
    beam = model.generate(z, "beam", num_beams=4)
    assert sum(a == b for a, b in zip(tok.decode(beam), SENTENCES)) / len(SENTENCES) >= 0.8


def test_greedy_matches_teacher_forcing_on_off_manifold_codes(memorised):
    model = memorised[0]
    torch.manual_seed(1)
    z = torch.randn(8, 2, 32) * 2
    _check_greedy_matches_teacher_forcing(model, z, model.generate(z, "greedy", no_repeat_ngram=0))


# -- (d) beam search -------------------------------------------------------------------------


def test_beam_with_one_beam_equals_greedy(memorised, make_config):
    for model in (memorised[0], random_model(make_config)):
        torch.manual_seed(2)
        z = torch.randn(6, model.config.latent_tokens, model.config.latent_dim) * 2
        assert torch.equal(model.generate(z, "beam", num_beams=1), model.generate(z, "greedy", no_repeat_ngram=0))


def reference_beam(model, code, num_beams, max_length):
    """Beam search without a cache: every step re-runs the decoder on the whole prefix."""
    memory, offset = model.latent_context(code[None].expand(num_beams, -1, -1))
    scores = torch.tensor([0.0] + [-math.inf] * (num_beams - 1))
    sequences = torch.empty((num_beams, 0), dtype=torch.long)
    finished = torch.zeros(num_beams, dtype=torch.bool)
    for _ in range(max_length):
        inputs = torch.cat([torch.ones(num_beams, 1, dtype=torch.long), sequences], 1)
        with torch.no_grad():
            log_probs = model.decoder_logits(inputs, memory, offset)[:, -1].log_softmax(-1)
        log_probs[finished] = -math.inf
        log_probs[finished, 0] = 0.0
        top_scores, top_index = (scores[:, None] + log_probs).view(-1).topk(num_beams)
        origin, tokens = top_index // log_probs.shape[1], top_index % log_probs.shape[1]
        sequences = torch.cat([sequences[origin], tokens[:, None]], 1)
        finished, scores = finished[origin] | (tokens == 2), top_scores
        if finished.all():
            break
    return sequences[scores.argmax()].tolist(), float(scores.max())


def test_beam_search_matches_a_cache_free_reference(memorised):
    model = memorised[0]
    torch.manual_seed(3)
    z = torch.randn(12, 2, 32) * 2  # the codes of the test below
    beam = model.generate(z, "beam", num_beams=4, length_penalty=0.0).tolist()
    for code, row in zip(z, beam):
        expected, score = reference_beam(model, code, 4, model.config.max_length)
        assert trim(row) == trim(expected)
        assert log_prob(model, code[None], [row])[0] == pytest.approx(score, abs=1e-3)


def test_beam_finds_higher_log_prob_than_greedy(memorised):
    # Beam search is not guaranteed to beat greedy on every row (the greedy prefix can be
    # pruned), but on average, and on most rows, it must.
    model = memorised[0]
    torch.manual_seed(3)
    z = torch.randn(12, 2, 32) * 2
    greedy = model.generate(z, "greedy", no_repeat_ngram=0).tolist()
    beam = model.generate(z, "beam", num_beams=4, length_penalty=0.0).tolist()
    gains = [b - g for b, g in zip(log_prob(model, z, beam), log_prob(model, z, greedy))]
    assert sum(g >= -1e-4 for g in gains) >= 10, gains
    assert sum(gains) > 10.0, gains


def test_beam_rows_are_independent_of_the_batch(memorised):
    model = memorised[0]
    torch.manual_seed(4)
    z = torch.randn(5, 2, 32) * 2
    together = model.generate(z, "beam", num_beams=3).tolist()
    alone = [model.generate(z[i : i + 1], "beam", num_beams=3)[0].tolist() for i in range(5)]
    assert [trim(r) for r in together] == [trim(r) for r in alone]


def test_beam_output_ends_with_eos_then_padding(memorised):
    model = memorised[0]
    out = model.generate(torch.randn(6, 64), "beam", num_beams=4)
    for row in out.tolist():
        kept = trim(row)
        assert all(t == 0 for t in row[len(kept):])
        assert kept[-1] == 2 or len(row) == model.config.max_length


# -- (e) sampling ----------------------------------------------------------------------------


def test_seeded_sampling_is_deterministic(memorised):
    model = memorised[0]
    z = torch.randn(6, 2, 32) * 2
    draw = lambda seed: model.generate(z, "sample", temperature=1.5,  # noqa: E731
                                       generator=torch.Generator().manual_seed(seed))
    assert torch.equal(draw(7), draw(7))
    assert not torch.equal(draw(7), draw(8))


def test_sampling_with_top_k_1_or_tiny_top_p_is_greedy(memorised, make_config):
    for model in (memorised[0], random_model(make_config)):
        z = torch.randn(6, model.config.latent_tokens, model.config.latent_dim) * 2
        greedy = model.generate(z, "greedy")  # both with the default repeat guard
        gen = torch.Generator().manual_seed(0)
        assert torch.equal(model.generate(z, "sample", top_k=1, temperature=3.0, generator=gen), greedy)
        assert torch.equal(model.generate(z, "sample", top_p=1e-6, temperature=3.0, generator=gen), greedy)


def test_top_k_restricts_sampled_tokens(make_config):
    model = random_model(make_config, max_length=2)
    z = torch.randn(1, 2, 8).expand(400, 2, 8)
    with torch.no_grad():
        logits = model.decoder_logits(torch.ones(1, 1, dtype=torch.long), *model.latent_context(z[:1]))[0, 0]
    allowed = set(logits.topk(3).indices.tolist())
    drawn = model.generate(z, "sample", top_k=3, temperature=10.0, generator=torch.Generator().manual_seed(0))
    assert set(drawn[:, 0].tolist()) == allowed


# -- argument handling -----------------------------------------------------------------------


def test_generate_accepts_flat_codes_and_rejects_bad_options(make_config):
    model = random_model(make_config)
    z = torch.randn(3, 2, 8)
    assert torch.equal(model.generate(z.flatten(1), "greedy"), model.generate(z, "greedy"))
    assert model.generate(z, "greedy", max_length=4).shape[1] <= 4
    with pytest.raises(ValueError, match="unknown decoding method"):
        model.generate(z, "nucleus")
    with pytest.raises(ValueError, match="temperature"):
        model.generate(z, "sample", temperature=0.0)
    assert math.isfinite(float(model.generate(z, "beam", num_beams=2).float().sum()))


def test_decoding_never_repeats_a_4_gram_unless_told(make_config):
    model = random_model(make_config, max_length=40)
    z = torch.randn(6, 2, 8)

    def repeats(rows, n=4):
        grams = [[tuple(row[i : i + n]) for i in range(len(row) - n + 1)] for row in map(trim, rows.tolist())]
        return sum(len(g) != len(set(g)) for g in grams)

    assert repeats(model.generate(z, "greedy", no_repeat_ngram=0)) > 0  # an untrained decoder loops
    assert repeats(model.generate(z, "greedy")) == 0
    assert repeats(model.generate(z, "sample", generator=torch.Generator().manual_seed(0))) == 0


def test_banned_repeats_names_the_token_that_would_close_a_repeated_ngram():
    history = torch.tensor([[5, 6, 7, 5, 6], [1, 1, 1, 1, 2], [9, 9, 9, 9, 9]])
    rows, tokens = banned_repeats(history, 3)
    assert sorted(zip(rows.tolist(), tokens.tolist())) == [(0, 7), (2, 9), (2, 9), (2, 9)]
    assert banned_repeats(history[:, :2], 3)[0].numel() == 0  # too short to repeat anything


# -- teacher-forced scores (the word-swap proposals) ------------------------------------------------


def test_teacher_forced_scores_lead_greedy_decoding_and_contrast_by_log_probs(make_config):
    model = random_model(make_config, max_length=10)
    z, other = torch.randn(5, 2, 8), torch.randn(5, 2, 8)
    generated = model.generate(z, "greedy", no_repeat_ngram=0)
    with torch.no_grad():
        scores = decoding.teacher_forced_scores(model, z, generated)
        contrasted = decoding.teacher_forced_scores(model, z, generated, contrast=other, contrast_weight=1.5)
        theirs = decoding.teacher_forced_scores(model, other, generated)
        no_weight = decoding.teacher_forced_scores(model, z, generated, contrast=other, contrast_weight=0.0)
    for row, row_scores in zip(generated.tolist(), scores):
        length = len(trim(row))
        assert row_scores[:length].argmax(-1).tolist() == row[:length]  # position t scores the token after t
    own = scores.log_softmax(-1)
    assert torch.allclose(contrasted, own + 1.5 * (own - theirs.log_softmax(-1)), atol=1e-4)
    assert not torch.equal(contrasted.argmax(-1), scores.argmax(-1))
    assert torch.equal(no_weight, scores)
