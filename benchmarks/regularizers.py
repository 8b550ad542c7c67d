"""Regulariser study: one backbone trained with MMD, KL + free bits, KL + minimum desired rate, and as a plain autoencoder.

On Python lines (this machine's standard library, `python -m latentedit.python_lines`) and on
Yelp sentences (the Shen 2017 stand-in pool; never the test split), each run is trained from
trainers/configs/regularizer_study.toml with only model.regularizer changed, then scored by the
whole evaluation suite (latentedit.evaluation.evaluate) on held-out text the runs never trained
on: the first 1000 lines of the Python corpus's valid split and a seeded sample of 1000 Yelp dev
sentences (the test splits stay untouched for the shipped models' cards). Probe labels: the statement's kind (Assign, Return, ...;
kinds with fewer than 20 lines pooled as "other") for Python, the sentiment label for Yelp.

    python benchmarks/regularizers.py                        # 8 runs, ~70 minutes on 2 CPU cores
    python benchmarks/regularizers.py --corpora python --regularizers mmd none --steps 200
    python benchmarks/regularizers.py --report-only          # the table from the finished runs

Runs live in --runs (default runs/regularizers/<corpus>-<regularizer>/, the trainer's output
folder plus eval/ with the report and plots); a run whose model exists with the same config is not
trained again, nor evaluated again on the same texts. Writes benchmarks/results/regularizers.{json,md,png};
the last line printed is ``regularizers_best=<corpus>:<regularizer>,...`` (the best greedy exact match per corpus).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import torch
from common import RESULTS, environment, fmt, markdown_table, print_table, write_json, write_text

from latentedit import datasets
from latentedit.config import REGULARIZERS
from latentedit.evaluation import evaluate
from latentedit.python_lines import build_python_lines, statement_kinds
from trainers.config import TrainConfig
from trainers.train import train

ROOT = Path(__file__).resolve().parent.parent
BASE_CONFIG = ROOT / "trainers" / "configs" / "regularizer_study.toml"
CORPORA = ("python", "yelp")
EVAL_EXAMPLES = 1000
NOTES = [
    "Token acc: teacher-forced; exact and BLEU: greedy decoding from the posterior mean. Slerp: 11 points between "
    "50 held-out pairs; valid = inner points `ast.parse` accepts (Python only). Probe: logistic regression on codes vs "
    "TF-IDF, same 5 folds (Python: statement kind; Yelp: sentiment). MI: minibatch-weighted estimate; every run "
    "sits near its ceiling log(texts) = 6.9 (up to sampling noise), so at this sample size it does not separate them. "
    "MMD p: permutation test "
    "of posterior samples against N(0, I) (200 permutations; 0.005 is the smallest p possible). IW NLL: k = 50 "
    "importance samples, nats per text; IW ppl per token.",
    "`none` is a plain autoencoder: its posterior variances were never trained, so its rate, MI, marginal KL, MMD p "
    "and IW NLL describe an untrained q(z|x). MMD matches only the aggregate posterior to the prior, so its per-text "
    "posteriors are narrow: a large rate and a loose IW bound are expected of it.",
]
HEADERS = ["corpus", "run", "train min", "token acc", "exact %", "BLEU", "slerp distinct %", "slerp valid %",
           "probe codes", "probe TF-IDF", "rate", "MI", "active", "marginal KL", "MMD p", "IW NLL", "IW ppl"]


def add_study_options(ap, default_out: Path) -> None:
    """The options every study shares (this one and reconstruction.py)."""
    ap.add_argument("--data", help=f"the data folder holding yelp/ (default: ${datasets.DATA_ENV}, else ../shared/data)")
    ap.add_argument("--config", default=str(BASE_CONFIG), help="the base training config every run shares")
    ap.add_argument("--steps", type=int, default=None, help="training steps per run (default: the base config's)")
    ap.add_argument("--eval-examples", type=int, default=EVAL_EXAMPLES, help="held-out texts scored per corpus")
    ap.add_argument("--runs", default=str(ROOT / "runs" / "regularizers"), help="folder of the runs and the corpora")
    ap.add_argument("--report-only", action="store_true", help="train and evaluate nothing: tabulate finished runs")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    ap.add_argument("--out", default=str(default_out), help="result JSON; the .md and .png beside it")


def check_study_args(ap, args) -> None:
    if args.steps is not None and args.steps < 1:
        ap.error("--steps must be >= 1")
    if args.eval_examples < 10:
        ap.error("--eval-examples must be >= 10")
    if args.threads:
        torch.set_num_threads(args.threads)


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--corpora", nargs="+", choices=CORPORA, default=list(CORPORA))
    ap.add_argument("--regularizers", nargs="+", choices=REGULARIZERS, default=list(REGULARIZERS))
    add_study_options(ap, RESULTS / "regularizers.json")
    args = ap.parse_args(argv)
    check_study_args(ap, args)
    return args


def corpus_files(corpus: str, runs: Path, data: str | None, examples: int) -> tuple[Path, Path, list[str], list[str]]:
    """(train file, valid file, held-out texts, their probe labels), writing the corpus files once."""
    folder = runs / f"{corpus}-corpus"
    train_path, valid_path = folder / "train.txt", folder / "valid.txt"
    if corpus == "python":
        if not train_path.is_file():
            build_python_lines(folder)
        texts = valid_path.read_text(encoding="utf-8").splitlines()[:examples]
        return train_path, valid_path, texts, statement_kinds(texts)
    root = datasets.data_root(data)
    dev, dev_labels = datasets.yelp(root, "dev")
    if not train_path.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        pool, _ = datasets.yelp(root, "pool")
        train_path.write_text("\n".join(pool) + "\n", encoding="utf-8")
        valid_path.write_text("\n".join(dev) + "\n", encoding="utf-8")
    chosen = sorted(torch.randperm(len(dev), generator=torch.Generator().manual_seed(0))[:examples].tolist())
    return train_path, valid_path, [dev[i] for i in chosen], [str(dev_labels[i]) for i in chosen]


def run_config(base: str, changes: list[str], files: tuple[Path, Path], run: Path, steps: int | None) -> TrainConfig:
    overrides = [f"data.train={files[0]}", f"data.valid={files[1]}", *changes,
                 f"training.output_dir={run}"] + ([f"training.steps={steps}"] if steps is not None else [])
    return TrainConfig.load(base, overrides)


def train_once(config: TrainConfig, run: Path) -> float:
    """Train unless run/model exists from the same config; returns the training minutes."""
    stamp = run / "study.json"
    if (run / "model" / "config.json").is_file() and stamp.is_file():
        saved = json.loads(stamp.read_text())
        if saved["config"] == json.loads(config.to_json()):
            return saved["train_minutes"]
    started = time.perf_counter()
    train(config, show_progress=True)
    minutes = (time.perf_counter() - started) / 60
    write_json({"config": json.loads(config.to_json()), "train_minutes": round(minutes, 2)}, stamp)
    return minutes


def evaluate_once(run: Path, texts: list[str], labels: list[str], kind: str) -> dict:
    """The evaluation suite on run/model, unless run/eval/report.json already scores this model on
    the same texts (training again rewrites study.json, which forgets what was evaluated)."""
    stamp, report_path = run / "study.json", run / "eval" / "report.json"
    saved = json.loads(stamp.read_text())
    digest = hashlib.sha256(json.dumps([kind, texts, labels]).encode("utf-8")).hexdigest()
    if saved.get("eval_digest") == digest and report_path.is_file():
        return json.loads(report_path.read_text())
    print(f"evaluating {run.name} on {len(texts)} held-out texts ...", file=sys.stderr)
    report = evaluate(run / "model", texts, labels=labels, kind=kind, out_dir=run / "eval",
                      metrics_path=run / "metrics.jsonl")
    write_json(saved | {"eval_digest": digest}, stamp)
    return report


def study_run(corpus: str, variant: str, changes: list[str], args) -> dict:
    """Train (once) and evaluate the run ``<corpus>-<variant>``: the base config with ``changes``
    (``section.key=value`` overrides). With args.report_only, the saved report or {} when none."""
    runs = Path(args.runs)
    run = runs / f"{corpus}-{variant}"
    train_path, valid_path, texts, labels = corpus_files(corpus, runs, args.data, args.eval_examples)
    config = run_config(args.config, changes, (train_path, valid_path), run, args.steps)
    report_path = run / "eval" / "report.json"
    if args.report_only:
        if not report_path.is_file():
            return {}
        report = json.loads(report_path.read_text())
        minutes = json.loads((run / "study.json").read_text())["train_minutes"]
    else:
        minutes = train_once(config, run)
        report = evaluate_once(run, texts, labels, "python" if corpus == "python" else "text")
    return {"corpus": corpus, "variant": variant, "changes": changes, "run": str(run), "train_minutes": round(minutes, 2),
            "steps": config.training.steps, "report": report}


def row(result: dict) -> list[str]:
    report = result["report"]
    rec, health, slerp = report["reconstruction"], report["health"], report["interpolation"]["slerp"]
    probe = report.get("probe") or {}

    def pct(value):
        return fmt(None if value is None else 100 * value)

    mmd_p = health["mmd"]["p_value"]
    return [result["corpus"], result["variant"], fmt(result["train_minutes"]),
            fmt(rec["teacher_forced_accuracy"], 3), pct(rec["greedy_exact_match"]), fmt(rec["bleu4"]),
            pct(slerp["distinct_share"]), pct(slerp.get("valid_share")),
            pct(probe.get("codes_accuracy")), pct(probe.get("tfidf_accuracy")),
            fmt(health["rate"]), fmt(health["mutual_information"], 2),
            f"{health['active_units']}/{health['code_size']}", fmt(health["marginal_kl"]),
            fmt(mmd_p, 3), fmt(health["iw"]["nll"]), f"{health['iw']['perplexity']:.3g}"]


def plot(results: list[dict], path: Path) -> None:
    """Greedy exact match against rate, one point per run, one panel per corpus."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    corpora = sorted({r["corpus"] for r in results})
    figure, axes = plt.subplots(1, len(corpora), figsize=(5.5 * len(corpora), 4), squeeze=False)
    for axis, corpus in zip(axes[0], corpora):
        for result in (r for r in results if r["corpus"] == corpus):
            health, rec = result["report"]["health"], result["report"]["reconstruction"]
            axis.scatter(health["rate"], 100 * rec["greedy_exact_match"])
            axis.annotate(result["variant"], (health["rate"], 100 * rec["greedy_exact_match"]), fontsize=8)
        axis.set(title=f"{corpus}: held-out reconstruction vs rate", xlabel="rate (nats)",
                 ylabel="greedy exact match (%)")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)


