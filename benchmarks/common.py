"""Pieces shared by the benchmarks (style_transfer.py, formality.py; edit_speed.py for library_revision).

Not part of the library: run the benchmarks as scripts (``python benchmarks/style_transfer.py``),
which puts this folder on ``sys.path``.
"""

from __future__ import annotations

import datetime
import json
import math
import os
import platform
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import torch

import latentedit
from latentedit.directions import Direction
from latentedit.errors import LatentEditError
from latentedit.model_folder import atomic_file
from latentedit.substitute import PROPOSALS_PER_WORD, SUBSTITUTION_ROUNDS

RESULTS = Path(__file__).resolve().parent / "results"
PYTHON_CORPUS = Path("runs/regularizers/python-corpus")  # where benchmarks/regularizers.py builds it


def add_edit_options(ap, sweep: tuple[float, ...]) -> None:
    """The options every edit benchmark shares: strengths, the auto-strength grid, threads, device."""
    ap.add_argument("--strength", type=float, default=1.0, help="the fixed strength of the shift rows")
    ap.add_argument("--max-strength", type=float, default=4.0, help="largest strength tried by strength='auto'")
    ap.add_argument("--grid", type=int, default=8, help="strengths tried by strength='auto' (N of those rows)")
    ap.add_argument("--anchor", type=float, default=0.0, help="source anchoring (logit bonus for continuing the "
                                                              "source text) of the strength='auto' rows")
    ap.add_argument("--revert", action="store_true", help="the strength='auto' rows revert changed word spans to the "
                                                          "source's wording while the head still accepts (revert=True)")
    ap.add_argument("--substitute", type=float, default=0.0, metavar="S",
                    help="the strength='auto' rows first try word swaps proposed by the code moved S along the "
                         "direction (substitute=S; 0: no swaps)")
    ap.add_argument("--select", choices=("smallest", "closest"), default="smallest",
                    help="the strength='auto' rows keep the smallest strength that arrives, or the arrived text most "
                         "similar to the source (select='closest'; with --revert, partial reverts of each compete)")
    ap.add_argument("--keep-norm", action="store_true", help="the strength='auto' rows scale each moved code back to its "
                                                             "source code's norm (keep_norm=True)")
    ap.add_argument("--sweep", default=",".join(map(str, sweep)), help="strengths of the sweep (the trade-off curve), "
                                                                      "comma separated")
    ap.add_argument("--refine", type=int, default=0, metavar="N",
                    help="every latentedit row starts from codes refined N steps (latentedit/refine.py; 0: the "
                         "encoder's codes)")
    ap.add_argument("--beams", type=int, default=1, metavar="B", help="decode every latentedit edit by anchored beam "
                                                                       "search with B beams (editor.edit_beams; 1: greedy)")
    ap.add_argument("--length-prior", type=float, default=0.0, metavar="W",
                    help="decode every latentedit edit with W added to the </s> logit per token past its source's length "
                         "(editor.edit_length_prior; 0: none)")
    ap.add_argument("--any-words", action="store_true", help="edits may write any words, not only words of the model's "
                                                             "lexicon or their source (editor.known_words=False)")
    ap.add_argument("--threads", type=int, default=1, help="torch (and BLAS) threads")
    ap.add_argument("--device", default="cpu", help="torch device for the model")


def edit_settings(editor, args) -> list[str]:
    """Set the editor's decoding of edits from the shared options (--beams, --length-prior,
    --any-words); the notes that say how every latentedit row starts and decodes."""
    editor.known_words, editor.edit_beams, editor.edit_length_prior = not args.any_words, args.beams, args.length_prior
    notes = []
    if args.refine:
        notes.append(f"every latentedit row starts from codes refined {args.refine} steps (--refine; latentedit/refine.py)")
    if editor.lexicon is not None:
        notes.append("every latentedit edit writes only words of the model's lexicon or of its source (latentedit/lexicon.py)"
                     if editor.known_words else "latentedit edits may write any words (--any-words)")
    if args.beams > 1:
        notes.append(f"every latentedit edit is decoded by anchored beam search with {args.beams} beams (--beams)")
    if args.length_prior:
        notes.append(f"every latentedit edit is decoded with {args.length_prior:g} added to the </s> logit per token past "
                     "its source's length (--length-prior)")
    return notes


