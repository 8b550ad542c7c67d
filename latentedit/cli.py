"""The ``latentedit`` command line.

Look at a model::

    latentedit demo                                   # the main job: a short tour on a model
    latentedit info --model M                         # architecture, heads (held-out metric), directions
    latentedit reconstruct --model M "the food was great ."
    latentedit encode --model M --input in.txt --output codes.jsonl
    latentedit interpolate --model M "the food was great ." "the service was slow ." --steps 7
    latentedit sample --model M -n 5
    latentedit eval --model M --data test.tsv --labels-column label --out eval   # report.json + plots

Edit texts::

    latentedit shift --direction formal "hey whats up"
    latentedit shift --model M --direction positive --strength 1.5 "the food was cold ."
    latentedit shift --model M --direction positive --strength auto --max-strength 3 "the food was cold ."
    latentedit shift --model M --direction positive --input in.txt --output out.txt
    latentedit shift --direction positive --strength auto --max-strength 9 --anchor 10 --revert "the food was cold ."
    latentedit optimize --head likes --target max "the food was ok ."
    latentedit optimize --model M --head likes --target 4.5 --head sentiment --target positive --weight 1 --weight 2 \\
        --method random --steps 30 --max-distance 3 --min-similarity 0.5 --seed 1 --json "the food was ok ."

Teach a model new edits (written back into the --model folder, or into --output-model DIR)::

    latentedit fit-head likes --model M --input reviews.csv --column text --value-column likes
    latentedit fit-head sentiment --model M --input reviews.tsv --label-column label --output-model M2
    latentedit learn-direction positive --model M --positive pos.txt --negative neg.txt --method probe \\
        --head sentiment --target 1
    latentedit learn-direction likes --model M --input reviews.csv --value-column likes

    latentedit train trainers/configs/sample.toml     # same as python -m trainers.train

Inputs and outputs of the text commands (reconstruct, encode, shift, optimize): texts are given as
arguments, or with ``--input FILE``: UTF-8 plain text, one example per line, whatever the file's
extension. Outputs keep the input's order, one per line. An empty or whitespace-only line is an
error naming the line (it is not skipped), so line N of the output always belongs to line N of the
input. The input is read lazily and processed in chunks of :data:`CHUNK_LINES` lines, so files of
any length run in constant memory; with ``--output FILE`` each chunk's results go to a temporary
file beside FILE, which replaces FILE only when every line succeeded. ``--json`` writes one JSON
object per line (to stdout, or into --output); otherwise stdout gets a table and --output plain
edited texts.

``--target`` values: ``max``, ``min``, a finite number (regression heads) or a label
(classification heads; a label is taken verbatim, so ``--target 1`` means label "1"). ``nan`` and
``inf`` are refused, for targets as for every number.

Bad input (empty text, unreadable or non-UTF-8 file, unknown head or direction, NaN or infinite
numbers, missing model folder, bad option) gives a one-line ``error: ...`` message on stderr and
exit code 2, and leaves any existing output file as it was.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import warnings
from dataclasses import asdict
from pathlib import Path
from typing import Callable, Iterable, Iterator

from rich.console import Console
from rich.table import Table
from rich.text import Text

from .data import checked_path, iter_lines, iter_records
from .directions import PAIR_METHODS
from .errors import LINE_BREAKS, DataFormatError, InputError, LatentEditError, one_line
from .validation import check_path, check_text

DEFAULT_MODEL = "default"
CHUNK_LINES = 256  # texts read, edited and written per step when streaming --input
_TABLE_FORMATS = ("csv", "tsv", "jsonl")


class OneLineParser(argparse.ArgumentParser):
    """argparse whose errors are one line on stderr (exit code 2), like every other CLI error
    (also the parser of ``python -m trainers.train``)."""

    def error(self, message: str):
        self.exit(2, one_line(f"error: {message} (see '{self.prog} --help')") + "\n")


def exit_code(stop: SystemExit) -> int:
    """The exit code a SystemExit from argparse stands for: 0 after --help, 2 after a usage error."""
    return stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 2)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # --help (0) or a usage error (2, already reported)
        return exit_code(stop)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.showwarning = lambda message, *rest: print(one_line(f"warning: {message}"), file=sys.stderr)
            return args.handler(args) or 0
    except LatentEditError as error:
        print(one_line(f"error: {error}"), file=sys.stderr)
        return 2
    except BrokenPipeError:  # stdout closed early (| head): stop quietly
        return 1
    except OSError as error:  # unwritable output, unreadable file, disk full, ...
        where = f": {error.filename}" if error.filename else ""
        print(one_line(f"error: {error.strerror or error}{where}"), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


ANCHOR_HELP = ("keep the source's wording: a logit bonus for every token that continues the source text "
               "(0: decode from the code alone; 4-10 keeps much of the source) (default: %(default)s)")
ANY_WORDS_HELP = ("decode edits in any words the tokens spell, not only words of the model's lexicon "
                  "(lexicon.txt: its training corpus's words) or of the source text (see latentedit.lexicon)")
BEAMS_HELP = ("decode each edit by beam search with B beams, anchored like greedy decoding (1: greedy; 8 kept more of "
              "the source on Yelp at about 4.6 times the time) (default: %(default)s)")
LENGTH_PRIOR_HELP = ("end each edit near its source's length: add W to the end-of-text logit for every token the "
                     "decoding runs past it (0: none; 1 keeps formal shifts from rambling on) (default: %(default)s)")
REFINE_HELP = ("refine each source text's code by up to N gradient steps until the decoder reproduces the text "
               "(0: the encoder's code; 10-20 reproduces most texts exactly; see latentedit.refine) (default: %(default)s)")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="latentedit", description="Edit text through the latent space of a Transformer-VAE.",
                           epilog="Run 'latentedit COMMAND --help' for a command's options.")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    def command(name: str, handler, help_text: str, model: bool = True, refine: bool = False) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(handler=handler)
        if model:
            sub.add_argument("--model", default=DEFAULT_MODEL, help="model folder or built-in name (default: %(default)s)")
            sub.add_argument("--json", action="store_true", help="machine-readable JSON output (one object per line)")
        if refine:
            sub.add_argument("--refine", type=_non_negative_int, default=0, metavar="N", help=REFINE_HELP)
        return sub

    def text_inputs(sub: argparse.ArgumentParser, trajectory: bool = False) -> None:
        sub.add_argument("texts", nargs="*", help="texts to process (or use --input)")
        sub.add_argument("--input", metavar="FILE", help="UTF-8 file with one text per line (empty lines are an error)")
        sub.add_argument("--output", metavar="FILE",
                         help="write one result per line here (written only if every line succeeds) instead of printing")
        if trajectory:
            sub.add_argument("--trajectory", action="store_true",
                             help="with --json: include the candidates the edit considered")

    def model_output(sub: argparse.ArgumentParser, what: str) -> None:
        sub.add_argument("--output-model", metavar="DIR",
                         help=f"save the model with the new {what} here (default: update the --model folder in place)")
        sub.add_argument("--description", default="", help=f"a note stored with the {what}")

    demo = command("demo", run_demo, "Run a short tour: reconstructions and an interpolation.", model=False)
    demo.add_argument("--workdir", default=str(Path.home() / ".cache" / "latentedit" / "demo"),
                      help="where the demo trains its tiny model when no default model ships (default: %(default)s)")

    text_inputs(command("reconstruct", run_reconstruct, "Encode then decode texts.", refine=True))
    text_inputs(command("encode", run_encode, "Print latent codes (posterior means) of texts, as JSON lines.",
                        refine=True))

    shift = command("shift", run_shift, "Move texts along a learned direction in latent space.", refine=True)
    shift.add_argument("--direction", required=True, metavar="NAME", help="a direction of the model (see info)")
    shift.add_argument("--strength", type=_strength, default=1.0, metavar="X|auto",
                       help="how far to move (negative: the other way; 'auto': the smallest strength at which the "
                            "direction's head sees the target) (default: %(default)s)")
    shift.add_argument("--max-strength", type=_positive_float, metavar="X",
                       help="with --strength auto: the largest strength tried (default: 4)")
    shift.add_argument("--anchor", type=_non_negative_float, default=0.0, metavar="A", help=ANCHOR_HELP)
    shift.add_argument("--any-words", action="store_true", help=ANY_WORDS_HELP)
    shift.add_argument("--beams", type=_positive_int, default=1, metavar="B", help=BEAMS_HELP)
    shift.add_argument("--length-prior", type=_non_negative_float, default=0.0, metavar="W", help=LENGTH_PRIOR_HELP)
    shift.add_argument("--revert", action="store_true",
                       help="with --strength auto: put the source's wording back into each changed word span while "
                            "the direction's head still sees the target (a minimal edit)")
    shift.add_argument("--select", choices=("smallest", "closest"), default="smallest",
                       help="with --strength auto: keep the smallest strength that arrives, or the arrived text most "
                            "similar to the source (with --revert, partial reverts of each compete) (default: smallest)")
    shift.add_argument("--min-gain", type=_non_negative_float, default=0.0, metavar="G",
                       help="with --strength auto and a direction judged by a regression head (such as formal): "
                            "a text arrives once the head moves it more than G toward the target (default: any move)")
    shift.add_argument("--min-confidence", type=_fraction, default=0.0, metavar="C",
                       help="with --strength auto and a direction judged by a classification head (such as positive): "
                            "a text arrives once the head gives the target a probability of at least C")
    shift.add_argument("--substitute", type=_positive_float, metavar="S",
                       help="with --strength auto: first try swapping words, one per round, for those the decoder "
                            "proposes under the code moved S along the direction (the head picks); texts no swap "
                            "brings to the target are shifted by decoding")
    shift.add_argument("--keep-norm", action="store_true",
                       help="scale each moved code back to its source code's norm: the move turns the code toward "
                            "the direction instead of carrying it away from the codes of real texts")
    text_inputs(shift, trajectory=True)

    optimize = command("optimize", run_optimize, "Search the latent space for edits that move property heads to targets.",
                       refine=True)
    optimize.add_argument("--head", action="append", metavar="NAME", help="a head of the model (repeat with --target)")
    optimize.add_argument("--target", action="append", type=_target_text, metavar="VALUE|max|min|LABEL",
                          help="goal of the matching --head: a number, max, min, or a label")
    optimize.add_argument("--weight", action="append", type=_positive_float, metavar="W",
                          help="weight of the matching --head (default 1; give one per --head or none)")
    optimize.add_argument("--method", choices=("adam", "random"), default="adam",
                          help="gradient search or gradient-free random search (default: %(default)s)")
    optimize.add_argument("--steps", type=_positive_int, default=50, help="search steps (default: %(default)s)")
    optimize.add_argument("--any-words", action="store_true", help=ANY_WORDS_HELP)
    optimize.add_argument("--beams", type=_positive_int, default=1, metavar="B", help=BEAMS_HELP)
    optimize.add_argument("--length-prior", type=_non_negative_float, default=0.0, metavar="W", help=LENGTH_PRIOR_HELP)
    optimize.add_argument("--max-distance", type=_non_negative_float, metavar="D",
                          help="only accept edits whose code is within this L2 distance of the source's")
    optimize.add_argument("--min-similarity", type=_fraction, metavar="S",
                          help="only accept edits with at least this word overlap with the source (0..1)")
    optimize.add_argument("--select", choices=("loss", "closest"), default="loss",
                          help="keep the candidate with the lowest target loss, or the one closest to the source "
                               "among those the heads accept (default: %(default)s)")
    optimize.add_argument("--seed", type=int, default=0, help="seed of the random search (default: %(default)s)")
    optimize.add_argument("--anchor", type=_non_negative_float, default=0.0, metavar="A", help=ANCHOR_HELP)
    optimize.add_argument("--revert", action="store_true",
                          help="put the source's wording back into each changed word span of the chosen text while "
                               "every head still accepts it (a minimal edit)")
    text_inputs(optimize, trajectory=True)

    fit = command("fit-head", run_fit_head, "Fit a property head (regression or classification) on labelled texts.")
    fit.add_argument("name", help="name of the head (letters, digits, _ - .)")
    fit.add_argument("--input", required=True, metavar="FILE", help="a .csv, .tsv or .jsonl file with a header / keys")
    fit.add_argument("--column", default="text", help="column holding the text (default: %(default)s)")
    targets = fit.add_mutually_exclusive_group(required=True)
    targets.add_argument("--value-column", metavar="COLUMN", help="numeric column: a regression head")
    targets.add_argument("--label-column", metavar="COLUMN", help="label column: a classification head")
    fit.add_argument("--kind", choices=("regression", "classification"),
                     help="head kind (default: from --value-column / --label-column)")
    fit.add_argument("--hidden", type=_non_negative_int, default=0,
                     help="hidden units (0: a linear head) (default: %(default)s)")
    fit.add_argument("--layers", type=_non_negative_int, default=1,
                     help="hidden layers, each --hidden wide (default: %(default)s)")
    fit.add_argument("--batch-size", type=_non_negative_int, default=0, metavar="B",
                     help="fit on shuffled minibatches of B (a deep head on many texts needs them; 0: full batch) "
                          "(default: %(default)s)")
    fit.add_argument("--seed", type=int, default=0, help="seed of the split and the fit (default: %(default)s)")
    model_output(fit, "head")

    learn = command("learn-direction", run_learn_direction,
                    "Learn a direction from positive and negative texts, or from a numeric property.")
    learn.add_argument("name", help="name of the direction (letters, digits, _ - .)")
    learn.add_argument("--positive", metavar="FILE", help="texts that have the property (one per line, or --column)")
    learn.add_argument("--negative", metavar="FILE", help="texts that lack it")
    learn.add_argument("--method", choices=PAIR_METHODS, help="with --positive/--negative (default: mean)")
    learn.add_argument("--input", metavar="FILE", help="instead of --positive/--negative: a .csv/.tsv/.jsonl file ...")
    learn.add_argument("--value-column", metavar="COLUMN", help="... with this numeric column: the property direction")
    learn.add_argument("--column", default="text",
                       help="column holding the text in .csv/.tsv/.jsonl files (default: %(default)s)")
    learn.add_argument("--head", metavar="NAME", help="a head that tells when a shift has arrived (for --strength auto)")
    learn.add_argument("--target", type=_target_text, metavar="LABEL|max|min", help="what that head should see")
    model_output(learn, "direction")

    interpolate = command("interpolate", run_interpolate, "Decode points between the codes of two texts.", refine=True)
    interpolate.add_argument("start")
    interpolate.add_argument("end")
    interpolate.add_argument("--steps", type=int, default=11)
    interpolate.add_argument("--method", choices=("slerp", "lerp"), default="slerp")
    interpolate.add_argument("--beams", type=_positive_int, default=1, metavar="N",
                             help="beam search with N beams instead of greedy decoding (default: %(default)s)")
    interpolate.add_argument("--python-syntax", action="store_true",
                             help="write only Python lines that parse (for a Python-lines model; valid by construction)")

    sample = command("sample", run_sample, "Decode codes drawn from the prior.")
    sample.add_argument("-n", type=int, default=5)
    sample.add_argument("--temperature", type=_positive_float, default=1.0)
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument("--python-syntax", action="store_true",
                        help="write only Python lines that parse (for a Python-lines model; valid by construction)")

    command("info", run_info, "Describe a model: architecture, size, provenance, heads and directions.")

    evaluation = command("eval", run_eval, "Evaluate a model on held-out texts: reconstruction, interpolation, probe "
                         "and latent health; writes report.json and PNG plots (see latentedit.evaluation).", refine=True)
    evaluation.add_argument("--data", required=True, metavar="FILE",
                            help="held-out texts: .txt (one per line) or .csv/.tsv/.jsonl with --column")
    evaluation.add_argument("--column", default="text", help="text column of a .csv/.tsv/.jsonl file (default: %(default)s)")
    evaluation.add_argument("--labels-column", "--label-column", dest="labels_column", metavar="COLUMN",
                            help="label column: runs the probe (codes vs TF-IDF) and colours the code map")
    evaluation.add_argument("--kind", choices=("text", "python"), default="text",
                            help="python: also the share of interpolation points that ast.parse (default: %(default)s)")
    evaluation.add_argument("--out", metavar="DIR", default="eval", help="folder for report.json and the plots "
                            "(default: %(default)s)")
    evaluation.add_argument("--pairs", type=_non_negative_int, default=50,
                            help="text pairs to interpolate between (default: %(default)s)")
    evaluation.add_argument("--k", type=_positive_int, default=50,
                            help="importance samples per text for the NLL estimate (default: %(default)s)")
    evaluation.add_argument("--iw-examples", type=_positive_int, default=512, metavar="N",
                            help="texts (a seeded sample) for the importance-weighted NLL (default: %(default)s)")
    evaluation.add_argument("--max-examples", type=_positive_int, metavar="N",
                            help="evaluate a seeded sample of N texts (default: all)")
    evaluation.add_argument("--metrics", metavar="FILE", help="a trainer's metrics.jsonl to plot training curves from "
                            "(default: metrics.jsonl beside the model folder, when there is one)")
    evaluation.add_argument("--seed", type=int, default=0, help="seed of pairs, samples and tests (default: %(default)s)")
    evaluation.add_argument("--beams", type=_positive_int, default=1, metavar="N",
                            help="decode interpolation points by beam search with N beams (default: %(default)s, greedy)")

    train = command("train", run_train, "Train a model from a TOML config (see trainers/configs).", model=False)
    train.add_argument("rest", nargs=argparse.REMAINDER, help="arguments of python -m trainers.train")
    return parser


# -- argument types (their messages become "error: argument --x: ...") ---------------------------


def _finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def _positive_float(text: str) -> float:
    value = _finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text!r}")
    return value


def _non_negative_float(text: str) -> float:
    value = _finite_float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text!r}")
    return value


def _fraction(text: str) -> float:
    value = _finite_float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text!r}")
    return value


def _int_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type: a whole number >= minimum."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {text!r}")
        return value

    return parse


_positive_int, _non_negative_int = _int_at_least(1), _int_at_least(0)


def _strength(text: str) -> float | str:
    if text.strip().lower() == "auto":
        return "auto"
    try:
        return _finite_float(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"must be a finite number or 'auto', got {text!r}") from None


def _target_text(text: str) -> str:
    """Check a --target value; it is interpreted once the head's kind is known (see _goal)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("is empty; give a number, max, min or a label")
    try:
        value = float(text)
    except ValueError:
        return text.strip()
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, max, min or a label, got {text!r}")
    return text.strip()


