"""The command line, run in-process on a tiny model (d_model 32, briefly trained) built once."""

import json
import re
import shlex
import shutil

import pytest
import torch
from review_model import detuned

import latentedit.cli as cli
import latentedit.editor as editor_module
from latentedit import LatentEditor, Tokenizer, TransformerVAE

pytestmark = pytest.mark.usefixtures("one_torch_thread")

POSITIVE = ["the food was great .", "the service was friendly .", "i love this place .", "great pizza and nice staff .",
            "the staff was very kind .", "best burger in town .", "the room was clean .", "we loved the dessert .",
            "amazing coffee and cake .", "the waiter was helpful .", "fresh bread and good soup .", "a lovely cafe .",
            "the prices are fair .", "the view was beautiful .", "quick and friendly service .", "tasty food .",
            "i will come back .", "the music was nice .", "my kids loved it .", "five stars from me ."]
NEGATIVE = ["the food was cold .", "the service was slow .", "i hate this place .", "bad pizza and rude staff .",
            "the staff was very rude .", "worst burger in town .", "the room was dirty .", "we hated the dessert .",
            "awful coffee and cake .", "the waiter was rude .", "stale bread and cold soup .", "a sad cafe .",
            "the prices are too high .", "the view was ugly .", "slow and rude service .", "bland food .",
            "i will never come back .", "the music was loud .", "my kids hated it .", "one star from me ."]
TEXTS = POSITIVE + NEGATIVE
LIKES = [float(10 + i % 5) for i in range(20)] + [float(i % 5) for i in range(20)]


@pytest.fixture(scope="session")
def data(tmp_path_factory, make_config):
    """The model folder (heads likes + sentiment, directions positive + plain) and data files."""
    folder = tmp_path_factory.mktemp("cli")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(0)
        model = TransformerVAE(make_config(vocab_size=300, max_length=24, regularizer="none"))
        model.tokenizer = Tokenizer.train(TEXTS, vocab_size=290)
        batch = model.tokenizer.encode(TEXTS, 24)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
        model.train()
        for _ in range(40):  # enough to decode non-empty texts; the CLI plumbing is what is tested
            optimizer.zero_grad()
            model(batch.ids, batch.mask).loss.backward()
            optimizer.step()
        editor = LatentEditor(model.eval(), quiet=True)
        editor.fit_head("likes", TEXTS, values=LIKES)
        editor.fit_head("sentiment", TEXTS, labels=["pos"] * 20 + ["neg"] * 20)
        editor.learn_direction("positive", POSITIVE, NEGATIVE, head="sentiment", target="pos")
        editor.learn_direction("plain", POSITIVE, NEGATIVE)
        editor.save(folder / "model")
    finally:
        torch.set_num_threads(threads)
    rows = ["text,likes,label"] + [f"{t},{v},{1 if i < 20 else 0}" for i, (t, v) in enumerate(zip(TEXTS, LIKES))]
    (folder / "reviews.csv").write_text("\n".join(rows) + "\n")
    (folder / "pos.txt").write_text("\n".join(POSITIVE) + "\n")
    (folder / "neg.txt").write_text("\n".join(NEGATIVE) + "\n")
    return folder


@pytest.fixture
def model(data):
    return str(data / "model")


@pytest.fixture
def run(capsys, monkeypatch):
    """main(argv) -> (exit code, stdout, stderr); tables 200 columns wide so texts are not wrapped."""
    monkeypatch.setenv("COLUMNS", "200")

    def call(*argv):
        code = cli.main([str(a) for a in argv])
        out, err = capsys.readouterr()
        return code, out, err

    return call


def json_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def assert_one_line_error(code, err, *fragments):
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1, err
    for fragment in fragments:
        assert fragment in err


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


# -- the docstring ---------------------------------------------------------------------------


def test_docstring_examples_parse():
    doc = cli.__doc__.replace("\\\n", " ")
    examples = [line.split("#")[0].strip() for line in doc.splitlines() if line.strip().startswith("latentedit ")]
    assert len(examples) >= 12
    for required in ('latentedit shift --direction formal "hey whats up"',
                     "latentedit shift --model M --direction positive --input in.txt --output out.txt",
                     "latentedit optimize --head likes --target max"):
        assert any(e.startswith(required) for e in examples)
    parser = cli.build_parser()
    for example in examples:
        args = parser.parse_args(shlex.split(example)[1:])
        assert args.handler is not None


