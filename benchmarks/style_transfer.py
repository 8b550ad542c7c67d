"""Yelp sentiment transfer: latentedit against copy-input, a random direction and 23 published systems.

Protocol (DESIGN.md section 5). The Li et al. 2018 test set: 500 negative sentences made
positive, then 500 positive sentences made negative, with the 4 human references of Luo et al.
2019 per sentence. Every row is scored by latentedit.judges.transfer_scores:

- judge accuracy: a TF-IDF (word 1-2 grams) + logistic regression classifier trained here on the
  Shen et al. 2017 stand-in pool (181k sentences; never Li's dev or test), independent of the
  model. Its accuracy on Li's dev set is reported. The judge scores outputs only: it never guides
  an edit nor picks among candidates. Every row is best-of-1 as far as the judge is concerned;
  where latentedit decodes several candidates per sentence, the model's own `sentiment` head on
  the re-encoded decoded text picks one, and the row says how many (N).
- VADER accuracy (compound >= 0 is positive; needs `pip install latentedit[bench]`).
- self-BLEU (to the source), ref1-BLEU (to Li's reference, as lower-cased by Luo), ref4-BLEU
  (all 4 references), corpus BLEU 0-100 after 13a tokenisation (that is how DESIGN.md's
  published figures were computed; peers' outputs are kept byte-for-byte as published).
- GM = sqrt(judge accuracy x ref4-BLEU); unchanged = outputs equal to their source.
- PPL: fluency, the outputs' perplexity under a word trigram language model (interpolated
  Kneser-Ney, latentedit.judges.FluencyJudge) trained on the same pool as the judge. Lower is
  more fluent. Like the judge it only scores. It catches edits that the judge and BLEU reward
  but no writer would produce ("i ca n't great how inconsiderate this pharmacy is great").
  Unknown words %: the share of output words outside that model's vocabulary (broken words that a
  decoder glued from pieces, which the perplexity scores as one unknown word).

Rows:
- latentedit shift, strength "auto" (direction "positive" for the negative half, "negative" for
  the positive half; per sentence the smallest of `--grid` strengths up to `--max-strength` whose
  decoded text the direction's head scores as the target, N = grid), decoded with `--anchor`
  (source anchoring: a logit bonus for every token that continues the source; choose it on dev
  with benchmarks/anchor_dev.py; texts that arrive at no strength anchored are tried again
  unanchored, so N = 2 x grid), and without anchoring when `--anchor` > 0; with `--revert`, each
  arrived text's changed word spans go back to the source's wording while the same head still
  scores it as the target (latentedit/revert.py; N adds the reverts tried), beside the same row
  without reverting; with `--substitute S`, word swaps come first (the decoder, reading the
  source under its code moved S along the direction, proposes 3 replacements per word; up to 4
  rounds of one swap each, the head picking; latentedit/substitute.py; N adds them), and with
  `--min-confidence C` the head must give the target a probability >= C to accept a text,
  beside the same row without either (and with `--swaps-row S:C`, the headline's row with swaps at S
  and min confidence C beside it; with `--beams-row B`, the headline's row decoded by anchored
  beam search with B beams); and at `--strength`;
- latentedit optimize toward {"sentiment": "positive"/"negative"} (default settings: Adam, 50
  steps, up to 6 decoded candidates + the start, N <= 7, picked by the model's head: the lowest
  target loss, and with select="closest" the most similar to the source among those it accepts);
- a random direction of the same norm as the model's "positive" ("negative") direction, seeded,
  at strength "auto" (picked by the same head, N = grid, with the same `--anchor`) and at `--strength`;
- copy-input; Li et al.'s human references (judge, VADER and self-BLEU only: the reference is
  one of the four, so its ref-BLEU is not shown); every file in yelp/peer_outputs.

A strength sweep (`--sweep`, x the learned direction, x the random one, and x the learned one
decoded with `--anchor` when that is > 0) gives the trade-off
curve judge accuracy vs self-BLEU, plotted with the peers as labelled points. The sweep is run
on the test set for analysis: a strength picked from it is tuned on the test set.

If the model has no "positive"/"negative" direction or no "sentiment" head (labels negative /
positive), those latentedit rows are skipped with a note; copy-input, the human references and
the peers are always scored, and the run still succeeds. With no data folder the benchmark says
so and exits 0 ("skipped").

    python benchmarks/style_transfer.py                          # the built-in "default" model
    python benchmarks/style_transfer.py --model runs/x/model --strength 1.5
    python benchmarks/style_transfer.py --model none             # peers and baselines only
    python benchmarks/style_transfer.py --quick                  # 50 + 50 sentences

Writes benchmarks/results/style_transfer.{json,md,png} (style_transfer_quick.* with --quick) and
the latentedit rows' outputs, aligned like the peer files, under style_transfer_outputs/. The
last line printed is ``yelp_transfer_gm=<GM of latentedit shift, strength auto>``.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
import warnings
from pathlib import Path

import torch
from common import (
    add_edit_options,
    auto_candidates,
    edit_settings,
    environment,
    fmt,
    load_editor,
    markdown_table,
    model_summary,
    parse_edit_args,
    print_table,
    pyplot,
    random_direction,
    save_figure,
    stopwatch,
    truncated_count,
    write_json,
    write_outputs,
    write_text,
)

from latentedit import datasets
from latentedit.judges import VADER_MISSING, FluencyJudge, SentimentJudge, transfer_scores, vader_available

SWEEP = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0)
QUICK_PER_HALF = 50
HEAD, LABELS = "sentiment", ("negative", "positive")
GOALS = ("positive", "negative")  # what the negative half and the positive half are shifted toward
#: DESIGN.md section 5: (judge accuracy, self-BLEU, ref4-BLEU, GM) as computed by the founders
PUBLISHED = {"zhou2020_cwsr": (80.7, 69.8, 60.7, 70.0), "wu2019_cbert": (90.7, 59.5, 53.1, 69.4),
             "wu2019_pto": (81.2, 66.5, 59.0, 69.2), "luo2019_dualrl": (84.2, 59.0, 55.0, 68.0),
             "liu2022_latentops": (73.3, 53.9, 47.2, 58.8), "copy": (3.6, 100.0, 64.2, 15.2),
             "human": (68.5, None, None, None)}
HEADERS = ["system", "N", "judge acc", "VADER", "self-BLEU", "ref1-BLEU", "ref4-BLEU", "GM", "PPL", "unknown words %",
           "new unknown %", "unchanged"]


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--data", help=f"the data folder holding yelp/ (default: ${datasets.DATA_ENV}, else ../shared/data)")
    ap.add_argument("--model", default="default", help="model folder or built-in name; 'none' runs peers and baselines only")
    add_edit_options(ap, SWEEP)
    ap.add_argument("--min-confidence", type=float, default=0.0, metavar="C",
                    help="the strength='auto' rows need the sentiment head's probability of the target to be at least C")
    ap.add_argument("--swaps-row", metavar="S:C", help="also report the strength='auto' row with word swaps at S and "
                                                       "min confidence C (when the headline has none)")
    ap.add_argument("--beams-row", type=int, metavar="B", help="also report the headline row decoded by anchored beam "
                                                                "search with B beams (editor.edit_beams)")
    ap.add_argument("--headline-only", action="store_true",
                    help="only the strength='auto' row (with --swaps-row and --beams-row beside it), the random "
                         "direction's, copy-input and the peers: no variation rows, fixed strength, optimize or sweep")
    ap.add_argument("--seed", type=int, default=0, help="seed of the random direction")
    ap.add_argument("--quick", action="store_true", help=f"the first {QUICK_PER_HALF} sentences of each half only")
    ap.add_argument("--out", help="result JSON (default benchmarks/results/style_transfer.json, style_transfer_quick.json "
                                  "with --quick); .md and .png are written beside it")
    args = parse_edit_args(ap, argv, "style_transfer")
    if args.beams_row is not None and not args.beams_row > 1:
        ap.error("--beams-row takes a number of beams > 1")
    if args.headline_only:
        args.sweep = []
    if args.swaps_row is not None:
        try:
            args.swaps_row = tuple(float(x) for x in args.swaps_row.split(":"))
        except ValueError:
            args.swaps_row = ()
        if len(args.swaps_row) != 2 or not args.swaps_row[0] > 0 or not 0 <= args.swaps_row[1] <= 1:
            ap.error("--swaps-row takes S:C, a substitute strength S > 0 and a min confidence C in [0, 1], e.g. 3:0.8")
    return args


# -- data -----------------------------------------------------------------------------------------

def load_data(root: Path, per_half: int | None) -> dict:
    """Test sources (negative half, positive half), targets, references, Li's raw human rewrites, peers."""
    sources, labels = datasets.yelp(root, "test")
    references = datasets.yelp_references(root)
    peers = datasets.yelp_peer_outputs(root)
    human = []
    for label in (0, 1):
        lines = (root / "yelp" / f"reference.{label}").read_text(encoding="utf-8").splitlines()
        human += [line.split("\t", 1)[1].strip() for line in lines if line.strip()]
    manifest = {}
    with (root / "yelp" / "peer_outputs" / "MANIFEST.tsv").open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            manifest[Path(row["file"]).stem] = {"system": row["system"], "citation": row["citation"]}
    half = len(sources) // 2
    keep = list(range(len(sources))) if per_half is None else [*range(per_half), *range(half, half + per_half)]
    pick = lambda items: [items[i] for i in keep]  # noqa: E731
    return {"indices": keep, "sources": pick(sources), "targets": [1 - labels[i] for i in keep],
            "references": pick(references), "human": pick(human), "peers": {k: pick(v) for k, v in peers.items()},
            "manifest": manifest}