def _goal(text: str, head) -> float | str:
    """A --target for this head: the label verbatim for a classification head; for a regression
    head "max", "min" or the number (anything else is left for parse_targets to refuse)."""
    if head.config.kind == "classification":
        return text
    if text.lower() in ("max", "min"):
        return text.lower()
    try:
        return float(text)
    except ValueError:
        return text


# -- commands --------------------------------------------------------------------------------


def run_reconstruct(args) -> None:
    texts = _text_source(args)
    editor = _load(args.model, args.refine)
    _stream(args, texts, lambda chunk: [{"source": s, "text": t} for s, t in zip(chunk, editor.reconstruct(chunk))],
            line=lambda row: row["text"], columns=("source", "text"), title="reconstructions")


def run_encode(args) -> None:
    texts = _text_source(args)
    editor = _load(args.model, args.refine)

    def process(chunk: list[str]) -> list[dict]:
        return [{"text": t, "latent": [round(v, 6) for v in code.tolist()]} for t, code in zip(chunk, editor.encode(chunk))]

    args.json = True  # codes are always JSON lines
    _stream(args, texts, process, line=json.dumps, columns=(), title="")


def run_shift(args) -> None:
    for flag, given in (("--max-strength", args.max_strength is not None), ("--revert", args.revert),
                        ("--min-gain", args.min_gain > 0), ("--min-confidence", args.min_confidence > 0),
                        ("--substitute", args.substitute is not None), ("--select closest", args.select == "closest")):
        if given and args.strength != "auto":
            raise InputError(f"{flag} only applies with --strength auto")
    texts = _text_source(args)
    editor = _load(args.model, args.refine)
    _set_edit_decoding(editor, args)
    _require(editor.directions, args.direction, "direction", "learn one with latentedit learn-direction")
    options = {"max_strength": args.max_strength} if args.max_strength is not None else {}
    options.update(anchor=args.anchor, revert=args.revert, min_gain=args.min_gain, min_confidence=args.min_confidence,
                   substitute=args.substitute or 0.0, keep_norm=args.keep_norm, select=args.select)

    def process(chunk: list[str]) -> list[dict]:
        return [_result_row(r, args.trajectory) for r in editor.shift(chunk, args.direction, args.strength, **options)]

    _stream(args, texts, process, line=lambda row: row["text"], columns=("source", "edited", "strength", "scores"),
            title=f"shift along {args.direction!r}")