def auto_candidates(args, anchor: float | None = None, revert: bool | None = None,
                    substitute: float | None = None) -> int | str:
    """N of a strength='auto' row (at args.anchor, args.revert and args.substitute unless given):
    with word swaps, the swaps tried first (PROPOSALS_PER_WORD per word and round, at most
    SUBSTITUTION_ROUNDS rounds); then the grid's strengths, twice when anchored (texts that
    arrive at no strength anchored are tried again unanchored); and when reverting the reverts
    tried too."""
    anchor = args.anchor if anchor is None else anchor
    revert = args.revert if revert is None else revert
    substitute = args.substitute if substitute is None else substitute
    n = args.grid * (2 if anchor else 1)
    swaps = f"{PROPOSALS_PER_WORD}/word x {SUBSTITUTION_ROUNDS} swaps + " if substitute else ""
    return f"{swaps}{n} + reverts" if revert else f"{swaps}{n}" if swaps else n


def parse_edit_args(ap, argv, name: str):
    """Parse, check the shared options, and default --out to results/<name>.json (<name>_quick.json with --quick)."""
    args = ap.parse_args(argv)
    try:
        args.sweep = [float(s) for s in args.sweep.split(",") if s.strip()]
    except ValueError:
        ap.error("--sweep takes numbers separated by commas")
    if args.grid < 1 or args.threads < 1 or args.beams < 1:
        ap.error("--grid, --threads and --beams must be >= 1")
    if not (args.anchor >= 0 and args.length_prior >= 0) or args.refine < 0:
        ap.error("--anchor, --length-prior and --refine must be >= 0")
    if args.out is None:
        args.out = str(RESULTS / (f"{name}_quick.json" if args.quick else f"{name}.json"))
    return args


def parse_number_lists(ap, args, names: tuple[str, ...], may_be_empty: tuple[str, ...] = (),
                       switches: tuple[str, ...] = ()) -> None:
    """Turn each comma-separated option of ``names`` into a list of non-negative finite numbers
    (empty allowed for ``may_be_empty``; only 0 and 1 for the on/off ``switches``), or stop with an
    argparse error naming the option."""
    for name in names:
        option = f"--{name.replace('_', '-')}"
        try:
            values = [float(v) for v in getattr(args, name).split(",") if v.strip()]
        except ValueError:
            values = []
        if (name not in may_be_empty and not values) or any(not math.isfinite(v) or v < 0 for v in values):
            ap.error(f"{option} takes non-negative numbers separated by commas")
        if name in switches and any(v not in (0, 1) for v in values):
            ap.error(f"{option} takes 0 (off) and/or 1 (on)")
        setattr(args, name, values)


def python_lines_split(corpus: str | Path, split: str) -> list[str]:
    """The lines of a Python-lines corpus split ("valid", "test"), building the corpus in
    ``corpus`` first when the split is missing (latentedit.python_lines)."""
    from latentedit.python_lines import build_python_lines

    path = Path(corpus) / f"{split}.txt"
    if not path.is_file():
        print(f"building the Python-lines corpus in {corpus}", file=sys.stderr)
        build_python_lines(corpus)
    return path.read_text(encoding="utf-8").splitlines()


def load_editor(model: str, device: str = "cpu", refine: int = 0):
    """(quiet editor refining ``refine`` steps, None), or (None, why) when ``model`` is "none" or
    cannot be loaded."""
    if model.lower() == "none":
        return None, "--model none: the latentedit rows were not run"
    from latentedit import LatentEditor

    try:
        editor = LatentEditor.load(model, device=device)
    except (LatentEditError, OSError) as error:
        return None, f"model {model!r} not loaded ({error}); the latentedit rows were skipped"
    editor.quiet, editor.refine = True, refine
    return editor, None