# -- latentedit rows --------------------------------------------------------------------------------

def halves(data: dict) -> tuple[list[str], list[str]]:
    negative = [s for s, t in zip(data["sources"], data["targets"]) if t == 1]
    positive = [s for s, t in zip(data["sources"], data["targets"]) if t == 0]
    return negative, positive


def check_model(editor) -> dict:
    """What the model offers for this benchmark, and why a row cannot run."""
    notes = {}
    for name in GOALS:
        if name not in editor.directions:
            notes["shift"] = f"the model has no {name!r} direction (has {sorted(editor.directions) or 'none'})"
    if "shift" not in notes:
        for name in GOALS:
            d = editor.directions[name]
            if not d.head or d.head not in editor.heads:
                notes["shift_auto"] = f"direction {name!r} names no head of the model: strength='auto' needs one"
    head = editor.heads.get(HEAD)
    if head is None:
        notes["optimize"] = f"the model has no {HEAD!r} head (has {sorted(editor.heads) or 'none'})"
    elif head.config.kind != "classification" or not set(LABELS) <= set(head.config.labels):
        notes["optimize"] = f"head {HEAD!r} is not a classifier with labels {list(LABELS)} ({list(head.config.labels)})"
    return notes


def edit(editor, negative: list[str], positive: list[str], run) -> tuple[list[str], list]:
    """run(texts, goal) on each half (goal "positive" for the negative half); outputs in test order."""
    results = run(negative, GOALS[0]) + run(positive, GOALS[1])
    return [r.text for r in results], results