def _set_edit_decoding(editor, args) -> None:
    """How edits decode: --any-words, --beams, --length-prior."""
    editor.known_words, editor.edit_beams, editor.edit_length_prior = not args.any_words, args.beams, args.length_prior


def run_optimize(args) -> None:
    heads, goals, weights = args.head or [], args.target or [], args.weight or []
    if not heads:
        raise InputError("give at least one --head NAME --target VALUE pair")
    if len(heads) != len(goals):
        raise InputError(f"{len(heads)} --head but {len(goals)} --target: give one --target per --head")
    if weights and len(weights) != len(heads):
        raise InputError(f"{len(weights)} --weight for {len(heads)} --head: give one per --head, or none")
    repeated = sorted({h for h in heads if heads.count(h) > 1})
    if repeated:
        raise InputError(f"head(s) {repeated} given more than once")
    texts = _text_source(args)
    editor = _load(args.model, args.refine)
    _set_edit_decoding(editor, args)
    for name in heads:
        _require(editor.heads, name, "head", "fit one with latentedit fit-head")
    target = {name: _goal(goal, editor.heads[name]) for name, goal in zip(heads, goals)}
    weight = dict(zip(heads, weights)) if weights else None
    from .targets import parse_targets

    parse_targets(target, editor.heads, weight)  # refuse a bad target before reading any input

    def process(chunk: list[str]) -> list[dict]:
        results = editor.optimize(chunk, target, weight, method=args.method, steps=args.steps,
                                  max_distance=args.max_distance, min_similarity=args.min_similarity,
                                  select=args.select, seed=args.seed, anchor=args.anchor, revert=args.revert)
        return [_result_row(r, args.trajectory) for r in results]

    _stream(args, texts, process, line=lambda row: row["text"],
            columns=("source", "edited", "scores", "distance", "similarity"), title="optimize " + ", ".join(
                f"{h} -> {g}" for h, g in target.items()))


