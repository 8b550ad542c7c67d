"""Fuzzing, the long run: every target of tests/test_fuzz.py with many examples.

The test suite runs a few derandomized examples per target and stops at the first failure. This
script runs ``--examples`` cases per target (scaled by the target's weight, as in the tests) from a
seeded random stream, keeps going after failures, groups them by signature (exception type and the
library file it escaped from, or what was wrong with the result), and shrinks the first few
signatures of each target to a minimal input with hypothesis. Failures whose signature is listed in
``KNOWN_BUGS`` are marked ``known``; they count as failures all the same (the count drops as bugs
are fixed). Each case runs in a fresh scratch folder (also the working directory).

The strategies, targets and the contract they check live in tests/test_fuzz.py (one place); the
model is the test suite's tiny review model (tests/conftest.py), trained here in a few seconds.

    python benchmarks/fuzz.py                     # 500 cases per target (~15 minutes on 2 busy cores)
    python benchmarks/fuzz.py --examples 100      # a moderate run (~3 minutes)
    python benchmarks/fuzz.py --quick             # 30 cases per target, no shrinking (~1 minute)
    python benchmarks/fuzz.py --targets cli       # only targets whose name contains "cli"

Writes benchmarks/results/fuzz.json (fuzz_quick.json with --quick); the last line printed is
``fuzz_cases=<n> fuzz_failures=<m>``.
"""

from __future__ import annotations

import argparse
import collections
import datetime
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
sys.path.insert(0, str(ROOT / "tests"))  # the fuzz targets and the test suite's tiny model
sys.path.insert(0, str(ROOT))

import conftest  # noqa: E402
import hypothesis  # noqa: E402
import test_fuzz  # noqa: E402
import torch  # noqa: E402
from hypothesis import Phase, Verbosity, given, seed, settings  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402
from test_fuzz import FuzzFailure, known, run_case  # noqa: E402

import latentedit  # noqa: E402
from latentedit.model_folder import atomic_file  # noqa: E402

EXAMPLE_REPR = 400  # characters kept of each example's repr


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--examples", type=int, default=None, help="cases per target, times the target's weight (default 500, "
                                                              "quick 30)")
    ap.add_argument("--quick", action="store_true", help="30 cases per target and no shrinking")
    ap.add_argument("--shrink", type=int, default=None,
                    help="failure signatures per target shrunk to a minimal input (default 3, quick 0)")
    ap.add_argument("--targets", default="", help="only targets whose name contains this (case-insensitive)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the random stream of cases")
    ap.add_argument("--out", help="result JSON (default benchmarks/results/fuzz.json, fuzz_quick.json with --quick)")
    args = ap.parse_args(argv)
    args.examples = args.examples if args.examples is not None else (30 if args.quick else 500)
    args.shrink = args.shrink if args.shrink is not None else (0 if args.quick else 3)
    if args.examples < 1 or args.shrink < 0:
        ap.error("--examples must be >= 1 and --shrink >= 0")
    args.out = args.out or str(RESULTS / ("fuzz_quick.json" if args.quick else "fuzz.json"))
    return args


def build_context(workdir: Path) -> test_fuzz.FuzzContext:
    """The test suite's fitted review editor (conftest fixtures, called as plain functions)."""
    def plain(fixture):  # pytest keeps the decorated function as __wrapped__
        return getattr(fixture, "__wrapped__", fixture)

    corpus = conftest.ReviewCorpus()
    model = plain(conftest.review_model)(corpus)
    editor = plain(conftest._fitted_review_editor)(model, corpus)
    return test_fuzz.make_context(editor, workdir, corpus.positive[:8], corpus.negative[:8])


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= EXAMPLE_REPR else f"{text[:EXAMPLE_REPR]}... ({len(text)} characters)"


def _settings(examples: int, phases) -> settings:
    return settings(test_fuzz.SETTINGS, max_examples=examples, derandomize=False, phases=phases, verbosity=Verbosity.quiet)


def fuzz_target(fuzz_target: test_fuzz.Target, context, examples: int, random_seed: int, shrink: int) -> dict:
    """Run ``examples`` cases, recording outcomes and failures instead of stopping; then shrink the
    first ``shrink`` failure signatures to a minimal input."""
    outcomes: collections.Counter = collections.Counter()
    failures: dict[str, dict] = {}
    started = time.perf_counter()

    @_settings(examples, [Phase.generate])
    @seed(random_seed)
    @given(case=fuzz_target.strategy)
    def probe(case):
        try:
            outcomes[run_case(fuzz_target, context, case)] += 1
        except FuzzFailure as failure:
            outcomes["failure"] += 1
            entry = failures.setdefault(failure.signature, {
                "signature": failure.signature, "known": known(fuzz_target.name, failure.signature), "count": 0,
                "example": _short(case), "detail": failure.detail, "minimal": False})
            entry["count"] += 1

    probe()
    for entry in list(failures.values())[:shrink]:
        shrunk = shrink_failure(fuzz_target, context, examples, random_seed, entry["signature"])
        if shrunk is not None:
            entry.update(example=_short(shrunk[0]), detail=shrunk[1], minimal=True)
    return {"target": fuzz_target.name, "cases": sum(outcomes.values()), "ok": outcomes["ok"], "error": outcomes["error"],
            "os_error": outcomes["os-error"], "failures": outcomes["failure"], "signatures": list(failures.values()),
            "seconds": round(time.perf_counter() - started, 1)}