def head_reached(results: list, targets: list[int]) -> float | None:
    """Share (%) of outputs the model's own head, on the re-encoded text, gives the target label."""
    if not results or HEAD not in results[0].scores:
        return None
    return 100.0 * sum(r.scores[HEAD] == LABELS[t] for r, t in zip(results, targets)) / len(results)


def beam_shift(editor, beams: int, texts: list[str], goal: str, options: dict) -> list:
    """``editor.shift(texts, goal, **options)`` with edits decoded by beam search with ``beams`` beams."""
    greedy, editor.edit_beams = editor.edit_beams, beams
    try:
        return editor.shift(texts, goal, **options)
    finally:
        editor.edit_beams = greedy


def latentedit_rows(editor, data: dict, scores, args, notes: dict) -> tuple[list[dict], dict, dict]:
    """The latentedit rows, the strength sweep, and every row's outputs (key -> texts); scores(texts)
    gives a row's figures."""
    negative, positive = halves(data)
    rows, outputs, sweep = [], {}, {}
    if "shift" in notes:
        return rows, sweep, outputs
    for goal in GOALS:
        editor.directions[f"random_{goal}"] = random_direction(editor.directions[goal], f"random_{goal}",
                                                               args.seed + GOALS.index(goal))

    def add(key, label, selection, candidates, run):
        timing = {}
        with stopwatch(timing, "seconds"):
            texts, results = edit(editor, negative, positive, run)
        row = {"key": key, "system": label, "kind": "latentedit" if "random" not in key else "baseline",
               "selection": selection, "candidates": candidates, **scores(texts),
               "head_reached": head_reached(results, data["targets"]), "seconds": timing["seconds"]}
        if results[0].strength is not None:
            row["mean_strength"] = sum(r.strength for r in results) / len(results)
        rows.append(row)
        outputs[key] = texts
        print(f"  {label}: judge {row['judge_accuracy']:.1f}, self-BLEU {row['self_bleu']:.1f}, "
              f"GM {fmt(row['gm'])} ({timing['seconds']:.0f} s)", file=sys.stderr)

    auto = dict(strength="auto", max_strength=args.max_strength, grid=args.grid, anchor=args.anchor, revert=args.revert,
                substitute=args.substitute, min_confidence=args.min_confidence, keep_norm=args.keep_norm,
                select=args.select)
    # the settings a row label names after the anchor
    after_anchor = (", keep norm" if args.keep_norm else "") + (", revert" if args.revert else "") + (
        ", closest" if args.select == "closest" else "")
    swapped = (f", swaps at {args.substitute:g}" if args.substitute else "") + (
        f", confidence {args.min_confidence:g}" if args.min_confidence else "")
    anchored = swapped + (f", anchor {args.anchor:g}" if args.anchor else "") + after_anchor
    swaps = dict(zip(("substitute", "min_confidence"), args.swaps_row or ()))  # the --swaps-row settings
    by_smallest = f"the model's {HEAD!r} head on the re-encoded decoded text (smallest strength it scores as the target)"
    by_closest = (f"the model's {HEAD!r} head on the re-encoded decoded text (the text most similar to the source among "
                  "those it scores as the target)")
    by_head = by_closest if args.select == "closest" else by_smallest
    for prefix, label in (("", "latentedit shift"), ("random_", "random direction, equal norm")):
        variations = not prefix and not args.headline_only  # the rows that vary one of the headline's settings
        if "shift_auto" not in notes:
            add(f"{prefix}shift_auto", f"{label}, strength auto{anchored}", by_head, auto_candidates(args),
                lambda texts, goal, p=prefix: editor.shift(texts, p + goal, **auto))
            if args.anchor and variations:
                add("shift_auto_unanchored", f"{label}, strength auto{swapped}, no anchor{after_anchor}", by_head,
                    auto_candidates(args, anchor=0.0),
                    lambda texts, goal: editor.shift(texts, goal, **{**auto, "anchor": 0.0}))
            if args.substitute and variations:
                add("shift_auto_no_swaps", f"{label}, strength auto{anchored.removeprefix(swapped)}, no swaps", by_head,
                    auto_candidates(args, substitute=0.0),
                    lambda texts, goal: editor.shift(texts, goal, **{**auto, "substitute": 0.0, "min_confidence": 0.0}))
            if swaps and not prefix:
                add("shift_auto_swaps", f"{label}, strength auto, swaps at {swaps['substitute']:g}, confidence "
                    f"{swaps['min_confidence']:g}{anchored.removeprefix(swapped)}", by_head,
                    auto_candidates(args, substitute=swaps["substitute"]),
                    lambda texts, goal: editor.shift(texts, goal, **{**auto, **swaps}))
            if args.beams_row and not prefix:
                add("shift_auto_beams", f"{label}, strength auto{anchored}, {args.beams_row} beams", by_head,
                    auto_candidates(args), lambda texts, goal: beam_shift(editor, args.beams_row, texts, goal, auto))
            if args.select == "closest" and variations:
                add("shift_auto_smallest", f"{label}, strength auto{anchored.removesuffix(', closest')}, smallest strength",
                    by_smallest, auto_candidates(args),
                    lambda texts, goal: editor.shift(texts, goal, **{**auto, "select": "smallest"}))
            if args.revert and variations:
                add("shift_auto_no_revert", f"{label}, strength auto{anchored.replace(', revert', '')}, no revert", by_head,
                    auto_candidates(args, revert=False),
                    lambda texts, goal: editor.shift(texts, goal, **{**auto, "revert": False}))
            if args.keep_norm and variations:
                add("shift_auto_free_norm", f"{label}, strength auto{anchored.replace(', keep norm', '')}, norm free",
                    by_head, auto_candidates(args), lambda texts, goal: editor.shift(texts, goal, **{**auto, "keep_norm": False}))
        if args.headline_only:
            continue
        add(f"{prefix}shift_{args.strength:g}", f"{label}, strength {args.strength:g}", "none (one decode)", 1,
            lambda texts, goal, p=prefix: editor.shift(texts, p + goal, args.strength))
        if not prefix and "optimize" not in notes:
            add("optimize", "latentedit optimize (defaults)", f"the model's {HEAD!r} head on the re-encoded candidates "
                "(lowest target loss)", 7, lambda texts, goal: editor.optimize(texts, {HEAD: goal}))
            add("optimize_closest", "latentedit optimize, select closest", f"the model's {HEAD!r} head on the "
                "re-encoded candidates (the most similar to the source among those it scores as the target)", 7,
                lambda texts, goal: editor.optimize(texts, {HEAD: goal}, select="closest"))

    curves = [("learned", "", 0.0), ("random", "random_", 0.0)] + ([("learned_anchored", "", args.anchor)] if args.anchor else [])
    for name, prefix, anchor in curves:
        curve = []
        for strength in args.sweep:
            if name == "random" and strength == 0 and sweep.get("learned"):
                point = dict(sweep["learned"][[p["strength"] for p in sweep["learned"]].index(0.0)])
            else:
                texts, _ = edit(editor, negative, positive,
                                lambda t, goal, p=prefix, s=strength, a=anchor: editor.shift(t, p + goal, s, anchor=a))
                point = {"strength": strength, **scores(texts)}
            curve.append(point)
            print(f"  sweep {name} x{strength:g}: judge {point['judge_accuracy']:.1f}, "
                  f"self-BLEU {point['self_bleu']:.1f}", file=sys.stderr)
        sweep[name] = curve
    return rows, sweep, outputs


