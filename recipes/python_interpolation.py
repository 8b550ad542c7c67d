"""Interpolate between held-out Python lines with a Python-lines model: how many inner points are valid, new Python?

    python recipes/python_interpolation.py                       # the built-in python-lines model
    python recipes/python_interpolation.py --model runs/python/model --data data/python-lines --pairs 200
    python recipes/python_interpolation.py --lines my_lines.txt --output interp.json

A Python-lines model is a latentedit model trained on single-line statements of the standard
library (`python -m latentedit.python_lines data/python-lines`, then `latentedit train` with
`data.train = "data/python-lines/train.txt"`). The default --model, "python-lines", is the one
shipped in the package (its card: latentedit/models/python-lines/MODEL_CARD.md).

Held-out lines: --lines FILE (one statement per line), else --data FOLDER's test.txt (a corpus
written by latentedit.python_lines), else the `test` split of this machine's standard library,
collected now with the corpus builder's rules and hash split (so a model trained on that
builder's train.txt never saw them). --pairs pairs of distinct lines (seeded) are interpolated
with slerp and with lerp at --steps evenly spaced points (ends included; 11 gives 9 inner points)
and decoded greedily, or by beam search with --beams N (latentedit.evaluation.interpolation_paths;
on the shipped model 8 beams make more points parse: benchmarks/results/interpolation_beams.md);
--python-syntax lets the decoder write only Python that can still parse (latentedit.python_syntax):
valid by construction, a tool for users, not a measure of the latent space.

Reported per method (latentedit.evaluation.score_interpolations): the share of inner points that
`ast.parse` accepts, the share that differ from both decoded ends, the share that are both, and
how many decoded ends parse. The seed Transformer-VAE reported about 65% valid inner points.
"""

from __future__ import annotations

import sys
from pathlib import Path

import recipe_common as common

from latentedit.errors import DataFormatError, ModelFolderError
from latentedit.evaluation import choose_pairs, interpolation_paths, score_interpolations
from latentedit.python_lines import collect_lines, parses_as_python, split_of

METHODS = ("slerp", "lerp")


def parse_args(argv):
    ap = common.parser(__doc__, default_model="python-lines",
                       data_help="a Python-lines corpus folder (python -m latentedit.python_lines OUT): its test.txt gives "
                                 "the held-out lines (default: the test split of this machine's standard library)")
    ap.add_argument("--lines", metavar="FILE", help="held-out Python lines, one per line (instead of --data)")
    ap.add_argument("--pairs", type=common.positive_int, default=50, help="pairs of lines to interpolate (default: 50)")
    ap.add_argument("--steps", type=int, default=11, help="points per path, ends included (default: 11)")
    ap.add_argument("--max-chars", type=common.positive_int, default=80,
                    help="longest statement kept when collecting the standard library (default: 80, as the builder)")
    ap.add_argument("--beams", type=common.positive_int, default=1, metavar="N",
                    help="decode by beam search with N beams (default: 1, greedy decoding)")
    ap.add_argument("--python-syntax", action="store_true", help="decode only Python that parses (valid by construction)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the pair choice (default: 0)")
    ap.add_argument("--path", type=int, default=0, help="which pair's path the table shows (default: 0)")
    ap.add_argument("--output", help="write the scores and every path as JSON, atomically")
    args = ap.parse_args(argv)
    if args.steps < 3:
        ap.error("--steps must be >= 3 (two ends and an inner point)")
    if args.lines and args.data:
        ap.error("give --lines or --data, not both")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    return common.run(lambda: interpolate(args), args.threads)


def held_out_lines(args) -> tuple[list[str], str]:
    if args.lines:
        return common.input_lines(args.lines), args.lines
    if args.data:
        path = Path(args.data) / "test.txt"
        if not path.is_file():
            raise DataFormatError(f"{path} not found: --data names a Python-lines corpus folder "
                                  "(python -m latentedit.python_lines OUT writes train.txt, valid.txt, test.txt)")
        return common.input_lines(str(path)), str(path)
    print("collecting single-line statements of the standard library ...", file=sys.stderr)
    lines, _ = collect_lines(max_chars=args.max_chars)
    return sorted(t for t in lines if split_of(t, 0.05, 0.05) == "test"), "the standard library's test split"