# -- edits -----------------------------------------------------------------------------------


def test_shift_texts_as_arguments_prints_a_table(run, model):
    code, out, err = run("shift", "--model", model, "--direction", "positive", "--strength", "0.5",
                         "the food was cold .", "the room was dirty .")
    assert code == 0, err
    assert "the food was cold ." in out and "strength" in out and "sentiment" in out


def test_shift_json_lines_parse_and_keep_order(run, model):
    code, out, err = run("shift", "--model", model, "--direction", "plain", "--strength", "-0.5", "--json",
                         "the food was great .", "i love this place .")
    assert code == 0, err
    rows = json_lines(out)
    assert [r["source_text"] for r in rows] == ["the food was great .", "i love this place ."]
    for row in rows:
        assert row["operation"] == "shift" and row["strength"] == -0.5 and "trajectory" not in row
        assert set(row["scores"]) == {"likes", "sentiment"} and isinstance(row["text"], str)


def test_shift_strength_auto_with_trajectory(run, model):
    code, out, err = run("shift", "--model", model, "--direction", "positive", "--strength", "auto",
                         "--max-strength", "2", "--json", "--trajectory", "the food was cold .")
    assert code == 0, err
    (row,) = json_lines(out)
    assert 0 < row["strength"] <= 2
    assert len(row["trajectory"]) == 8 and {"strength", "text", "arrived"} <= set(row["trajectory"][0])


def test_shift_input_output_streams_in_chunks_and_keeps_order(run, model, tmp_path, monkeypatch):
    monkeypatch.setattr(cli, "CHUNK_LINES", 3)
    calls = []
    real_shift = LatentEditor.shift
    monkeypatch.setattr(LatentEditor, "shift", lambda self, texts, *a, **k: calls.append(len(texts)) or
                        real_shift(self, texts, *a, **k))
    lines = NEGATIVE[:8]
    (tmp_path / "in.txt").write_text("\n".join(lines) + "\n")
    code, out, err = run("shift", "--model", model, "--direction", "positive", "--strength", "0.3",
                         "--input", tmp_path / "in.txt", "--output", tmp_path / "out.txt")
    assert code == 0, err
    assert calls == [3, 3, 2]
    assert len((tmp_path / "out.txt").read_text().split("\n")) == len(lines) + 1  # one line each, final newline
    assert "wrote 8 line(s)" in err and out == ""
    code, out, err = run("shift", "--model", model, "--direction", "positive", "--strength", "0.3", "--json",
                         "--input", tmp_path / "in.txt", "--output", tmp_path / "out.jsonl")
    assert code == 0, err
    assert [r["source_text"] for r in json_lines((tmp_path / "out.jsonl").read_text())] == lines
    # in place: the input is read to the end before the output replaces it
    code, out, err = run("reconstruct", "--model", model, "--input", tmp_path / "in.txt", "--output", tmp_path / "in.txt")
    assert code == 0, err
    assert len((tmp_path / "in.txt").read_text().splitlines()) == len(lines)
    assert leftovers(tmp_path) == []


def test_failure_mid_stream_leaves_previous_output_untouched(run, model, tmp_path, monkeypatch):
    monkeypatch.setattr(cli, "CHUNK_LINES", 3)
    calls = []
    real_shift = LatentEditor.shift
    monkeypatch.setattr(LatentEditor, "shift", lambda self, texts, *a, **k: calls.append(len(texts)) or
                        real_shift(self, texts, *a, **k))
    good = "\n".join(NEGATIVE[:6]).encode() + b"\n"
    (tmp_path / "in.txt").write_bytes(good + b"caf\xe9 latin-1\n" + b"more\n")
    (tmp_path / "out.txt").write_text("previous\n")
    code, out, err = run("shift", "--model", model, "--direction", "positive",
                         "--input", tmp_path / "in.txt", "--output", tmp_path / "out.txt")
    assert_one_line_error(code, err, "in.txt:7", "UTF-8")
    assert calls == [3, 3]  # read lazily: two chunks were edited before line 7 was read
    assert (tmp_path / "out.txt").read_text() == "previous\n"
    assert leftovers(tmp_path) == []


