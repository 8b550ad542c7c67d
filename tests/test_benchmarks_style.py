"""benchmarks/style_transfer.py and benchmarks/formality.py end to end on a tiny synthetic data
folder (no ../shared needed): with no data, with no model, and with the tiny review model."""

import json

import pytest
from scripts import load_script, write_lines

pytestmark = pytest.mark.usefixtures("one_torch_thread")

NOUNS = ("food", "service", "staff", "room", "pizza", "coffee", "music", "view")
GOOD, BAD = ("great", "amazing", "lovely", "good"), ("awful", "rude", "bad", "cold")


def _load(name: str):
    return load_script("benchmarks", name, "bench")


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    """yelp/ (pool, dev, 4 + 4 test sentences, references, two peers) and formality/."""
    root = tmp_path_factory.mktemp("data")
    yelp = root / "yelp"
    negative = [f"the {n} was {a} ." for n in NOUNS for a in BAD]
    positive = [f"the {n} was {a} ." for n in NOUNS for a in GOOD]
    write_lines(yelp / "shen2017_heldout" / "sentiment.heldout.0", negative)
    write_lines(yelp / "shen2017_heldout" / "sentiment.heldout.1", positive)
    for label, texts in ((0, negative), (1, positive)):
        write_lines(yelp / f"sentiment.dev.{label}", texts[::3])
    test0 = [negative[i % len(negative)] for i in range(500)]  # the readers expect Li's 500 + 500 layout
    test1 = [positive[i % len(positive)] for i in range(500)]
    write_lines(yelp / "sentiment.test.0", test0)
    write_lines(yelp / "sentiment.test.1", test1)
    flip = lambda s, a, b: s.replace(a, b)  # noqa: E731
    rewrites0 = [flip(s, s.split()[3], "great") for s in test0]
    rewrites1 = [flip(s, s.split()[3], "awful") for s in test1]
    write_lines(yelp / "reference.0", [f"{s}\t{r}" for s, r in zip(test0, rewrites0)])
    write_lines(yelp / "reference.1", [f"{s}\t{r}" for s, r in zip(test1, rewrites1)])
    for k in range(4):
        write_lines(yelp / "references_luo2019" / f"reference{k}.0", rewrites0 if k == 0 else test0)
        write_lines(yelp / "references_luo2019" / f"reference{k}.1", rewrites1 if k == 0 else test1)
    write_lines(yelp / "peer_outputs" / "perfect.txt", rewrites0 + rewrites1)
    write_lines(yelp / "peer_outputs" / "copier.txt", test0 + test1)
    write_lines(yelp / "peer_outputs" / "MANIFEST.tsv", ["file\tsystem\tcitation", "perfect.txt\tPerfect\tnobody 2024",
                                                    "copier.txt\tCopier\tnobody 2024"])
    rows = ["genre\tmean_score\tannotator_scores\tsentence_id\tsentence"]
    for i in range(200):
        noun = NOUNS[i % len(NOUNS)]
        rows.append(f"news\t2.0\t2.0,2.0\tf{i}\tThe {noun} was satisfactory, I believe.")
        rows.append(f"answers\t-2.0\t-2.0,-2.0\ti{i}\tlol the {noun} was ok haha")
    write_lines(root / "formality" / "pavlick2016_formality_all.tsv", rows)
    return root


@pytest.fixture(scope="module")
def model_folder(_fitted_review_editor, review_corpus, tmp_path_factory):
    """The tiny review model with a negative/positive sentiment head and the directions both benchmarks use."""
    from latentedit import LatentEditor

    fitted = _fitted_review_editor
    editor = LatentEditor(fitted.model, quiet=True)
    corpus = review_corpus
    editor.fit_head("sentiment", corpus.texts, labels=["positive" if x == "pos" else "negative" for x in corpus.labels])
    editor.fit_head("formality", corpus.texts, values=[1.0 if x == "pos" else -1.0 for x in corpus.labels])
    editor.learn_direction("positive", corpus.positive, corpus.negative, head="sentiment", target="positive")
    editor.learn_direction("negative", corpus.negative, corpus.positive, head="sentiment", target="negative")
    editor.learn_direction("formal", corpus.positive, corpus.negative, head="formality", target="max")
    folder = tmp_path_factory.mktemp("model") / "model"
    editor.save(folder)
    return folder


