"""Training-time noise and interpolation validity of Python-lines models, on the valid split.

A code between two lines' codes often decodes to a blend that does not parse: the decoder only
ever read the codes of real lines. Continuing the trained model with noise teaches it to write one
line across a region around each code. This compares models continued from the same stage with
the same schedule (trainers/configs/python_lines_control.toml, python_lines_denoise.toml,
python_lines_latent_noise.toml, python_lines_latent_noise_08.toml) on the valid split: greedy
reconstruction of its lines and greedy slerp / lerp interpolation (11 points between each pair's
codes, the 9 inner ones scored, as the model card). The test split is the model card's.

    python benchmarks/python_noise.py --models stage5=runs/python-lines-stage5/model,control=runs/python-lines-control/model

``--train-lines N`` also reconstructs N train lines (a seeded sample): the gap between the train and
valid columns is how much a model over-fits its training lines. ``--note`` replaces the table's
description of the models (the default describes the noise study's runs).

Writes benchmarks/results/python_noise.{json,md}.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import torch
from common import (
    PYTHON_CORPUS,
    RESULTS,
    environment,
    fmt,
    interpolation_scores,
    load_editor,
    markdown_table,
    python_lines_split,
    write_json,
    write_text,
)

from latentedit.evaluation import choose_pairs, reconstruction_metrics

RUNS = ("stage5=runs/python-lines-stage5/model,control=runs/python-lines-control/model,"
        "input deletion 0.1=runs/python-lines-denoise/model,latent noise 0.4=runs/python-lines-latent-noise/model,"
        "latent noise 0.8=runs/python-lines-latent-noise-08/model")
NOISE_STUDY = ("The default models (the study's runs, the script's docstring names their configs) each continue stage 5 "
               "for 3,000 steps with the same schedule (peak lr 3e-4, seed 6); control adds no noise.")


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default=RUNS, help="name=model folder, comma separated (default: the noise study's runs)")
    ap.add_argument("--corpus", default=str(PYTHON_CORPUS), help="the Python-lines corpus folder (built there when missing)")
    ap.add_argument("--lines", type=int, default=1000, help="valid lines reconstructed (default: %(default)s)")
    ap.add_argument("--pairs", type=int, default=100, help="interpolation pairs (default: %(default)s)")
    ap.add_argument("--train-lines", type=int, default=0, help="train lines reconstructed too (default: %(default)s)")
    ap.add_argument("--note", default=NOISE_STUDY, help="what the models are, for the table's description")
    ap.add_argument("--threads", type=int, default=1, help="torch threads")
    ap.add_argument("--out", default=str(RESULTS / "python_noise.json"), help="result JSON (.md beside it)")
    args = ap.parse_args(argv)
    try:
        args.models = dict(item.split("=", 1) for item in args.models.split(",") if item.strip())
    except ValueError:
        ap.error("--models takes name=folder pairs separated by commas")
    if not args.models or args.lines < 1 or args.pairs < 1 or args.threads < 1 or args.train_lines < 0:
        ap.error("--models needs at least one name=folder; --lines, --pairs and --threads must be >= 1, "
                 "--train-lines >= 0")
    return args


def measure(editor, lines: list[str], pairs: list[tuple[str, str]], train_lines: list[str]) -> dict:
    """Greedy reconstruction of ``lines`` (and of ``train_lines``, when any) and greedy slerp / lerp
    scores of ``pairs``."""
    reconstruction, _ = reconstruction_metrics(editor, lines, examples=0, refine=0)
    scores, _ = interpolation_scores(editor, pairs, "python")
    train = reconstruction_metrics(editor, train_lines, examples=0, refine=0)[0] if train_lines else None
    return {"reconstruction": reconstruction, "train_reconstruction": train, **scores}


def markdown(result: dict) -> str:
    train = bool(result.get("train_lines"))
    lines = ["# Training-time noise and interpolation validity (python-lines, valid split)", "",
             f"`{result['command']}`", "",
             f"{result['environment']['date']}; {result['lines']} valid lines reconstructed greedily from the encoder's codes "
             f"(exact = whole line back, token acc = greedy token accuracy); {result['pairs']} pairs, 11 points between "
             "their codes, the 9 inner ones scored: valid = inner points `ast.parse` accepts; valid + new = valid and "
             "unlike both decoded ends; distinct = distinct inner texts per path. "
             + (f"Train columns: {result['train_lines']} train lines (a seeded sample), reconstructed the same way. "
                if train else "")
             + result.get("note", NOISE_STUDY), ""]
    headers = ["model", *(["train exact %", "train token acc %"] if train else []), "exact %", "token acc %",
               "slerp valid %", "slerp valid + new %", "slerp distinct %", "lerp valid %", "lerp valid + new %",
               "lerp distinct %"]
    rows = [[name, *([fmt(100 * r["train_reconstruction"][key]) for key in ("greedy_exact_match", "greedy_token_accuracy")]
                     if train else []),
             fmt(100 * r["reconstruction"]["greedy_exact_match"]),
             fmt(100 * r["reconstruction"]["greedy_token_accuracy"]),
             *(fmt(100 * r[m][key]) for m in ("slerp", "lerp") for key in ("valid_share", "valid_new_share", "distinct_share"))]
            for name, r in result["models"].items()]
    return "\n".join(lines + markdown_table(headers, rows) + [""])


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    valid = python_lines_split(args.corpus, "valid")
    lines, pairs = valid[: args.lines], choose_pairs(valid, args.pairs, seed=0)
    train_lines = []
    if args.train_lines:
        train_lines = python_lines_split(args.corpus, "train")
        random.Random(0).shuffle(train_lines)
        train_lines = train_lines[: args.train_lines]
    models = {}
    for name, folder in args.models.items():
        editor, why = load_editor(folder)
        if editor is None:
            print(f"skipped {name}: {why}", file=sys.stderr)
            continue
        models[name] = {"folder": folder, **measure(editor, lines, pairs, train_lines)}
        r = models[name]
        print(f"  {name}: exact {100 * r['reconstruction']['greedy_exact_match']:.1f}%, slerp valid "
              f"{100 * r['slerp']['valid_share']:.1f}%, lerp valid {100 * r['lerp']['valid_share']:.1f}%", file=sys.stderr)
    result = {"command": ("python benchmarks/python_noise.py " + " ".join(argv)).strip(),
              "environment": environment(args.threads), "lines": len(lines), "pairs": len(pairs),
              "train_lines": len(train_lines), "note": args.note, "models": models}
    out = Path(args.out)
    write_json(result, out)
    write_text(markdown(result), out.with_suffix(".md"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
