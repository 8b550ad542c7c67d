"""Formality transfer: informal sentences shifted with the "formal" direction, scored by an independent judge.

Protocol (DESIGN.md section 5, applied to Pavlick & Tetreault 2016 ratings). The sentences are
the informal ones (mean rating < 0) of the package's `eval` split of the formality data; the
model's heads and directions are fitted on the `head` split. The judge is a TF-IDF (word 1-2
grams + character 2-4 grams) + ridge regression of the ratings, trained here on the `judge`
split only; its Pearson r on a held-out 20% of that split is reported. The judge scores outputs
only: it never guides an edit nor picks among candidates (best-of-1 for the judge). Where
latentedit decodes several candidates (strength "auto", optimize) the model's own `formality`
head on the re-encoded decoded text picks one, and the row says how many (N).

Per row (latentedit.judges.formality_scores): the judge's mean rating of the sources and of the
outputs (-3 informal .. 3 formal), the gain (outputs - sources), the share of outputs rated
above their source, self-BLEU (13a, to the source) and how many outputs are unchanged; and their
fluency (latentedit.judges.fluency_scores): the perplexity under a word trigram language model
trained on the formality data's sentences outside the `eval` split, and the share of output
words outside that model's vocabulary.

Rows: latentedit shift along "formal" at strength "auto" (N = grid, smallest strength whose
decoded text the head rates above the source; decoded with `--anchor`, the source anchoring, where
texts that arrive at no strength anchored are tried again unanchored, N = 2 x grid; and also
without it when `--anchor` > 0; with `--revert`, changed word spans go back to the source's
wording while the head still rates the text above the source, beside the row without it; with
`--min-gain` G, a text arrives only when the head rates it more than G above its source, beside
the row with any gain) and at
`--strength`; latentedit optimize toward
{"formality": "max"} (defaults, N <= 7); a random direction of the same norm (seeded) at "auto"
and at `--strength`; copy-input. A strength sweep of the learned and the random direction shows
the trade-off between gain and self-BLEU. Without the direction (or head) those rows are
skipped with a note; without the data folder the benchmark says so and exits 0.

    python benchmarks/formality.py                        # the built-in "default" model
    python benchmarks/formality.py --model runs/x/model --strength 1.5
    python benchmarks/formality.py --quick                # 100 sentences

Writes benchmarks/results/formality.{json,md} (formality_quick.* with --quick) and the
latentedit outputs under formality_outputs/; the last line printed is
``formality_gain=<gain of latentedit shift, strength auto>``.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
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
    random_direction,
    stopwatch,
    truncated_count,
    write_json,
    write_outputs,
    write_text,
)

from latentedit import datasets
from latentedit.judges import FluencyJudge, FormalityJudge, formality_scores

SWEEP = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0)
QUICK_SENTENCES = 100
DIRECTION, HEAD = "formal", "formality"
HEADERS = ["system", "N", "source rating", "output rating", "gain", "improved %", "self-BLEU", "PPL", "unknown words %",
           "new unknown %", "length ratio", "unchanged"]


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--data", help=f"the data folder holding formality/ (default: ${datasets.DATA_ENV}, else ../shared/data)")
    ap.add_argument("--model", default="default", help="model folder or built-in name; 'none' runs the baselines only")
    add_edit_options(ap, SWEEP)
    ap.add_argument("--min-gain", type=float, default=0.0,
                    help="strength auto: the head must rate the text more than this above its source "
                         "(benchmarks/formality_dev.py chooses it on dev)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the random direction and of the judge's held-out split")
    ap.add_argument("--quick", action="store_true", help=f"the first {QUICK_SENTENCES} informal sentences only")
    ap.add_argument("--out", help="result JSON (default benchmarks/results/formality.json, formality_quick.json with "
                                  "--quick); the .md is written beside it")
    args = parse_edit_args(ap, argv, "formality")
    if not args.min_gain >= 0:
        ap.error("--min-gain must be >= 0")
    return args


def check_model(editor) -> dict:
    notes = {}
    direction = editor.directions.get(DIRECTION)
    if direction is None:
        notes["shift"] = f"the model has no {DIRECTION!r} direction (has {sorted(editor.directions) or 'none'})"
    elif not direction.head or direction.head not in editor.heads:
        notes["shift_auto"] = f"direction {DIRECTION!r} names no head of the model: strength='auto' needs one"
    head = editor.heads.get(HEAD)
    if head is None or head.config.kind != "regression":
        notes["optimize"] = f"the model has no regression head {HEAD!r} (has {sorted(editor.heads) or 'none'})"
    return notes


def latentedit_rows(editor, sources: list[str], score, args, notes: dict):
    """The latentedit rows, the strength sweep, and every row's outputs; score(texts) gives a row's figures."""
    rows, sweep, outputs = [], {}, {}
    if "shift" in notes:
        return rows, sweep, outputs
    editor.directions["random_formal"] = random_direction(editor.directions[DIRECTION], "random_formal", args.seed)
    head = editor.directions[DIRECTION].head

    def add(key, label, selection, candidates, run):
        timing = {}
        with stopwatch(timing, "seconds"):
            results = run(sources)
        texts = [r.text for r in results]
        row = {"key": key, "system": label, "kind": "latentedit" if "random" not in key else "baseline",
               "selection": selection, "candidates": candidates, **score(texts),
               "seconds": timing["seconds"]}
        if head and head in results[0].scores:
            row["head_gain"] = float(np.mean([r.scores[head] - r.source_scores[head] for r in results]))
        if results[0].strength is not None:
            row["mean_strength"] = sum(r.strength for r in results) / len(results)
        rows.append(row)
        outputs[key] = texts
        print(f"  {label}: gain {row['gain']:+.2f}, self-BLEU {row['self_bleu']:.1f} ({timing['seconds']:.0f} s)",
              file=sys.stderr)

    auto = dict(strength="auto", max_strength=args.max_strength, grid=args.grid, anchor=args.anchor, revert=args.revert,
                min_gain=args.min_gain, substitute=args.substitute, keep_norm=args.keep_norm, select=args.select)

    def auto_label(anchor=args.anchor, min_gain=args.min_gain, revert=args.revert, substitute=args.substitute,
                   keep_norm=args.keep_norm, select=args.select) -> str:
        """'strength auto' and the settings of the row, naming those it leaves out of the headline's."""
        return ("strength auto" + (f", swaps at {substitute:g}" if substitute else ", no swaps" if args.substitute else "")
                + (f", anchor {anchor:g}" if anchor else ", no anchor" if args.anchor else "")
                + (f", min gain {min_gain:g}" if min_gain else ", any gain" if args.min_gain else "")
                + (", keep norm" if keep_norm else ", norm free" if args.keep_norm else "")
                + (", revert" if revert else ", no revert" if args.revert else "")
                + (", closest" if select == "closest" else ", smallest strength" if args.select == "closest" else ""))

    by_head = f"the model's {head!r} head on the re-encoded decoded text (smallest strength it rates above the source)"
    variations = (("unanchored", "anchor", 0.0), ("any_gain", "min_gain", 0.0), ("no_revert", "revert", False),
                  ("no_swaps", "substitute", 0.0), ("free_norm", "keep_norm", False), ("smallest", "select", "smallest"))
    for name, label in ((DIRECTION, "latentedit shift"), ("random_formal", "random direction, equal norm")):
        prefix = "random_" if name.startswith("random") else ""
        if "shift_auto" not in notes:
            add(f"{prefix}shift_auto", f"{label}, {auto_label()}", by_head, auto_candidates(args),
                lambda texts, d=name: editor.shift(texts, d, **auto))
            for key, option, off in variations if not prefix else ():
                if auto[option] != off:  # the headline without one of its settings
                    add(f"shift_auto_{key}", f"{label}, {auto_label(**{option: off})}", by_head,
                        auto_candidates(args, **({option: off} if option in ("anchor", "revert", "substitute") else {})),
                        lambda texts, o={option: off}: editor.shift(texts, DIRECTION, **{**auto, **o}))
        add(f"{prefix}shift_{args.strength:g}", f"{label}, strength {args.strength:g}", "none (one decode)", 1,
            lambda texts, d=name: editor.shift(texts, d, args.strength))
        if not prefix and "optimize" not in notes:
            add("optimize", "latentedit optimize (defaults)", f"the model's {HEAD!r} head on the re-encoded candidates", 7,
                lambda texts: editor.optimize(texts, {HEAD: "max"}))

    for name in (DIRECTION, "random_formal"):
        curve = []
        for strength in args.sweep:
            texts = [r.text for r in editor.shift(sources, name, strength)]
            curve.append({"strength": strength, **score(texts)})
        sweep["random" if name.startswith("random") else "learned"] = curve
    return rows, sweep, outputs


