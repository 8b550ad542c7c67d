"""The main job (``latentedit demo``): a short tour of latentedit on the shipped default model.

Offline: reconstructions from the encoder's codes and from refined codes, shifts toward positive
and formal (strength chosen per sentence), one ``optimize`` toward more likes with its trajectory,
and one interpolation. An install without the default
model trains a tiny one on the bundled 400-sentence Yelp sample instead (about two minutes on
2 CPU cores, cached in the work folder) and shows reconstructions and an interpolation.
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


DEMO_REVIEWS = ["the food was cold and the service was slow .", "i would not recommend this place to anyone ."]
DEMO_INFORMAL = ["hey whats up , u coming tonight ?", "lol that movie was sooo bad"]
DEMO_TWEET = "Thank you to everyone who came out tonight. We will win!"
# The shifts keep the source's wording (anchoring or word swaps, then reverting spans the edit did
# not need) with the settings chosen on dev for the shipped model: benchmarks/anchor_dev.py on Yelp
# dev for sentiment, benchmarks/formality_dev.py for formality (benchmarks/results/*_dev*.md). On
# Yelp dev word swaps were far less fluent than the sources; on formality dev, decoded shifts in
# known words wrote twice their sources' words until the length prior ended them near the source's
# length (formality_dev_decoded_prior.md), and then beat word swaps.
# "refine" and "length_prior" are editor settings (steps that refine the source codes, editor.edit_length_prior),
# the rest shift's arguments.
DEMO_SHIFTS = {"positive": {"max_strength": 14.0, "anchor": 10.0, "revert": True, "keep_norm": True, "refine": 10},
               "formal": {"max_strength": 12.0, "anchor": 20.0, "revert": True, "min_gain": 1.5, "keep_norm": True,
                          "refine": 40, "length_prior": 1.0}}
DEMO_REFINE = 10  # refine steps of the reconstruction table: 99% of Yelp dev comes back exactly


def run(workdir: Path) -> None:
    console = Console()
    workdir.mkdir(parents=True, exist_ok=True)  # also fails early and clearly for an unusable folder
    if "default" not in builtin_models():
        _tiny_model_tour(workdir, console)
        return
    editor = LatentEditor.load("default")
    console.print("[bold]latentedit demo[/bold] on the shipped default model (offline)")
    _describe(console, editor)
    _reconstruction_table(console, editor, "sentences the model never trained on", DEMO_REVIEWS + DEMO_INFORMAL,
                          refine=DEMO_REFINE)
    _shift_table(console, editor, "positive", DEMO_REVIEWS, "sentiment")
    _shift_table(console, editor, "formal", DEMO_INFORMAL, "formality")
    _optimize_table(console, editor, DEMO_TWEET, "likes")
    _interpolation_table(console, editor, DEMO_REVIEWS[0], "the staff was friendly and the food was great .")


def _tiny_model_tour(workdir: Path, console: Console) -> None:
    """No default model in this install: train a tiny one on the bundled sample and show it."""
    train_texts, held_out = _split_sample()
    editor = LatentEditor.load(_demo_model(workdir, train_texts, held_out, console))
    _describe(console, editor)
    _reconstruction_table(console, editor, "held-out sentences (never trained on)", held_out[:6])
    _reconstruction_table(console, editor, "training sentences", train_texts[:: len(train_texts) // 5][:5])
    _interpolation_table(console, editor, train_texts[0], train_texts[-1])
    console.print("prior samples:", *[f"  - {t}" for t in editor.sample(3, seed=0)], sep="\n")


def _describe(console: Console, editor: LatentEditor) -> None:
    cfg = editor.model.config
    heads, directions = ", ".join(sorted(editor.heads)) or "none", ", ".join(sorted(editor.directions)) or "none"
    console.print(f"model: {sum(p.numel() for p in editor.model.parameters()) / 1e6:.1f} M parameters, "
                  f"code {cfg.latent_tokens} x {cfg.latent_dim} = {cfg.code_size} numbers, regulariser {cfg.regularizer}; "
                  f"heads: {heads}; directions: {directions}")


def _shift_table(console: Console, editor: LatentEditor, direction: str, texts: list[str], head: str) -> None:
    settings = dict(DEMO_SHIFTS[direction])
    flags = " ".join(f"--{name.replace('_', '-')}" + ("" if value is True else f" {value:g}")
                     for name, value in settings.items() if value is not False)
    table = Table("input", f"{head} before", f"shifted {direction} (strength auto)", "strength", f"{head} after",
                  title=f"latentedit shift --direction {direction} --strength auto {flags}")
    editor.refine, editor.edit_length_prior = settings.pop("refine", 0), settings.pop("length_prior", 0.0)
    try:
        results = editor.shift(texts, direction, strength="auto", **settings)
    finally:
        editor.refine, editor.edit_length_prior = 0, 0.0
    for result in results:
        table.add_row(result.source_text, _shown(result.source_scores.get(head)), result.text,
                      f"{result.strength:.2f}", _shown(result.scores.get(head)))
    console.print(table)


def _optimize_table(console: Console, editor: LatentEditor, text: str, head: str) -> None:
    # select="closest": the lowest-loss candidate far along the path is often word salad the head
    # over-rates; the closest candidate the head still scores higher keeps the tweet readable
    result = editor.optimize(text, target={head: "max"}, select="closest", seed=0)
    table = Table("step", "candidate (decoded, then re-scored)", head, "similarity",
                  title=f"latentedit optimize --head {head} --target max --select closest (the chosen candidate is bold)")
    for row in result.trajectory:
        chosen = row["text"] == result.text
        style = "bold" if chosen else None
        table.add_row(str(row["step"]), row["text"], _shown(row["scores"][head]),
                      f"{row['similarity']:.2f}", style=style)
    console.print(table)
    console.print(f"{head}: {_shown(result.source_scores.get(head))} -> {_shown(result.scores.get(head))}")


def _interpolation_table(console: Console, editor: LatentEditor, start: str, end: str) -> None:
    table = Table("t", "decoded text", title="slerp interpolation between two sentences")
    for point in editor.interpolate(start, end, steps=7):
        table.add_row(f"{point.t:.2f}", point.text)
    console.print(table)


def _shown(value) -> str:
    return f"{value:+.2f}" if isinstance(value, float) else str(value)


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


def _reconstruction_table(console: Console, editor: LatentEditor, title: str, texts: list[str], refine: int = 0) -> None:
    """Greedy reconstructions of texts; with ``refine``, also from codes refined that many steps."""
    if not refine:
        table = Table("input", "reconstruction", "exact", title=f"reconstruction of {title}")
        for source, output in zip(texts, editor.reconstruct(texts)):
            table.add_row(source, output, "yes" if source == output else "")
    else:
        table = Table("input", "from the encoder's code", f"from the code refined <= {refine} steps",
                      title=f"reconstruction of {title} (latentedit reconstruct [--refine {refine}])")
        for source, plain, refined in zip(texts, editor.reconstruct(texts), editor.decode(editor.encode(texts, refine=refine))):
            table.add_row(source, plain, refined)
    console.print(table)