def run_fit_head(args) -> None:
    from .heads import check_name

    check_name(args.name, "head name")
    folder = _output_folder(args, "head")
    numeric = args.value_column is not None
    texts, targets = _read_records(args.input, args.column, args.value_column or args.label_column, numeric)
    editor = _load(args.model)
    replaced = args.name in editor.heads
    report = editor.fit_head(args.name, texts, values=targets if numeric else None,
                             labels=None if numeric else targets, kind=args.kind, hidden=args.hidden,
                             description=args.description, seed=args.seed, layers=args.layers,
                             batch_size=args.batch_size)
    editor.save(folder)
    report.update(model=str(folder), replaced=replaced)
    if args.json:
        print(_dumps(report))
        return
    config = editor.heads[args.name].config
    note = " (replaced the previous head of that name)" if replaced else ""
    print(f"head {args.name!r} ({config.kind}): held-out {config.metric_name} {config.metric_value:.3f} on "
          f"{config.heldout_examples} of {config.train_examples + config.heldout_examples} texts; "
          f"saved to {folder}{note}")


def run_learn_direction(args) -> None:
    from .data import read_texts
    from .heads import check_name
    from .targets import parse_targets

    check_name(args.name, "direction name")
    pairs = args.positive is not None or args.negative is not None
    prop = args.input is not None or args.value_column is not None
    if pairs == prop:
        raise InputError("give --positive FILE and --negative FILE, or --input FILE with --value-column COLUMN")
    if pairs and (args.positive is None or args.negative is None):
        raise InputError("give both --positive FILE and --negative FILE")
    if prop and (args.input is None or args.value_column is None):
        raise InputError("give both --input FILE and --value-column COLUMN for a property direction")
    if prop and args.method is not None:
        raise InputError("--method applies to --positive/--negative; a property direction is a ridge regression")
    if (args.head is None) != (args.target is None):
        raise InputError("give --head and --target together (the head verdict that --strength auto aims for)")
    folder = _output_folder(args, "direction")
    if pairs:
        positive = read_texts(args.positive, _column_for(args.positive, args.column))
        negative = read_texts(args.negative, _column_for(args.negative, args.column))
    else:
        texts, values = _read_records(args.input, args.column, args.value_column, numeric=True)
    editor = _load(args.model)
    goal = ""
    if args.head is not None:
        head = _require(editor.heads, args.head, "head", "fit one with latentedit fit-head")
        goal = _goal(args.target, head)
        if head.config.kind == "regression" and goal not in ("max", "min"):
            raise InputError(f"head {args.head!r} is a regression head: --target must be max or min "
                             "(a shift arrives once the head predicts more, or less, than for the source)")
        parse_targets({args.head: goal}, editor.heads)
    replaced = args.name in editor.directions
    if pairs:
        direction = editor.learn_direction(args.name, positive, negative, method=args.method or "mean",
                                           head=args.head or "", target=goal, description=args.description)
    else:
        direction = editor.learn_direction(args.name, texts=texts, values=values, head=args.head or "",
                                           target=goal, description=args.description)
    editor.save(folder)
    report = {**direction.describe(), "model": str(folder), "replaced": replaced}
    if args.json:
        print(_dumps(report))
        return
    note = " (replaced the previous direction of that name)" if replaced else ""
    examples = (f"{direction.positive_examples} positive and {direction.negative_examples} negative texts" if pairs
                else f"{direction.positive_examples} texts with values")
    print(f"direction {args.name!r} ({direction.method}, norm {float(direction.vector.norm()):.3f}) from {examples}; "
          f"saved to {folder}{note}")