def test_style_transfer_without_data_is_skipped(tmp_path, capsys):
    assert _load("style_transfer").main(["--data", str(tmp_path / "absent"), "--out", str(tmp_path / "r.json")]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == "yelp_transfer_gm=skipped"
    assert not (tmp_path / "r.json").exists()


def test_formality_without_data_is_skipped(tmp_path, capsys):
    assert _load("formality").main(["--data", str(tmp_path / "absent"), "--out", str(tmp_path / "r.json")]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == "formality_gain=skipped"


def test_style_transfer_peers_and_baselines_without_a_model(data_root, tmp_path, capsys):
    out = tmp_path / "st.json"
    assert _load("style_transfer").main(["--data", str(data_root), "--model", "none", "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == "yelp_transfer_gm=skipped"
    result = json.loads(out.read_text())
    rows = {r["key"]: r for r in result["rows"]}
    assert set(rows) == {"copy", "human", "perfect", "copier"}
    assert rows["copy"]["self_bleu"] == pytest.approx(100.0) and rows["copy"]["unchanged"] == 1000
    assert rows["copier"]["judge_accuracy"] == rows["copy"]["judge_accuracy"] == 0.0
    assert rows["perfect"]["judge_accuracy"] == 100.0 and rows["perfect"]["ref1_bleu"] == pytest.approx(100.0)
    assert rows["copy"]["ref4_bleu"] == pytest.approx(100.0)  # the source is references 1-3 here
    assert rows["perfect"]["system"] == "Perfect" and rows["human"]["ref4_bleu"] is None
    assert rows["copy"]["perplexity"] == rows["copier"]["perplexity"] > 1.0  # the same outputs are as fluent
    assert "PPL" in out.with_suffix(".md").read_text() and result["judge"]["fluency"]["dev_perplexity"] > 1.0
    assert result["settings"]["best_of"] == 1 and not result["settings"]["judge_selects"]
    assert out.with_suffix(".png").stat().st_size > 0 and "| copy-input |" in out.with_suffix(".md").read_text()


def test_style_transfer_with_a_model(data_root, model_folder, tmp_path, capsys):
    out = tmp_path / "st.json"
    (tmp_path / "st_outputs").mkdir()
    (tmp_path / "st_outputs" / "a_dropped_row.txt").write_text("from an earlier run\n")
    argv = ["--data", str(data_root), "--model", str(model_folder), "--out", str(out), "--sweep", "0,1", "--quick",
            "--anchor", "2", "--revert"]
    assert _load("style_transfer").main(argv) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    result = json.loads(out.read_text())
    rows = {r["key"]: r for r in result["rows"]}
    assert {"shift_auto", "shift_1", "optimize", "optimize_closest", "random_shift_auto", "random_shift_1"} <= set(rows)
    assert last == f"yelp_transfer_gm={rows['shift_auto']['gm']:.2f}"
    assert rows["shift_1"]["candidates"] == 1
    assert rows["shift_auto"]["candidates"] == "16 + reverts"  # anchored, then unanchored; then reverts
    assert rows["shift_auto_no_revert"]["candidates"] == 16 and rows["shift_auto_unanchored"]["candidates"] == "8 + reverts"
    assert rows["shift_auto"]["self_bleu"] >= rows["shift_auto_no_revert"]["self_bleu"]
    assert rows["shift_auto_no_revert"]["system"] == "latentedit shift, strength auto, anchor 2, no revert"
    assert [p["strength"] for p in result["sweep"]["learned"]] == [0.0, 1.0]
    assert result["sweep"]["random"][0] == result["sweep"]["learned"][0]  # strength 0: the same reconstruction
    assert rows["shift_auto_unanchored"]["system"] == "latentedit shift, strength auto, no anchor, revert"
    assert [p["strength"] for p in result["sweep"]["learned_anchored"]] == [0.0, 1.0]
    assert result["sweep"]["learned_anchored"][0]["self_bleu"] >= result["sweep"]["learned"][0]["self_bleu"]
    texts = (out.parent / "st_outputs" / "shift_auto.txt").read_text().splitlines()
    assert not (out.parent / "st_outputs" / "a_dropped_row.txt").exists()  # no stale row survives a run
    assert len(texts) == 100 and result["settings"]["sentences"] == 100


def test_style_transfer_with_word_swaps_adds_the_row_without_them(data_root, model_folder, tmp_path):
    out = tmp_path / "st.json"
    argv = ["--data", str(data_root), "--model", str(model_folder), "--out", str(out), "--sweep", "", "--quick",
            "--substitute", "1", "--min-confidence", "0.6"]
    assert _load("style_transfer").main(argv) == 0
    result = json.loads(out.read_text())
    rows = {r["key"]: r for r in result["rows"]}
    assert rows["shift_auto"]["system"] == "latentedit shift, strength auto, swaps at 1, confidence 0.6"
    assert rows["shift_auto"]["candidates"] == "3/word x 4 swaps + 8"
    assert rows["shift_auto_no_swaps"]["system"] == "latentedit shift, strength auto, no swaps"
    assert rows["shift_auto_no_swaps"]["candidates"] == 8
    assert result["settings"]["substitute"] == 1.0 and result["settings"]["min_confidence"] == 0.6


def test_style_transfer_swaps_row_beside_a_headline_without_swaps(data_root, model_folder, tmp_path):
    out = tmp_path / "st.json"
    argv = ["--data", str(data_root), "--model", str(model_folder), "--out", str(out), "--sweep", "", "--quick",
            "--revert", "--swaps-row", "1:0.6", "--refine", "2", "--keep-norm"]
    assert _load("style_transfer").main(argv) == 0
    result = json.loads(out.read_text())
    rows = {r["key"]: r for r in result["rows"]}
    assert result["settings"]["refine"] == 2 and any("refined 2 steps" in note for note in result["notes"])
    assert rows["shift_auto"]["system"] == "latentedit shift, strength auto, keep norm, revert"
    assert rows["shift_auto_swaps"]["system"] == "latentedit shift, strength auto, swaps at 1, confidence 0.6, keep norm, revert"
    assert rows["shift_auto_free_norm"]["system"] == "latentedit shift, strength auto, revert, norm free"
    assert result["settings"]["keep_norm"] and all(0.0 <= r["new_unknown"] <= 100.0 for r in rows.values())
    assert "new unknown %" in out.with_suffix(".md").read_text()
    assert rows["shift_auto_swaps"]["candidates"] == "3/word x 4 swaps + 8 + reverts"
    assert "shift_auto_no_swaps" not in rows
    for bad in (["--swaps-row", "3"], ["--swaps-row", "0:0.5"], ["--swaps-row", "3:1.5"], ["--swaps-row", "a:b"],
                ["--refine", "-1"]):
        with pytest.raises(SystemExit):
            _load("style_transfer").main(bad)


def test_style_transfer_notes_missing_directions(data_root, review_model, tmp_path, capsys):
    from latentedit import LatentEditor

    folder = tmp_path / "bare"
    LatentEditor(review_model, quiet=True).save(folder)
    out = tmp_path / "st.json"
    argv = ["--data", str(data_root), "--model", str(folder), "--out", str(out), "--quick"]
    assert _load("style_transfer").main(argv) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == "yelp_transfer_gm=skipped"
    result = json.loads(out.read_text())
    assert any("no 'positive' direction" in note or "no 'negative' direction" in note for note in result["notes"])
    assert any("no 'sentiment' head" in note for note in result["notes"])
    assert {r["key"] for r in result["rows"]} == {"copy", "human", "perfect", "copier"}


def test_formality_with_a_model(data_root, model_folder, tmp_path, capsys):
    out = tmp_path / "fo.json"
    argv = ["--data", str(data_root), "--model", str(model_folder), "--out", str(out), "--sweep", "0,2"]
    assert _load("formality").main(argv) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    result = json.loads(out.read_text())
    rows = {r["key"]: r for r in result["rows"]}
    assert last == f"formality_gain={rows['shift_auto']['gain']:.3f}"
    assert rows["copy"]["gain"] == 0.0 and rows["copy"]["unchanged"] == result["settings"]["sentences"]
    assert result["judge"]["heldout_r"] > 0.9  # the synthetic ratings are perfectly predictable
    assert {"shift_auto", "optimize", "random_shift_auto", "random_shift_1"} <= set(rows)
    assert all(r["perplexity"] > 1.0 and 0.0 <= r["unknown_words"] <= 100.0 for r in rows.values())
    assert "unknown words %" in out.with_suffix(".md").read_text()


def test_anchor_dev_picks_an_auto_setting_by_its_dev_score(data_root, model_folder, tmp_path, capsys):
    out = tmp_path / "ad.json"
    argv = ["--data", str(data_root), "--model", str(model_folder), "--out", str(out), "--per-half", "5",
            "--anchors", "0,1e4", "--strengths", "1", "--max-strengths", "2", "--grid", "2", "--refines", "0,3",
            "--keep-norms", "0,1"]
    assert _load("anchor_dev").main(argv) == 0
    result = json.loads(out.read_text())
    assert {r["refine"] for r in result["rows"]} == {0, 3}  # every setting at each refine
    assert {r["keep_norm"] for r in result["rows"] if r["max_strength"]} == {False, True}  # every auto setting both ways
    rows = {(r["anchor"], r["strength"], r["revert"]): r for r in result["rows"] if r["refine"] == 0 and not r["keep_norm"]}
    assert set(rows) == {(a, s, r) for a in (0.0, 1e4) for s, r in (("1", False), ("auto <= 2", False), ("auto <= 2", True))}
    rows.update({key[:2]: row for key, row in rows.items() if not key[2]})
    assert rows[(1e4, "1")]["self_bleu"] == pytest.approx(100.0)  # so strong an anchor copies the source
    assert rows[(1e4, "1")]["head"] == 0.0  # ... which the head sees as unchanged
    assert rows[(1e4, "1")]["judge"] == 0.0  # ... and so does the dev judge
    # strength auto tries the copies again unanchored: the same edits as anchor 0
    assert rows[(1e4, "auto <= 2")]["self_bleu"] == pytest.approx(rows[(0.0, "auto <= 2")]["self_bleu"])
    for row in rows.values():
        assert row["score"] == pytest.approx((row["judge"] * row["self_bleu"]) ** 0.5)
    for anchor in (0.0, 1e4):  # reverting only puts source words back: never further from the source
        assert rows[(anchor, "auto <= 2", True)]["self_bleu"] >= rows[(anchor, "auto <= 2", False)]["self_bleu"]
    auto = [r for r in result["rows"] if r["max_strength"]]
    fluent = [r for r in auto if r["perplexity_ratio"] <= 1.8]
    best = max(fluent or auto, key=lambda r: r["score"])
    assert result["chosen"] == {**best, "fluent": bool(fluent)}
    for row in result["rows"]:
        assert row["perplexity"] == pytest.approx(row["perplexity_ratio"] * result["settings"]["source_perplexity"])
    assert capsys.readouterr().out.strip().splitlines()[-1] == (
        f"beams=1 length_prior=0 refine={best['refine']} known_words=False anchor={best['anchor']:g} max_strength=2 "
        f"revert={best['revert']} substitute=0 "
        f"min_confidence=0 keep_norm={best['keep_norm']} select=smallest")
    assert "Chosen" in out.with_suffix(".md").read_text()
    with pytest.raises(SystemExit):
        _load("anchor_dev").main(["--anchors", "-1"])
    with pytest.raises(SystemExit):
        _load("anchor_dev").main(["--keep-norms", "0,2"])  # an on/off switch: 0 and/or 1 only
    assert "--keep-norms takes 0 (off) and/or 1 (on)" in capsys.readouterr().err


def test_anchor_dev_measures_word_swaps_and_confidences(data_root, model_folder, tmp_path, capsys):
    out = tmp_path / "ad.json"
    argv = ["--data", str(data_root), "--model", str(model_folder), "--out", str(out), "--per-half", "5", "--anchors", "0",
            "--strengths", "", "--max-strengths", "2", "--grid", "2", "--substitutes", "0,1", "--confidences", "0,0.9"]
    assert _load("anchor_dev").main(argv) == 0
    result = json.loads(out.read_text())
    assert sorted((r["revert"], r["substitute"], r["min_confidence"]) for r in result["rows"]) == sorted(
        (revert, sub, confidence) for revert in (False, True) for sub in (0.0, 1.0) for confidence in (0.0, 0.9))
    best = result["chosen"]
    assert best["score"] == max(r["score"] for r in result["rows"] if r["perplexity_ratio"] <= 1.8 or not best["fluent"])
    assert capsys.readouterr().out.strip().splitlines()[-1].endswith(
        f"substitute={best['substitute']:g} min_confidence={best['min_confidence']:g} keep_norm=False select=smallest")
    assert "--confidences 0,0.9" in out.with_suffix(".md").read_text()
    with pytest.raises(SystemExit):
        _load("anchor_dev").main(["--confidences", "1.5"])


def test_anchor_dev_measures_both_selections(data_root, model_folder, tmp_path, capsys):
    out = tmp_path / "ad.json"
    argv = ["--data", str(data_root), "--model", str(model_folder), "--out", str(out), "--per-half", "5", "--anchors", "0",
            "--strengths", "", "--max-strengths", "4", "--grid", "4", "--selects", "smallest,closest"]
    assert _load("anchor_dev").main(argv) == 0
    rows = {(r["select"], r["revert"]): r for r in json.loads(out.read_text())["rows"]}
    assert set(rows) == {(select, revert) for select in ("smallest", "closest") for revert in (False, True)}
    for revert in (False, True):  # the closest arrived text keeps at least as much of the source
        assert rows[("closest", revert)]["self_bleu"] >= rows[("smallest", revert)]["self_bleu"] - 1e-9
    assert "| select |" in out.with_suffix(".md").read_text()
    with pytest.raises(SystemExit):
        _load("anchor_dev").main(["--selects", "nearest"])
    assert "--selects takes smallest and/or closest" in capsys.readouterr().err


def test_anchor_dev_chooses_only_among_fluent_settings():
    choose = _load("anchor_dev").choose
    rows = [{"max_strength": 9.0, "score": 72.0, "perplexity_ratio": 2.4},  # best score, disfluent
            {"max_strength": 9.0, "score": 69.0, "perplexity_ratio": 1.6},
            {"max_strength": 9.0, "score": 68.0, "perplexity_ratio": 1.2},
            {"max_strength": None, "score": 90.0, "perplexity_ratio": 1.0}]  # a fixed strength is never chosen
    assert choose(rows, 1.8) == {**rows[1], "fluent": True}
    assert choose(rows, 1.5) == {**rows[2], "fluent": True}
    assert choose(rows, 1.1) == {**rows[0], "fluent": False}  # none is fluent: the best score, flagged


def test_direction_dev_compares_the_methods_on_the_same_sample(data_root, model_folder, tmp_path, capsys):
    out = tmp_path / "dd.json"
    argv = ["--data", str(data_root), "--model", str(model_folder), "--out", str(out), "--per-half", "5",
            "--per-class", "20", "--max-strength", "2", "--grid", "2", "--anchor", "0"]
    module = _load("direction_dev")
    assert module.main(argv) == 0
    rows = {r["method"]: r for r in json.loads(out.read_text())["rows"]}
    assert list(rows) == list(module.METHODS)
    for method in [m for m in rows if "mean's norm" in m or m.startswith("local")]:
        assert rows[method]["norm"] == pytest.approx(rows["mean"]["norm"], rel=1e-4)
    assert rows["probe"]["norm"] <= rows["mean"]["norm"] + 1e-6  # the library scales the normal by a projection
    best = max(rows.values(), key=lambda r: r["score"])
    assert capsys.readouterr().out.strip().splitlines()[-1] == f"best={best['method']}"
    assert "Best by score" in out.with_suffix(".md").read_text()


def test_formality_with_an_anchor_adds_the_unanchored_row(data_root, model_folder, tmp_path, capsys):
    out = tmp_path / "fo.json"
    argv = ["--data", str(data_root), "--model", str(model_folder), "--out", str(out), "--sweep", "0", "--anchor", "1e4"]
    assert _load("formality").main(argv) == 0
    rows = {r["key"]: r for r in json.loads(out.read_text())["rows"]}
    assert rows["shift_auto"]["system"] == "latentedit shift, strength auto, anchor 10000"
    # the tiny model's tokenizer cannot spell every informal word, so even copying is not exact
    assert rows["shift_auto"]["self_bleu"] > rows["shift_auto_unanchored"]["self_bleu"] + 30
    assert rows["random_shift_auto"]["self_bleu"] > rows["random_shift_1"]["self_bleu"] + 30


def quick_style_transfer(data_root, model, out, *options) -> tuple[dict, dict]:
    """Run style_transfer.py --quick without a sweep: (its result, its rows by key)."""
    argv = ["--data", str(data_root), "--model", str(model), "--out", str(out), "--sweep", "", "--quick", *options]
    assert _load("style_transfer").main(argv) == 0
    result = json.loads(out.read_text())
    return result, {r["key"]: r for r in result["rows"]}


def test_style_transfer_with_select_closest_adds_the_smallest_strength_row(data_root, model_folder, tmp_path):
    result, rows = quick_style_transfer(data_root, model_folder, tmp_path / "st.json", "--revert", "--select", "closest")
    assert result["settings"]["select"] == "closest"
    assert rows["shift_auto"]["system"] == "latentedit shift, strength auto, revert, closest"
    assert "most similar to the source" in rows["shift_auto"]["selection"]
    assert rows["shift_auto_smallest"]["system"] == "latentedit shift, strength auto, revert, smallest strength"
    assert "smallest strength" in rows["shift_auto_smallest"]["selection"]
    assert rows["shift_auto_no_revert"]["system"] == "latentedit shift, strength auto, closest, no revert"
    with pytest.raises(SystemExit):
        _load("style_transfer").main(["--select", "nearest"])


def test_formality_with_a_min_gain_adds_the_any_gain_row(data_root, model_folder, tmp_path):
    out = tmp_path / "fo.json"
    argv = ["--data", str(data_root), "--model", str(model_folder), "--out", str(out), "--sweep", "0",
            "--min-gain", "0.3", "--revert", "--keep-norm"]
    assert _load("formality").main(argv) == 0
    result = json.loads(out.read_text())
    rows = {r["key"]: r for r in result["rows"]}
    assert rows["shift_auto"]["system"] == "latentedit shift, strength auto, min gain 0.3, keep norm, revert"
    assert rows["shift_auto_any_gain"]["system"] == "latentedit shift, strength auto, any gain, keep norm, revert"
    assert rows["shift_auto_no_revert"]["system"] == "latentedit shift, strength auto, min gain 0.3, keep norm, no revert"
    assert rows["shift_auto_free_norm"]["system"] == "latentedit shift, strength auto, min gain 0.3, norm free, revert"
    assert "shift_auto_unanchored" not in rows and "shift_auto_smallest" not in rows
    assert result["settings"]["min_gain"] == 0.3
    # a larger required gain never stops a text at a smaller strength
    assert rows["shift_auto"]["mean_strength"] >= rows["shift_auto_any_gain"]["mean_strength"]


def test_formality_dev_picks_the_largest_gain_that_keeps_self_bleu(data_root, model_folder, tmp_path, capsys):
    out = tmp_path / "fd.json"
    argv = ["--data", str(data_root), "--model", str(model_folder), "--out", str(out), "--sentences", "6",
            "--anchors", "0,1e4", "--min-gains", "0,0.5", "--max-strength", "2", "--grid", "2", "--min-self-bleu", "0",
            "--refines", "0,3", "--keep-norms", "0,1"]
    assert _load("formality_dev").main(argv) == 0
    result = json.loads(out.read_text())
    rows = {(r["refine"], r["keep_norm"], r["anchor"], r["min_gain"]): r for r in result["rows"]}
    assert set(rows) == {(n, k, a, g) for n in (0, 3) for k in (False, True) for a in (0.0, 1e4) for g in (0.0, 0.5)}
    limit = 1.5 * result["settings"]["source_unknown_words"]
    fluent = [r for r in result["rows"] if r["unknown_words"] <= limit and r["length_ratio"] <= 1.5]  # all keep self-BLEU >= 0
    chosen = result["chosen"]
    assert chosen == {**max(fluent or result["rows"], key=lambda r: r["gain"]), "kept": True, "fluent": bool(fluent)}
    assert all(r["perplexity"] > 1.0 and 0.0 <= r["unknown_words"] <= 100.0 for r in result["rows"])
    assert capsys.readouterr().out.strip().splitlines()[-1] == (f"refine={chosen['refine']} anchor={chosen['anchor']:g} "
                                                               f"min_gain={chosen['min_gain']:g} substitute=0 "
                                                               f"keep_norm={chosen['keep_norm']} beams=1 length_prior=0")
    assert "Chosen" in out.with_suffix(".md").read_text()
    beamed = ["--data", str(data_root), "--model", str(model_folder), "--out", str(tmp_path / "fd3.json"), "--sentences", "3",
              "--anchors", "0", "--min-gains", "0", "--max-strength", "2", "--grid", "2", "--beams", "1,2",
              "--length-priors", "0,3"]
    assert _load("formality_dev").main(beamed) == 0
    rows = json.loads((tmp_path / "fd3.json").read_text())["rows"]
    assert [(r["beams"], r["length_prior"]) for r in rows] == [(1, 0.0), (1, 3.0), (2, 0.0), (2, 3.0)]
    strict = ["--data", str(data_root), "--model", str(model_folder), "--out", str(tmp_path / "fd2.json"), "--sentences", "6",
              "--anchors", "0", "--min-gains", "0", "--max-strength", "2", "--grid", "2", "--min-self-bleu", "101"]
    assert _load("formality_dev").main(strict) == 0  # no row keeps 101: the one with the most self-BLEU
    assert json.loads((tmp_path / "fd2.json").read_text())["chosen"]["kept"] is False
    with pytest.raises(SystemExit):
        _load("formality_dev").main(["--min-gains", "-1"])
    with pytest.raises(SystemExit):
        _load("formality_dev").main(["--keep-norms", "1,0.5"])
    with pytest.raises(SystemExit):
        _load("formality_dev").main(["--beams", "0"])
    with pytest.raises(SystemExit):
        _load("formality_dev").main(["--length-priors", "-1"])


def test_formality_dev_choice_needs_self_bleu_then_few_unknown_words_and_no_rambling():
    choose = _load("formality_dev").choose
    rows = [{"gain": 0.9, "self_bleu": 40.0, "unknown_words": 30.0, "length_ratio": 1.0},  # the most gain, in broken words
            {"gain": 0.6, "self_bleu": 35.0, "unknown_words": 12.0, "length_ratio": 1.1},
            {"gain": 0.95, "self_bleu": 20.0, "unknown_words": 5.0, "length_ratio": 1.0},  # too far from its source
            {"gain": 0.8, "self_bleu": 33.0, "unknown_words": 11.0, "length_ratio": 2.1}]  # real words, appended
    assert choose(rows, 32.0, 15.0) == {**rows[1], "kept": True, "fluent": True}
    assert choose(rows, 32.0, 15.0, max_length_ratio=3.0) == {**rows[3], "kept": True, "fluent": True}
    assert choose(rows, 32.0, 10.0) == {**rows[0], "kept": True, "fluent": False}
    assert choose(rows, 50.0, 15.0) == {**rows[0], "kept": False, "fluent": False}


def test_formality_dev_without_data_is_skipped(tmp_path, capsys):
    assert _load("formality_dev").main(["--data", str(tmp_path / "absent"), "--out", str(tmp_path / "r.json")]) == 0
    assert capsys.readouterr().out.startswith("skipped")


@pytest.fixture(scope="module")
def lexicon_model_folder(model_folder, review_corpus, tmp_path_factory):
    """The tiny model folder with a lexicon of its corpus's words."""
    import shutil

    from latentedit.lexicon import LEXICON_FILE, Lexicon

    folder = tmp_path_factory.mktemp("lexicon") / "model"
    shutil.copytree(model_folder, folder)
    Lexicon.from_texts(review_corpus.texts, min_count=1).save(folder / LEXICON_FILE)
    return folder


def test_style_transfer_beams_row_and_known_words(data_root, lexicon_model_folder, tmp_path):
    options = ("--revert", "--beams-row", "2")
    result, rows = quick_style_transfer(data_root, lexicon_model_folder, tmp_path / "st.json", *options)
    assert rows["shift_auto_beams"]["system"] == "latentedit shift, strength auto, revert, 2 beams"
    assert result["settings"]["known_words"] and any("lexicon" in note for note in result["notes"])
    result, _ = quick_style_transfer(data_root, lexicon_model_folder, tmp_path / "st.json", *options, "--any-words")
    assert not result["settings"]["known_words"] and any("any words" in note for note in result["notes"])
    _, rows = quick_style_transfer(data_root, lexicon_model_folder, tmp_path / "st.json", *options, "--headline-only",
                                   "--anchor", "2", "--keep-norm")
    assert {k for k, r in rows.items() if r["kind"] in ("latentedit", "baseline")} == {
        "shift_auto", "shift_auto_beams", "random_shift_auto"}
    for bad in (["--beams-row", "1"], ["--beams", "0"]):
        with pytest.raises(SystemExit):
            _load("style_transfer").main(bad)


def test_anchor_dev_measures_known_words_and_beams(data_root, lexicon_model_folder, tmp_path, capsys):
    out = tmp_path / "ad.json"
    argv = ["--data", str(data_root), "--model", str(lexicon_model_folder), "--out", str(out), "--per-half", "3",
            "--anchors", "0", "--strengths", "", "--max-strengths", "4", "--grid", "2", "--known-words", "0,1",
            "--beams", "1,2", "--length-priors", "0,2"]
    assert _load("anchor_dev").main(argv) == 0
    rows = json.loads(out.read_text())["rows"]
    assert {(r["beams"], r["known_words"], r["length_prior"]) for r in rows} == {
        (b, k, p) for b in (1, 2) for k in (False, True) for p in (0.0, 2.0)}
    assert all(0.0 <= r["unknown_words"] <= 100.0 for r in rows)
    assert "| beams | length prior | refine | known words |" in out.with_suffix(".md").read_text()
    with pytest.raises(SystemExit):
        _load("anchor_dev").main(["--beams", "1.5"])
    assert "--beams takes whole numbers" in capsys.readouterr().err


def test_edit_words_counts_what_outputs_add():
    edit_words = _load("edit_words")
    assert edit_words.added_words(edit_words.words("it 's cold ."), edit_words.words("It's great, cold.")) == {"great", ","}
    assert edit_words.is_subsequence(["a", "c"], ["a", "b", "c"]) and not edit_words.is_subsequence(["c", "a"], ["a", "c"])
    sources = ["the food was cold .", "the staff was rude .", "the room was bad ."]
    figures = edit_words.half_figures(sources, ["the food was great cold .", "the staff was great .", sources[2]])
    assert figures["top_word"] == "great" and figures["top_share"] == pytest.approx(200 / 3)
    assert figures["distinct_added"] == 1 and figures["insert_only"] == pytest.approx(100 / 3)
    assert figures["unchanged"] == pytest.approx(100 / 3)


def test_edit_words_on_saved_outputs(data_root, tmp_path, capsys):
    from scripts import write_lines

    edit_words = _load("edit_words")
    test = (data_root / "yelp" / "sentiment.test.0").read_text().splitlines()
    test += (data_root / "yelp" / "sentiment.test.1").read_text().splitlines()
    outputs = tmp_path / "run_outputs"
    write_lines(outputs / "inserter.txt", [s.replace(" was ", " was great ") for s in test])
    out = tmp_path / "words.json"
    assert edit_words.main(["--data", str(data_root), "--outputs", str(outputs), "--out", str(out)]) == 0
    rows = json.loads(out.read_text())["systems"]
    inserter = rows["latentedit run_outputs/inserter"]["negative -> positive"]
    assert inserter["top_word"] == "great" and inserter["top_share"] == 100.0 and inserter["insert_only"] == 100.0
    perfect = rows["peer perfect"]["negative -> positive"]  # replaces a word: adds, but does not only insert
    assert perfect["top_word"] == "great" and perfect["insert_only"] == 0.0
    assert rows["peer copier"]["positive -> negative"]["unchanged"] == 100.0
    assert set(rows) == {"human reference (Luo et al.'s first)", "latentedit run_outputs/inserter", "peer perfect",
                         "peer copier"}
    assert "| `great` | 100 |" in out.with_suffix(".md").read_text()
    (tmp_path / "empty").mkdir()
    assert edit_words.main(["--data", str(data_root), "--outputs", str(tmp_path / "empty"), "--out", str(out)]) == 2
    assert edit_words.main(["--data", str(tmp_path / "absent"), "--out", str(tmp_path / "r.json")]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("skipped:")