def check_corpora(args) -> None:
    """Drop the Yelp corpus, with a message, when the data folder is missing."""
    if "yelp" in args.corpora:
        try:
            datasets.data_root(args.data)
        except datasets.DataNotFound as error:
            print(f"skipping the Yelp runs: {error}", file=sys.stderr)
            args.corpora = [c for c in args.corpora if c != "yelp"]


def report_results(results: list[dict], args, title: str, command: str, metric_name: str) -> int:
    """Write the JSON, Markdown table and plot of a study, print its table and the summary line
    ``<metric_name>=<corpus>:<variant>,...`` (the variant with the best greedy exact match per corpus)."""
    if not results:
        print("no finished runs to report", file=sys.stderr)
        return 1
    rows = [row(r) for r in results]
    out = Path(args.out)
    base = Path(args.config).resolve()
    summary = {"base_config": str(base.relative_to(ROOT)) if base.is_relative_to(ROOT) else str(base),
               "eval_examples": args.eval_examples, "environment": environment(torch.get_num_threads()),
               "runs": [{k: v for k, v in r.items() if k != "report"} | {"report": _compact(r["report"])} for r in results]}
    write_json(summary, out)
    plot(results, out.with_suffix(".png"))
    lines = [f"# {title}", "", f"Command: `{command}`; base config `{summary['base_config']}`; "
             f"{args.eval_examples} held-out texts per corpus (Python: the valid split's first; Yelp: a seeded sample "
             "of dev). Train minutes on 2 CPU cores, wall clock.",
             "", *markdown_table(HEADERS, rows), "", *NOTES, "", f"![exact match vs rate]({out.with_suffix('.png').name})", ""]
    write_text("\n".join(lines), out.with_suffix(".md"))
    print_table(f"{title} (held-out)", HEADERS, rows)
    best = {}
    for r in results:
        exact = r["report"]["reconstruction"]["greedy_exact_match"]
        if r["corpus"] not in best or exact > best[r["corpus"]][1]:
            best[r["corpus"]] = (r["variant"], exact)
    print(f"{metric_name}=" + ",".join(f"{c}:{variant}" for c, (variant, _) in best.items()))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    check_corpora(args)
    results = [r for corpus in args.corpora for reg in args.regularizers
               if (r := study_run(corpus, reg, [f"model.regularizer={reg}"], args))]
    return report_results(results, args, "Regulariser study", "python benchmarks/regularizers.py", "regularizers_best")


def _compact(report: dict) -> dict:
    """The report without its per-dimension and per-sample lists (they stay in each run's eval/report.json)."""
    health = {k: v for k, v in report["health"].items() if k not in ("kl_per_dimension",)}
    health["mmd"] = {k: v for k, v in health["mmd"].items() if k != "samples"}
    interpolation = {k: v for k, v in report["interpolation"].items() if k != "samples"}
    probe = {k: v for k, v in (report.get("probe") or {}).items() if not k.endswith("fold_accuracies")}
    return report | {"health": health, "interpolation": interpolation, "probe": probe or None}


if __name__ == "__main__":
    sys.exit(main())
