"""Continue a model on a lent GPU machine for a fixed time, in one call, and bring it back.

A machine lent for minutes takes a copy of the repository and little else (this project's device
tool: 64 MiB of files in, at most 8 files of 16 MiB each back from ``$OUT``). The default corpus
and the model's weights are each too large for that as they are, so this module packs the one and
splits the other:

    python -m trainers.default_corpus                       # here: runs/default/corpus
    python -m trainers.lent_gpu pack                        # here: gzipped into runs/gpu-carry (carry it)
    python3 -m trainers.lent_gpu train --minutes 7          # there: trains, writes the run to $OUT
    python -m trainers.lent_gpu unpack FILES                # here: the returned files -> runs/default-gpu
    python -m trainers.build_default --model runs/default-gpu/model --earlier-stage latentedit/models/default \\
        --out runs/default-gpu/built                        # here: heads, directions, card

``train`` runs ``trainers/configs/default_gpu.toml`` (the shipped default model continued, batch 512,
bf16) with ``training.max_minutes`` set, so that the run stops on time with its schedule decayed
(see trainers/train.py); ``python_lines_gpu.toml`` does the same for the python-lines model (its
header has the commands). On a machine without CUDA it trains on the CPU (a warning says so): that
is how the tests run it, on a tiny config.
"""

from __future__ import annotations

import gzip
import os
import shutil
import sys
from pathlib import Path

import torch

from latentedit.cli import OneLineParser
from latentedit.errors import ConfigError, LatentEditError
from latentedit.model import TransformerVAE
from latentedit.model_folder import atomic_file

from .config import TrainConfig
from .train import train

CORPUS = Path("runs/default/corpus")
CARRY = Path("runs/gpu-carry")  # what travels: the corpus, gzipped (the config reads it unpacked here)
CONFIG = Path("trainers/configs/default_gpu.toml")
RETURNED = Path("runs/default-gpu")
CORPUS_FILES = ("train.txt", "valid.txt")
PART_BYTES = 15 * 2**20  # returned files stay under the device tool's 16 MiB per file
MAX_RETURNED_FILES = 8
PART = ".part"  # model.safetensors -> model.safetensors.part0, .part1, ...
RUN_FILES = ("metrics.jsonl", "curves.png")  # the run's logs, beside the model's own files


def pack(corpus: Path = CORPUS, carry: Path = CARRY, train_file: str = "train.txt") -> list[Path]:
    """Gzip the corpus files into ``carry`` (about a third of their size); -> the packed files.
    ``train_file``: the corpus file that travels as train.txt (e.g. python-lines' train_extra.txt)."""
    packed = []
    for name in CORPUS_FILES:
        source = corpus / (train_file if name == "train.txt" else name)
        if not source.is_file():
            raise ConfigError(f"{source} does not exist: build the corpus first (python -m trainers.default_corpus)")
        target = carry / f"{name}.gz"
        with source.open("rb") as stream, atomic_file(target, "wb", encoding=None) as out:
            with gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as zipped:
                shutil.copyfileobj(stream, zipped)
        packed.append(target)
    return packed


def unpack_corpus(carry: Path = CARRY) -> None:
    """Gunzip the packed corpus files beside themselves (where the config reads them)."""
    for name in CORPUS_FILES:
        with gzip.open(carry / f"{name}.gz", "rb") as stream, atomic_file(carry / name, "wb", encoding=None) as out:
            shutil.copyfileobj(stream, out)


