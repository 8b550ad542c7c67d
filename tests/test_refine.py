import pytest
import torch
from review_model import detuned

from latentedit import LatentEditor
from latentedit.errors import InputError
from latentedit.evaluation import interpolation_paths, reconstruction_metrics
from latentedit.refine import refine_codes


@pytest.fixture(scope="module")
def detuned_editor(review_model):
    return LatentEditor(detuned(review_model), quiet=True)


def exact(editor, texts, refine):
    return sum(a == b for a, b in zip(editor.reconstruct(texts) if refine is None else
                                      editor.decode(editor.encode(texts, refine=refine)), texts))


def test_refining_recovers_the_texts_a_detuned_encoder_loses(detuned_editor, review_corpus, one_torch_thread):
    texts = review_corpus.texts
    before, after = exact(detuned_editor, texts, 0), exact(detuned_editor, texts, 50)
    assert before < 0.8 * len(texts)  # the perturbation broke reconstruction
    assert after == len(texts)


def test_codes_that_reconstruct_do_not_move(review_model, review_corpus, one_torch_thread):
    editor = LatentEditor(review_model, quiet=True)
    texts = review_corpus.texts[:8]
    assert torch.equal(editor.encode(texts, refine=30), editor.encode(texts))


def test_refine_codes_moves_only_the_codes_that_need_it(detuned_editor, review_corpus, one_torch_thread):
    model, texts = detuned_editor.model, review_corpus.texts
    batch = detuned_editor.tokenizer.encode(texts, model.config.max_length)
    codes = detuned_editor.encode(texts)
    fine = [i for i, text in enumerate(detuned_editor.decode(codes)) if text == texts[i]]
    refined = refine_codes(model, batch.ids, batch.mask, codes, steps=50)
    assert fine and torch.equal(refined[fine], codes[fine])
    assert refined.dtype == torch.float32 and not refined.requires_grad
    assert torch.equal(refine_codes(model, batch.ids, batch.mask, codes, steps=0), codes)
    assert all(p.grad is None for p in model.parameters())  # the model's weights are untouched


def test_editor_setting_applies_to_reconstruct_and_interpolate_but_not_heads(review_editor, review_corpus,
                                                                               one_torch_thread):
    editor = LatentEditor(detuned(review_editor.model), heads=review_editor.heads, quiet=True)
    texts = review_corpus.texts
    plain_scores = editor.score(texts)
    editor.refine = 50
    assert editor.reconstruct(texts) == texts
    assert editor.score(texts) == plain_scores  # heads read the encoder's codes
    path = [p.text for p in editor.interpolate(texts[0], texts[-1], steps=3)]
    assert (path[0], path[-1]) == (texts[0], texts[-1])
    paths = interpolation_paths(editor, [(texts[0], texts[-1])], steps=3, refine=0)
    assert paths[0][0] == editor.decode(editor.encode(texts[0], refine=0))


def test_refine_is_validated(review_editor):
    for bad in (-1, 1.5, "3", True):
        with pytest.raises(InputError, match="refine"):
            review_editor.encode("the food was great .", refine=bad)


def test_reconstruction_metrics_report_refined_codes(detuned_editor, review_corpus, one_torch_thread):
    texts = review_corpus.texts
    plain, _ = reconstruction_metrics(detuned_editor, texts)
    refined, report = reconstruction_metrics(detuned_editor, texts, refine=50)
    assert plain["refine"] == 0 and refined["refine"] == 50
    assert plain["greedy_exact_match"] < 0.8
    assert refined["greedy_exact_match"] == 1.0 and refined["bleu4"] == pytest.approx(100.0)
    assert report.teacher_forced_accuracy == 1.0
