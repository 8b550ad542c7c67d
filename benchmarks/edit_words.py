"""Which words a Yelp sentiment transfer adds: is it a rewrite, or one word dropped into every sentence?

Judge accuracy and BLEU do not tell an edit that rewrites the sentiment ("the food was cold ." ->
"the food was hot .") from one that adds the same word to every sentence ("the food was great
cold ."): a TF-IDF judge trusts "great" wherever it stands. This reads saved outputs (no model
runs) and reports, for each half of the Li et al. 2018 test set (negative -> positive, positive ->
negative): the word most outputs add to their source and the share of outputs adding it, how many
distinct words the outputs add, and the share of outputs that only insert (every source word kept,
in order). Beside our outputs (the ``*.txt`` files of ``--outputs`` folders, written by
``benchmarks/style_transfer.py``): the human references (the first of Luo et al.'s four) and
every published system in ``yelp/peer_outputs``. Words are compared lower-cased after 13a
tokenisation, contractions joined (peers write "it's" or "it ' s" where the sources write "it 's").

    python benchmarks/edit_words.py --outputs benchmarks/results/style_transfer_beams_outputs
"""

from __future__ import annotations

import argparse
import re
import shlex
import sys
from collections import Counter
from pathlib import Path

from common import RESULTS, environment, fmt, markdown_table, write_json, write_text

from latentedit import datasets
from latentedit.judges import tokenize_13a

HALVES = ("negative -> positive", "positive -> negative")  # Li's test files: 500 negative, then 500 positive
HALF = 500


def words(text: str) -> list[str]:
    """Lower-cased 13a tokens with contractions joined, so that "it 's", "it ' s" and "it's" are one word.

    >>> words("It 's cold, did n't eat")
    ["it's", 'cold', ',', "didn't", 'eat']
    """
    text = re.sub(r" ?' ?(s|t|re|ve|ll|d|m)\b", r"'\1", tokenize_13a(text).lower())
    return re.sub(r" n't\b", "n't", text).split()


def is_subsequence(short: list[str], long: list[str]) -> bool:
    """Every word of ``short`` occurs in ``long`` in the same order."""
    rest = iter(long)
    return all(word in rest for word in short)


def added_words(source: list[str], output: list[str]) -> set[str]:
    """The word types ``output`` holds and ``source`` does not (both as :func:`words` gives them).

    >>> sorted(added_words(words("the food was cold ."), words("the food was great cold .")))
    ['great']
    """
    return set(output) - set(source)


def half_figures(sources: list[str], outputs: list[str]) -> dict:
    """The added-word figures of one half: top added word and % of outputs adding it, distinct added
    words, % of outputs that only insert words (source kept in order, longer), % unchanged."""
    pairs = [(words(s), words(o)) for s, o in zip(sources, outputs)]
    counts = Counter(word for s, o in pairs for word in sorted(added_words(s, o)))  # sorted: ties resolve the same every run
    top, top_count = counts.most_common(1)[0] if counts else ("-", 0)
    inserting = sum(len(o) > len(s) and is_subsequence(s, o) for s, o in pairs)
    unchanged = sum(s == o for s, o in pairs)
    n = len(outputs)
    return {"top_word": top, "top_share": 100.0 * top_count / n, "distinct_added": len(counts),
            "insert_only": 100.0 * inserting / n, "unchanged": 100.0 * unchanged / n,
            "top5": [[w, c] for w, c in counts.most_common(5)]}


def system_figures(sources: list[str], outputs: list[str]) -> dict:
    """{half name: half_figures} for 1000 outputs in test order (500 negative -> positive first)."""
    return {half: half_figures(sources[k * HALF : (k + 1) * HALF], outputs[k * HALF : (k + 1) * HALF])
            for k, half in enumerate(HALVES)}


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", help=f"the data folder holding yelp/ (default: ${datasets.DATA_ENV}, else ../shared/data)")
    ap.add_argument("--outputs", nargs="*", default=[str(RESULTS / "style_transfer_beams_outputs")],
                    help="folders of latentedit outputs (one .txt of 1000 lines per row, test order)")
    ap.add_argument("--out", default=str(RESULTS / "edit_words.json"), help="result JSON (.md beside it)")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        root = datasets.data_root(args.data)
    except datasets.DataNotFound as error:
        print(f"skipped: {error}")
        return 0
    sources = datasets.yelp(root, "test")[0]
    systems = {"human reference (Luo et al.'s first)": [refs[0] for refs in datasets.yelp_references(root)]}
    for folder in map(Path, args.outputs):
        files = sorted(folder.glob("*.txt"))
        if not files:
            print(f"error: {folder} holds no .txt outputs (benchmarks/style_transfer.py writes them)", file=sys.stderr)
            return 2
        systems |= {f"latentedit {folder.name}/{path.stem}": path.read_text(encoding="utf-8").splitlines()
                    for path in files}
    systems |= {f"peer {name}": lines for name, lines in datasets.yelp_peer_outputs(root).items()}
    short = [name for name, lines in systems.items() if len(lines) < 2 * HALF]
    if short:
        print(f"error: fewer than {2 * HALF} lines in {short}", file=sys.stderr)
        return 2
    rows = {name: system_figures(sources, lines[: 2 * HALF]) for name, lines in systems.items()}
    result = {"command": shlex.join(["python", "benchmarks/edit_words.py", *(sys.argv[1:] if argv is None else argv)]),
              "environment": environment(1), "systems": rows}
    out = Path(args.out)
    write_json(result, out)
    write_text(markdown(result), out.with_suffix(".md"))
    for name, figures in rows.items():
        print(name + ": " + "; ".join(f"{half}: '{f['top_word']}' in {f['top_share']:.0f}%" for half, f in figures.items()))
    return 0


def markdown(result: dict) -> str:
    lines = ["# Which words a Yelp sentiment transfer adds", "", f"`{result['command']}`", "",
             f"{result['environment']['date']}; Li et al. 2018 test set, each half of 500 sentences. top word = the word "
             "most outputs add to their source (lower-cased, 13a tokens), % = share of outputs adding it; distinct = "
             "distinct words added over the half; insert only = outputs that keep every source word in order and add "
             "some; unchanged = outputs equal to their source.", ""]
    headers = ["system"]
    for half in HALVES:
        headers += [f"{half}: top word", "%", "distinct", "insert only %", "unchanged %"]
    table = []
    for name, figures in result["systems"].items():
        row = [name]
        for half in HALVES:
            f = figures[half]
            row += [f"`{f['top_word']}`", fmt(f["top_share"], 0), str(f["distinct_added"]), fmt(f["insert_only"], 0),
                    fmt(f["unchanged"], 0)]
        table.append(row)
    return "\n".join(lines + markdown_table(headers, table) + [""])


if __name__ == "__main__":
    raise SystemExit(main())