def send_back(run: Path, out: Path) -> list[Path]:
    """Copy the run's model files and logs into ``out``, splitting files over PART_BYTES."""
    out.mkdir(parents=True, exist_ok=True)
    sources = sorted((run / "model").iterdir()) + [run / name for name in RUN_FILES if (run / name).exists()]
    written = []
    for source in sources:
        if source.is_dir():
            raise ConfigError(f"{source} is a folder: only a bare model folder (no heads or directions) travels back")
        data = source.read_bytes()
        if len(data) <= PART_BYTES:
            written.append(out / source.name)
            written[-1].write_bytes(data)
            continue
        for index, start in enumerate(range(0, len(data), PART_BYTES)):
            written.append(out / f"{source.name}{PART}{index}")
            written[-1].write_bytes(data[start : start + PART_BYTES])
    if len(written) > MAX_RETURNED_FILES:
        raise ConfigError(f"{len(written)} files to send back; the device tool returns at most {MAX_RETURNED_FILES}")
    return written


def unpack(returned: Path, dest: Path = RETURNED) -> Path:
    """Rebuild the model folder (``dest``/model) and logs from the files ``send_back`` wrote;
    -> the model folder, checked to load."""
    model = dest / "model"
    model.mkdir(parents=True, exist_ok=True)
    parts: dict[str, dict[int, Path]] = {}  # file name -> {part index: part}
    for path in sorted(returned.iterdir()):
        name, _, index = path.name.partition(PART)
        if index:
            parts.setdefault(name, {})[int(index)] = path
        else:
            shutil.copyfile(path, (dest if name in RUN_FILES else model) / name)
    for name, pieces in parts.items():
        if sorted(pieces) != list(range(len(pieces))):
            raise ConfigError(f"{returned}: the parts of {name} are {sorted(p.name for p in pieces.values())}; one is missing")
        with atomic_file(model / name, "wb", encoding=None) as out:
            for index in range(len(pieces)):
                out.write(pieces[index].read_bytes())
    TransformerVAE.from_pretrained(model)  # fails loudly if a file went missing or is damaged
    return model


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="python -m trainers.lent_gpu", description=__doc__.split("\n\n")[0])
    verbs = parser.add_subparsers(dest="verb", required=True)
    packing = verbs.add_parser("pack", help="gzip a corpus's train.txt and valid.txt into a folder to carry")
    packing.add_argument("--corpus", default=str(CORPUS), help="the corpus folder (default: the default model's)")
    packing.add_argument("--carry", default=str(CARRY), help="the folder that travels (the config's [data] reads it)")
    packing.add_argument("--train-file", default="train.txt", help="the corpus file that travels as train.txt")
    run = verbs.add_parser("train", help="on the lent machine: train for --minutes, write the run to $OUT")
    run.add_argument("--minutes", type=float, required=True, help="training.max_minutes (leave time to start and save)")
    run.add_argument("--config", default=str(CONFIG), help="training config (its [data] reads runs/gpu-carry)")
    run.add_argument("--out", default=os.environ.get("OUT", ""), help="where the returned files go (default: $OUT)")
    run.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE", help="config override")
    back = verbs.add_parser("unpack", help="here: rebuild runs/default-gpu from the returned files")
    back.add_argument("returned", help="the folder holding the files the train call returned")
    back.add_argument("--dest", default=str(RETURNED), help="run folder to rebuild (model/ and logs)")
    args = parser.parse_args(argv)
    try:
        if args.verb == "pack":
            for path in pack(Path(args.corpus), Path(args.carry), args.train_file):
                print(f"{path}: {path.stat().st_size / 2**20:.1f} MiB")
        elif args.verb == "train":
            if not args.out:
                raise ConfigError("--out is empty and $OUT is not set: say where the returned files go")
            if not torch.cuda.is_available():
                print("warning: no CUDA device here; training on the CPU", file=sys.stderr)
            config = TrainConfig.load(args.config, [*args.set, f"training.max_minutes={args.minutes}"])
            unpack_corpus(Path(config.data.train).parent)
            final = train(config, show_progress=False)
            for path in send_back(final.parent, Path(args.out)):
                print(f"{path}: {path.stat().st_size / 2**20:.1f} MiB")
        else:
            print(f"model rebuilt in {unpack(Path(args.returned), Path(args.dest))}")
    except (LatentEditError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
