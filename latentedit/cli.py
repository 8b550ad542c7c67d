"""The ``latentedit`` command line.

    latentedit demo                                   # the main job: a short tour on a model
    latentedit reconstruct --model M "the food was great ."
    latentedit interpolate --model M "the food was great ." "the service was slow ." --steps 7
    latentedit sample --model M -n 5
    latentedit encode --model M --input in.txt --output codes.jsonl
    latentedit info --model M
    latentedit train trainers/configs/sample.toml     # same as python -m trainers.train

Bad input gives a one-line message on stderr and exit code 2; outputs are written atomically.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

from rich.console import Console
from rich.table import Table

from .errors import LatentEditError

DEFAULT_MODEL = "default"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.showwarning = lambda message, *rest: print(f"warning: {message}", file=sys.stderr)
            return args.handler(args) or 0
    except LatentEditError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="latentedit", description="Edit text through the latent space of a Transformer-VAE.")
    commands = parser.add_subparsers(title="commands")

    def command(name: str, handler, help_text: str, model: bool = True) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(handler=handler)
        if model:
            sub.add_argument("--model", default=DEFAULT_MODEL, help="model folder or built-in name (default: %(default)s)")
            sub.add_argument("--json", action="store_true", help="machine-readable JSON output")
        return sub

    demo = command("demo", run_demo, "Run a short tour: reconstructions and an interpolation.", model=False)
    demo.add_argument("--workdir", default=str(Path.home() / ".cache" / "latentedit" / "demo"),
                      help="where the demo trains its tiny model when no default model ships (default: %(default)s)")

    for name, handler, help_text in (("reconstruct", run_reconstruct, "Encode then decode texts."),
                                     ("encode", run_encode, "Print latent codes (posterior means) of texts.")):
        sub = command(name, handler, help_text)
        sub.add_argument("texts", nargs="*", help="texts (or use --input)")
        sub.add_argument("--input", help="file with one text per line")
        sub.add_argument("--output", help="write results here, one per line, instead of printing")

    interpolate = command("interpolate", run_interpolate, "Decode points between the codes of two texts.")
    interpolate.add_argument("start")
    interpolate.add_argument("end")
    interpolate.add_argument("--steps", type=int, default=11)
    interpolate.add_argument("--method", choices=("slerp", "lerp"), default="slerp")

    sample = command("sample", run_sample, "Decode codes drawn from the prior.")
    sample.add_argument("-n", type=int, default=5)
    sample.add_argument("--temperature", type=float, default=1.0)
    sample.add_argument("--seed", type=int, default=0)

    command("info", run_info, "Describe a model: architecture, size, training provenance.")

    train = command("train", run_train, "Train a model from a TOML config (see trainers/configs).", model=False)
    train.add_argument("rest", nargs=argparse.REMAINDER, help="arguments of python -m trainers.train")
    return parser


# -- commands --------------------------------------------------------------------------------


def run_reconstruct(args) -> None:
    editor = _load(args.model)
    texts = _texts(args)
    outputs = []
    for start in range(0, len(texts), editor.batch_size):
        outputs.extend(editor.reconstruct(texts[start : start + editor.batch_size]))
    _emit(args, [{"source": s, "text": t} for s, t in zip(texts, outputs)], ["source", "text"], line_key="text")


def run_encode(args) -> None:
    editor = _load(args.model)
    texts = _texts(args)
    codes = editor.encode(texts)
    rows = [{"text": t, "latent": [round(v, 6) for v in c.tolist()]} for t, c in zip(texts, codes)]
    if args.output:
        _write_lines(args.output, [json.dumps(r) for r in rows])
    else:
        print("\n".join(json.dumps(r) for r in rows))


def run_interpolate(args) -> None:
    editor = _load(args.model)
    points = editor.interpolate(args.start, args.end, steps=args.steps, method=args.method)
    _emit(args, [{"t": round(p.t, 3), "text": p.text} for p in points], ["t", "text"])


def run_sample(args) -> None:
    editor = _load(args.model)
    texts = editor.sample(args.n, temperature=args.temperature, seed=args.seed)
    _emit(args, [{"text": t} for t in texts], ["text"])


def run_info(args) -> None:
    editor = _load(args.model)
    cfg = editor.model.config
    info = {
        "model": str(args.model), "parameters": sum(p.numel() for p in editor.model.parameters()),
        "vocab_size": editor.tokenizer.vocab_size, "code_size": cfg.code_size, **cfg.to_dict(),
    }
    if args.json:
        print(json.dumps(info, indent=2))
        return
    table = Table(title=f"latentedit model {args.model}", show_header=False)
    for key, value in info.items():
        table.add_row(key, str(value))
    Console().print(table)


def run_train(args) -> int:
    from trainers.train import main as train_main

    return train_main(args.rest)


def run_demo(args) -> None:
    from .demo import run

    run(Path(args.workdir))


# -- helpers ---------------------------------------------------------------------------------


def _load(model: str):
    from .editor import LatentEditor

    return LatentEditor.load(model)


def _texts(args) -> list[str]:
    from .data import read_texts

    if args.input and args.texts:
        raise LatentEditError("give texts as arguments or with --input, not both")
    if args.input:
        return read_texts(args.input)
    if not args.texts:
        raise LatentEditError("no texts given: pass them as arguments or use --input FILE")
    return list(args.texts)


def _emit(args, rows: list[dict], columns: list[str], line_key: str | None = None) -> None:
    """Write rows to --output (one text per line), or print them as JSON lines or a table."""
    if getattr(args, "output", None):
        _write_lines(args.output, [str(r[line_key or columns[-1]]) for r in rows])
    elif args.json:
        print("\n".join(json.dumps(r) for r in rows))
    else:
        table = Table(*columns)
        for row in rows:
            table.add_row(*(str(row[c]) for c in columns))
        Console().print(table)


def _write_lines(path: str, lines: list[str]) -> None:
    from .model_folder import atomic_file

    with atomic_file(path) as stream:
        for line in lines:
            stream.write(line.replace("\n", " ") + "\n")


if __name__ == "__main__":
    sys.exit(main())