def run_interpolate(args) -> None:
    editor = _load(args.model, args.refine)
    points = editor.interpolate(args.start, args.end, steps=args.steps, method=args.method, num_beams=args.beams,
                                python_syntax=args.python_syntax)
    _emit(args, [{"t": round(p.t, 3), "text": p.text} for p in points], ["t", "text"])


def run_sample(args) -> None:
    editor = _load(args.model)
    texts = editor.sample(args.n, temperature=args.temperature, seed=args.seed, python_syntax=args.python_syntax)
    _emit(args, [{"text": t} for t in texts], ["text"])


def run_info(args) -> None:
    editor = _load(args.model)
    cfg = editor.model.config
    info = {
        "model": str(args.model), "parameters": sum(p.numel() for p in editor.model.parameters()),
        "vocab_size": editor.tokenizer.vocab_size, "code_size": cfg.code_size, **cfg.to_dict(),
    }
    heads = [{**asdict(head.config), "labels": list(head.config.labels)} for head in editor.heads.values()]
    directions = editor.describe_directions()
    if args.json:
        print(json.dumps(_json_safe({**info, "heads": heads, "directions": directions}), indent=2))
        return
    console = Console()
    table = Table(title=f"latentedit model {args.model}", show_header=False)
    for key, value in info.items():
        table.add_row(key, Text(str(value)))
    console.print(table)
    if heads:
        table = Table("head", "kind", "held-out metric", "labels", "examples", "description", title="property heads")
        for h in heads:
            metric = f"{h['metric_name']} {h['metric_value']:.3f}" if h["metric_name"] else "-"
            examples = f"{h['train_examples']} + {h['heldout_examples']} held out"
            table.add_row(*(Text(str(c)) for c in (h["name"], h["kind"], metric, ", ".join(h["labels"]) or "-",
                                                   examples, h["description"])))
        console.print(table)
    else:
        console.print("no property heads (add one with latentedit fit-head)")
    if directions:
        table = Table("direction", "method", "norm", "examples (+/-)", "auto: head -> target", "description",
                      title="directions")
        for d in directions:
            arrival = f"{d['head']} -> {d['target']}" if d["head"] else "-"
            table.add_row(*(Text(str(c)) for c in (d["name"], d["method"], d["norm"],
                                                   f"{d['positive_examples']}/{d['negative_examples']}", arrival,
                                                   d["description"])))
        console.print(table)
    else:
        console.print("no directions (add one with latentedit learn-direction)")


