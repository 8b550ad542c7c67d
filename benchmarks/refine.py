"""Wall 1 at inference time: refined encoding closes the encoder's amortization gap; what it costs.

The encoder gives each text a code in one pass; ``encode(texts, refine=N)`` then moves each code
by up to N Adam steps on the decoder's reconstruction loss, stopping a code once the decoder
reproduces its text (latentedit/refine.py). For each shipped model and each N this reports the
evaluation suite's reconstruction and interpolation sections on held-out texts (interpolations run
between refined codes), the perplexity of the Yelp interpolation points under the Yelp word
trigram LM (are the points between refined codes still fluent?), and the encoding time as a ratio
to N = 0, measured in the same process.

    python benchmarks/refine.py                                  # default and python-lines, ~30 minutes
    python benchmarks/refine.py --models default --steps 0,10 --texts 200

Held-out texts: a seeded sample of Yelp dev (default; the card's health sentences) and the first
texts of the Python-lines corpus's valid split (python-lines; its test split stays for the model
card). Writes benchmarks/results/refine.{json,md,png}.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import torch
from anchor_dev import dev_judges
from common import (
    PYTHON_CORPUS,
    RESULTS,
    environment,
    fmt,
    interpolation_scores,
    load_editor,
    markdown_table,
    pyplot,
    python_lines_split,
    save_figure,
    write_json,
    write_text,
)

from latentedit import datasets
from latentedit.evaluation import choose_pairs, reconstruction_metrics

MODELS = {"default": "text", "python-lines": "python"}


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", help=f"the data folder holding yelp/ (default: ${datasets.DATA_ENV}, else ../shared/data)")
    ap.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    ap.add_argument("--steps", default="0,5,10,20,50", help="refine steps tried, comma separated")
    ap.add_argument("--texts", type=int, default=1000, help="held-out texts per model")
    ap.add_argument("--pairs", type=int, default=50, help="interpolation pairs per model")
    ap.add_argument("--python-corpus", default=str(PYTHON_CORPUS),
                    help="the Python-lines corpus folder (built there when missing)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads")
    ap.add_argument("--out", default=str(RESULTS / "refine.json"), help="result JSON (.md and .png beside it)")
    args = ap.parse_args(argv)
    try:
        args.steps = [int(s) for s in args.steps.split(",") if s.strip()]
    except ValueError:
        ap.error("--steps takes whole numbers separated by commas")
    if not args.steps or min(args.steps) < 0 or args.texts < 2 or args.pairs < 1 or args.threads < 1:
        ap.error("--steps must be >= 0, --texts >= 2, --pairs and --threads >= 1")
    return args


def held_out(model: str, args) -> list[str] | None:
    """The held-out texts of a model (see the module doc), or None when the Yelp data is missing."""
    if MODELS[model] == "python":
        return python_lines_split(args.python_corpus, "valid")[: args.texts]
    dev, _ = datasets.yelp(datasets.data_root(args.data), "dev")
    return random.Random(0).sample(dev, min(args.texts, len(dev)))


def measure(editor, texts: list[str], kind: str, steps: int, pairs: list[tuple[str, str]], fluency) -> dict:
    """One row: reconstruction (and its seconds: encoding, refining, decoding) and interpolation
    with ``steps`` refine steps."""
    start = time.perf_counter()
    section, _ = reconstruction_metrics(editor, texts, refine=steps)
    row = {"refine": steps, "seconds": time.perf_counter() - start, **{k: v for k, v in section.items() if k != "samples"}}
    scores, paths = interpolation_scores(editor, pairs, kind, refine=steps)
    row.update(scores)
    if fluency is not None:
        for method, found in paths.items():
            row[method]["inner_perplexity"] = fluency.perplexity([text for path in found for text in path[1:-1]])
    return row


def markdown(result: dict) -> str:
    lines = ["# Refined encoding (wall 1 at inference time)", "", f"`{result['command']}`", "",
             f"{result['environment']['date']}; {result['environment'].get('threads', 1)} torch thread(s). Reconstruction: "
             "greedy decoding of the codes (posterior means at refine 0, else refined codes); token acc = teacher-forced. "
             "Interpolation: 11 points between each pair's codes (refined the same way), the 9 inner ones scored; "
             "distinct = distinct inner texts per path, new = inner texts unlike both decoded ends, valid = inner "
             "points `ast.parse` accepts (Python), PPL = perplexity of the inner points under the Yelp word "
             "trigram LM (text; Yelp dev sentences themselves score about 44). time = seconds to reconstruct the "
             "texts (encode, refine, decode), relative to refine 0 in the same run.", ""]
    for model, block in result["models"].items():
        python = block["kind"] == "python"
        lines += [f"## {model} ({block['texts']} held-out texts: {block['held_out']}; {block['pairs']} pairs)", ""]
        headers = ["refine", "token acc %", "exact %", "BLEU", "slerp distinct %", "slerp new %",
                   "slerp valid %" if python else "slerp PPL", "lerp valid %" if python else "lerp PPL",
                   "time (x refine 0)", "s per 1000 texts"]
        base = block["rows"][0]["seconds"]
        rows = []
        for r in block["rows"]:
            extra = (fmt(100 * r["slerp"]["valid_share"]), fmt(100 * r["lerp"]["valid_share"])) if python else \
                (fmt(r["slerp"]["inner_perplexity"], 0), fmt(r["lerp"]["inner_perplexity"], 0))
            rows.append([str(r["refine"]), fmt(100 * r["teacher_forced_accuracy"]), fmt(100 * r["greedy_exact_match"]),
                         fmt(r["bleu4"]), fmt(100 * r["slerp"]["distinct_share"]), fmt(100 * r["slerp"]["new_share"]),
                         *extra, fmt(r["seconds"] / base, 1), fmt(1000 * r["seconds"] / block["texts"], 0)])
        lines += markdown_table(headers, rows) + [""]
        last = block["rows"][-1]
        lines += [f"Slerp between the first pair's codes at refine {last['refine']}:", ""]
        lines += markdown_table(["t", "text"], [[f"{i / 10:.1f}", f"`{t}`" if python else t]
                                                for i, t in enumerate(last["slerp_sample"])]) + [""]
    lines += ["![exact match against refine steps](refine.png)", ""]
    return "\n".join(lines)


def plot(result: dict, path: Path) -> None:
    figure, axis = pyplot().subplots(figsize=(6, 4))
    for model, block in result["models"].items():
        steps = [r["refine"] for r in block["rows"]]
        axis.plot(steps, [100 * r["greedy_exact_match"] for r in block["rows"]], marker="o", label=f"{model}: exact %")
        axis.plot(steps, [100 * r["slerp"]["new_share"] for r in block["rows"]], marker="x", linestyle="--",
                  label=f"{model}: slerp new %")
    axis.set_xlabel("refine steps")
    axis.set_ylabel("%")
    axis.set_ylim(0, 100)
    axis.legend(fontsize=8)
    axis.set_title("Reconstruction and interpolation against refine steps")
    save_figure(figure, path)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    fluency = None
    models = {}
    for model in args.models:
        kind = MODELS[model]
        try:
            texts = held_out(model, args)
            if kind == "text":
                fluency = dev_judges(datasets.data_root(args.data))[1]
        except datasets.DataNotFound as error:
            print(f"skipped {model}: {error}")
            continue
        editor, why = load_editor(model)
        if editor is None:
            print(f"skipped {model}: {why}")
            continue
        pairs = choose_pairs(texts, args.pairs, seed=0)
        rows = []
        for steps in args.steps:
            rows.append(measure(editor, texts, kind, steps, pairs, fluency if kind == "text" else None))
            r = rows[-1]
            print(f"  {model} refine {steps}: exact {100 * r['greedy_exact_match']:.1f}%, BLEU {r['bleu4']:.1f}, "
                  f"slerp new {100 * r['slerp']['new_share']:.1f}%, {r['seconds']:.1f} s", file=sys.stderr)
        models[model] = {"kind": kind, "texts": len(texts), "pairs": len(pairs), "rows": rows,
                         "held_out": "Python-lines valid split" if kind == "python" else "Yelp dev, seeded sample"}
    if not models:
        return 0
    result = {"command": ("python benchmarks/refine.py " + " ".join(argv)).strip(), "environment": environment(args.threads),
              "models": models}
    out = Path(args.out)
    write_json(result, out)
    plot(result, out.with_suffix(".png"))
    write_text(markdown(result), out.with_suffix(".md"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