# -- report -------------------------------------------------------------------------------------------

def table_rows(rows: list[dict]) -> list[list[str]]:
    return [[r["system"], str(r.get("candidates", 1)), fmt(r["judge_accuracy"]), fmt(r["vader_accuracy"]), fmt(r["self_bleu"]),
             fmt(r["ref1_bleu"]), fmt(r["ref4_bleu"]), fmt(r["gm"]), fmt(r.get("perplexity"), 0),
             fmt(r.get("unknown_words")), fmt(r.get("new_unknown")), str(r["unchanged"])]
            for r in rows]


def reproduction_rows(rows: list[dict]) -> list[list[str]]:
    by_key = {r["key"]: r for r in rows}
    out = []
    for key, published in PUBLISHED.items():
        if key in by_key:
            r = by_key[key]
            ours = (r["judge_accuracy"], r["self_bleu"], r["ref4_bleu"], r["gm"])
            out.append([r["system"], " / ".join(fmt(v) for v in ours), " / ".join(fmt(v) for v in published)])
    return out


def markdown(result: dict) -> str:
    s = result["settings"]
    lines = ["# Yelp sentiment transfer (Li et al. 2018 test set)", "", f"`{result['command']}`", "",
             f"{result['environment']['date']}, commit {str(result['environment']['git']['commit'])[:10]}"
             f"{' (library modified)' if result['environment']['git']['library_modified'] else ''}; "
             f"{s['sentences']} sentences ({s['sentences'] // 2} negative -> positive, then as many positive -> negative)"
             f"{', QUICK subset' if s['quick'] else ''}.", "",
             f"Judge: {result['judge']['description']}; accuracy on Li's dev set {result['judge']['dev_accuracy']:.1f}%. "
             "The judge only scores: it never guides an edit or picks among candidates (best-of-1). "
             "N = decoded candidates per sentence; where N > 1 the model's own head picked one (see `selection` in the "
             "JSON). BLEU: corpus BLEU-4 after 13a tokenisation; GM = sqrt(judge x ref4-BLEU). "
             f"PPL (lower = more fluent): perplexity under a {result['judge']['fluency']['description']}; "
             f"Li's dev set scores {result['judge']['fluency']['dev_perplexity']:.0f}; unknown words % = share of output "
             "words outside its vocabulary (broken words land here); new unknown % = share of outputs holding an unknown "
             "word their source does not. It scores only, like the judge; "
             "peers are scored in their own tokenisation (e.g. B-GST's `it ' s`), which costs them a little.", ""]
    if result.get("model"):
        m = result["model"]
        lines += [f"Model: {m['source']} (code size {m['code_size']}, {m['parameters']:,} parameters); "
                  f"{m['truncated_sources']} test sentences longer than its {m['max_length']} tokens were cut.", ""]
    for note in result["notes"]:
        lines.append(f"- {note}")
    if result["notes"]:
        lines.append("")
    lines += markdown_table(HEADERS, table_rows(result["rows"])) + [""]
    repro = reproduction_rows(result["rows"])
    if repro and not s["quick"]:
        lines += ["Reproduction of DESIGN.md section 5 (judge / self-BLEU / ref4-BLEU / GM):", ""]
        lines += markdown_table(["system", "this run", "DESIGN.md"], repro) + [""]
    for name, curve in result["sweep"].items():
        lines += [f"Strength sweep, {name.replace('_', ', ')} direction:", ""]
        lines += markdown_table(["strength", "judge acc", "self-BLEU", "ref4-BLEU", "GM"],
                                [[f"{p['strength']:g}", fmt(p["judge_accuracy"]), fmt(p["self_bleu"]), fmt(p["ref4_bleu"]),
                                  fmt(p["gm"])] for p in curve]) + [""]
    if result.get("plot"):
        lines += [f"![judge accuracy vs self-BLEU]({Path(result['plot']).name})", ""]
    return "\n".join(lines)