def run_eval(args) -> None:
    import random

    from .data import read_texts
    from .editor import resolve_model
    from .evaluation import evaluate, json_safe

    if Path(args.out).is_file():
        raise InputError(f"--out {args.out} is a file; give a folder")
    labels = None
    if args.labels_column:
        texts, labels = _read_records(args.data, args.column, args.labels_column, numeric=False)
    else:
        texts = read_texts(args.data, _column_for(args.data, args.column))
    if args.max_examples is not None and len(texts) > args.max_examples:
        keep = sorted(random.Random(args.seed).sample(range(len(texts)), args.max_examples))
        texts = [texts[i] for i in keep]
        labels = [labels[i] for i in keep] if labels is not None else None
    folder = resolve_model(args.model)
    metrics = args.metrics
    if metrics is None:
        metrics = next((str(p) for p in (folder / "metrics.jsonl", folder.parent / "metrics.jsonl") if p.is_file()), None)
    else:
        checked_path(metrics)
    report = evaluate(str(folder), texts, labels, kind=args.kind, pairs=args.pairs, k=args.k, out_dir=args.out,
                      seed=args.seed, metrics_path=metrics, iw_examples=args.iw_examples, refine=args.refine,
                      num_beams=args.beams)
    if args.json:
        print(json.dumps(json_safe(report)))
        return
    rec, health, inter, probe = report["reconstruction"], report["health"], report["interpolation"], report["probe"]

    def number(value, digits: int = 3) -> str:
        return "-" if value is None else f"{value:.{digits}f}"

    rows = [("texts", str(report["examples"])),
            ("codes decoded", f"refined {rec['refine']} steps" if rec["refine"] else "posterior means"),
            ("greedy token accuracy / exact match", f"{number(rec['greedy_token_accuracy'])} / "
                                                    f"{number(rec['greedy_exact_match'])}"),
            ("BLEU-4 of reconstructions", number(rec["bleu4"], 1))]
    for method in ("slerp", "lerp"):
        scores = inter[method]
        valid = f", valid {number(scores['valid_share'])}" if "valid_share" in scores else ""
        beams = f", {inter['beams']} beams" if inter["beams"] > 1 else ""
        rows.append((f"{method}: {inter['pairs']} pairs{beams}", f"distinct {number(scores['distinct_share'])}, "
                                                          f"new {number(scores['new_share'])}{valid}"))
    if probe is not None:
        rows.append(("probe accuracy codes / TF-IDF", probe.get("skipped") or
                     f"{number(probe['codes_accuracy'])} / {number(probe['tfidf_accuracy'])} ({probe['folds']} folds)"))
    mmd = health["mmd"] or {}
    rows += [("rate / distortion (nats)", f"{number(health['rate'], 2)} / {number(health['distortion'], 2)}"),
             ("active units", f"{health['active_units']} of {health['code_size']}"),
             ("mutual information / marginal KL", f"{number(health['mutual_information'], 2)} (max "
                                                  f"{number(health['mutual_information_ceiling'], 2)}) / "
                                                  f"{number(health['marginal_kl'], 2)}"),
             ("MMD test vs prior: p-value", number(mmd.get("p_value"))),
             (f"IW NLL (k={health['iw']['k']}) / perplexity", f"{number(health['iw']['nll'], 2)} / "
                                                               f"{number(health['iw']['perplexity'], 2)}")]
    table = Table("metric", "value", title=f"evaluation of {args.model} on {args.data}")
    for name, value in rows:
        table.add_row(name, Text(value))
    Console().print(table)
    print(f"wrote {', '.join(report['files'].values())}", file=sys.stderr)