def test_empty_line_is_an_error_naming_it(run, model, tmp_path):
    (tmp_path / "in.txt").write_text("the food was cold .\n\nthe room was dirty .\n")
    code, out, err = run("reconstruct", "--model", model, "--input", tmp_path / "in.txt", "--output", tmp_path / "o.txt")
    assert_one_line_error(code, err, "in.txt:2", "empty line")
    assert not (tmp_path / "o.txt").exists()


def test_optimize_heads_and_targets(run, model):
    code, out, err = run("optimize", "--model", model, "--head", "likes", "--target", "max", "--steps", "3", "--json",
                         "the food was cold .", "a sad cafe .")
    assert code == 0, err
    rows = json_lines(out)
    assert [r["source_text"] for r in rows] == ["the food was cold .", "a sad cafe ."]
    assert all(r["operation"] == "optimize" and "trajectory" not in r for r in rows)
    code, out, err = run("optimize", "--model", model, "--head", "likes", "--target", "12.5", "--head", "sentiment",
                         "--target", "pos", "--weight", "1", "--weight", "2", "--method", "random", "--steps", "4",
                         "--max-distance", "50", "--min-similarity", "0", "--seed", "3", "--json", "--trajectory",
                         "the food was cold .")
    assert code == 0, err
    (row,) = json_lines(out)
    assert row["trajectory"] and {"step", "loss", "distance", "similarity", "allowed"} <= set(row["trajectory"][0])
    code, out, err = run("optimize", "--model", model, "--head", "sentiment", "--target", "pos", "--steps", "2",
                         "the food was cold .")
    assert code == 0, err
    assert "the food was cold ." in out and "similarity" in out


def test_reconstruct_encode_interpolate_sample(run, model, tmp_path):
    code, out, err = run("reconstruct", "--model", model, "--json", "the food was great .")
    assert code == 0, err
    assert json_lines(out)[0]["source"] == "the food was great ."
    (tmp_path / "in.txt").write_text("the food was great .\nthe room was dirty .\n")
    code, out, err = run("encode", "--model", model, "--input", tmp_path / "in.txt", "--output", tmp_path / "codes.jsonl")
    assert code == 0, err
    codes = json_lines((tmp_path / "codes.jsonl").read_text())
    assert [c["text"] for c in codes] == ["the food was great .", "the room was dirty ."]
    assert len(codes[0]["latent"]) == 16
    code, out, err = run("interpolate", "--model", model, "--steps", "3", "--json", "the food was great .", "a sad cafe .")
    assert code == 0, err
    assert [p["t"] for p in json_lines(out)] == [0.0, 0.5, 1.0]
    code, out, err = run("interpolate", "--model", model, "--steps", "3", "--beams", "2", "--json", "the food was great .",
                         "a sad cafe .")
    expected = LatentEditor.load(model).interpolate("the food was great .", "a sad cafe .", steps=3, num_beams=2)
    assert code == 0 and [p["text"] for p in json_lines(out)] == [p.text for p in expected], err
    assert run("interpolate", "--model", model, "--beams", "0", "a", "b")[0] == 2
    code, out, err = run("interpolate", "--model", model, "--steps", "3", "--python-syntax", "--json", "x = f(1)", "y = 2")
    expected = LatentEditor.load(model).interpolate("x = f(1)", "y = 2", steps=3, python_syntax=True)
    assert code == 0 and [p["text"] for p in json_lines(out)] == [p.text for p in expected], err
    code, out, err = run("sample", "--model", model, "-n", "2", "--seed", "1")
    assert code == 0, err
    assert "text" in out
    code, out, err = run("sample", "--model", model, "-n", "2", "--seed", "1", "--python-syntax", "--json")
    assert code == 0 and [r["text"] for r in json_lines(out)] == LatentEditor.load(model).sample(2, seed=1, python_syntax=True)