def pyplot():
    """matplotlib.pyplot on the Agg backend (files only, no display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(figure, path: Path) -> None:
    """Write a figure to path as PNG, atomically, and close it."""
    with atomic_file(path, "wb") as stream:
        figure.savefig(stream, format="png", dpi=110, bbox_inches="tight")
    pyplot().close(figure)


def random_direction(like: Direction, name: str, seed: int) -> Direction:
    """A direction along a seeded random unit vector, with the norm, head and target of ``like``."""
    generator = torch.Generator().manual_seed(seed)
    vector = torch.randn(like.vector.shape[0], generator=generator)
    vector = vector / vector.norm() * like.vector.norm()
    return Direction(name, vector, "mean", description=f"random, norm of {like.name!r}, seed {seed}",
                     head=like.head, target=like.target)


def truncated_count(editor, texts: list[str]) -> int:
    """How many texts the model cuts at its max_length before encoding."""
    return int(editor.tokenizer.encode(list(texts), editor.model.config.max_length).truncated)


def model_summary(editor, source: str) -> dict:
    config = editor.model.config
    return {"source": source, "code_size": config.code_size, "max_length": config.max_length,
            "parameters": sum(p.numel() for p in editor.model.parameters()),
            "heads": {name: {"kind": h.config.kind, "labels": list(h.config.labels), h.config.metric_name or "metric":
                             h.config.metric_value} for name, h in editor.heads.items()},
            "directions": editor.describe_directions()}


@contextmanager
def stopwatch(record: dict, key: str):
    started = time.perf_counter()
    yield
    record[key] = round(time.perf_counter() - started, 2)


def library_revision() -> dict:
    """The git commit measured, and whether latentedit/ or trainers/ differ from it."""
    where = Path(latentedit.__file__).resolve().parent.parent

    def git(*command: str) -> str:
        try:
            done = subprocess.run(["git", *command], cwd=where, capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            return ""
        return done.stdout.strip() if done.returncode == 0 else ""

    return {"commit": git("rev-parse", "HEAD") or None, "latentedit_path": str(where / "latentedit"),
            "library_modified": bool(git("status", "--porcelain", "--", "latentedit", "trainers"))}


def environment(threads: int) -> dict:
    import sklearn

    return {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "git": library_revision(), "latentedit": latentedit.__version__, "torch": torch.__version__,
            "scikit_learn": sklearn.__version__, "python": platform.python_version(), "cpu_count": os.cpu_count(),
            "torch_threads": threads}


def write_json(result: dict, path: Path) -> None:
    from latentedit.evaluation import json_safe

    with atomic_file(path) as stream:
        stream.write(json.dumps(json_safe(result), indent=2) + "\n")


def write_text(text: str, path: Path) -> None:
    with atomic_file(path) as stream:
        stream.write(text)


def interpolation_scores(editor, pairs: list[tuple[str, str]], kind: str, refine: int | None = None,
                         num_beams: int = 1, python_syntax: bool = False) -> tuple[dict, dict[str, list[list[str]]]]:
    """Slerp and lerp scores of the pairs' interpolation paths (latentedit.evaluation), each method
    with its first path as ``<method>_sample``; and the paths of each method."""
    from latentedit.evaluation import interpolation_paths, score_interpolations

    scores, paths = {}, {}
    for method in ("slerp", "lerp"):
        paths[method] = interpolation_paths(editor, pairs, method=method, refine=refine, num_beams=num_beams,
                                            python_syntax=python_syntax)
        scores[method] = score_interpolations(paths[method], kind, pairs)
        scores[f"{method}_sample"] = paths[method][0]
    return scores, paths


def write_outputs(folder: Path, outputs: dict[str, list[str]]) -> None:
    """Each row's outputs as ``folder/<key>.txt``, one text per line; the .txt files of rows that
    this run does not have are removed, so the folder never holds a stale row."""
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.txt"):
        if stale.stem not in outputs:
            stale.unlink()
    for key, texts in outputs.items():
        write_text("".join(t.replace("\n", " ") + "\n" for t in texts), folder / f"{key}.txt")


def fmt(value, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def markdown_table(headers: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(headers) + " |", "| " + " | ".join("---" for _ in headers) + " |",
            *["| " + " | ".join(row) + " |" for row in rows]]


def print_table(title: str, headers: list[str], rows: list[list[str]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for i, header in enumerate(headers):
        table.add_column(header, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*row)
    Console(width=150).print(table)