def run_train(args) -> int:
    from trainers.train import main as train_main

    try:
        return train_main(args.rest, prog="latentedit train")
    except SystemExit as stop:  # --help, or a usage error the trainer's parser reported in one line
        return exit_code(stop)


def run_demo(args) -> None:
    from .demo import run

    run(check_path("--workdir", args.workdir))


# -- helpers ---------------------------------------------------------------------------------


def _load(model: str, refine: int = 0):
    from .editor import LatentEditor

    editor = LatentEditor.load(model)
    editor.quiet = True  # the CLI reports for itself
    editor.refine = refine
    return editor


def _require(available: dict, name: str, what: str, hint: str):
    if name not in available:
        raise InputError(f"unknown {what} {name!r}; available {what}s: "
                         f"{', '.join(map(repr, sorted(available))) or f'none ({hint})'}")
    return available[name]


def _text_source(args) -> Iterator[str]:
    """The texts to process, from arguments or lazily from --input; checks what can be checked
    before the model loads (empty arguments, a readable input, an output that is not a folder)."""
    if args.input and args.texts:
        raise InputError("give texts as arguments or with --input, not both")
    if args.output and check_path("--output", args.output).is_dir():
        raise InputError(f"--output {args.output} is a directory; give a file path")
    if args.input:
        return _input_lines(args.input)
    if not args.texts:
        raise InputError("no texts given: pass them as arguments or use --input FILE")
    for number, text in enumerate(args.texts, 1):
        check_text(text, f"text {number}")
    return iter(args.texts)


def _input_lines(name: str) -> Iterator[str]:
    """The stripped lines of --input, one text each. Unlike data.iter_texts, which skips empty lines,
    an empty line is an error naming it: skipping it would shift every later output line."""
    path = checked_path(name)

    def lines() -> Iterator[str]:
        for number, text in iter_lines(path):
            if not text:
                raise DataFormatError(f"{path}:{number}: empty line; every line must hold a text "
                                      "(outputs are line-aligned with the input)")
            yield text

    return lines()


def _chunks(texts: Iterable[str], size: int) -> Iterator[list[str]]:
    chunk: list[str] = []
    for text in texts:
        chunk.append(text)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _stream(args, texts: Iterator[str], process: Callable[[list[str]], list[dict]], line: Callable[[dict], str],
            columns: tuple[str, ...], title: str) -> None:
    """Process texts chunk by chunk; write each chunk's rows to --output (atomically: the file appears
    only when every chunk succeeded) or print them as JSON lines or a table."""
    count = 0
    if args.output:
        from .model_folder import atomic_file

        with atomic_file(args.output) as stream:
            for chunk in _chunks(texts, CHUNK_LINES):
                for row in process(chunk):
                    stream.write((_dumps(row) if args.json else _one_line(line(row))) + "\n")
                    count += 1
            if not count:
                raise InputError(f"{args.input}: no texts in the file")
        print(f"wrote {count} line(s) to {args.output}", file=sys.stderr)
        return
    console = Console()
    for chunk in _chunks(texts, CHUNK_LINES):
        rows = process(chunk)
        count += len(rows)
        if args.json:
            print("\n".join(_dumps(row) for row in rows), flush=True)
        else:
            table = Table(*columns, title=title)
            for row in rows:
                table.add_row(*(Text(_cell(row, c)) for c in columns))
            console.print(table)
    if not count:
        raise InputError(f"{args.input}: no texts in the file")