def table_rows(rows: list[dict]) -> list[list[str]]:
    return [[r["system"], str(r.get("candidates", 1)), fmt(r["source_rating"], 2), fmt(r["output_rating"], 2),
             f"{r['gain']:+.2f}", fmt(r["improved_share"]), fmt(r["self_bleu"]), fmt(r.get("perplexity"), 0),
             fmt(r.get("unknown_words")), fmt(r.get("new_unknown")), fmt(r.get("length_ratio"), 2),
             str(r["unchanged"])] for r in rows]


def markdown(result: dict) -> str:
    s, j, env = result["settings"], result["judge"], result["environment"]
    lines = ["# Formality transfer (Pavlick & Tetreault 2016 ratings, informal -> formal)", "",
             f"`{result['command']}`", "",
             f"{env['date']}, commit {str(env['git']['commit'])[:10]}"
             f"{' (library modified)' if env['git']['library_modified'] else ''}; {s['sentences']} informal sentences "
             f"(rating < 0) of the `eval` split{', QUICK subset' if s['quick'] else ''}.", "",
             f"Judge: {j['description']}; Pearson r {j['heldout_r']:.3f} on {j['heldout_examples']} held-out judge-split "
             f"sentences. On the whole eval split the judge rates the formal sentences (rating > 0) "
             f"{j['eval_formal_mean']:.2f} and the informal ones {j['eval_informal_mean']:.2f} (human means "
             f"{j['eval_formal_human']:.2f} and {j['eval_informal_human']:.2f}). The judge only scores: it never guides "
             "an edit or picks among candidates (best-of-1); N = decoded candidates per sentence, picked by the model's "
             "own head where N > 1.", "",
             f"Fluency: {j['fluency']['description']}. PPL = perplexity (lower = more fluent); unknown words % = share "
             "of output words outside its vocabulary (broken words a decoder glued from pieces land here: the PPL "
             "scores them all as one unknown word); new unknown % = share of outputs holding an unknown word that their "
             "source does not (an edit that wrote at least one broken word). Like the judge, it only scores. Length "
             "ratio = output words / source words (an edit that appends words its source never said shows here; "
             "BLEU's precision forgives such words in part).", ""]
    if result.get("model"):
        m = result["model"]
        lines += [f"Model: {m['source']} (code size {m['code_size']}, {m['parameters']:,} parameters); "
                  f"{m['truncated_sources']} sentences longer than its {m['max_length']} tokens were cut.", ""]
    lines += [f"- {note}" for note in result["notes"]] + ([""] if result["notes"] else [])
    lines += markdown_table(HEADERS, table_rows(result["rows"])) + [""]
    for name, curve in result["sweep"].items():
        lines += [f"Strength sweep, {name} direction:", ""]
        lines += markdown_table(["strength", "output rating", "gain", "improved %", "self-BLEU", "unchanged"],
                                [[f"{p['strength']:g}", fmt(p["output_rating"], 2), f"{p['gain']:+.2f}",
                                  fmt(p["improved_share"]), fmt(p["self_bleu"]), str(p["unchanged"])] for p in curve]) + [""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    from threadpoolctl import threadpool_limits

    threadpool_limits(args.threads)
    warnings.simplefilter("ignore", UserWarning)  # long sentences cut to the model's length: counted below
    started = time.perf_counter()
    try:
        rated = datasets.formality(datasets.data_root(args.data))
    except datasets.DataNotFound as error:
        print(f"skipped: formality data not found: {error}")
        print("formality_gain=skipped")
        return 0

    judge_rows = [r for r in rated if r.split == "judge"]
    evaluation = [r for r in rated if r.split == "eval"]
    sources = [r.text for r in evaluation if r.score < 0]
    if args.quick:
        sources = sources[:QUICK_SENTENCES]
    timing = {}
    with stopwatch(timing, "training_seconds"):
        judge = FormalityJudge(seed=args.seed).fit([r.text for r in judge_rows], [r.score for r in judge_rows])
    formal_eval = [r for r in evaluation if r.score > 0]
    informal_eval = [r for r in evaluation if r.score < 0]
    judge_info = {"description": "TF-IDF word 1-2 grams + char 2-4 grams + ridge regression, trained on the judge split "
                                 f"({len(judge_rows):,} rated sentences)",
                  "train_sentences": len(judge_rows), "heldout_r": judge.heldout_r, "heldout_examples": judge.heldout_examples,
                  "eval_formal_mean": float(judge.predict([r.text for r in formal_eval]).mean()),
                  "eval_informal_mean": float(judge.predict([r.text for r in informal_eval]).mean()),
                  "eval_formal_human": float(np.mean([r.score for r in formal_eval])),
                  "eval_informal_human": float(np.mean([r.score for r in informal_eval])), **timing}
    print(f"judge: Pearson r {judge.heldout_r:.3f} on {judge.heldout_examples} held-out sentences", file=sys.stderr)
    fluency = FluencyJudge().fit([r.text for r in rated if r.split != "eval"])
    judge_info["fluency"] = {"description": f"word trigram language model, interpolated Kneser-Ney, trained on the "
                                            f"{sum(r.split != 'eval' for r in rated):,} sentences outside the eval split "
                                            f"(words seen < {fluency.min_count} times -> <unk>)"}
    score = lambda texts: formality_scores(sources, texts, judge, fluency=fluency)  # noqa: E731

    notes, rows, sweep, outputs, model = [], [], {}, {}, None
    editor, why = load_editor(args.model, args.device, args.refine)
    if editor is None:
        notes.append(why)
    else:
        notes += edit_settings(editor, args)
        model = model_summary(editor, args.model)
        model["truncated_sources"] = truncated_count(editor, sources)
        missing = check_model(editor)
        notes += [f"{key} rows skipped: {reason}" for key, reason in missing.items()]
        rows, sweep, outputs = latentedit_rows(editor, sources, score, args, missing)
    rows.append({"key": "copy", "system": "copy-input", "kind": "copy", **score(sources)})

    out = Path(args.out)
    headline = next((r for r in rows if r["key"] == "shift_auto"), None)
    result = {
        "benchmark": "formality",
        "command": ("python benchmarks/formality.py " + " ".join(argv)).strip(),
        "settings": {"sentences": len(sources), "quick": args.quick, "strength": args.strength,
                     "max_strength": args.max_strength, "grid": args.grid, "anchor": args.anchor, "refine": args.refine,
                     "keep_norm": args.keep_norm, "select": args.select, "beams": args.beams, "length_prior": args.length_prior,
                     "known_words": editor is not None and editor.known_words and editor.lexicon is not None,
                     "min_gain": args.min_gain,
                     "substitute": args.substitute,
                     "sweep": args.sweep, "seed": args.seed,
                     "device": args.device, "bleu": "corpus BLEU-4, 13a tokenisation (latentedit.judges.bleu)",
                     "best_of": 1, "judge_selects": False},
        "judge": judge_info, "model": model, "notes": notes,
        "formality_gain": headline["gain"] if headline else None,
        "rows": rows, "sweep": sweep, "environment": environment(torch.get_num_threads()),
    }
    if outputs:
        folder = out.parent / f"{out.stem}_outputs"
        write_outputs(folder, {"sources": sources, **outputs})
        result["outputs"] = str(folder)
    result["wall_seconds"] = round(time.perf_counter() - started, 1)
    write_json(result, out)
    write_text(markdown(result), out.with_suffix(".md"))

    print_table(f"Formality transfer, {len(sources)} informal sentences (judge r {judge.heldout_r:.2f}, best-of-1)",
                HEADERS, table_rows(rows))
    for note in notes:
        print(f"note: {note}")
    print(f"wrote {out} and {out.with_suffix('.md').name}")
    print(f"formality_gain={headline['gain']:.3f}" if headline else "formality_gain=skipped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
