"""The main job (``latentedit demo``): a short tour of latentedit on a model.

Uses the shipped default model when the package has one. Until then it trains a tiny model
on the bundled 400-sentence Yelp sample (about two minutes on 2 CPU cores, cached in the work
folder), then shows reconstructions of held-out and training sentences and an interpolation.
"""

from __future__ import annotations

import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from .data import SAMPLE_REVIEWS, read_texts
from .editor import LatentEditor, builtin_models
from .errors import ModelFolderError
from .model_folder import atomic_file, read_config

HELD_OUT_PER_CLASS = 10


def run(workdir: Path) -> None:
    console = Console()
    if "default" in builtin_models():
        editor = LatentEditor.load("default")
        train_texts, held_out = [], read_texts(SAMPLE_REVIEWS, column="text")[:: 40]
        console.print("[bold]latentedit demo[/bold] on the shipped default model")
    else:
        train_texts, held_out = _split_sample()
        editor = LatentEditor.load(_demo_model(workdir, train_texts, held_out, console))
    cfg = editor.model.config
    console.print(f"model: {sum(p.numel() for p in editor.model.parameters()) / 1e6:.1f} M parameters, "
                  f"code {cfg.latent_tokens} x {cfg.latent_dim} = {cfg.code_size} numbers, regulariser {cfg.regularizer}")

    _reconstruction_table(console, editor, "held-out sentences (never trained on)", held_out[:6])
    if train_texts:
        _reconstruction_table(console, editor, "training sentences", train_texts[:: len(train_texts) // 5][:5])

    start, end = (train_texts[0], train_texts[-1]) if train_texts else (held_out[0], held_out[-1])
    table = Table("t", "decoded text", title="slerp interpolation between two sentences")
    for point in editor.interpolate(start, end, steps=7):
        table.add_row(f"{point.t:.2f}", point.text)
    console.print(table)
    console.print("prior samples:", *[f"  - {t}" for t in editor.sample(3, seed=0)], sep="\n")


def _split_sample() -> tuple[list[str], list[str]]:
    """Hold out the last sentences of each class (the sample is 200 negative then 200 positive)."""
    texts = read_texts(SAMPLE_REVIEWS, column="text")
    half = len(texts) // 2
    held = set(range(half - HELD_OUT_PER_CLASS, half)) | set(range(len(texts) - HELD_OUT_PER_CLASS, len(texts)))
    return [t for i, t in enumerate(texts) if i not in held], [texts[i] for i in sorted(held)]


def _demo_model(workdir: Path, train_texts: list[str], held_out: list[str], console: Console) -> Path:
    """Train the tiny demo model once; later runs reuse it."""
    from trainers.config import TrainConfig
    from trainers.train import train

    model_dir = workdir / "model"
    try:
        read_config(model_dir)
        console.print(f"[bold]latentedit demo[/bold]: reusing the tiny model trained earlier in {model_dir}")
        return model_dir
    except ModelFolderError:
        pass  # not trained yet (the folder is written atomically: a config means a whole model)
    console.print("[bold]latentedit demo[/bold]: no default model ships yet, so this trains a tiny one on the "
                  f"bundled sample ({len(train_texts)} Yelp sentences); about two minutes on 2 CPU cores.")
    workdir.mkdir(parents=True, exist_ok=True)
    for name, texts in (("train.tsv", train_texts), ("valid.tsv", held_out)):
        with atomic_file(workdir / name) as stream:
            stream.write("text\n" + "\n".join(texts) + "\n")
    config_path = Path(__file__).resolve().parent.parent / "trainers" / "configs" / "sample.toml"
    if not config_path.is_file():
        import trainers

        config_path = Path(trainers.__file__).parent / "configs" / "sample.toml"
    config = TrainConfig.load(config_path, [
        f'data.train="{workdir / "train.tsv"}"', f'data.valid="{workdir / "valid.tsv"}"',
        f'training.output_dir="{workdir}"',
    ])
    started = time.perf_counter()
    train(config)
    console.print(f"trained in {time.perf_counter() - started:.0f} s; model saved to {model_dir}")
    return model_dir


def _reconstruction_table(console: Console, editor: LatentEditor, title: str, texts: list[str]) -> None:
    table = Table("input", "reconstruction", "exact", title=f"reconstruction of {title}")
    for source, output in zip(texts, editor.reconstruct(texts)):
        table.add_row(source, output, "yes" if source == output else "")
    console.print(table)