def test_refine_reproduces_more_texts_and_every_source_command_takes_it(run, model, review_model, review_corpus, tmp_path):
    # The stored review model with its encoder perturbed: the decoder still writes every text from
    # a nearby code (tests/test_refine.py), the encoder's codes miss most of them. A model trained
    # here would not do: its training is chaotic across CPUs (tests/review_model.py).
    editor = LatentEditor(detuned(review_model), quiet=True)
    editor.save(tmp_path / "detuned")
    texts = review_corpus.texts

    def exact(*refine):
        code, out, err = run("reconstruct", "--model", tmp_path / "detuned", "--json", *refine, *texts)
        assert code == 0, err
        return sum(row["text"] == row["source"] for row in json_lines(out))

    assert exact("--refine", "50") == len(texts) > exact()
    for command in (SHIFT, OPT + ["--target", "max"], ["encode"], ["interpolate", "a sad cafe ."]):
        code, out, err = run(*command[:1], "--model", model, "--refine", "2", *command[1:], "tasty food .")
        assert code == 0, err


# -- teaching a model --------------------------------------------------------------------------


def test_fit_head_and_learn_direction_to_output_model_then_info(run, model, data, tmp_path):
    out_model = tmp_path / "m2"
    code, out, err = run("fit-head", "stars", "--model", model, "--input", data / "reviews.csv", "--column", "text",
                         "--label-column", "label", "--hidden", "4", "--output-model", out_model)
    assert code == 0, err
    assert "head 'stars' (classification): held-out accuracy" in out
    # numeric labels stay labels: --target 1 is label "1", not the number 1.0
    code, out, err = run("optimize", "--model", out_model, "--head", "stars", "--target", "1", "--steps", "2", "--json",
                         "the food was cold .")
    assert code == 0, err
    assert set(json_lines(out)[0]["scores"]["stars"]) <= {"0", "1"}
    code, out, err = run("learn-direction", "happier", "--model", out_model, "--positive", data / "pos.txt",
                         "--negative", data / "neg.txt", "--method", "probe", "--head", "stars", "--target", "1",
                         "--description", "towards 1 star label", "--json")
    assert code == 0, err
    assert json.loads(out)["method"] == "probe" and json.loads(out)["model"] == str(out_model)
    code, out, err = run("learn-direction", "more-likes", "--model", out_model, "--input", data / "reviews.csv",
                         "--value-column", "likes", "--head", "likes", "--target", "max", "--output-model", out_model)
    assert code == 0, err
    assert "direction 'more-likes' (property" in out
    code, out, err = run("info", "--model", out_model, "--json")
    assert code == 0, err
    info = json.loads(out)
    heads = {h["name"]: h for h in info["heads"]}
    assert set(heads) == {"likes", "sentiment", "stars"}
    assert heads["stars"]["metric_name"] == "accuracy" and heads["stars"]["labels"] == ["0", "1"]
    directions = {d["name"]: d for d in info["directions"]}
    assert set(directions) == {"positive", "plain", "happier", "more-likes"}
    assert directions["happier"]["head"] == "stars" and directions["happier"]["target"] == "1"
    code, out, err = run("info", "--model", out_model)
    assert code == 0, err
    for name in ("stars", "accuracy", "r2", "happier", "more-likes", "probe", "property"):
        assert name in out
    code, out, err = run("shift", "--model", out_model, "--direction", "more-likes", "--strength", "auto",
                         "--max-strength", "1", "--json", "the food was cold .")
    assert code == 0, err
    # the source model folder was not touched
    code, out, err = run("info", "--model", model, "--json")
    assert {h["name"] for h in json.loads(out)["heads"]} == {"likes", "sentiment"}



def test_fit_head_takes_layers_and_a_batch_size(run, model, data, tmp_path):
    out_model = tmp_path / "deep"
    code, out, err = run("fit-head", "stars", "--model", model, "--input", data / "reviews.csv", "--label-column", "label",
                         "--hidden", "8", "--layers", "2", "--batch-size", "4", "--output-model", out_model)
    assert code == 0, err
    head = LatentEditor.load(out_model).heads["stars"]
    assert head.config.hidden == 8 and head.config.layers == 2
    code, out, err = run("fit-head", "stars", "--model", model, "--input", data / "reviews.csv", "--label-column", "label",
                         "--hidden", "8", "--layers", "0", "--output-model", tmp_path / "none")
    assert code == 2 and "layers" in err