def interpolate(args) -> int:
    try:
        editor = common.load_editor(args.model, args.device)
    except ModelFolderError as error:
        raise common.RecipeError(f"{error}. Train a Python-lines model first (python -m latentedit.python_lines "
                                 "data/python-lines, then latentedit train with data.train = data/python-lines/train.txt) "
                                 "and pass its folder with --model") from None
    lines, origin = held_out_lines(args)
    pairs = choose_pairs(lines, args.pairs, seed=args.seed)
    if not pairs:
        raise common.RecipeError(f"{origin}: fewer than two distinct lines to pair")
    print(f"interpolating {len(pairs)} pairs of lines from {origin} ({args.steps} points, slerp and lerp) ...",
          file=sys.stderr)
    paths = {method: interpolation_paths(editor, pairs, steps=args.steps, method=method, num_beams=args.beams,
                                         python_syntax=args.python_syntax) for method in METHODS}
    scores = {method: score_interpolations(paths[method], kind="python", sources=pairs) for method in METHODS}
    cut = common.truncated(editor, [t for pair in pairs for t in pair])

    pct = lambda v: common.fmt(None if v is None else 100.0 * v, 1)  # noqa: E731
    common.print_table(
        f"{len(pairs)} held-out pairs, {args.steps - 2} inner points each "
        f"({'greedy decoding' if args.beams == 1 else f'beam search, {args.beams} beams'}"
        f"{', guarded to Python that parses' if args.python_syntax else ''})",
        ["method", "inner points", "parse %", "differ from both ends %", "parse and differ %", "distinct per path %",
         "decoded ends parse %", "sources parse %"],
        [[method, s["inner_points"], pct(s["valid_share"]), pct(s["new_share"]), pct(s["valid_new_share"]),
          pct(s["distinct_share"]), pct(s["ends_valid_share"]), pct(s.get("sources_valid_share"))]
         for method, s in scores.items()])

    index = min(max(args.path, 0), len(pairs) - 1)
    ts = [i / (args.steps - 1) for i in range(args.steps)]
    mark = lambda text: "yes" if parses_as_python(text) else "no"  # noqa: E731
    rows = [[f"{t:.2f}", paths["slerp"][index][i], mark(paths["slerp"][index][i]), paths["lerp"][index][i],
             mark(paths["lerp"][index][i])] for i, t in enumerate(ts)]
    common.print_table(f"path {index}: {pairs[index][0]!r} -> {pairs[index][1]!r}",
                       ["t", "slerp", "parses", "lerp", "parses"], rows, left=5)
    if cut:
        print(f"note: {cut} of {2 * len(pairs)} source lines are longer than the model's "
              f"{editor.model.config.max_length} tokens and were cut before encoding")

    if args.output:
        common.write_json(args.output, {
            "model": args.model, "lines": origin, "pairs": [list(p) for p in pairs], "steps": args.steps,
            "beams": args.beams, "python_syntax": args.python_syntax, "seed": args.seed, "scores": scores, "paths": paths})
        print(f"wrote {args.output}")
    s, lerp = scores["slerp"], scores["lerp"]
    print(f"python_interpolation: {len(pairs)} pairs x {args.steps - 2} inner points; slerp parse "
          f"{100 * s['valid_share']:.1f}% (new {100 * s['new_share']:.1f}%, both {100 * s['valid_new_share']:.1f}%), "
          f"lerp parse {100 * lerp['valid_share']:.1f}% (new {100 * lerp['new_share']:.1f}%, "
          f"both {100 * lerp['valid_new_share']:.1f}%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
