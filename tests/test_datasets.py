"""Dataset readers and the default corpus builder, on a miniature data folder in the shared layout."""

import json

import pytest

from latentedit import datasets
from trainers import default_corpus


@pytest.fixture
def data(tmp_path):
    root = tmp_path / "data"
    yelp = root / "yelp"
    (yelp / "shen2017_heldout").mkdir(parents=True)
    (yelp / "references_luo2019").mkdir()
    (yelp / "peer_outputs").mkdir()
    (yelp / "shen2017_heldout" / "sentiment.heldout.0").write_text("bad food .\nthe dev line .\nbad food .\n")
    (yelp / "shen2017_heldout" / "sentiment.heldout.1").write_text("great food .\n")
    (yelp / "sentiment.dev.0").write_text("the dev line .\n")
    (yelp / "sentiment.dev.1").write_text("nice dev .\n")
    for label in (0, 1):
        (yelp / f"sentiment.test.{label}").write_text("".join(f"test {label} {i} .\n" for i in range(500)))
        for k in range(4):  # one file without a trailing newline, as in the source
            body = "\n".join(f"ref{k} {label} {i}" for i in range(500))
            (yelp / "references_luo2019" / f"reference{k}.{label}").write_text(body + ("" if k == 2 else "\n"))
    (yelp / "peer_outputs" / "sys.txt").write_text("".join(f"out {i}\n" for i in range(1000)))
    (root / "formality").mkdir()
    (root / "formality" / "pavlick2016_formality_all.tsv").write_text(
        "genre\tmean_score\tannotator_scores\tsentence_id\tsentence\n"
        "answers\t-1.4\t-3,1\tid1\tlol  whats up\nnews\t2.0\t2,2\tid2\tThe court \"ruled\" today .\n")
    (root / "tweets").mkdir()
    (root / "tweets" / "t.csv").write_text(
        '"id","created_at","text","likes","retweets","source","in_reply_to_user_id"\n'
        '"1","2013-05-04T18:54:25Z","Great &amp; big http://t.co/x win!",10,1,"web",""\n'
        '"2","2016-05-04T18:54:25Z","RT @someone: hi",5,1,"web",""\n'
        '"3","2016-01-01T00:00:00Z","https://t.co/only",7,1,"web",""\n')
    (root / "headlines").mkdir()
    titles = "label,label_name,title\n3,Business,Stocks  up\n2,Sports,Team wins\n"
    (root / "headlines" / "ag_news_test_titles.csv").write_text(titles)
    (root / "shakespeare").mkdir()
    for split in ("train", "valid", "test"):
        (root / "shakespeare" / f"{split}.original").write_text("I have a mind to strike thee .\n")
        (root / "shakespeare" / f"{split}.modern").write_text("I want to hit you .\n")
    return root


def test_data_root_prefers_the_argument_then_the_environment(tmp_path, monkeypatch, data):
    assert datasets.data_root(data) == data
    monkeypatch.setenv(datasets.DATA_ENV, str(data))
    assert datasets.data_root() == data
    monkeypatch.setenv(datasets.DATA_ENV, str(tmp_path / "missing"))
    with pytest.raises(datasets.DataNotFound, match="LATENTEDIT_DATA"):
        datasets.data_root()


def test_a_missing_dataset_names_the_folder(tmp_path):
    with pytest.raises(datasets.DataNotFound, match="'formality' dataset is missing"):
        datasets.formality(tmp_path)


def test_splits_are_a_pure_function_of_the_id_with_the_given_shares():
    names = [datasets.split_of(f"id-{i}") for i in range(4000)]
    assert names == [datasets.split_of(f"id-{i}") for i in range(4000)]
    for name, share in datasets.SPLITS.items():
        assert abs(names.count(name) / len(names) - share) < 0.03


def test_readers_parse_each_format(data):
    texts, labels = datasets.yelp(data, "pool")
    assert texts[-1] == "great food ." and labels == [0, 0, 0, 1]
    assert datasets.yelp(data, "test")[0][500] == "test 1 0 ."
    references = datasets.yelp_references(data)
    assert len(references) == 1000 and references[501] == ["ref0 1 1", "ref1 1 1", "ref2 1 1", "ref3 1 1"]
    assert len(datasets.yelp_peer_outputs(data)["sys"]) == 1000
    rated = datasets.formality(data)
    assert [(r.text, r.score, r.genre) for r in rated] == [("lol whats up", -1.4, "answers"),
                                                            ('The court "ruled" today .', 2.0, "news")]
    tweets = datasets.tweets(data)  # the retweet and the link-only tweet are left out
    assert [(t.text, t.likes, t.year) for t in tweets] == [("Great & big win!", 10, 2013)]
    assert datasets.headlines(data)[0][:2] == ("Stocks up", "Business")
    assert datasets.shakespeare(data, "valid") == (["I have a mind to strike thee ."], ["I want to hit you ."])
    with pytest.raises(ValueError, match="unknown Yelp split"):
        datasets.yelp(data, "train")


def test_the_default_corpus_leaves_out_yelp_dev_and_test_and_duplicates(data, tmp_path):
    out = tmp_path / "corpus"
    summary = default_corpus.build(data, out)
    train = (out / "train.txt").read_text().splitlines()
    assert "the dev line ." not in train and train.count("bad food .") == 1
    assert (out / "valid.txt").read_text().splitlines() == ["the dev line .", "nice dev ."]
    assert summary["sources"]["yelp"] == {"lines": 4, "kept_after_dedup": 2}
    assert json.loads((out / "sources.json").read_text())["train_lines"] == len(train)


def test_the_corpus_builder_fails_cleanly_without_data(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        default_corpus.main(["--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "corpus")])
    assert stop.value.code == 2 and "data folder not found" in capsys.readouterr().err
