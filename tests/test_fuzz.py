"""Fuzzing (hypothesis): odd input into every public call and every CLI command.

Random Unicode (control and format characters, NUL, emoji sequences, right-to-left marks, line and
paragraph separators), very long strings, empty and mixed-type lists, NaN / inf / huge / negative /
bool numbers, odd types (None, bytes, dict, object()), random and non-UTF-8 file contents.

The contract every target checks: a call either returns a well-formed result (right type and
length, texts are str, codes finite, what was saved loads back) or raises a
:class:`~latentedit.errors.LatentEditError` subclass whose message is non-empty and one line. Any
other exception is a failure, with one exception: an ``OSError`` carrying an errno (the operating
system refusing a path, e.g. "Not a directory" for a folder under a regular file), which is Python's
own contract for calls that take paths and which the CLI reports in one line. A CLI command
(``latentedit.cli.main(argv)`` in-process, in a scratch working directory) exits 0 or 2; on 2 stderr
holds one ``error: ...`` line (``warning:`` lines aside), and never a traceback; what it writes is
checked too (output lines aligned with input lines, JSON lines parse, saved models load).

This module is the one home of the strategies and targets: the test suite runs
``LATENTEDIT_FUZZ_EXAMPLES`` (default 10) derandomized examples per target, bounded and
deterministic; ``benchmarks/fuzz.py`` imports :data:`TARGETS` and runs many more per target,
collecting failures instead of stopping.

Bugs the fuzzing finds are listed in :data:`KNOWN_BUGS` until fixed, each with its minimal input. The
fuzz tests tolerate exactly those failure signatures; ``test_known_bug`` replays each minimal input
under ``xfail(strict=True)``, so fixing a bug makes its test XPASS (a failure): then move its minimal
input to :data:`FIXED_BUGS`, which ``test_fixed_bug_stays_fixed`` replays as a plain regression test.

Not fuzzed: ``latentedit demo`` except with a --workdir that cannot be created (any writable workdir
trains a model for two minutes); loop counts (optimize steps, decode max_length, interpolate
steps, ...) stay small or absurdly large (>= 2**63, refused before any loop) since a large valid
count is legitimately slow; unknown keyword arguments (a TypeError is Python's contract for those).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import itertools
import json
import math
import os
import shutil
import traceback
import warnings
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import latentedit
import latentedit.cli as cli
import trainers
from latentedit import ConfigError, LatentEditError, LatentEditor, Tokenizer, VAEConfig
from latentedit.data import read_texts
from latentedit.directions import Direction
from latentedit.editor import InterpolationPoint
from latentedit.results import EditResult
from trainers.config import TrainConfig

EXAMPLES = int(os.environ.get("LATENTEDIT_FUZZ_EXAMPLES", "10"))  # per target (scaled by its weight)
CODE_SIZE = 16  # flat code size of the conftest review model (2 latent tokens x 8)
HEADS = ("sentiment", "rating")  # classification (labels neg/pos) and regression (1..5)
DIRECTIONS = ("positive", "plain")  # with a head (for strength="auto") and without

# -- strategies ------------------------------------------------------------------------------------

# Surrogates (category Cs) are left out of the general text strategy: a str holding a lone
# surrogate cannot be encoded to UTF-8, so no file or UTF-8 terminal can carry one; they only
# arise from os.fsdecode / surrogateescape (argv with invalid UTF-8). Dedicated targets feed them.
ANY_CHAR = st.characters(codec="utf-8")  # every other category: Cc, Cf, Zl, Zp, Co, Cn, ...
SPECIAL_CHARS = ("\x00\x01\x08\t\n\x0b\x0c\r\x1b\x1c\x1e\x7f\x85\xa0\xad\u0301\u061c\u200b\u200d\u200e\u200f"
                 "\u202a\u202e\u2028\u2029\u2066\u2067\u2069\u3000\ufeff\ufffd\uffff")
SNIPPETS = ("the", "food", "was", "great", "awful", ".", "!", "</s>", "<pad>", "<mask>", "<unk>", "<s>",
            "\u05e9\u05dc\u05d5\u05dd", "\u0645\u0631\u062d\u0628\u0627", "\u202eevil\u202c",
            "\U0001f469\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466", "\U0001f1fa\U0001f1f8",
            "\U0001f44d\U0001f3fd", "\U0001f3f3\ufe0f\u200d\U0001f308", "\ufdfa", "\U0001d573\U0001d58a",
            "e\u0301", "\U0010ffff", "\u4e2d\u6587", "%s", "{0}", "\\n", "'", '"', ",", "\t", "nan", "-1")
SEPARATORS = (" ", "", " ", "\t", "\n", "\u2028", "\r\n", "\x00")


def mostly(valid, invalid, odds: int = 3):
    """``valid`` ``odds`` times out of ``odds + 1``, else ``invalid``: most cases get past the first
    check (calls with many arguments use higher odds)."""
    return st.integers(0, odds).flatmap(lambda k: valid if k else invalid)


def _repeat(piece: str, length: int) -> str:
    return (piece * (length // max(1, len(piece)) + 1))[:length]


_PIECE = st.one_of(st.sampled_from(SNIPPETS), st.text(st.sampled_from(SPECIAL_CHARS), min_size=1, max_size=4),
                   st.text(ANY_CHAR, min_size=1, max_size=6))
_PHRASE = st.lists(st.tuples(_PIECE, st.sampled_from(SEPARATORS)), min_size=1, max_size=6).map(
    lambda parts: "".join(p + s for p, s in parts))
LONG_TEXT = st.builds(_repeat, st.one_of(_PHRASE, st.text(ANY_CHAR, min_size=1, max_size=3)),
                      st.sampled_from([2_000, 10_000]))
#: any str without surrogates: empty, whitespace, control/format characters, emoji, RTL, 10k long
TEXT = st.one_of(
    st.sampled_from(["the food was great .", "", " ", "\x00", "\u200f", "\n\t ", "\ufeff", "\u2028", "a" * 10_000]),
    _PHRASE, st.text(ANY_CHAR, max_size=12), LONG_TEXT)
SURROGATE_TEXT = st.builds(lambda text, s: text + s, TEXT, st.text(st.characters(categories=["Cs"]), min_size=1, max_size=2))

SPECIAL_NUMBERS = (math.nan, math.inf, -math.inf, 0, -0.0, -1, 0.5, 1e308, -1e308, 5e-324, 2**63, -(2**63) - 1, 10**30,
                   True, False, np.float64("nan"), np.float32(1.5), np.int64(2), torch.tensor(float("nan")))
NUMBER = st.one_of(st.sampled_from(SPECIAL_NUMBERS), st.integers(-1000, 1000), st.floats())
ODD = st.sampled_from((None, b"the food", bytearray(b"\xff"), {}, {"a": 1}, [], (), {"x"}, object(), 1j, Ellipsis,
                       str, np.array([1.0, math.nan]), torch.zeros(0)))
ANY = st.one_of(NUMBER, TEXT, ODD, st.lists(st.one_of(NUMBER, TEXT, ODD), max_size=3))
HASHABLE = st.one_of(TEXT, st.sampled_from((None, 0, -1, 1.5, math.nan, True, b"x", (), frozenset())))
SEED = mostly(st.one_of(st.none(), st.integers(0, 2**32)),
              st.one_of(st.sampled_from([2**63, 2**64, -(2**63) - 1, -1]), NUMBER, TEXT, ODD))
# counts that drive loops stay small (a large valid count is legitimately slow) or absurd (>= 2**63)
COUNT = st.one_of(st.integers(-2, 4), st.sampled_from([True, False, 2.0, 1.5, math.nan, math.inf, np.int64(2), "3"]), ODD)
HUGE = st.sampled_from([2**63, 2**64, 10**30])
COUNT_OR_HUGE = st.one_of(COUNT, HUGE)


def small(low: int, high: int, huge: bool = False):
    """A valid count in [low, high] mostly, else any odd count (and absurdly large ones if huge)."""
    return mostly(st.integers(low, high), COUNT_OR_HUGE if huge else COUNT)


def number(low: float, high: float):
    """A valid number in [low, high] mostly, else any number or odd value."""
    return mostly(st.floats(low, high), st.one_of(NUMBER, ODD, TEXT))


def choice(*valid: str):
    return mostly(st.sampled_from(valid), st.one_of(TEXT, ODD))


REVIEWS = st.sampled_from(["the food was great .", "the staff was rude .", "the view was lovely .", "the room was cold ."])
#: the texts argument of editor calls: one text or a list (any str), or odd types
TEXTS = mostly(st.one_of(TEXT, REVIEWS, st.lists(st.one_of(TEXT, REVIEWS), min_size=1, max_size=3)),
               st.one_of(st.lists(st.one_of(TEXT, NUMBER, ODD), max_size=3), st.tuples(TEXT, TEXT), NUMBER, ODD))
HEAD_NAME = choice(*HEADS)
DIRECTION_NAME = choice(*DIRECTIONS)
NEW_NAME = mostly(st.sampled_from(["new", "sentiment", "a.b-c_d", "x" * 64]),
                  st.one_of(st.sampled_from(["x" * 65, "..", ".hidden", "a/b", "-a", ""]), TEXT, ODD))
GOAL = mostly(st.sampled_from(["max", "min", "pos", "neg", 4.5, 1]),
              st.one_of(st.sampled_from(["MAX", " pos"]), NUMBER, TEXT, ODD))


VISIBLE_TEXT = TEXT.filter(lambda text: text.strip())


@st.composite
def _texts_and(draw, item, fuzzed_item, min_size: int = 4):
    """(texts, items) for fit_head / learn_direction: mostly enough texts (real reviews, or any
    visible text) with valid items, sometimes one fuzzed item; else fuzzed texts and items, of the
    same length or off by one, or odd types."""
    if draw(st.integers(0, 2)):
        size = draw(st.integers(min_size, 8))
        texts = draw(st.lists(st.one_of(REVIEWS, REVIEWS, REVIEWS, VISIBLE_TEXT), min_size=size, max_size=size))
        items = draw(st.lists(item, min_size=size, max_size=size))
        if draw(st.integers(0, 3)) == 0:
            items[draw(st.integers(0, size - 1))] = draw(fuzzed_item)
        return texts, items
    texts = draw(st.one_of(st.lists(st.one_of(REVIEWS, TEXT, NUMBER, ODD), max_size=8), ODD, TEXT))
    size = len(texts) if isinstance(texts, list) else 3
    size = draw(st.sampled_from([size, size, max(0, size - 1), size + 1]))
    return texts, draw(st.one_of(st.lists(st.one_of(item, fuzzed_item), min_size=size, max_size=size), ODD, NUMBER, TEXT))


# -- running a case --------------------------------------------------------------------------------


class FuzzFailure(AssertionError):
    """A call broke the contract. ``signature`` groups failures of one cause (exception type and the
    library function it escaped from, or what was wrong with the result)."""

    def __init__(self, signature: str, detail: str = ""):
        detail = detail if len(detail) <= 500 else detail[:500] + "..."
        super().__init__(f"{signature}: {detail}" if detail else signature)
        self.signature, self.detail = signature, detail


@dataclass
class FuzzContext:
    """What the targets work on: an editor over the tiny review model with heads sentiment
    (classification) and rating (regression) and directions positive (judged by sentiment) and
    plain (no head), the same saved as a model folder, and a scratch folder."""

    editor: LatentEditor
    model_folder: Path
    workdir: Path
    cases: itertools.count = field(default_factory=itertools.count)

    def fresh_editor(self) -> LatentEditor:
        """An editor over the shared model with copies of the head and direction dicts."""
        return LatentEditor(self.editor.model, heads=dict(self.editor.heads), directions=dict(self.editor.directions),
                            quiet=True)

    @contextlib.contextmanager
    def scratch(self):
        """A fresh empty folder, also the working directory while a case runs (relative paths a
        fuzzed call creates land there), removed afterwards."""
        folder = self.workdir / f"case{next(self.cases)}"
        folder.mkdir()
        before = os.getcwd()
        os.chdir(folder)
        try:
            yield folder
        finally:
            os.chdir(before)
            shutil.rmtree(folder, ignore_errors=True)


def make_context(editor: LatentEditor, workdir: Path, positive: list[str], negative: list[str]) -> FuzzContext:
    """The fuzz context from a fitted editor with heads sentiment + rating and direction positive."""
    assert editor.model.config.code_size == CODE_SIZE and set(HEADS) <= set(editor.heads), "unexpected fuzz model"
    editor = LatentEditor(editor.model, heads=dict(editor.heads), directions=dict(editor.directions), quiet=True)
    editor.learn_direction("plain", positive, negative)
    workdir.mkdir(parents=True, exist_ok=True)
    editor.save(workdir / "model")
    return FuzzContext(editor=editor, model_folder=(workdir / "model").resolve(), workdir=workdir.resolve())


@dataclass
class Target:
    name: str
    strategy: Any  # draws one case: a dict of arguments
    run: Callable[[FuzzContext, dict], str | None]  # returns (None or "error") or raises
    weight: float = 1.0  # examples = EXAMPLES * weight
    commands: tuple[str, ...] = ()  # CLI commands a CLI target runs


TARGETS: dict[str, Target] = {}


def target(name: str, strategy, weight: float = 1.0, commands: tuple[str, ...] = ()):
    def register(function):
        TARGETS[name] = Target(name, strategy, function, weight, commands)
        return function

    return register


_LIBRARY = tuple(str(Path(m.__file__).parent) + os.sep for m in (latentedit, trainers))


def where(error: BaseException) -> str:
    """The innermost file of latentedit or trainers an exception passed through ("latentedit/editor.py";
    the file, not the function, so that signatures survive refactoring inside a file)."""
    frames = traceback.extract_tb(error.__traceback__)
    for frame in reversed(frames):
        if frame.filename.startswith(_LIBRARY):
            return f"{Path(frame.filename).parent.name}/{Path(frame.filename).name}"
    return Path(frames[-1].filename).name if frames else "?"


def summary(error: BaseException) -> str:
    """Exception type, message and the library frames it passed through, in one line."""
    frames = [f"{Path(f.filename).name}:{f.lineno}" for f in traceback.extract_tb(error.__traceback__)
              if f.filename.startswith(_LIBRARY)]
    message = " ".join(str(error).split())[:300]
    return f"{type(error).__name__}: {message} [{' > '.join(frames[-4:])}]"


def check_message(error: LatentEditError) -> None:
    message = str(error)
    if not message.strip():
        raise FuzzFailure(f"empty {type(error).__name__} message from {where(error)}")
    if len(message.splitlines()) != 1:
        raise FuzzFailure(f"{type(error).__name__} message from {where(error)} spans lines", repr(message[:300]))


def run_case(fuzz_target: Target, context: FuzzContext, case: dict) -> str:
    """The outcome of one case: "ok" (a well-formed result), "error" (a documented error) or
    "os-error" (an OSError from the operating system, such as "Not a directory" for a path under a
    regular file: Python's own contract for calls that take paths, and one line in the CLI);
    anything else raises FuzzFailure."""
    with context.scratch(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return fuzz_target.run(context, case) or "ok"
        except FuzzFailure:
            raise
        except LatentEditError as error:
            check_message(error)
            return "error"
        except OSError as error:
            if error.errno is None:
                raise FuzzFailure(f"{type(error).__name__} in {where(error)}", summary(error)) from error
            return "os-error"
        except KeyboardInterrupt:
            raise
        except BaseException as error:  # everything else is a finding, SystemExit and Rust panics included
            raise FuzzFailure(f"{type(error).__name__} in {where(error)}", summary(error)) from error


def expect(condition: bool, what: str, detail: str = "") -> None:
    if not condition:
        raise FuzzFailure(f"bad result: {what}", detail)


def _single(texts) -> bool:
    return isinstance(texts, str)


def expect_texts(output, texts, what: str) -> None:
    if _single(texts):
        expect(isinstance(output, str), f"{what} of one text is not a str", repr(output)[:200])
    else:
        expect(isinstance(output, list) and len(output) == len(texts) and all(isinstance(t, str) for t in output),
               f"{what} of a list is not a list of str of the same length", repr(output)[:200])


def expect_codes(codes, count: int | None) -> None:
    shape = (CODE_SIZE,) if count is None else (count, CODE_SIZE)
    expect(isinstance(codes, torch.Tensor) and codes.dtype == torch.float32 and tuple(codes.shape) == shape,
           f"codes are not a float32 tensor of shape {shape}", repr(codes)[:200])
    expect(bool(torch.isfinite(codes).all()), "codes are not finite")


def expect_result(result, operation: str) -> None:
    expect(isinstance(result, EditResult), "not an EditResult", repr(result)[:200])
    expect(isinstance(result.text, str) and isinstance(result.source_text, str), "EditResult texts are not str")
    expect(result.operation == operation and tuple(result.latent.shape) == (CODE_SIZE,), "EditResult malformed")
    expect(math.isfinite(result.distance) and 0.0 <= result.similarity <= 1.0, "EditResult distance/similarity malformed")
    expect_json(result.to_dict(), "EditResult.to_dict()")


def expect_json(value, what: str) -> None:
    """value can be written as JSON (the CLI prints it with --json; model folders store it)."""
    try:
        json.dumps(value)
    except (TypeError, ValueError) as error:
        raise FuzzFailure(f"bad result: {what} is not JSON-serializable", str(error)) from None


def expect_results(output, texts, operation: str) -> None:
    results = [output] if _single(texts) else output
    expect(isinstance(results, list) and len(results) == (1 if _single(texts) else len(texts)),
           "wrong number of EditResults", repr(output)[:200])
    for result in results:
        expect_result(result, operation)


def expect_saves_and_loads(editor: LatentEditor, folder: Path) -> LatentEditor:
    """What an edit added can be saved, and what was saved loads back with the same names."""
    editor.save(folder / "saved")
    loaded = LatentEditor.load(folder / "saved")
    expect(set(loaded.heads) == set(editor.heads) and set(loaded.directions) == set(editor.directions),
           "heads or directions changed through save + load")
    return loaded


# -- LatentEditor ----------------------------------------------------------------------------------


@target("LatentEditor.encode", st.fixed_dictionaries(
    {"texts": TEXTS}, optional={"sample": mostly(st.booleans(), ANY), "seed": SEED, "refine": COUNT}), 2.0)
def fuzz_encode(context, case):
    codes = context.fresh_editor().encode(**case)
    expect_codes(codes, None if _single(case["texts"]) else len(case["texts"]))


@target("LatentEditor.encode(surrogates)", st.fixed_dictionaries(
    {"texts": st.one_of(SURROGATE_TEXT, st.lists(st.one_of(REVIEWS, SURROGATE_TEXT), min_size=1, max_size=2))}), 0.5)
def fuzz_encode_surrogates(context, case):
    codes = context.fresh_editor().encode(**case)
    expect_codes(codes, None if _single(case["texts"]) else len(case["texts"]))


CODE = st.lists(st.floats(-5, 5, width=32), min_size=CODE_SIZE, max_size=CODE_SIZE)
CODES = mostly(
    st.one_of(CODE.map(torch.tensor), st.lists(CODE, min_size=1, max_size=3).map(torch.tensor), CODE,
              st.lists(CODE, min_size=1, max_size=2), CODE.map(np.array)),
    st.one_of(st.lists(st.one_of(NUMBER, ODD), min_size=CODE_SIZE, max_size=CODE_SIZE),  # one code with odd entries
              st.lists(NUMBER, max_size=CODE_SIZE + 2), st.lists(CODE, max_size=0), ODD, NUMBER, TEXT,
              st.sampled_from([torch.full((CODE_SIZE,), math.nan), torch.zeros(2, 2, CODE_SIZE),
                               torch.zeros(CODE_SIZE, dtype=torch.long), torch.zeros(CODE_SIZE, dtype=torch.complex64),
                               torch.full((CODE_SIZE,), 1e30)])))
DECODE_OPTIONS = st.fixed_dictionaries({}, optional={
    "temperature": number(0.1, 2), "top_k": small(0, 50), "top_p": number(0.1, 1), "num_beams": small(1, 3),
    "length_penalty": number(0, 2), "max_length": small(1, 11), "generator": mostly(st.builds(torch.Generator), ODD),
    "draft": TEXTS})


@target("LatentEditor.decode", st.fixed_dictionaries(
    {"codes": CODES}, optional={"method": choice("greedy", "sample", "beam"), "options": DECODE_OPTIONS}), 2.0)
def fuzz_decode(context, case):
    codes = case["codes"]
    out = context.fresh_editor().decode(codes, case.get("method", "greedy"), **case.get("options", {}))
    rows = torch.as_tensor(codes, dtype=torch.float32)  # decode accepted it, so this works
    if rows.ndim == 1:
        expect(isinstance(out, str), "decode of one code is not a str", repr(out)[:200])
    else:
        expect(isinstance(out, list) and len(out) == len(rows) and all(isinstance(t, str) for t in out),
               "decode of N codes is not N strs", repr(out)[:200])


@target("LatentEditor.reconstruct", st.fixed_dictionaries({"texts": TEXTS}))
def fuzz_reconstruct(context, case):
    expect_texts(context.fresh_editor().reconstruct(case["texts"]), case["texts"], "reconstruct")


INPUT_TEXT = mostly(st.one_of(REVIEWS, TEXT), st.one_of(NUMBER, ODD))


@target("LatentEditor.interpolate", st.fixed_dictionaries(
    {"a": INPUT_TEXT, "b": INPUT_TEXT}, optional={"steps": small(2, 5, huge=True), "method": choice("slerp", "lerp")}))
def fuzz_interpolate(context, case):
    points = context.fresh_editor().interpolate(**case)
    steps = case.get("steps", 11)
    expect(isinstance(points, list) and len(points) == steps, "interpolate gave the wrong number of points")
    for point in points:
        expect(isinstance(point, InterpolationPoint) and isinstance(point.text, str) and 0.0 <= point.t <= 1.0
               and tuple(point.latent.shape) == (CODE_SIZE,), "malformed InterpolationPoint", repr(point)[:200])


@target("LatentEditor.sample", st.fixed_dictionaries(
    {"n": small(1, 4, huge=True)}, optional={"temperature": number(0.01, 3), "seed": SEED}))
def fuzz_sample(context, case):
    texts = context.fresh_editor().sample(**case)
    expect(isinstance(texts, list) and len(texts) == case["n"] and all(isinstance(t, str) for t in texts),
           "sample did not give n texts")


@target("LatentEditor.neighbors", st.fixed_dictionaries(
    {"text": INPUT_TEXT}, optional={"n": small(1, 4, huge=True), "radius": number(0, 3), "seed": SEED}))
def fuzz_neighbors(context, case):
    results = context.fresh_editor().neighbors(**case)
    expect_results(results, [None] * case.get("n", 5), "neighbor")


@st.composite
def _fit_head_case(draw):
    regression = draw(st.booleans())
    item = st.floats(-10, 10) if regression else st.sampled_from(["pos", "neg", 1, 2])
    texts, targets = draw(_texts_and(item, st.one_of(NUMBER, TEXT, ODD)))
    case = {"name": draw(NEW_NAME), "texts": texts, ("values" if regression else "labels"): targets}
    if draw(st.integers(0, 9)) == 0:
        case["labels" if regression else "values"] = targets  # both: an error
    case.update(draw(st.fixed_dictionaries({}, optional={
        "kind": mostly(st.sampled_from([None, "regression" if regression else "classification"]),
                       choice("regression", "classification")),
        "hidden": small(0, 4, huge=True),
        "description": mostly(TEXT, st.one_of(ODD, NUMBER)), "seed": SEED})))
    return case


@target("LatentEditor.fit_head", _fit_head_case(), 1.5)
def fuzz_fit_head(context, case):
    editor = context.fresh_editor()
    report = editor.fit_head(**case)
    expect(isinstance(report, dict) and report.get("head") == case["name"] and case["name"] in editor.heads,
           "fit_head report malformed", repr(report)[:200])
    expect_json(report, "the fit_head report")
    loaded = expect_saves_and_loads(editor, Path.cwd())
    before, after = (json.dumps(asdict(e.heads[case["name"]].config)) for e in (editor, loaded))  # NaN-safe comparison
    expect(before == after, "head config changed through save + load", f"{before} != {after}")


@target("LatentEditor.score", st.fixed_dictionaries(
    {"texts": TEXTS}, optional={"heads": mostly(st.one_of(st.none(), st.lists(st.sampled_from(HEADS), max_size=2, unique=True)),
                                                 st.one_of(st.lists(HEAD_NAME, max_size=3), TEXT, ODD))}))
def fuzz_score(context, case):
    scores = context.fresh_editor().score(**case)
    names = list(HEADS) if case.get("heads") is None else list(case["heads"])
    expect(isinstance(scores, dict) and set(scores) == set(names), "score keys are not the heads", repr(scores)[:200])
    for values in scores.values():
        if not _single(case["texts"]):
            expect(isinstance(values, list) and len(values) == len(case["texts"]), "score list has the wrong length")


@st.composite
def _learn_direction_case(draw):
    case = {"name": draw(NEW_NAME)}
    if draw(st.booleans()):
        for key in ("positive_texts", "negative_texts"):
            case[key] = draw(mostly(st.lists(st.one_of(REVIEWS, REVIEWS, REVIEWS, TEXT), min_size=2, max_size=5),
                                    st.one_of(st.lists(st.one_of(TEXT, NUMBER, ODD), max_size=3), ODD, TEXT)))
        case.update(draw(st.fixed_dictionaries({}, optional={"method": choice("mean", "probe")})))
    else:
        case["texts"], case["values"] = draw(_texts_and(st.floats(-10, 10), st.one_of(NUMBER, TEXT, ODD)))
    head, goal = draw(mostly(st.sampled_from([("", ""), ("sentiment", "pos"), ("rating", "max"), ("rating", "min")]),
                             st.one_of(st.tuples(HEAD_NAME, GOAL), st.tuples(st.just(""), GOAL))))
    case.update(head=head, target=goal)
    case.update(draw(st.fixed_dictionaries({}, optional={"description": mostly(TEXT, st.one_of(ODD, NUMBER))})))
    return case


@target("LatentEditor.learn_direction", _learn_direction_case(), 1.5)
def fuzz_learn_direction(context, case):
    editor = context.fresh_editor()
    direction = editor.learn_direction(**case)
    expect(isinstance(direction, Direction) and tuple(direction.vector.shape) == (CODE_SIZE,)
           and bool(torch.isfinite(direction.vector).all()), "malformed Direction", repr(direction)[:200])
    expect_saves_and_loads(editor, Path.cwd())
    expect_json(editor.describe_directions(), "describe_directions()")


SHIFT_OPTIONS = {"strength": mostly(st.one_of(st.just("auto"), st.floats(-3, 3)), st.one_of(NUMBER, TEXT, ODD)),
                 "max_strength": number(0.1, 4), "grid": small(1, 4, huge=True), "anchor": number(0, 8),
                 "revert": mostly(st.booleans(), ODD), "min_gain": number(0, 1), "min_confidence": number(0, 1),
                 "substitute": number(0, 3)}
EDIT_TEXTS = mostly(st.one_of(REVIEWS, st.lists(REVIEWS, min_size=1, max_size=2)), TEXTS)


@target("LatentEditor.shift",
        st.fixed_dictionaries({"texts": EDIT_TEXTS, "direction": DIRECTION_NAME}, optional=SHIFT_OPTIONS), 1.5)
def fuzz_shift(context, case):
    expect_results(context.fresh_editor().shift(**case), case["texts"], "shift")


TARGET_DICT = mostly(
    st.one_of(st.fixed_dictionaries({"sentiment": st.sampled_from(["pos", "neg"])}),
              st.fixed_dictionaries({"rating": st.one_of(st.sampled_from(["max", "min"]), st.floats(0, 6))}),
              st.fixed_dictionaries({"sentiment": st.sampled_from(["pos", "neg"]), "rating": st.sampled_from(["max", 2])})),
    st.one_of(st.dictionaries(st.one_of(st.sampled_from(HEADS), TEXT, st.sampled_from([None, 1, b"x"])), GOAL, max_size=2), ODD))
STEPS = small(1, 3)  # given always: the default, 50, is slow for a fuzz case
OPTIMIZE_OPTIONS = {
    "weights": mostly(st.one_of(st.none(), st.dictionaries(st.sampled_from(HEADS), st.floats(0.1, 5), max_size=2)),
                      st.one_of(st.dictionaries(st.sampled_from(HEADS), ANY, max_size=2), ODD, st.lists(NUMBER, max_size=2))),
    "method": choice("adam", "random"), "lr": number(0.001, 1), "proximity": number(0, 2), "prior": number(0, 1),
    "candidates": small(1, 4, huge=True), "max_distance": mostly(st.one_of(st.none(), st.floats(0, 10)), st.one_of(NUMBER, ODD)),
    "min_similarity": mostly(st.one_of(st.none(), st.floats(0, 1)), st.one_of(NUMBER, ODD)), "seed": SEED}


@target("LatentEditor.optimize", st.fixed_dictionaries(
    {"texts": EDIT_TEXTS, "target": TARGET_DICT, "steps": STEPS}, optional=OPTIMIZE_OPTIONS), 1.5)
def fuzz_optimize(context, case):
    expect_results(context.fresh_editor().optimize(**case), case["texts"], "optimize")


@target("EditResult.shift", st.fixed_dictionaries({"source": REVIEWS, "direction": DIRECTION_NAME}, optional=SHIFT_OPTIONS))
def fuzz_result_shift(context, case):
    case = dict(case)
    start = context.fresh_editor().shift(case.pop("source"), "plain", 0.5)
    expect_result(start.shift(**case), "shift")


@target("EditResult.optimize", st.fixed_dictionaries(
    {"source": REVIEWS, "target": TARGET_DICT, "steps": STEPS}, optional=OPTIMIZE_OPTIONS))
def fuzz_result_optimize(context, case):
    case = dict(case)
    start = context.fresh_editor().shift(case.pop("source"), "plain", 0.5)
    expect_result(start.optimize(**case), "optimize")


DEVICE = mostly(st.sampled_from(["cpu", "cpu:0", torch.device("cpu")]),
                st.one_of(st.sampled_from(["CPU", "cuda", "gpu", "cuda:99", -1, 0]),
                          TEXT.filter(lambda d: "meta" not in d.lower()), ODD, NUMBER))  # "meta" would empty the model


@target("LatentEditor.to", st.fixed_dictionaries({"device": DEVICE}), 0.5)
def fuzz_to(context, case):
    editor = context.fresh_editor()
    try:
        expect(editor.to(case["device"]) is editor, "to() did not return the editor")
    finally:
        context.editor.model.to("cpu", torch.float32)  # the shared model stays as it was for the next case
    expect(editor.device == torch.device("cpu"), "to() moved the model off the CPU")


def _safe_component(name: str) -> str:
    """A fuzzed file name that stays inside the scratch folder (no separators, no '.' / '..')."""
    name = name.replace("/", "_")
    return name if name.strip(".") else f"m{name}"


@target("LatentEditor.save", st.fixed_dictionaries({"path": mostly(
    st.one_of(st.sampled_from(["saved", "@MODEL@", "@JUNK@"]), TEXT.map(_safe_component)),
    st.one_of(st.sampled_from(["@FILE@", "@FILE@/sub"]), ODD, NUMBER))}), 0.5)
def fuzz_save(context, case):
    path, scratch = case["path"], Path.cwd()
    (scratch / "file").write_text("not a folder")
    (scratch / "junk").mkdir()
    (scratch / "junk" / "notes.txt").write_text("keep me")
    if isinstance(path, str) and path == "@MODEL@":
        shutil.copytree(context.model_folder, scratch / "copy")
    if isinstance(path, str):
        path = str(scratch / path.replace("@FILE@", "file").replace("@JUNK@", "junk").replace("@MODEL@", "copy"))
    context.fresh_editor().save(path)
    loaded = LatentEditor.load(path)
    expect(set(loaded.heads) == set(HEADS) and set(loaded.directions) == set(DIRECTIONS), "saved folder does not load back")


@target("LatentEditor.load", st.fixed_dictionaries(
    {"name_or_path": mostly(st.just("@MODEL@"),
                            st.one_of(TEXT, ODD, NUMBER, st.sampled_from(["default", ".", "", "/", "@FILE@"])))},
    optional={"device": DEVICE}))
def fuzz_load(context, case):
    name = case["name_or_path"]
    (Path.cwd() / "file").write_text("not a model")
    if isinstance(name, str):
        name = name.replace("@MODEL@", str(context.model_folder)).replace("@FILE@", "file")
    editor = LatentEditor.load(name, **{k: v for k, v in case.items() if k == "device"})
    expect(isinstance(editor, LatentEditor), "load did not give a LatentEditor")


def _json_containers(inner):
    return st.one_of(st.lists(inner, max_size=3), st.dictionaries(TEXT, inner, max_size=3))


MODEL_FILES = ("config.json", "model.safetensors", "tokenizer.json", "heads/sentiment/config.json",
               "heads/rating/model.safetensors", "directions/positive.json", "directions/plain.safetensors")
FILE_BYTES = st.one_of(
    st.binary(max_size=300),
    st.lists(TEXT, max_size=6).map(lambda lines: "\n".join(lines).encode()),
    st.builds(lambda text, ending: (text.replace("\n", ending)).encode("utf-8"), _PHRASE, st.sampled_from(["\n", "\r\n", "\r"])),
    st.builds(lambda body, bom: bom + body, st.lists(REVIEWS, min_size=1, max_size=4).map(lambda t: "\n".join(t).encode()),
              st.sampled_from([b"", b"\xef\xbb\xbf", b"\xff\xfe", b"\x00"])),
    st.builds(lambda head, tail: head + tail, st.binary(max_size=20),
              st.sampled_from([b"a" * 200_000, b"\xff" * 1000, b"\n" * 1000])),  # a huge line, bad bytes, empty lines
    st.builds(lambda obj: json.dumps(obj).encode(), st.recursive(
        st.one_of(st.none(), st.booleans(), st.floats(), st.integers(), TEXT), _json_containers, max_leaves=6)),
)


@target("LatentEditor.load(damaged folder)", st.fixed_dictionaries(
    {"file": st.sampled_from(MODEL_FILES), "content": st.one_of(FILE_BYTES, st.sampled_from(["truncate", "delete", "folder"]))}))
def fuzz_load_damaged(context, case):
    folder = Path.cwd() / "model"
    shutil.copytree(context.model_folder, folder)
    path = folder / case["file"]
    content = case["content"]
    if content == "truncate":
        path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    elif content == "delete":
        path.unlink()
    elif content == "folder":
        path.unlink()
        path.mkdir()
    else:
        path.write_bytes(content)
    editor = LatentEditor.load(folder)
    expect(isinstance(editor, LatentEditor), "load did not give a LatentEditor")


# -- data, configs, tokenizer ----------------------------------------------------------------------

EXTENSIONS = ("txt", "csv", "tsv", "jsonl", "", "TSV", "md")


@st.composite
def _table_bytes(draw, style: str | None = None, clean: bool | None = None):
    """A CSV / TSV / JSONL file (style ",", "\t" or "jsonl"; random if None) with text, value and
    label columns: clean rows, or fuzzed column names and cells (NaN, empty, any text, wrong field
    counts); random if clean is None."""
    clean = draw(st.booleans()) if clean is None else clean
    columns = ["text", "value", "label"] if clean else draw(st.lists(
        st.one_of(st.sampled_from(["text", "value", "label"]), TEXT), min_size=1, max_size=4))
    valid = {"text": REVIEWS, "value": st.floats(-5, 5), "label": st.sampled_from(["pos", "neg"])}
    fuzzed = st.one_of(st.sampled_from(["nan", "inf", "1e999", "", " ", '"', "a,b", "a\tb"]), TEXT, NUMBER.filter(
        lambda v: isinstance(v, (int, float))), st.none(), st.lists(st.integers(), max_size=2))
    rows = [[draw(valid.get(c, TEXT) if clean else mostly(valid.get(c, TEXT), fuzzed)) for c in columns]
            for _ in range(draw(st.integers(4 if clean else 0, 8)))]
    style = style or draw(st.sampled_from([",", "\t", "jsonl"]))
    if style == "jsonl":
        lines = [json.dumps(dict(zip(columns, row))) for row in rows]
    else:
        lines = [style.join(columns)] + [style.join(map(str, row)) + ("" if clean else draw(st.sampled_from(["", "", style])))
                                         for row in rows]
    return "\n".join(lines).encode("utf-8")


DATA_FILE = st.one_of(_table_bytes(), FILE_BYTES)
STYLE = {"csv": ",", "tsv": "\t", "jsonl": "jsonl"}


def table_file(extension: str):
    """Mostly a clean table in the format of the extension, else any fuzzed file."""
    return mostly(_table_bytes(STYLE.get(extension, ","), clean=True), DATA_FILE, odds=7)


@target("read_texts", st.fixed_dictionaries(
    {"content": DATA_FILE, "extension": st.sampled_from(EXTENSIONS)},
    optional={"column": st.one_of(st.sampled_from(["text", "value"]), TEXT, ODD),
              "format": st.one_of(st.sampled_from(["txt", "csv", "tsv", "jsonl", "CSV", "xml"]), TEXT, ODD),
              "path": st.one_of(TEXT, ODD, NUMBER, st.sampled_from([".", "missing.txt"]))}), 2.0)
def fuzz_read_texts(context, case):
    name = f"data.{case['extension']}" if case["extension"] else "data"
    Path(name).write_bytes(case["content"])
    path = case.get("path", name)
    texts = read_texts(path, case.get("column"), format=case.get("format"))
    expect(isinstance(texts, list) and all(isinstance(t, str) and t and t == t.strip() for t in texts),
           "read_texts did not give stripped non-empty strs")


VAE_FIELDS = tuple(f.name for f in fields(VAEConfig))
CONFIG_VALUE = st.one_of(st.integers(-2, 70),
                         st.sampled_from(["mmd", "none", "attention", "mean", "imq", "relu", "gated-gelu"]), ANY)
VALID_VAE_VALUE = {"dropout": st.floats(0, 0.99), "word_dropout": st.floats(0, 0.99), "mmd_weight": st.floats(0, 100),
                   "beta": st.floats(0, 10), "free_bits": st.floats(0, 10), "target_rate": st.floats(0, 100),
                   "feed_forward": st.sampled_from(["relu", "gated-gelu"]), "pooling": st.sampled_from(["attention", "mean"]),
                   "inject_embeddings": st.booleans(), "regularizer": st.sampled_from(["mmd", "kl_free_bits", "kl_mdr", "none"]),
                   "mmd_kernel": st.sampled_from(["imq", "rbf"]), "max_length": st.integers(2, 64)}
for _name in ("pad_token_id", "bos_token_id", "eos_token_id", "mask_token_id"):
    VALID_VAE_VALUE[_name] = st.integers(0, 4)


@st.composite
def _vae_values(draw):
    """Some VAEConfig fields, each mostly with a valid value, else a fuzzed one."""
    names = draw(st.lists(st.sampled_from(VAE_FIELDS), max_size=3, unique=True))
    return {name: draw(mostly(VALID_VAE_VALUE.get(name, st.integers(1, 64)), CONFIG_VALUE)) for name in names}


@target("VAEConfig", _vae_values(), 2.0)
def fuzz_vae_config(context, case):
    config = VAEConfig(**case)
    roundtrip = VAEConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    expect(roundtrip == config and isinstance(config.code_size, int), "VAEConfig does not round-trip through JSON")


@target("VAEConfig.from_dict", mostly(_vae_values(), st.one_of(
    st.dictionaries(st.one_of(st.sampled_from(VAE_FIELDS), HASHABLE), CONFIG_VALUE, max_size=3), ODD, NUMBER, TEXT)), 2.0)
def fuzz_vae_config_from_dict(context, case):
    config = VAEConfig.from_dict(case)
    expect(VAEConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config, "VAEConfig does not round-trip")


TRAIN_SECTION_KEYS = {
    "data": ("train", "column", "valid", "valid_fraction", "max_examples", "vocab_size"),
    "training": ("output_dir", "init_t5", "init_from", "seed", "batch_size", "steps", "lr", "warmup_steps", "min_lr_ratio",
                 "weight_decay", "grad_clip", "mdr_lr", "beta_schedule", "beta_cycles", "beta_ratio",
                 "mixed_precision", "length_bucketing", "log_every", "eval_every", "eval_examples", "checkpoint_every"),
    "model": VAE_FIELDS,
}


_TRAIN_INTS = ("batch_size", "steps", "log_every", "eval_every", "eval_examples", "checkpoint_every", "beta_cycles")
VALID_TRAIN_VALUE = {
    "data": {"train": st.just("x.txt"), "column": st.sampled_from(["text", None]), "valid": st.just(""),
             "valid_fraction": st.floats(0, 0.9), "max_examples": st.integers(0, 100), "vocab_size": st.integers(300, 9000)},
    "training": {"output_dir": st.just("run"), "init_t5": st.just(""), "init_from": st.just(""),
                 "seed": st.integers(0, 10), "lr": st.floats(1e-5, 1),
                 "mdr_lr": st.floats(1e-4, 1), "min_lr_ratio": st.floats(0, 1), "weight_decay": st.floats(0, 1),
                 "grad_clip": st.floats(0, 10), "beta_ratio": st.floats(0, 1), "warmup_steps": st.integers(0, 100),
                 "beta_schedule": st.sampled_from(["constant", "cyclical"]), "length_bucketing": st.booleans(),
                 "mixed_precision": st.sampled_from(["no", "bf16", "fp16"]), **{k: st.integers(1, 100) for k in _TRAIN_INTS}},
    "model": {name: VALID_VAE_VALUE.get(name, st.integers(1, 64)) for name in VAE_FIELDS},
}


@st.composite
def _train_config_dict(draw):
    """A TrainConfig dict: [data] with a train file, maybe [training] and [model]; keys and values
    mostly valid, else fuzzed; rarely an odd section or an unknown top-level key."""
    values = {}
    for section, valid in VALID_TRAIN_VALUE.items():
        if section == "data" or draw(st.booleans()):
            table = {"train": "x.txt"} if section == "data" else {}
            for key in draw(st.lists(mostly(st.sampled_from(sorted(valid)), HASHABLE), max_size=3)):
                table[key] = draw(mostly(valid.get(key, CONFIG_VALUE), CONFIG_VALUE))
            values[section] = draw(mostly(st.just(table), ODD))
    if draw(st.integers(0, 9)) == 0:
        values[draw(HASHABLE)] = draw(ANY)
    return values


@target("TrainConfig.from_dict", mostly(_train_config_dict(), ODD), 2.0)
def fuzz_train_config(context, case):
    config = TrainConfig.from_dict(case)
    expect(TrainConfig.from_dict(json.loads(config.to_json())) == config, "TrainConfig does not round-trip through JSON")


def _toml_value(value) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)) and not isinstance(value, (np.generic,)):
        return repr(value) if isinstance(value, int) else repr(float(value)).replace("inf", "inf").replace("nan", "nan")
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        items = [_toml_value(v) for v in value]
        return None if None in items else "[" + ", ".join(items) + "]"
    return None


def _toml(values: dict) -> bytes:
    """values as TOML text (keys quoted; values TOML cannot hold are left out)."""
    lines = []
    for section, table in values.items():
        if isinstance(section, str) and isinstance(table, dict):
            lines.append(f"[{json.dumps(section)}]")
            lines += [f"{json.dumps(k)} = {v}" for k, v in ((k, _toml_value(v)) for k, v in table.items())
                      if isinstance(k, str) and v is not None]
    return "\n".join(lines).encode("utf-8")


TOML_LINE = st.one_of(
    st.sampled_from(["[data]", "[training]", "[model]", 'train = "x.txt"', "steps = 0", "lr = nan", "lr = inf",
                     "valid_fraction = 'x'", "column = 5", "d_model = 1e400", "beta_schedule = []", "[[data]]"]),
    st.builds(lambda key, value: f"{key} = {value}", st.sampled_from(sum(map(list, TRAIN_SECTION_KEYS.values()), [])),
              st.one_of(st.integers(-3, 100).map(str), st.sampled_from(["nan", "-inf", "true", "[1, 2]", "{a = 1}",
                                                                          "1979-05-27", '"text"', "''"]), TEXT)), TEXT)
TOML_FILE = mostly(_train_config_dict().map(_toml),
                   st.one_of(st.lists(TOML_LINE, max_size=8).map(lambda lines: "\n".join(lines).encode()), FILE_BYTES))
OVERRIDE = mostly(st.sampled_from(["training.steps=5", "model.d_model=32", 'data.train="y.txt"', "training.lr=0.1",
                                   "data.column=text", "model.pooling=mean"]),
                  st.one_of(st.builds(lambda k, v: f"{k}={v}", st.sampled_from(
                      ["data.train", "training.steps", "model.d_model", "training.lr", "data.valid_fraction", "x.y", "data"]),
                      TEXT), TEXT))


@target("TrainConfig.load", st.fixed_dictionaries(
    {"content": TOML_FILE, "path": mostly(st.just("config.toml"), st.one_of(TEXT, ODD, NUMBER, st.just("."))),
     "overrides": mostly(st.lists(OVERRIDE, max_size=3), st.one_of(ODD, TEXT))}), 2.0)
def fuzz_train_config_load(context, case):
    Path("config.toml").write_bytes(case["content"])
    config = TrainConfig.load(case["path"], case["overrides"])
    expect(isinstance(config, TrainConfig), "not a TrainConfig")
    expect(TrainConfig.from_dict(json.loads(config.to_json())) == config, "TrainConfig does not round-trip through JSON")


@target("Tokenizer.encode", st.fixed_dictionaries(
    {"texts": mostly(st.lists(TEXT, max_size=3), TEXTS),
     "max_length": mostly(st.integers(2, 20), st.one_of(COUNT_OR_HUGE, NUMBER))}))
def fuzz_tokenizer_encode(context, case):
    batch = context.editor.tokenizer.encode(**case)
    rows = 1 if _single(case["texts"]) else len(case["texts"])
    expect(batch.ids.dtype == torch.long and batch.ids.ndim == 2 and batch.ids.shape[0] == rows
           and batch.mask.shape == batch.ids.shape, f"EncodedBatch is not ({rows}, T)", repr(batch.ids.shape))
    expect(batch.ids.shape[1] <= case["max_length"], "EncodedBatch is wider than max_length", repr(batch.ids.shape))


@target("Tokenizer.decode", st.fixed_dictionaries({"ids": st.one_of(
    st.lists(st.lists(st.one_of(st.integers(0, 400), st.integers(-5, 5), st.sampled_from([2**31, 2**63, 10**30])),
                      max_size=6), max_size=3),
    st.lists(st.lists(st.one_of(NUMBER, ODD), max_size=3), max_size=2), ODD, NUMBER, TEXT,
    st.sampled_from([torch.zeros(2, 3, dtype=torch.long), torch.full((1, 2), -1), torch.zeros(3), torch.zeros(2, 2, 2)]))}))
def fuzz_tokenizer_decode(context, case):
    texts = context.editor.tokenizer.decode(case["ids"])
    expect(isinstance(texts, list) and all(isinstance(t, str) for t in texts), "decode did not give a list of str")


@target("Tokenizer.count_tokens", st.fixed_dictionaries({"text": st.one_of(TEXT, NUMBER, ODD)}))
def fuzz_tokenizer_count(context, case):
    count = context.editor.tokenizer.count_tokens(case["text"])
    expect(isinstance(count, int) and count >= 0, "count_tokens is not an int >= 0")


@target("Tokenizer.train", st.fixed_dictionaries(
    {"texts": mostly(st.lists(st.one_of(REVIEWS, TEXT), max_size=5), TEXTS)},
    optional={"vocab_size": mostly(st.integers(5, 400), st.one_of(COUNT_OR_HUGE, NUMBER)),
              "min_frequency": mostly(st.integers(1, 3), st.one_of(COUNT_OR_HUGE, NUMBER))}), 0.5)
def fuzz_tokenizer_train(context, case):
    tokenizer = Tokenizer.train(**case)
    expect(isinstance(tokenizer, Tokenizer) and tokenizer.vocab_size >= 5, "Tokenizer.train gave no tokenizer")


@target("Tokenizer.load", st.fixed_dictionaries(
    {"content": mostly(st.just("@TOKENIZER@"), FILE_BYTES)}, optional={"path": st.one_of(TEXT, ODD, NUMBER)}))
def fuzz_tokenizer_load(context, case):
    content = case["content"]
    if content == "@TOKENIZER@":
        content = (context.model_folder / "tokenizer.json").read_bytes()
    Path("tokenizer.json").write_bytes(content)
    expect(isinstance(Tokenizer.load(case.get("path", "tokenizer.json")), Tokenizer), "not a Tokenizer")


# -- the command line ------------------------------------------------------------------------------


def _tame(token: str) -> str:
    """Replace a large whole number (9 .. 2**63) by 4: as a loop count it would be legitimately slow."""
    try:
        return "4" if 8 < int(token) < 2**63 else token
    except (ValueError, TypeError):
        return token


ARG = TEXT.map(_tame)
FUZZ_ARG = st.one_of(st.sampled_from(["nan", "inf", "-inf", "1e999", "-0", "0", "-1", "1e-400", "1_0", "\u0663", "0x10",
                                      "9" * 5000, "-5e3", " 3 ", "auto", "max", "", "1.5", "+2", "x", "--json"]), ARG)
HUGE_ARG = st.sampled_from(["9" * 30, str(2**63), str(2**64), "-" + str(2**63 + 1)])


def arg(*valid: str, huge: bool = False):
    """An option value: one of ``valid`` mostly, else a fuzzed string (and absurdly large whole
    numbers if ``huge``: only for options where they are refused before any loop)."""
    return mostly(st.sampled_from(valid), st.one_of(FUZZ_ARG, HUGE_ARG) if huge else FUZZ_ARG, odds=7)


MODEL_ARG = mostly(st.just("@MODEL@"), st.one_of(st.sampled_from(["missing", ".", "default", "in.txt", "@MODEL@/config.json",
                                                                   "file", "folder"]), ARG), odds=7)
CLI_TEXT = st.one_of(REVIEWS, TEXT)  # positional texts: anything, including texts that look like options


def _options(draw, spec: dict) -> list[str]:
    """Some of the options in spec (flag -> value strategy, None for a switch), in random order."""
    argv = []
    for flag in draw(st.lists(st.sampled_from(sorted(spec)), unique=True, max_size=min(3, len(spec)))):
        argv.append(flag)
        if spec[flag] is not None:
            argv.append(draw(spec[flag]))
    return argv


TEXT_OPTIONS = {"--json": None, "--output": st.sampled_from(["out.txt", "out.jsonl", "folder", "file/out.txt", "sub/dir/out"])}
COMMAND_OPTIONS = {
    "reconstruct": {"--refine": arg("0", "2")},
    "encode": {"--refine": arg("0", "2")},
    "shift": {"--refine": arg("0", "2"), "--strength": arg("0.5", "-1", "2", "auto", "AUTO", "0"),
              "--max-strength": arg("1", "3"), "--trajectory": None},
    "optimize": {"--refine": arg("0", "2"), "--weight": arg("1", "2.5"), "--method": arg("adam", "random"),
                 "--steps": arg("1", "2"),
                 "--max-distance": arg("0", "2", "100"), "--min-similarity": arg("0", "0.3", "1"),
                 "--seed": arg("0", "7", huge=True), "--trajectory": None},
}
# every case has these in its folder: a regular file, an empty folder, a folder holding a file
SCRATCH_FILES = {"file": b"a regular file", "folder/": None, "junk/notes.txt": b"keep me"}
LINES = st.lists(st.one_of(REVIEWS, REVIEWS, TEXT.filter(lambda t: "\n" not in t and t.strip())), min_size=1, max_size=5).map(
    lambda texts: "\n".join(texts).encode())


@st.composite
def _edit_command(draw, with_input: bool):
    """reconstruct / encode / shift / optimize with texts as arguments or from --input."""
    command = draw(st.sampled_from(sorted(COMMAND_OPTIONS)))
    argv = [command, "--model", draw(MODEL_ARG)]
    if command == "shift":
        argv += ["--direction", draw(arg(*DIRECTIONS))]
    if command == "optimize":
        for _ in range(draw(st.integers(0, 2))):
            argv += ["--head", draw(arg(*HEADS)), "--target", draw(arg("max", "min", "pos", "neg", "3", "Max"))]
        argv += ["--steps", draw(st.sampled_from(["1", "2"]))]  # a later --steps from the options overrides this
    argv += _options(draw, {**COMMAND_OPTIONS[command], **TEXT_OPTIONS})
    case = {"argv": argv, "files": dict(SCRATCH_FILES), "check_output": True}
    if with_input:
        name = "in." + draw(st.sampled_from(EXTENSIONS))
        case["files"][name] = draw(st.one_of(LINES, DATA_FILE))
        argv += ["--input", name]
        if draw(st.integers(0, 5)) == 0:
            argv += draw(st.lists(CLI_TEXT, min_size=1, max_size=2))  # texts and --input: an error
    else:
        texts = draw(mostly(st.lists(CLI_TEXT, min_size=1, max_size=3), st.lists(CLI_TEXT, max_size=3)))
        argv += texts
        case["texts"] = len(texts)
    return case


@st.composite
def _other_command(draw):
    command = draw(st.sampled_from(["interpolate", "sample", "info"]))
    argv = [command, "--model", draw(MODEL_ARG)]
    if command == "interpolate":
        argv += [draw(CLI_TEXT), draw(CLI_TEXT)]
        argv += _options(draw, {"--steps": arg("2", "3", huge=True), "--method": arg("slerp", "lerp")})
    elif command == "sample":
        argv += _options(draw, {"-n": arg("1", "2", huge=True), "--temperature": arg("0.5", "1", "3"),
                                "--seed": arg("0", "7", huge=True)})
    argv += _options(draw, {"--json": None})
    return {"argv": argv, "files": {}}


# where fit-head / learn-direction save: a new folder, in place (a copy of the model as --model), or places they must refuse
OUTPUT_MODEL = mostly(st.sampled_from(["new-model", "@IN-PLACE@"]), st.sampled_from(["file", "junk", "folder", "file/deeper"]), 7)


@st.composite
def _fit_head_command(draw):
    extension = draw(mostly(st.sampled_from(["csv", "tsv", "jsonl"]), st.sampled_from(EXTENSIONS), 7))
    data = "data." + extension
    flag = draw(st.sampled_from(["--value-column", "--label-column"]))
    argv = ["fit-head", draw(arg("new", "sentiment", "a.b")), "--model", draw(MODEL_ARG), "--input", data,
            flag, draw(arg("value" if flag == "--value-column" else "label", "text")), "--output-model", draw(OUTPUT_MODEL)]
    argv += _options(draw, {"--column": arg("text", "value"), "--hidden": arg("0", "3", huge=True),
                            "--kind": arg("regression" if flag == "--value-column" else "classification"),
                            "--seed": arg("0", "7", huge=True),
                            "--description": ARG, "--json": None})
    return {"argv": argv, "files": {**SCRATCH_FILES, data: draw(table_file(extension))}, "saves": "head"}


def _head_and_target(which: str, head: str, goal: str) -> list[str]:
    return (["--head", head] if which != "target" else []) + (["--target", goal] if which != "head" else [])


HEAD_AND_TARGET = mostly(st.sampled_from([[], ["--head", "sentiment", "--target", "pos"],
                                          ["--head", "rating", "--target", "max"]]),
                         st.builds(_head_and_target, st.sampled_from(["both", "head", "target"]), arg(*HEADS),
                                   arg("max", "min", "pos", "neg", "3")))


@st.composite
def _learn_direction_command(draw):
    argv = ["learn-direction", draw(arg("new", "positive")), "--model", draw(MODEL_ARG),
            "--output-model", draw(OUTPUT_MODEL)]
    files = dict(SCRATCH_FILES)
    if draw(st.booleans()):
        flags = draw(mostly(st.just(["--positive", "--negative"]), st.sampled_from([["--positive"], ["--negative"]])))
        for flag in flags:
            extension = draw(mostly(st.just("txt"), st.sampled_from(EXTENSIONS), 7))
            name = flag[2:] + "." + extension
            files[name] = draw(LINES if extension == "txt" else table_file(extension))
            argv += [flag, name]
        argv += _options(draw, {"--method": arg("mean", "probe")})
    else:
        extension = draw(mostly(st.sampled_from(["csv", "tsv", "jsonl"]), st.sampled_from(EXTENSIONS), 7))
        name = "data." + extension
        files[name] = draw(table_file(extension))
        argv += ["--input", name] + draw(mostly(st.just(["--value-column", "value"]), st.one_of(
            st.just([]), st.builds(lambda column: ["--value-column", column], ARG))))
    argv += draw(HEAD_AND_TARGET)
    argv += _options(draw, {"--column": arg("text"), "--description": ARG, "--json": None})
    return {"argv": argv, "files": files, "saves": "direction"}


@st.composite
def _train_command(draw):
    argv = ["train"] + draw(st.lists(st.one_of(
        st.sampled_from(["config.toml", "--resume", "--no-progress", "--set", "missing.toml", "--help", "--"]), ARG), max_size=4))
    content = draw(st.one_of(st.lists(TOML_LINE, max_size=6).map(lambda lines: "\n".join(lines).encode()), FILE_BYTES))
    # never a real training run: no fuzzed config names an existing training file, and just in case, 1 step
    return {"argv": argv + ["--set", "training.steps=1", "--set", "training.output_dir='run'"],
            "files": {"config.toml": content}}


def cli_commands() -> list[str]:
    """The subcommands of the latentedit CLI, read from its parser."""
    parser = cli.build_parser()
    return sorted(next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices)


# every command but demo and train (their own targets keep them from training a model), commands added later included
RANDOM_ARGV_COMMANDS = [command for command in cli_commands() if command not in ("demo", "train")]


@st.composite
def _random_argv(draw):
    """A command followed by random tokens (options of any command, values, texts)."""
    flags = sorted({f for spec in COMMAND_OPTIONS.values() for f in spec} | set(TEXT_OPTIONS)
                   | {"--model", "--direction", "--head", "--target", "--input", "--steps", "-n", "--help", "--"})
    command = draw(mostly(st.sampled_from(RANDOM_ARGV_COMMANDS),
                          st.one_of(st.sampled_from(["nonsense", "-h", "--version", ""]), ARG)))
    tokens = draw(st.lists(st.one_of(st.sampled_from(flags), FUZZ_ARG, CLI_TEXT.map(_tame)), max_size=6))
    case = {"argv": [command] + tokens + ["--model", "@MODEL@"], "files": {**SCRATCH_FILES, "in.txt": b"the food was great .\n"}}
    if command in ("fit-head", "learn-direction"):
        case["saves"] = "any"  # run_cli adds --output-model new-model: never into the shared model folder
    return case


@st.composite
def _demo_command(draw):
    """demo with a --workdir that cannot be created (under a regular file): any other trains a model."""
    return {"argv": ["demo", "--workdir", "file/" + draw(TEXT)], "files": dict(SCRATCH_FILES)}


def _output(stream: io.TextIOWrapper) -> str:
    stream.flush()
    return stream.buffer.getvalue().decode("utf-8", errors="replace")


def _option(argv: list[str], flag: str) -> str | None:
    """The value of the last ``flag`` in argv (None if absent)."""
    values = [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == flag]
    return values[-1] if values else None


def run_cli(context: FuzzContext, case: dict) -> tuple[list[str], int, str, str]:
    """main(argv) in the scratch folder with case["files"] written there (a name ending in / is a
    folder); stdout is strict UTF-8 like a UTF-8 terminal's, stderr backslashreplace as Python sets
    it up. Commands that save a model get --output-model new-model unless they name one, so the
    shared model folder is never written (@MODEL@ as --output-model is a copy of it)."""
    for name, content in case.get("files", {}).items():
        Path(name).parent.mkdir(parents=True, exist_ok=True)
        if content is None:
            Path(name).mkdir(exist_ok=True)
        else:
            Path(name).write_bytes(content)
    argv = list(case["argv"])
    if case.get("saves"):
        if "--output-model" not in argv:
            argv += ["--output-model", "new-model"]
        if _option(argv, "--output-model") == "@IN-PLACE@":  # update a copy of the model in place
            shutil.copytree(context.model_folder, "model-copy")
            argv = [("model-copy" if a in ("@MODEL@", "@IN-PLACE@") else a) for a in argv]
    argv = [a.replace("@MODEL@", str(context.model_folder)) for a in argv]
    stdout = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="strict", write_through=True)
    stderr = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="backslashreplace", write_through=True)
    columns = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "120"
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            code = cli.main(argv)
    finally:
        if columns is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = columns
    return argv, code, _output(stdout), _output(stderr)


def check_cli(context: FuzzContext, case: dict) -> str | None:
    argv, code, out, err = run_cli(context, case)
    expect("Traceback (most recent call last)" not in out + err, "traceback printed", err[-300:])
    expect(code in (0, 2), f"exit code {code}", err[-300:])
    lines = [line for line in err.splitlines() if not line.startswith("warning: ")]
    if code == 2:
        if lines:
            # named after the message's first two words, which come from the library, not from the input
            first = " ".join(lines[0].split()[1:3]) if lines[0].startswith("error: ") else "no error: line"
            expect(len(lines) == 1 and lines[0].startswith("error: "), f"exit 2 with a multi-line message ('{first} ...')",
                   repr(err[:300]))
        else:
            expect(out.startswith("usage:"), "exit 2 with no error message", out[:200])
        return "error"
    expect(not any(line.startswith("error:") for line in lines), "exit 0 with an error message", err[:300])
    if "-h" in argv or "--help" in argv:
        return None
    if case.get("saves") in ("head", "direction"):  # what the CLI saved loads back, with the new head or direction
        loaded = LatentEditor.load(_option(argv, "--output-model"))
        saved = loaded.heads if case["saves"] == "head" else loaded.directions
        expect(argv[1] in saved, f"the new {case['saves']} was not saved")
    if case.get("check_output"):  # outputs are line-aligned with the inputs; JSON output parses
        output, source = _option(argv, "--output"), _option(argv, "--input")
        rows = Path(output).read_bytes().decode("utf-8").split("\n")[:-1] if output else out.splitlines()
        json_rows = argv[0] == "encode" or "--json" in argv
        if source is not None:
            data = Path(source).read_bytes()
            expected = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
        else:
            expected = case["texts"]
        if output or json_rows:
            expect(len(rows) == expected, f"{len(rows)} output lines for {expected} inputs", repr(rows)[:300])
        if json_rows:
            for row in rows:
                json.loads(row)
    return None


def _cli_target(name: str, strategy, weight: float, commands: tuple[str, ...]):
    target(name, strategy, weight, commands)(check_cli)


EDIT_COMMANDS = tuple(sorted(COMMAND_OPTIONS))
_cli_target("cli: texts as arguments", _edit_command(with_input=False), 2.0, EDIT_COMMANDS)
_cli_target("cli: --input files", _edit_command(with_input=True), 2.0, EDIT_COMMANDS)
_cli_target("cli: interpolate, sample, info", _other_command(), 1.0, ("interpolate", "sample", "info"))
_cli_target("cli: fit-head", _fit_head_command(), 1.0, ("fit-head",))
_cli_target("cli: learn-direction", _learn_direction_command(), 1.0, ("learn-direction",))
_cli_target("cli: train", _train_command(), 1.0, ("train",))
_cli_target("cli: demo", _demo_command(), 0.5, ("demo",))
_cli_target("cli: random argv", _random_argv(), 2.0, ())
_cli_target("cli: surrogates in argv", st.builds(
    lambda command, text: {"argv": [command, "--model", "@MODEL@", text], "files": {}, "check_output": True, "texts": 1},
    st.sampled_from(["reconstruct", "encode"]), SURROGATE_TEXT), 0.5, ())



# -- known bugs ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KnownBug:
    target: str
    signature: str  # FuzzFailure.signature of the failure
    case: Any  # a minimal input reproducing it
    reason: str  # the cause and the fix


#: Bugs the fuzzing found and that are not fixed yet, each as KnownBug(target, signature, minimal input, cause
#: and fix); empty while every target holds its contract.
KNOWN_BUGS: tuple[KnownBug, ...] = ()


#: The minimal inputs of the bugs fuzzing found and that were fixed, as (target, case) pairs, each replayed by
#: test_fixed_bug_stays_fixed (commit 83893e8 lists each one's failure signature, cause and suggested fix).
_CODE = [0.0] * CODE_SIZE
_TEXT = "the food was great ."
_FOUR = [_TEXT, "the staff was rude .", "the view was lovely .", "the room was cold ."]
_HEAD_CASE = {"name": "new", "texts": _FOUR, "labels": ["pos", "neg", "pos", "neg"]}
_PAIRS = {"name": "new", "positive_texts": _FOUR[::2], "negative_texts": _FOUR[1::2]}
_OPTIMIZE = {"texts": _TEXT, "target": {"sentiment": "pos"}, "steps": 1}
_RESULT_OPTIMIZE = {"source": _TEXT, "target": {"sentiment": "pos"}, "steps": 1}
_CLI_FILES = dict(SCRATCH_FILES)
_OPTIMIZE_ARGV = ["optimize", "--model", "@MODEL@", "--head", "sentiment", "--target", "pos", "--steps", "1",
                  "--method", "random", "--seed", str(2**64)]
_FIT_HEAD_ARGV = ["fit-head", "new", "--model", "@MODEL@", "--input", "data.csv", "--label-column", "label"]
_FIT_HEAD_FILES = {"data.csv": b"text,label\na,x\nb,y\nc,x\nd,y\n"}

FIXED_BUGS: tuple[tuple[str, Any], ...] = (
    ("LatentEditor.encode", {"texts": _TEXT, "seed": 1.5}),
    ("LatentEditor.encode", {"texts": _TEXT, "seed": 2**64}),
    ("LatentEditor.encode", {"texts": _TEXT, "sample": np.array([1.0, 2.0])}),
    ("LatentEditor.encode(surrogates)", {"texts": _TEXT + "\ud800"}),
    ("LatentEditor.decode", {"codes": _CODE, "method": "nucleus"}),
    ("LatentEditor.decode", {"codes": _CODE, "method": "beam", "options": {"temperature": 1.0}}),
    ("LatentEditor.decode", {"codes": _CODE, "options": {"max_length": "3"}}),
    ("LatentEditor.decode", {"codes": _CODE, "method": "beam", "options": {"num_beams": True}}),
    ("LatentEditor.decode", {"codes": _CODE, "method": "sample", "options": {"temperature": 5e-324}}),
    ("LatentEditor.interpolate", {"a": _TEXT, "b": _TEXT, "steps": 2**63}),
    ("LatentEditor.sample", {"n": 1, "seed": 1.5}),
    ("LatentEditor.sample", {"n": 1, "seed": 2**64}),
    ("LatentEditor.sample", {"n": True}),
    ("LatentEditor.neighbors", {"text": _TEXT, "seed": None}),
    ("LatentEditor.neighbors", {"text": _TEXT, "seed": 2**64}),
    ("LatentEditor.neighbors", {"text": _TEXT, "n": 2**64}),
    ("LatentEditor.fit_head", {**_HEAD_CASE, "seed": None}),
    ("LatentEditor.fit_head", {**_HEAD_CASE, "seed": 2**64}),
    ("LatentEditor.fit_head", {**_HEAD_CASE, "hidden": True}),
    ("LatentEditor.fit_head", {**_HEAD_CASE, "description": b"x"}),
    ("LatentEditor.learn_direction", {"name": "new", "texts": _FOUR, "values": ["a", "b", "c", "d"]}),
    ("LatentEditor.learn_direction", {"name": "new", "texts": _FOUR, "values": {"a": 1}}),
    ("LatentEditor.learn_direction", {"name": "new", "texts": torch.zeros(0), "values": [1.0]}),
    ("LatentEditor.learn_direction", {**_PAIRS, "description": b"x"}),
    ("LatentEditor.learn_direction", {**_PAIRS, "head": ["sentiment"], "target": "pos"}),
    ("LatentEditor.score", {"texts": _TEXT, "heads": object()}),
    ("LatentEditor.score", {"texts": _TEXT, "heads": [["sentiment"]]}),
    ("LatentEditor.shift", {"texts": _TEXT, "direction": {}}),
    ("LatentEditor.shift", {"texts": _TEXT, "direction": "positive", "strength": "auto", "max_strength": 1e39}),
    ("LatentEditor.shift", {"texts": _TEXT, "direction": "positive", "strength": "auto", "grid": 2**63}),
    ("EditResult.shift", {"source": _TEXT, "direction": {}}),
    ("EditResult.shift", {"source": _TEXT, "direction": "positive", "strength": "auto", "max_strength": 1e39}),
    ("EditResult.shift", {"source": _TEXT, "direction": "positive", "strength": "auto", "grid": 2**63}),
    ("LatentEditor.optimize", {**_OPTIMIZE, "weights": b"x"}),
    ("LatentEditor.optimize", {**_OPTIMIZE, "weights": torch.zeros(0)}),
    ("LatentEditor.optimize", {**_OPTIMIZE, "weights": np.array([1.0, 2.0])}),
    ("LatentEditor.optimize", {**_OPTIMIZE, "method": "random", "seed": None}),
    ("LatentEditor.optimize", {**_OPTIMIZE, "method": "random", "seed": 2**64}),
    ("EditResult.optimize", {**_RESULT_OPTIMIZE, "weights": b"x"}),
    ("EditResult.optimize", {**_RESULT_OPTIMIZE, "weights": torch.zeros(0)}),
    ("EditResult.optimize", {**_RESULT_OPTIMIZE, "weights": np.array([1.0, 2.0])}),
    ("EditResult.optimize", {**_RESULT_OPTIMIZE, "method": "random", "seed": None}),
    ("EditResult.optimize", {**_RESULT_OPTIMIZE, "method": "random", "seed": 2**64}),
    ("LatentEditor.to", {"device": "CPU"}),
    ("LatentEditor.to", {"device": object()}),
    ("LatentEditor.to", {"device": "cuda"}),
    ("LatentEditor.to", {"device": -(2**63) - 1}),
    ("LatentEditor.save", {"path": None}),
    ("LatentEditor.save", {"path": "\x00"}),
    ("LatentEditor.load", {"name_or_path": 0}),
    ("LatentEditor.load", {"name_or_path": "@MODEL@", "device": "CPU"}),
    ("LatentEditor.load", {"name_or_path": "@MODEL@", "device": ...}),
    ("LatentEditor.load", {"name_or_path": "@MODEL@", "device": -(2**63) - 1}),
    ("LatentEditor.load", {"name_or_path": "@MODEL@", "device": "cuda"}),
    ("LatentEditor.load(damaged folder)", {"file": "heads/rating/model.safetensors", "content": b""}),
    ("LatentEditor.load(damaged folder)", {"file": "directions/plain.safetensors", "content": b""}),
    ("LatentEditor.load(damaged folder)", {"file": "heads/sentiment/config.json", "content": b"[]"}),
    ("LatentEditor.load(damaged folder)", {"file": "directions/positive.json", "content": b'{"a\\nb": 1}'}),
    ("LatentEditor.load(damaged folder)", {"file": "heads/sentiment/config.json", "content": b'{"a\\nb": 1}'}),
    ("read_texts", {"content": b"", "extension": "txt", "path": None}),
    ("read_texts", {"content": b"", "extension": "txt", "path": "a\nb"}),
    ("VAEConfig", {"pooling": np.array([1.0, 2.0])}),
    ("VAEConfig.from_dict", {"pooling": np.array([1.0, 2.0])}),
    ("VAEConfig.from_dict", {"a": 1, 0: 2}),
    ("TrainConfig.from_dict", None),
    ("TrainConfig.from_dict", []),
    ("TrainConfig.from_dict", {"data": {"train": "x.txt", "a": 1, 0: 2}}),
    ("TrainConfig.from_dict", {"data": {"train": "x.txt", "valid_fraction": torch.zeros(0)}}),
    ("TrainConfig.load", {"content": b"", "path": None, "overrides": []}),
    ("TrainConfig.load", {"content": b"", "path": "\x00", "overrides": []}),
    ("TrainConfig.load", {"content": b"", "path": "a\nb", "overrides": []}),
    ("TrainConfig.load", {"content": b'[data]\ntrain = "x.txt"', "path": "config.toml", "overrides": b"x"}),
    ("Tokenizer.encode", {"texts": "ab", "max_length": 4}),
    ("Tokenizer.encode", {"texts": [], "max_length": 0}),
    ("Tokenizer.encode", {"texts": [], "max_length": None}),
    ("Tokenizer.encode", {"texts": ["a"], "max_length": 2.5}),
    ("Tokenizer.decode", {"ids": "abc"}),
    ("Tokenizer.decode", {"ids": [[np.array([1.0, 2.0])]]}),
    ("Tokenizer.decode", {"ids": [[torch.zeros(0)]]}),
    ("Tokenizer.decode", {"ids": [[2**63]]}),
    ("Tokenizer.decode", {"ids": [[[0]]]}),
    ("Tokenizer.count_tokens", {"text": None}),
    ("Tokenizer.train", {"texts": None}),
    ("Tokenizer.train", {"texts": [_TEXT], "vocab_size": 2**63}),
    ("Tokenizer.train", {"texts": [_TEXT], "vocab_size": 2**64}),
    ("Tokenizer.load", {"content": "@TOKENIZER@", "path": "a\nb"}),
    ("cli: texts as arguments", {"argv": ["encode", "--model", "a\n" * 200, _TEXT], "files": {}}),
    ("cli: --input files",
     {"argv": ["encode", "--model", "a\n" * 200, "--input", "in.txt"], "files": {"in.txt": b"the food\n"}}),
    ("cli: random argv", {"argv": ["sample", "a\nb", "--model", "@MODEL@"], "files": {}}),
    ("cli: random argv", {"argv": ["info", "--model", "a\n" * 200], "files": {}}),
    ("cli: interpolate, sample, info", {"argv": ["info", "--model", "a\n" * 200], "files": {}}),
    ("cli: fit-head",
     {"argv": ["fit-head", "new", "--model", "a\n" * 200, "--input", "data.csv", "--label-column", "label"], "files": {}}),
    ("cli: learn-direction",
     {"argv": ["learn-direction", "new", "--model", "a\n" * 200, "--positive", "p.txt", "--negative", "n.txt"], "files": {}}),
    ("cli: demo", {"argv": ["demo", "--workdir", "file/" + "a\n" * 3000], "files": _CLI_FILES}),
    ("cli: interpolate, sample, info",
     {"argv": ["interpolate", "--model", "@MODEL@", _TEXT, _TEXT, "--steps", str(2**63)], "files": {}}),
    ("cli: interpolate, sample, info", {"argv": ["sample", "--model", "@MODEL@", "-n", str(2**64)], "files": {}}),
    ("cli: interpolate, sample, info", {"argv": ["sample", "--model", "@MODEL@", "--seed", str(2**64)], "files": {}}),
    ("cli: texts as arguments", {"argv": _OPTIMIZE_ARGV + [_TEXT], "files": {}}),
    ("cli: --input files", {"argv": _OPTIMIZE_ARGV + ["--input", "in.txt"], "files": {"in.txt": b"the food\n"}}),
    ("cli: fit-head", {"argv": _FIT_HEAD_ARGV + ["--seed", str(2**64)], "files": _FIT_HEAD_FILES, "saves": "head"}),
    ("cli: fit-head", {"argv": _FIT_HEAD_ARGV + ["--hidden", str(2**63)], "files": _FIT_HEAD_FILES, "saves": "head"}),
    ("cli: train", {"argv": ["train"], "files": {}}),
    ("cli: train", {"argv": ["train", "a\n" * 3000], "files": {}}),
    ("cli: train", {"argv": ["train", "\x00"], "files": {}}),
    ("cli: train", {"argv": ["train", "a\nb"], "files": {}}),
    ("cli: demo", {"argv": ["demo", "--workdir", "file/\x00"], "files": _CLI_FILES}),
    ("cli: demo", {"argv": ["demo", "--workdir", "file/a\nb"], "files": _CLI_FILES}),
    ("cli: surrogates in argv", {"argv": ["reconstruct", "--model", "@MODEL@", _TEXT + "\ud800"], "files": {}}),
)


def known(target_name: str, signature: str) -> bool:
    return any(bug.target == target_name and bug.signature == signature for bug in KNOWN_BUGS)


# -- the tests -------------------------------------------------------------------------------------

pytestmark = [pytest.mark.usefixtures("one_torch_thread"),
              pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisWarning")]  # reprs of 10k-character texts

SETTINGS = settings(deadline=None, derandomize=True, database=None, print_blob=False,
                    suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def fuzz_context(_fitted_review_editor, review_corpus, tmp_path_factory):
    return make_context(_fitted_review_editor, tmp_path_factory.mktemp("fuzz"), review_corpus.positive[:8],
                        review_corpus.negative[:8])


def examples(fuzz_target: Target, base: int = EXAMPLES) -> int:
    return max(1, round(base * fuzz_target.weight))


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_fuzz(name, fuzz_context):
    fuzz_target = TARGETS[name]

    @settings(SETTINGS, max_examples=examples(fuzz_target))
    @given(case=fuzz_target.strategy)
    def check(case):
        try:
            run_case(fuzz_target, fuzz_context, case)
        except FuzzFailure as failure:
            if not known(name, failure.signature):
                raise

    check()


@pytest.mark.parametrize("bug", [pytest.param(bug, id=f"{number:02d} {bug.target}: {bug.signature}",
                                              marks=pytest.mark.xfail(strict=True, raises=FuzzFailure, reason=bug.reason))
                                 for number, bug in enumerate(KNOWN_BUGS)])
def test_known_bug(bug, fuzz_context):
    """Each known bug's minimal input still fails as recorded (xfail). Once the bug is fixed the test
    XPASSes, which strict xfail reports as a failure: then delete the KNOWN_BUGS entry, so that the
    fuzz tests stop tolerating its signature. Failing another way is a plain failure (update the entry)."""
    try:
        run_case(TARGETS[bug.target], fuzz_context, bug.case)
    except FuzzFailure as failure:
        if failure.signature != bug.signature:
            pytest.fail(f"the minimal input of a known bug now fails differently: {failure}")
        raise


@pytest.mark.parametrize("target_name, case", [pytest.param(name, case, id=f"{number:03d} {name}")
                                               for number, (name, case) in enumerate(FIXED_BUGS)])
def test_fixed_bug_stays_fixed(target_name, case, fuzz_context):
    """The minimal input of each fixed bug now works or raises a documented one-line error."""
    assert run_case(TARGETS[target_name], fuzz_context, case) in ("ok", "error", "os-error")


def test_every_cli_command_is_fuzzed():
    """Every command gets random argv; those known when this was written also a grammar of their options
    (a command added later gets only random argv until it has a target here)."""
    commands = set(cli_commands())
    assert commands <= set(RANDOM_ARGV_COMMANDS) | {"demo", "train"}
    with_grammar = {command for fuzz_target in TARGETS.values() for command in fuzz_target.commands}
    assert {"reconstruct", "encode", "shift", "optimize", "fit-head", "learn-direction", "interpolate", "sample", "info",
            "train", "demo"} <= with_grammar

def test_contract_checks_catch_bad_outcomes(fuzz_context):
    """The harness itself: a plain exception and a multi-line LatentEditError are failures."""
    broken = Target("broken", st.none(), lambda context, case: {}["missing"])
    with pytest.raises(FuzzFailure, match="KeyError in test_fuzz.py"):
        run_case(broken, fuzz_context, {})

    def multi_line(context, case):
        error = ConfigError("first")
        error.args = ("first\nsecond",)  # LatentEditError makes messages one line; a bypass must still be caught
        raise error

    with pytest.raises(FuzzFailure, match="spans lines"):
        run_case(Target("multi", st.none(), multi_line), fuzz_context, {})
    info = TARGETS["cli: interpolate, sample, info"]
    assert run_case(info, fuzz_context, {"argv": ["info", "--model", "@MODEL@", "--json"], "files": {}}) == "ok"
    assert run_case(info, fuzz_context, {"argv": ["info", "--model", "missing"], "files": {}}) == "error"
