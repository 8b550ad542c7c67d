"""Probe a model's codes for news topic: logistic regression on the codes against the same classifier on TF-IDF.

    python recipes/headline_probe.py                                # built-in "default" model, all 7,600 titles
    python recipes/headline_probe.py --model runs/x/model --split eval --folds 10 --output probe.json

AG News test titles (World / Sports / Business / Sci/Tech, 1,900 each) are encoded with the model
(posterior means, the flat K*dz code). latentedit.evaluation.probe then runs logistic regression
on the standardised codes and on TF-IDF features (word 1-2 grams, sublinear tf, fitted on each
training fold) over the same stratified folds, and reports both cross-validated accuracies; the
gap (codes - TF-IDF) says how much topic information the latent space keeps compared with the
words themselves. Note: the built-in default model trained on the `head` and `judge` splits of
these titles (reconstruction only, no labels); --split eval probes only titles it never saw.

The examples table shows titles with each classifier's out-of-fold prediction (the same folds).
"""

from __future__ import annotations

import random
import sys

import numpy as np
import recipe_common as common

from latentedit import datasets
from latentedit.evaluation import probe


def parse_args(argv):
    ap = common.parser(__doc__)
    ap.add_argument("--split", choices=("all", *datasets.SPLITS), default="all",
                    help="which titles: all, or one of the package's splits (default: all)")
    ap.add_argument("--limit", type=int, default=0, help="at most this many titles, a seeded sample (0 = all)")
    ap.add_argument("--folds", type=common.positive_int, default=5, help="cross-validation folds (default: 5)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the folds and of the sample (default: 0)")
    ap.add_argument("--show", type=int, default=8, help="examples in the table (default: 8)")
    ap.add_argument("--output", help="write the probe's result as JSON, atomically")
    args = ap.parse_args(argv)
    if args.limit < 0 or args.show < 0:
        ap.error("--limit and --show must be >= 0")
    if args.folds < 2:
        ap.error("--folds must be >= 2")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    return common.run(lambda: run_probe(args), args.threads)


def out_of_fold(codes: np.ndarray, texts: list[str], labels: list[str], folds: int, seed: int) -> dict[str, np.ndarray]:
    """Each classifier's prediction for every title from the model fitted on the other folds (the
    folds, classifiers and features of latentedit.evaluation.probe)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    y = np.asarray(labels)
    return {
        "codes": cross_val_predict(make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)), codes, y, cv=splitter),
        "tfidf": cross_val_predict(make_pipeline(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
                                                 LogisticRegression(max_iter=2000)),
                                   np.asarray(texts, dtype=object), y, cv=splitter),
    }


def run_probe(args) -> int:
    titles = common.read_dataset(datasets.headlines, common.data_root(args.data))
    if args.split != "all":
        titles = [t for t in titles if t[2] == args.split]
    if args.limit and len(titles) > args.limit:
        titles = random.Random(args.seed).sample(titles, args.limit)
    texts, labels = [t for t, _, _ in titles], [topic for _, topic, _ in titles]
    if len(texts) < 4:
        raise common.RecipeError(f"{len(texts)} titles in the {args.split!r} split: too few to probe")

    editor = common.load_editor(args.model, args.device)
    print(f"encoding {len(texts):,} titles ...", file=sys.stderr)
    codes = editor.encode(texts).numpy()
    print(f"probing codes ({codes.shape[1]} dims) and TF-IDF on the same {args.folds} folds ...", file=sys.stderr)
    result = probe(codes, texts, labels, folds=args.folds, seed=args.seed)
    if "skipped" in result:
        raise common.RecipeError(f"probe not run: {result['skipped']} ({result['labels']})")
    gap = result["codes_accuracy"] - result["tfidf_accuracy"]
    cut = common.truncated(editor, texts)

    common.print_table(
        f"topic of {len(texts):,} AG News titles ({args.split}), {result['folds']}-fold cross-validated accuracy",
        ["features", "dims", "accuracy %", "std %", "per fold %"],
        [["latent codes (posterior mean)", codes.shape[1], f"{100 * result['codes_accuracy']:.1f}",
          f"{100 * result['codes_accuracy_std']:.1f}", " ".join(f"{100 * a:.1f}" for a in result["codes_fold_accuracies"])],
         ["TF-IDF word 1-2 grams", "-", f"{100 * result['tfidf_accuracy']:.1f}", f"{100 * result['tfidf_accuracy_std']:.1f}",
          " ".join(f"{100 * a:.1f}" for a in result["tfidf_fold_accuracies"])],
         ["majority class", "-", f"{100 * result['majority_accuracy']:.1f}", "", ""]])

    if args.show:
        predicted = out_of_fold(codes, texts, labels, result["folds"], args.seed)
        order = random.Random(args.seed + 1).sample(range(len(texts)), min(args.show, len(texts)))
        common.print_table("examples (out-of-fold predictions)", ["title", "topic", "codes say", "TF-IDF says"],
                           [[texts[i], labels[i], predicted["codes"][i], predicted["tfidf"][i]] for i in order], left=4)
        result["codes_tfidf_agreement"] = float(np.mean(predicted["codes"] == predicted["tfidf"]))
        print(f"the two classifiers agree on {100 * result['codes_tfidf_agreement']:.1f}% of the titles")
    if cut:
        print(f"note: {cut} of {len(texts):,} titles are longer than the model's {editor.model.config.max_length} "
              "tokens and were cut before encoding")
    if args.output:
        common.write_json(args.output, {"model": args.model, "split": args.split, "code_size": codes.shape[1],
                                        "gap": gap, **result})
        print(f"wrote {args.output}")
    print(f"headline_probe: {len(texts):,} titles, codes {100 * result['codes_accuracy']:.1f}% vs TF-IDF "
          f"{100 * result['tfidf_accuracy']:.1f}% (gap {100 * gap:+.1f} points, majority "
          f"{100 * result['majority_accuracy']:.1f}%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