def plot(result: dict, path: Path) -> None:
    figure, axis = pyplot().subplots(figsize=(9, 6.5))
    for row in result["rows"]:
        if row["kind"] in ("peer", "human", "copy"):
            axis.scatter(row["self_bleu"], row["judge_accuracy"], color="grey" if row["kind"] == "peer" else "black",
                         s=18, zorder=2)
            axis.annotate(row["system"].split(" (")[0], (row["self_bleu"], row["judge_accuracy"]), fontsize=6.5,
                          color="dimgrey", xytext=(3, 2), textcoords="offset points")
    anchor = result["settings"].get("anchor") or 0
    styles = {"learned": ("tab:blue", "latentedit shift, strength sweep"),
              "learned_anchored": ("tab:purple", f"latentedit shift, anchor {anchor:g}, strength sweep"),
              "random": ("tab:orange", "random direction, equal norm")}
    for name, curve in result["sweep"].items():
        color, label = styles[name]
        xs, ys = [p["self_bleu"] for p in curve], [p["judge_accuracy"] for p in curve]
        axis.plot(xs, ys, "o-", color=color, label=label, zorder=3)
        for p in curve:
            axis.annotate(f"x{p['strength']:g}", (p["self_bleu"], p["judge_accuracy"]), fontsize=7, color=color,
                          xytext=(3, -9), textcoords="offset points")
    markers = {"shift_auto": ("*", "tab:blue"), "optimize": ("D", "tab:green"), "optimize_closest": ("P", "tab:olive"),
               "random_shift_auto": ("*", "tab:orange"), "shift_auto_unanchored": ("X", "tab:cyan"),
               "shift_auto_no_revert": ("p", "tab:purple"), "shift_auto_no_swaps": ("h", "tab:olive")}
    for row in result["rows"]:
        if row["key"] in markers:
            marker, color = markers[row["key"]]
            axis.scatter(row["self_bleu"], row["judge_accuracy"], marker=marker, s=120, color=color, edgecolor="black",
                         label=row["system"], zorder=4)
    axis.set_xlabel("self-BLEU (to the source, 13a)")
    axis.set_ylabel("judge accuracy (%)")
    axis.set_xlim(-2, 102)
    axis.set_ylim(-2, 102)
    axis.grid(alpha=0.3)
    axis.set_title(f"Yelp sentiment transfer, {result['settings']['sentences']} sentences: transfer vs content kept")
    if result["sweep"] or any(r["key"] in markers for r in result["rows"]):
        axis.legend(fontsize=8, loc="lower left")
    save_figure(figure, path)


