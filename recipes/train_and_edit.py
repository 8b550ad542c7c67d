"""Train a Transformer-VAE on your own labelled texts, then edit texts through its latent space.

    python recipes/train_and_edit.py                                   # the bundled Yelp sample
    python recipes/train_and_edit.py --data reviews.csv --text-column review --label-column stars \
        --positive 5 --negative 1 --steps 5000 --out runs/reviews

Steps: train the VAE (trainers/, config trainers/configs/sample.toml plus your overrides), fit a
classification head on the label column, learn a direction from the positive to the negative
examples, and print a table of texts shifted along it with the head's verdict on each output
(re-encoded). The model folder, with its head and direction, is saved to <out>/model.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from latentedit import LatentEditError, LatentEditor  # noqa: E402
from latentedit.data import SAMPLE_REVIEWS, read_texts  # noqa: E402
from trainers.config import TrainConfig  # noqa: E402
from trainers.train import train  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(SAMPLE_REVIEWS), help="CSV/TSV/JSONL with a text and a label column")
    parser.add_argument("--text-column", default="text")
    parser.add_argument("--label-column", default="label")
    parser.add_argument("--positive", default="1", help="label value of the direction's target side")
    parser.add_argument("--negative", default="0", help="label value of the direction's source side")
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--out", default="runs/train_and_edit")
    parser.add_argument("--show", type=int, default=8, help="how many negative texts to shift in the table")
    args = parser.parse_args(argv)
    console = Console()
    try:
        texts = read_texts(args.data, args.text_column)
        labels = read_texts(args.data, args.label_column)
        if len(texts) != len(labels):
            raise LatentEditError(f"{args.data}: {len(texts)} texts but {len(labels)} labels (empty cells?)")
        config = TrainConfig.load(REPO / "trainers" / "configs" / "sample.toml", [
            f'data.train="{args.data}"', f'data.column="{args.text_column}"',
            f"training.steps={args.steps}", f'training.output_dir="{args.out}"',
        ])
        editor = LatentEditor.load(train(config))
        editor.fit_head("label", texts, labels=labels)
        positive = [t for t, label in zip(texts, labels) if label == args.positive]
        negative = [t for t, label in zip(texts, labels) if label == args.negative]
        editor.learn_direction("towards_positive", positive, negative, head="label", target=args.positive)
        editor.save(Path(args.out) / "model")

        table = Table("source", "strength 1.0", "auto strength", "verdict", title="shifted along towards_positive")
        for fixed, auto in zip(editor.shift(negative[: args.show], "towards_positive"),
                               editor.shift(negative[: args.show], "towards_positive", strength="auto")):
            table.add_row(fixed.source_text, fixed.text, f"{auto.text}  ({auto.strength:.2f})", str(auto.scores["label"]))
        console.print(table)
        console.print(f"model with head 'label' and direction 'towards_positive' saved to {Path(args.out) / 'model'}")
    except LatentEditError as error:
        console.print(f"error: {error}", style="red")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
