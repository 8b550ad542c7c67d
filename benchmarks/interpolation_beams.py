"""Interpolation validity of the python-lines model by decoding method: greedy against beam search.

The evaluation suite decodes interpolation points greedily. A point between two lines' codes
often decodes to a line that is nearly Python but leaves a bracket or a quote open; beam search
keeps the likelier whole line, which is more often one that parses. For each split and each beam
count this decodes the same slerp and lerp paths (11 points between each pair's codes, the 9 inner
ones scored, as the model card) and reports the share of inner points that ``ast.parse`` accepts,
of those that also differ from both decoded ends, of distinct inner points, of decoded ends that
parse and that reproduce their source line, and the decoding time as a ratio to greedy decoding
in the same run. ``--python-syntax`` adds, for each beam count, the same decoding guarded to Python
that can still parse (latentedit.python_syntax): its points are valid by construction, so its
valid share measures the guard, not the latent space; its "valid + new" and "distinct" shares say
whether the guarded points still move between the ends.

Choose the beam count on the corpus's valid split; the test split (the model card's) only reports.

    python benchmarks/interpolation_beams.py                           # valid and test, 100 pairs, 1/4/8 beams
    python benchmarks/interpolation_beams.py --splits valid --beams 1,2 --pairs 20
    python benchmarks/interpolation_beams.py --beams 1 --python-syntax --refine 20

Writes benchmarks/results/interpolation_beams.{json,md}.
"""

from __future__ import annotations

import argparse
import sys
import time
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

from latentedit.evaluation import choose_pairs

SPLITS = ("valid", "test")
SHARES = ("valid_share", "valid_new_share", "distinct_share")  # the columns of each interpolation method


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="python-lines", help="built-in name or model folder (default: %(default)s)")
    ap.add_argument("--corpus", default=str(PYTHON_CORPUS), help="the Python-lines corpus folder (built there when missing)")
    ap.add_argument("--splits", default="valid,test", help="corpus splits measured, comma separated")
    ap.add_argument("--beams", default="1,4,8", help="beam counts tried, comma separated (1: greedy, the baseline)")
    ap.add_argument("--pairs", type=int, default=100, help="interpolation pairs per split (default: %(default)s)")
    ap.add_argument("--python-syntax", action="store_true", help="also decode each beam count guarded to Python that parses")
    ap.add_argument("--refine", type=int, default=0, help="refine steps of the ends' codes (default: %(default)s, the encoder's)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads")
    ap.add_argument("--out", default=str(RESULTS / "interpolation_beams.json"), help="result JSON (.md beside it)")
    args = ap.parse_args(argv)
    args.splits = [s.strip() for s in args.splits.split(",") if s.strip()]
    if not args.splits or any(s not in SPLITS for s in args.splits):
        ap.error(f"--splits takes {' and/or '.join(SPLITS)}, comma separated")
    try:
        args.beams = [int(b) for b in args.beams.split(",") if b.strip()]
    except ValueError:
        ap.error("--beams takes whole numbers separated by commas")
    if not args.beams or min(args.beams) < 1 or args.beams[0] != 1:
        ap.error("--beams must start with 1 (greedy decoding, the baseline the times are relative to); each >= 1")
    if args.pairs < 1 or args.threads < 1 or args.refine < 0:
        ap.error("--pairs and --threads must be >= 1, --refine >= 0")
    return args


def measure(editor, pairs: list[tuple[str, str]], beams: int, python_syntax: bool, refine: int) -> dict:
    """One row: slerp and lerp scores of the pairs' paths decoded with ``beams`` beams (guarded with
    ``python_syntax``) from codes refined ``refine`` steps, the share of decoded ends that
    reproduce their source, and the seconds."""
    start = time.perf_counter()
    scores, paths = interpolation_scores(editor, pairs, "python", refine=refine, num_beams=beams, python_syntax=python_syntax)
    exact = sum(path[0] == a for path, (a, _) in zip(paths["slerp"], pairs)) + sum(
        path[-1] == b for path, (_, b) in zip(paths["slerp"], pairs))
    return {"beams": beams, "python_syntax": python_syntax, **scores, "ends_exact_share": exact / (2 * len(pairs)),
            "seconds": time.perf_counter() - start}


def markdown(result: dict) -> str:
    refined = f", refined {result['refine']} steps" if result.get("refine") else ""
    lines = ["# Interpolation validity by decoding method (python-lines)", "", f"`{result['command']}`", "",
             f"{result['environment']['date']}; model {result['model']}. 11 points between each pair's codes (the "
             f"encoder's{refined}), the 9 inner ones scored: valid = inner points `ast.parse` accepts; valid + new = valid "
             "and unlike both decoded ends; distinct = distinct inner texts per path; ends valid = decoded ends that parse; "
             "ends exact = decoded ends equal to their source line; guarded = decoded writing only Python that can still "
             "parse (`python_syntax=True`: valid by construction, a measure of the guard, not of the latent space). "
             "time = decoding seconds relative to greedy (1 beam) in the same run, one measurement each (a rough cost, not a "
             "speed benchmark). Beam counts are chosen on the valid split; the test split (the model card's) only reports.", ""]
    headers = ["beams", "slerp valid %", "slerp valid + new %", "slerp distinct %", "lerp valid %", "lerp valid + new %",
               "lerp distinct %", "ends valid %", "ends exact %", "time (x greedy)"]
    for split, block in result["splits"].items():
        lines += [f"## {split} split ({block['pairs']} pairs)", ""]
        base = block["rows"][0]["seconds"]
        rows = [[str(r["beams"]) + (", guarded" if r.get("python_syntax") else ""),
                 *(fmt(100 * r[m][key]) for m in ("slerp", "lerp") for key in SHARES),
                 fmt(100 * r["slerp"]["ends_valid_share"]), fmt(100 * r["ends_exact_share"]) if "ends_exact_share" in r else "-",
                 fmt(r["seconds"] / base, 1)] for r in block["rows"]]
        lines += markdown_table(headers, rows) + [""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    editor, why = load_editor(args.model)
    if editor is None:
        print(f"skipped: {why}")
        return 0
    splits = {}
    for split in args.splits:
        pairs = choose_pairs(python_lines_split(args.corpus, split), args.pairs, seed=0)
        rows = []
        for beams, guarded in [(b, g) for b in args.beams for g in ((False, True) if args.python_syntax else (False,))]:
            rows.append(measure(editor, pairs, beams, guarded, args.refine))
            r = rows[-1]
            name = f"{beams} beam(s){', guarded' if guarded else ''}"
            print(f"  {split}, {name}: slerp valid {100 * r['slerp']['valid_share']:.1f}%, lerp valid "
                  f"{100 * r['lerp']['valid_share']:.1f}%, {r['seconds']:.1f} s", file=sys.stderr)
        splits[split] = {"pairs": len(pairs), "rows": rows}
    result = {"command": ("python benchmarks/interpolation_beams.py " + " ".join(argv)).strip(),
              "environment": environment(args.threads), "model": args.model, "refine": args.refine, "splits": splits}
    out = Path(args.out)
    write_json(result, out)
    write_text(markdown(result), out.with_suffix(".md"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