# -- main -----------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    from threadpoolctl import threadpool_limits

    threadpool_limits(args.threads)
    warnings.simplefilter("ignore", UserWarning)  # long sentences cut to the model's length: counted below
    started = time.perf_counter()
    try:
        root = datasets.data_root(args.data)
        data = load_data(root, QUICK_PER_HALF if args.quick else None)
    except datasets.DataNotFound as error:
        print(f"skipped: Yelp data not found: {error}")
        print("yelp_transfer_gm=skipped")
        return 0

    notes = []
    if not vader_available():
        notes.append(VADER_MISSING)
    timing = {}
    with stopwatch(timing, "judge_training_seconds"):
        pool, pool_labels = datasets.yelp(root, "pool")
        judge = SentimentJudge().fit(pool, pool_labels)
    dev, dev_labels = datasets.yelp(root, "dev")
    judge_info = {"description": f"TF-IDF word 1-2 grams + logistic regression (C={judge.C}), trained on the Shen 2017 "
                                 f"stand-in pool ({len(pool):,} sentences)",
                  "train_sentences": len(pool), "dev_accuracy": judge.accuracy(dev, dev_labels), **timing}
    print(f"judge: {judge_info['dev_accuracy']:.1f}% on Li dev ({timing['judge_training_seconds']:.0f} s)", file=sys.stderr)

    fluency_timing = {}
    with stopwatch(fluency_timing, "seconds"):
        fluency = FluencyJudge().fit(pool)
    judge_info["fluency"] = {"description": f"word trigram language model, interpolated Kneser-Ney (discount "
                                            f"{fluency.discount:g}, words seen < {fluency.min_count} times -> <unk>), "
                                            f"trained on the same pool", "dev_perplexity": fluency.perplexity(dev),
                             **fluency_timing}
    score = lambda texts: transfer_scores(data["sources"], texts, data["targets"], data["references"], judge,  # noqa: E731
                                          fluency=fluency)
    rows, sweep, outputs, model = [], {}, {}, None
    editor, why = load_editor(args.model, args.device, args.refine)
    if editor is None:
        notes.append(why)
    else:
        notes += edit_settings(editor, args)
        model = model_summary(editor, args.model)
        model["truncated_sources"] = truncated_count(editor, data["sources"])
        missing = check_model(editor)
        notes += [f"{key} rows skipped: {reason}" for key, reason in missing.items()]
        rows, sweep, outputs = latentedit_rows(editor, data, score, args, missing)

    rows.append({"key": "copy", "system": "copy-input", "kind": "copy", **score(data["sources"])})
    human = score(data["human"])
    human.update(ref1_bleu=None, ref4_bleu=None, gm=None)
    rows.append({"key": "human", "system": "human reference (Li et al. 2018)", "kind": "human", **human,
                 "note": "Li's raw rewrites (reference.0/1); they are one of the 4 references, so no ref-BLEU"})
    peer_rows = [{"key": key, "system": data["manifest"].get(key, {}).get("system", key), "kind": "peer",
                  "citation": data["manifest"].get(key, {}).get("citation", ""), "file": f"yelp/peer_outputs/{key}.txt",
                  **score(texts)} for key, texts in data["peers"].items()]
    rows += sorted(peer_rows, key=lambda r: -r["gm"])

    out = Path(args.out)
    headline = next((r for r in rows if r["key"] == "shift_auto"), None)
    result = {
        "benchmark": "style_transfer",
        "command": ("python benchmarks/style_transfer.py " + " ".join(argv)).strip(),
        "settings": {"sentences": len(data["sources"]), "quick": args.quick, "strength": args.strength,
                     "max_strength": args.max_strength, "grid": args.grid, "anchor": args.anchor, "refine": args.refine,
                     "keep_norm": args.keep_norm, "select": args.select, "beams": args.beams, "length_prior": args.length_prior,
                     "known_words": editor is not None and editor.known_words and editor.lexicon is not None,
                     "substitute": args.substitute, "min_confidence": args.min_confidence,
                     "sweep": args.sweep, "seed": args.seed,
                     "device": args.device, "bleu": "corpus BLEU-4, 13a tokenisation (latentedit.judges.bleu)",
                     "best_of": 1, "judge_selects": False},
        "judge": judge_info, "model": model, "notes": notes,
        "yelp_transfer_gm": headline["gm"] if headline else None,
        "rows": rows, "sweep": sweep,
        "published": {k: dict(zip(("judge_accuracy", "self_bleu", "ref4_bleu", "gm"), v)) for k, v in PUBLISHED.items()},
        "environment": environment(torch.get_num_threads()),
    }
    if outputs:
        folder = out.parent / f"{out.stem}_outputs"
        write_outputs(folder, outputs)
        result["outputs"] = str(folder)
    result["plot"] = str(out.with_suffix(".png"))
    plot(result, out.with_suffix(".png"))
    result["wall_seconds"] = round(time.perf_counter() - started, 1)
    write_json(result, out)
    write_text(markdown(result), out.with_suffix(".md"))

    print_table(f"Yelp sentiment transfer, {len(data['sources'])} sentences (judge: dev accuracy "
                f"{judge_info['dev_accuracy']:.1f}%, best-of-1)", HEADERS, table_rows(rows))
    for note in notes:
        print(f"note: {note}")
    print(f"wrote {out}, {out.with_suffix('.md').name} and {out.with_suffix('.png').name}")
    print(f"yelp_transfer_gm={headline['gm']:.2f}" if headline else "yelp_transfer_gm=skipped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