def _result_row(result, trajectory: bool) -> dict:
    row = result.to_dict()
    if not trajectory:
        row.pop("trajectory", None)
    return row


def _cell(row: dict, column: str) -> str:
    """Table cells of edit rows (EditResult.to_dict) and plain rows."""
    if column == "source":
        return str(row.get("source_text", row.get("source", "")))
    if column == "edited":
        return row["text"]
    if column == "strength":
        return "-" if row.get("strength") is None else f"{row['strength']:.3g}"
    if column == "scores":
        before, after = row.get("source_scores", {}), row.get("scores", {})
        return "\n".join(f"{name}: {_short(before.get(name))} -> {_short(value)}" for name, value in after.items()) or "-"
    return str(row.get(column, ""))


def _short(value) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _read_records(name: str, text_column: str, target_column: str, numeric: bool) -> tuple[list[str], list]:
    """Texts and their values (numbers) or labels (strings) from a .csv, .tsv or .jsonl file, in
    file order; a row with a missing or empty text, value or label is an error naming its line."""
    path = Path(name)
    if path.suffix.lower().lstrip(".") not in _TABLE_FORMATS:
        raise DataFormatError(f"{path}: texts with values or labels are read from a .csv, .tsv or .jsonl file, "
                              f"not {path.suffix or 'a file without extension'}")
    texts, targets = [], []
    for number, record in iter_records(path, (text_column, target_column)):
        text = record.get(text_column)
        if not isinstance(text, str) or not text.strip():
            raise DataFormatError(f"{path}:{number}: {text_column!r} must be a non-empty text, got {text!r}")
        texts.append(text.strip())
        targets.append(_record_target(path, number, target_column, record.get(target_column), numeric))
    if not texts:
        raise DataFormatError(f"{path}: no rows")
    return texts, targets


def _record_target(path: Path, number: int, column: str, value, numeric: bool):
    where = f"{path}:{number}: {column!r}"
    if value is None or isinstance(value, bool) or (isinstance(value, str) and not value.strip()):
        raise DataFormatError(f"{where} is missing or empty")
    if numeric:
        try:
            number_value = float(value)
        except (TypeError, ValueError):
            raise DataFormatError(f"{where} must be a number, got {value!r}") from None
        if not math.isfinite(number_value):
            raise DataFormatError(f"{where} must be a finite number, got {value!r}")
        return number_value
    if not isinstance(value, (str, int)):
        raise DataFormatError(f"{where} must be a label (text or whole number), got {value!r}")
    return str(value).strip()


def _column_for(name: str, column: str) -> str | None:
    """--column for tables (csv/tsv/jsonl); plain text files have one text per line."""
    return column if Path(name).suffix.lower().lstrip(".") in _TABLE_FORMATS else None


def _output_folder(args, what: str) -> Path:
    """Where fit-head / learn-direction save: --output-model, else the --model folder itself.

    Never into a built-in model inside the package; never over another existing folder (that would
    drop the heads and directions it holds): to add to a folder, pass it as --model."""
    from .editor import BUILTIN_MODELS, resolve_model

    source = resolve_model(args.model)  # a missing model fails here, before any work
    target = check_path("--output-model", args.output_model) if args.output_model else source
    if _inside(target, BUILTIN_MODELS):
        raise InputError(f"model {args.model!r} is built into the latentedit package and is not changed in place; "
                         f"pass --output-model DIR to save a copy with the new {what}")
    if args.output_model and target.exists():
        if not target.is_dir():
            raise InputError(f"--output-model {target} is a file; give a folder")
        if any(target.iterdir()) and target.resolve() != source.resolve():
            raise InputError(f"--output-model {target} already exists and is not the --model folder; to add the "
                             f"{what} to it pass --model {target}, or choose a new folder")
    return target


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False


def _json_safe(value):
    """NaN and infinities (e.g. an undefined held-out metric) become null: JSON has no such numbers."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def _dumps(row) -> str:
    return json.dumps(_json_safe(row))


def _one_line(text: str) -> str:
    """An output text on one line: line breaks become spaces."""
    return LINE_BREAKS.sub(" ", text)


def _emit(args, rows: list[dict], columns: list[str]) -> None:
    """Print rows as JSON lines or a table."""
    if args.json:
        print("\n".join(_dumps(r) for r in rows))
    else:
        table = Table(*columns)
        for row in rows:
            table.add_row(*(Text(str(row[c])) for c in columns))
        Console().print(table)


if __name__ == "__main__":
    sys.exit(main())