def shrink_failure(fuzz_target, context, examples: int, random_seed: int, signature: str):
    """Replay the same random stream until the first case failing with ``signature`` and let
    hypothesis shrink it; returns (minimal case, detail), or None when it is not found again."""
    found: dict = {}

    @_settings(examples, [Phase.generate, Phase.shrink])
    @seed(random_seed)
    @given(case=fuzz_target.strategy)
    def reproduce(case):
        try:
            run_case(fuzz_target, context, case)
        except FuzzFailure as failure:
            if failure.signature == signature:
                found.update(case=case, detail=failure.detail)  # the last one recorded is the minimal one
                raise

    try:
        reproduce()
    except FuzzFailure:
        pass
    except Exception:  # noqa: BLE001 - e.g. hypothesis giving up on a flaky failure: keep the first example
        return None
    return (found["case"], found["detail"]) if found else None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ["RUST_BACKTRACE"] = "0"  # a panic in tokenizers (a finding) prints one line, not a 50-frame backtrace
    torch.set_num_threads(1)  # tiny models: one thread is as fast and not slowed by other jobs
    console = Console(stderr=True)
    targets = [t for name, t in test_fuzz.TARGETS.items() if args.targets.lower() in name.lower()]
    if not targets:
        console.print(f"no target matches {args.targets!r}")
        return 2
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="latentedit-fuzz-") as workdir:
        context = build_context(Path(workdir))
        setup = time.perf_counter() - started
        console.print(f"model ready in {setup:.1f} s; {len(targets)} targets x ~{args.examples} cases")
        rows = []
        for fuzz in targets:
            examples = test_fuzz.examples(fuzz, args.examples)
            row = fuzz_target(fuzz, context, examples, args.seed, args.shrink)
            row["requested"] = examples
            rows.append(row)
            console.print(f"  {fuzz.name}: {row['cases']} cases, {row['failures']} failures "
                          f"({len(row['signatures'])} signatures) in {row['seconds']} s")
    total_cases = sum(r["cases"] for r in rows)
    total_failures = sum(r["failures"] for r in rows)
    report = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": "python benchmarks/fuzz.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "examples_per_target": args.examples, "seed": args.seed, "shrink": args.shrink,
        "cases": total_cases, "failures": total_failures,
        "failure_signatures": sum(len(r["signatures"]) for r in rows),
        "unknown_failure_signatures": sum(not s["known"] for r in rows for s in r["signatures"]),
        "known_bugs": len(test_fuzz.KNOWN_BUGS),
        "seconds": round(time.perf_counter() - started, 1), "setup_seconds": round(setup, 1),
        "versions": {"latentedit": latentedit.__version__, "python": platform.python_version(), "torch": torch.__version__,
                     "hypothesis": hypothesis.__version__, "platform": platform.platform()},
        "contract": "each case returns a well-formed result or raises a LatentEditError with a one-line message "
                    "(or an OSError from the operating system for a path); the CLI exits 0 or 2 with one 'error:' line",
        "targets": rows,
    }
    with atomic_file(args.out) as stream:
        stream.write(json.dumps(report, indent=2) + "\n")  # ASCII: fuzzed texts may hold lone surrogates

    table = Table("target", "cases", "ok", "error", "os error", "failures", "signatures (known)", "seconds",
                  title=f"fuzzing, ~{args.examples} cases per target (seed {args.seed})")
    for r in rows:
        signatures = len(r["signatures"])
        table.add_row(r["target"], str(r["cases"]), str(r["ok"]), str(r["error"]), str(r["os_error"]),
                      str(r["failures"]), f"{signatures} ({sum(s['known'] for s in r['signatures'])})" if signatures else "-",
                      f"{r['seconds']:.1f}")
    out = Console(width=None if sys.stdout.isatty() else 150)  # a log file gets the whole table
    out.print(table)
    for r in rows:
        for s in r["signatures"]:
            state = "known" if s["known"] else "NEW"
            out.print(f"[{state}] {r['target']}: {s['signature']} x{s['count']}\n    "
                            f"{'minimal' if s['minimal'] else 'first'} input: {s['example']}\n    {s['detail']}",
                            markup=False, highlight=False, soft_wrap=True)
    print(f"wrote {args.out}", file=sys.stderr)
    print(f"fuzz_cases={total_cases} fuzz_failures={total_failures}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