def test_fit_head_writes_back_into_the_model_folder_by_default(run, model, data, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(model, copy)
    code, out, err = run("fit-head", "likes2", "--model", copy, "--input", data / "reviews.csv",
                         "--value-column", "likes", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["kind"] == "regression" and "r2" in report and report["replaced"] is False
    code, out, err = run("fit-head", "likes2", "--model", copy, "--input", data / "reviews.csv", "--value-column", "likes")
    assert code == 0 and "replaced" in out
    assert (copy / "heads" / "likes2" / "config.json").is_file()
    assert leftovers(tmp_path) == []


def test_refuses_to_write_into_a_builtin_model(run, model, data, tmp_path, monkeypatch):
    builtin = tmp_path / "models"
    shutil.copytree(model, builtin / "tiny")
    monkeypatch.setattr(editor_module, "BUILTIN_MODELS", builtin)
    code, out, err = run("fit-head", "x", "--model", "tiny", "--input", data / "reviews.csv", "--value-column", "likes")
    assert_one_line_error(code, err, "built into", "--output-model")
    code, out, err = run("learn-direction", "d", "--model", "tiny", "--positive", data / "pos.txt",
                         "--negative", data / "neg.txt")
    assert_one_line_error(code, err, "--output-model")
    assert sorted(p.name for p in (builtin / "tiny" / "heads").iterdir()) == ["likes", "sentiment"]
    code, out, err = run("fit-head", "x", "--model", "tiny", "--input", data / "reviews.csv", "--value-column", "likes",
                         "--output-model", tmp_path / "mine")
    assert code == 0, err


def test_refuses_to_overwrite_another_model_folder(run, model, data, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine\n")
    code, out, err = run("fit-head", "x", "--model", model, "--input", data / "reviews.csv", "--value-column", "likes",
                         "--output-model", other)
    assert_one_line_error(code, err, "already exists")
    assert sorted(p.name for p in other.iterdir()) == ["notes.txt"]


# -- bad input -------------------------------------------------------------------------------


@pytest.fixture
def files(tmp_path):
    (tmp_path / "in.txt").write_text("the food was cold .\n")
    (tmp_path / "latin1.txt").write_bytes(b"the food was cold .\ncaf\xe9\n")
    (tmp_path / "blank.txt").write_text("the food was cold .\n   \n")
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "folder").mkdir()
    (tmp_path / "bad.csv").write_text("text,likes\nthe food was cold .,many\nok .,1\n")
    (tmp_path / "nan.csv").write_text("text,likes\nthe food was cold .,nan\nok .,1\n")
    (tmp_path / "bad.jsonl").write_bytes(b'{"text": "x", "likes": 1}\n{"text": "\xff", "likes": 2}\n')
    return tmp_path


SHIFT = ["shift", "--direction", "positive"]
OPT = ["optimize", "--head", "likes"]
BAD = {
    "empty text": (SHIFT + [""], ["text 1 is empty"]),
    "whitespace text": (SHIFT + ["ok .", "   "], ["text 2 is empty"]),
    "no texts": (SHIFT, ["no texts given"]),
    "texts and input": (SHIFT + ["ok .", "--input", "{d}/in.txt"], ["not both"]),
    "non-utf8 input": (SHIFT + ["--input", "{d}/latin1.txt"], ["latin1.txt:2", "UTF-8"]),
    "blank line": (SHIFT + ["--input", "{d}/blank.txt"], ["blank.txt:2", "empty line"]),
    "empty file": (SHIFT + ["--input", "{d}/empty.txt"], ["no texts"]),
    "missing input": (SHIFT + ["--input", "{d}/nope.txt"], ["file not found"]),
    "input is a folder": (SHIFT + ["--input", "{d}/folder"], ["is a directory"]),
    "output is a folder": (SHIFT + ["ok .", "--output", "{d}/folder"], ["is a directory"]),
    "unknown direction": (["shift", "--direction", "formal", "ok ."], ["unknown direction 'formal'", "'plain'", "'positive'"]),
    "auto without head": (["shift", "--direction", "plain", "--strength", "auto", "ok ."], ["no head"]),
    "strength nan": (SHIFT + ["--strength", "nan", "ok ."], ["--strength", "finite"]),
    "strength inf": (SHIFT + ["--strength", "inf", "ok ."], ["--strength", "finite"]),
    "strength word": (SHIFT + ["--strength", "lots", "ok ."], ["--strength"]),
    "max-strength without auto": (SHIFT + ["--max-strength", "2", "ok ."], ["only applies with --strength auto"]),
    "max-strength nan": (SHIFT + ["--strength", "auto", "--max-strength", "nan", "ok ."], ["finite"]),
    "unknown head": (["optimize", "--head", "formality", "--target", "max", "ok ."],
                     ["unknown head 'formality'", "'likes'", "'sentiment'"]),
    "target inf": (OPT + ["--target", "inf", "ok ."], ["--target", "finite"]),
    "target -inf": (OPT + ["--target=-inf", "ok ."], ["--target", "finite"]),
    "target nan": (OPT + ["--target", "NaN", "ok ."], ["--target", "finite"]),
    "label for a regression head": (OPT + ["--target", "positive", "ok ."], ["regression head"]),
    "unknown label": (["optimize", "--head", "sentiment", "--target", "happy", "ok ."], ["labels", "'happy'"]),
    "head without target": (OPT + ["ok ."], ["1 --head but 0 --target"]),
    "no head": (["optimize", "ok ."], ["--head"]),
    "weight nan": (OPT + ["--target", "max", "--weight", "nan", "ok ."], ["--weight", "finite"]),
    "bad method": (OPT + ["--target", "max", "--method", "sgd", "ok ."], ["invalid choice"]),
    "steps zero": (OPT + ["--target", "max", "--steps", "0", "ok ."], ["--steps"]),
    "min-similarity out of range": (OPT + ["--target", "max", "--min-similarity", "2", "ok ."], ["between 0 and 1"]),
    "fit-head bad name": (["fit-head", "../x", "--input", "{d}/bad.csv", "--value-column", "likes",
                           "--output-model", "{d}/m"], ["not allowed"]),
    "fit-head non-number": (["fit-head", "x", "--input", "{d}/bad.csv", "--value-column", "likes",
                             "--output-model", "{d}/m"], ["bad.csv:2", "must be a number"]),
    "fit-head nan value": (["fit-head", "x", "--input", "{d}/nan.csv", "--value-column", "likes",
                            "--output-model", "{d}/m"], ["nan.csv:2", "finite"]),
    "fit-head missing column": (["fit-head", "x", "--input", "{d}/bad.csv", "--label-column", "label",
                                 "--output-model", "{d}/m"], ["no column 'label'", "'likes'"]),
    "fit-head txt file": (["fit-head", "x", "--input", "{d}/in.txt", "--value-column", "likes",
                           "--output-model", "{d}/m"], [".csv, .tsv or .jsonl"]),
    "fit-head non-utf8": (["fit-head", "x", "--input", "{d}/bad.jsonl", "--value-column", "likes",
                           "--output-model", "{d}/m"], ["bad.jsonl:2", "UTF-8"]),
    "fit-head both columns": (["fit-head", "x", "--input", "{d}/bad.csv", "--value-column", "likes",
                               "--label-column", "likes"], ["not allowed with"]),
    "learn-direction no texts": (["learn-direction", "d", "--output-model", "{d}/m"], ["--positive"]),
    "learn-direction one side": (["learn-direction", "d", "--positive", "{d}/in.txt", "--output-model", "{d}/m"],
                                 ["both --positive"]),
    "learn-direction non-utf8": (["learn-direction", "d", "--positive", "{d}/latin1.txt", "--negative", "{d}/in.txt",
                                  "--output-model", "{d}/m"], ["latin1.txt:2"]),
    "learn-direction regression target": (["learn-direction", "d", "--positive", "{d}/in.txt", "--negative",
                                           "{d}/in.txt", "--head", "likes", "--target", "3",
                                           "--output-model", "{d}/m"], ["max or min"]),
    "learn-direction target inf": (["learn-direction", "d", "--positive", "{d}/in.txt", "--negative", "{d}/in.txt",
                                    "--head", "sentiment", "--target", "inf"], ["--target", "finite"]),
    "refine negative": (SHIFT + ["--refine", "-1", "ok ."], ["--refine"]),
    "unknown option": (SHIFT + ["--strenght", "2", "ok ."], ["unrecognized arguments"]),
    "unknown command": (["edit", "ok ."], ["invalid choice"]),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_is_one_line_exit_2_and_no_output(case, run, model, files):
    argv, fragments = BAD[case]
    argv = [a.replace("{d}", str(files)) for a in argv]
    if argv[0] not in ("edit",) and "--model" not in argv:
        argv = argv[:1] + ["--model", model] + argv[1:]
    output = files / "out.txt"
    output.write_text("previous\n")
    if argv[0] in ("shift", "optimize", "reconstruct") and "--output" not in argv:
        argv += ["--output", str(output)]
    code, out, err = run(*argv)
    assert_one_line_error(code, err, *fragments)
    assert output.read_text() == "previous\n"
    assert not (files / "m").exists()
    assert leftovers(files) == []


def test_missing_model_folder(run, tmp_path):
    code, out, err = run("shift", "--model", tmp_path / "nowhere", "--direction", "positive", "ok .")
    assert_one_line_error(code, err, "nowhere", "no model folder")
    code, out, err = run("info", "--model", tmp_path / "nowhere")
    assert_one_line_error(code, err, "no model folder")


@pytest.mark.skipif("default" in editor_module.builtin_models(), reason="a default model ships")
def test_default_model_not_shipped_yet_lists_what_exists(run):
    code, out, err = run("shift", "--direction", "formal", "hey whats up")
    assert_one_line_error(code, err, "'default'", "built-in:")


def test_help_and_no_command(run):
    code, out, err = run("shift", "--help")
    assert code == 0 and "--strength" in out and "--max-strength" in out
    code, out, err = run()
    assert code == 2 and "shift" in out and "optimize" in out and "fit-head" in out


def test_table_cells_are_not_rich_markup(run, model):
    code, out, err = run("reconstruct", "--model", model, "[bold]the food[/bold] was [/x] cold .")
    assert code == 0, err
    assert re.search(r"\[bold\]the food", out)


def test_shift_and_optimize_take_an_anchor(run, model):
    for command in (["shift", "--direction", "positive", "--strength", "1.5"],
                    ["optimize", "--head", "sentiment", "--target", "pos"]):
        code, out, err = run(*command, "--model", model, "--anchor", "1e4", "--json", "the food was cold .")
        assert code == 0, err
        assert json_lines(out)[0]["text"] == "the food was cold ."  # so strong an anchor copies the source
    code, out, err = run("shift", "--model", model, "--direction", "positive", "--anchor", "-1", "x")
    assert code == 2 and "--anchor" in err


def test_shift_substitutes_words_with_a_least_confidence(run, model):
    text = "the food was awful ."
    code, out, err = run("shift", "--model", model, "--direction", "positive", "--strength", "auto", "--substitute", "2",
                         "--min-confidence", "0.9", "--trajectory", "--json", text)
    assert code == 0, err
    expected = LatentEditor.load(model).shift(text, "positive", strength="auto", substitute=2.0, min_confidence=0.9)
    assert json_lines(out)[0]["text"] == expected.text and expected.text != text
    assert json_lines(out)[0]["trajectory"] == expected.trajectory
    for flags, message in ((["--substitute", "2"], "--substitute only applies with --strength auto"),
                           (["--min-confidence", "0.9"], "--min-confidence only applies with --strength auto"),
                           (["--strength", "auto", "--min-confidence", "1.5"], "--min-confidence"),
                           (["--strength", "auto", "--substitute", "0"], "--substitute")):
        code, out, err = run("shift", "--model", model, "--direction", "positive", *flags, text)
        assert code == 2 and message in err, (flags, err)


def test_shift_keeps_the_norm(run, model):
    text = "the food was awful ."
    for flags, options in ((["--strength", "4"], {"strength": 4.0}),
                           (["--strength", "auto", "--max-strength", "8"], {"strength": "auto", "max_strength": 8.0})):
        code, out, err = run("shift", "--model", model, "--direction", "positive", *flags, "--keep-norm", "--json", text)
        assert code == 0, err
        expected = LatentEditor.load(model).shift(text, "positive", keep_norm=True, **options)
        assert json_lines(out)[0]["text"] == expected.text



def test_shift_selects_the_closest_arrived_text(run, model):
    text = "the food was awful ."
    code, out, err = run("shift", "--model", model, "--direction", "positive", "--strength", "auto", "--max-strength",
                         "8", "--revert", "--select", "closest", "--trajectory", "--json", text)
    assert code == 0, err
    expected = LatentEditor.load(model).shift(text, "positive", strength="auto", max_strength=8, revert=True,
                                              select="closest")
    assert json_lines(out)[0]["text"] == expected.text and json_lines(out)[0]["trajectory"] == expected.trajectory
    code, out, err = run("shift", "--model", model, "--direction", "positive", "--select", "closest", text)
    assert code == 2 and "--select closest only applies with --strength auto" in err
    code, out, err = run("shift", "--model", model, "--direction", "positive", "--select", "nearest", text)
    assert code == 2 and "--select" in err

def test_shift_and_optimize_revert(run, model):
    text = "the food was awful ."
    code, out, err = run("shift", "--model", model, "--direction", "positive", "--strength", "auto", "--max-strength",
                         "8", "--revert", "--trajectory", "--json", text)
    assert code == 0, err
    expected = LatentEditor.load(model).shift(text, "positive", strength="auto", max_strength=8, revert=True)
    assert json_lines(out)[0]["text"] == expected.text
    assert json_lines(out)[0]["trajectory"] == expected.trajectory
    code, out, err = run("shift", "--model", model, "--direction", "positive", "--revert", text)
    assert code == 2 and "--revert only applies with --strength auto" in err
    code, out, err = run("shift", "--model", model, "--direction", "positive", "--min-gain", "0.5", text)
    assert code == 2 and "--min-gain only applies with --strength auto" in err
    code, out, err = run("shift", "--model", model, "--direction", "positive", "--strength", "auto", "--min-gain", "0.5", text)
    assert code == 2 and "min_gain applies to directions judged by a regression head" in err
    code, out, err = run("optimize", "--model", model, "--head", "sentiment", "--target", "pos", "--revert",
                         "--json", text)
    assert code == 0, err
    expected = LatentEditor.load(model).optimize(text, {"sentiment": "pos"}, revert=True)
    assert json_lines(out)[0]["text"] == expected.text


def test_edits_write_known_words_unless_told_otherwise(run, model, tmp_path):
    from latentedit.lexicon import LEXICON_FILE, Lexicon

    folder = tmp_path / "with-lexicon"
    shutil.copytree(model, folder)
    Lexicon(["the", "."]).save(folder / LEXICON_FILE)  # hardly any words: each edit may write little but its source's
    shift = ["shift", "--direction", "positive", "--strength", "3", "--json", *NEGATIVE[:6]]
    code, out, err = run(*shift, "--model", model)
    assert code == 0, err
    plain = [r["text"] for r in json_lines(out)]
    assert any(set(t.split()) - set(s.split()) - {"the", "."} for t, s in zip(plain, NEGATIVE))  # new words
    code, out, err = run(*shift, "--model", folder)
    assert code == 0, err
    for result, source in zip(json_lines(out), NEGATIVE):
        assert set(result["text"].split()) <= set(source.split()) | {"the", "."}
    code, out, err = run(*shift, "--model", folder, "--any-words")
    assert code == 0, err
    assert [r["text"] for r in json_lines(out)] == plain
    code, out, err = run("optimize", "--model", folder, "--head", "sentiment", "--target", "pos", "--steps", "3",
                         "--any-words", "the food was cold .")
    assert code == 0, err


def test_shift_decodes_by_beam_search(run, model):
    code, out, err = run("shift", "--model", model, "--direction", "positive", "--strength", "1.5", "--beams", "3",
                         "--anchor", "1e4", "--json", "the food was cold .")
    assert code == 0, err
    assert json_lines(out)[0]["text"] == "the food was cold ."  # so strong an anchor copies the source
    code, out, err = run("shift", "--model", model, "--direction", "positive", "--beams", "0", "x")
    assert code == 2 and "--beams" in err


def test_shift_and_optimize_take_a_length_prior(run, model):
    editor = LatentEditor.load(model)
    editor.quiet, editor.edit_length_prior = True, 2.0
    expected = editor.shift("cold food .", "positive", 3.0).text
    code, out, err = run("shift", "--model", model, "--direction", "positive", "--strength", "3", "--length-prior", "2",
                         "--json", "cold food .")
    assert code == 0, err
    assert json_lines(out)[0]["text"] == expected
    code, out, err = run("optimize", "--model", model, "--head", "sentiment", "--target", "pos", "--steps", "2",
                         "--length-prior", "2", "cold food .")
    assert code == 0, err
    code, out, err = run("shift", "--model", model, "--direction", "positive", "--length-prior", "-1", "x")
    assert code == 2 and "--length-prior" in err
