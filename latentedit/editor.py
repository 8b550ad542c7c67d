"""LatentEditor: the text-level API over a trained Transformer-VAE.

text -> tokens -> posterior mean code (flat, K*dz) -> edit -> greedy decode -> text

>>> from latentedit import LatentEditor
>>> editor = LatentEditor.load("runs/sample/model")          # doctest: +SKIP
>>> editor.reconstruct("the food was great .")              # doctest: +SKIP
'the food was great .'
>>> [p.text for p in editor.interpolate("the food was great .", "the service was slow .", steps=5)]  # doctest: +SKIP
"""

from __future__ import annotations

import difflib
import threading
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch
import torch.nn.functional as F

from .decoding import NO_REPEAT_NGRAM, teacher_forced_scores
from .directions import Direction, learn_direction, load_direction, property_direction, save_direction
from .errors import InputError, ModelFolderError
from .heads import PropertyHead, check_name, fit_head, load_head, save_head
from .lexicon import LEXICON_FILE, Lexicon, Speller, WordGuard
from .model import TransformerVAE
from .model_folder import read_config, read_consistently, save_model
from .python_syntax import PythonSyntax, SyntaxGuard, token_bytes
from .refine import refine_codes
from .results import EditResult
from .revert import partial_reverts, revert_candidates
from .search import adam_search, random_search
from .substitute import CONTRAST, MIN_ALIGNMENT, SUBSTITUTION_ROUNDS, WORD_START, WordVocabulary, word_substitutions
from .targets import parse_targets, total_loss
from .validation import (
    check_bool,
    check_choice,
    check_device,
    check_int,
    check_number,
    check_numbers,
    check_path,
    check_precision,
    check_seed,
    check_str,
    check_text,
    shown,
)

BUILTIN_MODELS = Path(__file__).parent / "models"  # built-in names resolve to folders here
SUBSTITUTION_BATCH = 32  # texts per teacher-forced pass of the substitution search: (32, T, V) scores
MAX_STRENGTH = 1e6  # |strength| beyond this is absurd (codes have a norm of a few units) and overflows float32
#: decoding methods and the options each takes (see TransformerVAE.generate)
DECODE_OPTIONS = {"greedy": ("max_length", "no_repeat_ngram", "anchor", "anchor_weight", "draft", "known_words",
                             "python_syntax", "length_anchor", "length_weight"),
                  "sample": ("max_length", "temperature", "top_k", "top_p", "generator", "no_repeat_ngram"),
                  "beam": ("max_length", "num_beams", "length_penalty", "anchor", "anchor_weight", "no_repeat_ngram",
                           "known_words", "python_syntax", "length_anchor", "length_weight")}
MIN_TEMPERATURE = 1e-6  # below this, logits / temperature overflow to inf and sampling breaks


@dataclass
class InterpolationPoint:
    """One point on a path between two codes: t in [0, 1], its code and decoded text."""

    t: float
    latent: torch.Tensor  # (K*dz,)
    text: str


class LatentEditor:
    """Encode, decode and edit texts through a trained Transformer-VAE."""

    def __init__(self, model: TransformerVAE, heads: dict[str, PropertyHead] | None = None,
                 directions: dict[str, Direction] | None = None, batch_size: int = 256, quiet: bool = False,
                 lexicon: Lexicon | None = None):
        if model.tokenizer is None:
            raise ModelFolderError("the model has no tokenizer; load it from a model folder with tokenizer.json")
        self.model = model.eval()
        self.tokenizer = model.tokenizer
        self.heads: dict[str, PropertyHead] = dict(heads or {})
        self.directions: dict[str, Direction] = dict(directions or {})
        self.batch_size = batch_size
        self.quiet = quiet
        #: gradient steps that refine the code each reconstruction, interpolation and edit starts from (0: the
        #: encoder's posterior mean; see :mod:`latentedit.refine`). Heads, directions and the re-encoded
        #: outputs of edits use the encoder's codes, which the heads were fitted on.
        self.refine = 0
        #: the words of the model's training corpus (a model folder's lexicon.txt), or None; see
        #: :mod:`latentedit.lexicon` and ``known_words``.
        self.lexicon = lexicon
        #: whether edits (``shift``, ``optimize``) decode only words of the lexicon or of their source
        #: (when the model has a lexicon); ``decode(..., known_words=True)`` asks for it anywhere.
        self.known_words = True
        #: beams of the anchored beam search that decodes edits (1: greedy). On the Yelp benchmark 8 beams
        #: kept more of the source (benchmarks/results/anchor_dev_beams.md, style_transfer_beams.md) at 4.6x the time.
        self.edit_beams = 1
        #: logit added to </s> per token an edit's decoding runs past its source's length (0: none; see
        #: ``decode(..., length_anchor=..., length_weight=...)``): edits end near their source's length.
        self.edit_length_prior = 0.0
        self._speller: tuple[Lexicon, Speller] | None = None  # see _word_guard
        self._python_syntax: PythonSyntax | None = None  # see _syntax_guard
        self._local = threading.local()  # .known: text -> code while an edit of those texts runs (per thread)
        self._words: WordVocabulary | None = None  # see _word_vocabulary

    # -- loading ---------------------------------------------------------------------------------

    @classmethod
    def load(cls, name_or_path: str | Path, device: str | torch.device = "cpu") -> "LatentEditor":
        """Load a model folder, or a built-in model by name (see :func:`builtin_models`)."""
        device = check_device(device)
        folder = resolve_model(name_or_path)
        read_config(folder)  # clear errors for a missing or foreign folder first

        def read() -> LatentEditor:
            model = TransformerVAE.from_pretrained(folder, device=device)
            code_size = model.config.code_size
            heads = {p.name: load_head(p, code_size) for p in sorted((folder / "heads").glob("*")) if p.is_dir()}
            directions = {p.stem: load_direction(folder / "directions", p.stem, code_size)
                          for p in sorted((folder / "directions").glob("*.json"))}
            lexicon = Lexicon.load(folder / LEXICON_FILE) if (folder / LEXICON_FILE).is_file() else None
            return cls(model, heads, directions, lexicon=lexicon)

        return read_consistently(folder, read)

    def save(self, path: str | Path) -> None:
        """Write the model with its heads and directions to a folder, atomically."""

        def write_edits(staging: Path) -> None:
            for name, head in self.heads.items():
                save_head(head, staging / "heads" / check_name(name, "head name"))
            for direction in self.directions.values():
                save_direction(direction, staging / "directions")
            (staging / "heads").mkdir(exist_ok=True)
            (staging / "directions").mkdir(exist_ok=True)
            if self.lexicon is not None:
                self.lexicon.save(staging / LEXICON_FILE)

        save_model(self.model, path, write_extra=write_edits)

    def to(self, device: str | torch.device | None = None, precision: str | torch.dtype | None = None) -> "LatentEditor":
        """Move the model to a device, and/or run it in another precision: "float32" (the default)
        or "bfloat16", which decodes batches faster where bfloat16 is native (on a CPU with
        AVX512-BF16, 1.8x the reconstruct throughput of float32 with 99% of the texts identical:
        benchmarks/edit_speed.py) but not single texts. Codes, heads and directions stay float32;
        ``save`` writes the weights as they are.

        >>> editor.to("cpu", precision="bfloat16").reconstruct("the food was cold .")  # doctest: +SKIP
        """
        if device is not None:
            self.model.to(check_device(device))
        if precision is not None:
            self.model.to(check_precision(precision))
        return self

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    # -- text <-> codes --------------------------------------------------------------------------

    @torch.no_grad()
    def encode(self, texts: str | Sequence[str], sample: bool = False, seed: int | None = None,
               refine: int | None = None) -> torch.Tensor:
        """Flat latent codes: one text gives (K*dz,), a list gives (N, K*dz).

        The posterior mean by default; ``sample=True`` draws z ~ q(z|x) (seeded by ``seed``).
        ``refine=N`` then moves each code by up to N gradient steps until the decoder reproduces its
        text (see :mod:`latentedit.refine`); ``None`` takes the editor's ``refine`` setting.

        >>> editor.encode("the food was cold .", refine=20).shape  # doctest: +SKIP
        torch.Size([256])
        """
        single, texts = _as_list(texts)
        sample, seed = check_bool("sample", sample), check_seed(seed, optional=True)
        refine = self.refine if refine is None else check_int("refine", refine, minimum=0)
        result = self._encode(texts, sample, seed, warn=True, refine=refine)
        return result[0] if single else result

    @torch.no_grad()
    def _encode(self, texts: list[str], sample: bool = False, seed: int | None = None, warn: bool = False,
                refine: int = 0) -> torch.Tensor:
        """encode() without input checks: also re-encodes decoded texts, which may be empty."""
        generator = torch.Generator().manual_seed(seed) if seed is not None else None
        codes = []
        for start in range(0, len(texts), self.batch_size):
            batch = self.tokenizer.encode(texts[start : start + self.batch_size], self.model.config.max_length)
            if batch.truncated and warn:
                warnings.warn(f"{batch.truncated} text(s) longer than the model's {self.model.config.max_length} "
                              "tokens were truncated before encoding", stacklevel=3)
            mean, logvar = self.model.encode(batch.ids.to(self.device), batch.mask.to(self.device))
            if sample:
                noise = torch.randn(mean.shape, generator=generator).to(self.device)
                mean = mean + noise * (0.5 * logvar).exp()
            if refine:
                mean = refine_codes(self.model, batch.ids.to(self.device), batch.mask.to(self.device), mean.flatten(1), refine)
            codes.append(mean.flatten(1).float().cpu())
        return torch.cat(codes)

    @torch.no_grad()
    def decode(self, codes: torch.Tensor, method: str = "greedy", **options) -> str | list[str]:
        """Texts for flat codes: (K*dz,) gives one string, (N, K*dz) a list.

        method "greedy" (options max_length, no_repeat_ngram; anchor, one source text per code, with
        anchor_weight > 0 adds that much to the logit of every token that continues the code's
        source text, so the output keeps the source's wording where the code does not pull hard
        elsewhere), "sample" (also temperature, top_k, top_p, generator) or "beam" (also
        num_beams, length_penalty, and anchor, anchor_weight and no_repeat_ngram as greedy's).
        Greedy's ``draft``, one guessed output text per code (such as the text the code was edited
        from), changes nothing but speed: rows whose greedy decode is the draft are checked in one
        parallel pass instead of decoded step by step. Greedy and beam search with
        ``known_words=True`` write only words of the model's lexicon (:attr:`lexicon`) or of the
        code's anchor or draft text (:mod:`latentedit.lexicon`); with ``python_syntax=True``, only a
        line of Python that can still parse, ending only where it does (:mod:`latentedit.python_syntax`;
        for a model of Python lines). Greedy and beam search with ``length_anchor``, one text per code,
        and ``length_weight`` w > 0 end each output near its text's length: every token written past
        that length adds w more to the </s> logit (:class:`latentedit.decoding.LengthPrior`).

        >>> editor.decode(editor.encode(["the food was cold ."]), anchor="the food was cold .", anchor_weight=6)  # doctest: +SKIP
        """
        options = _decode_options(method, options)
        size = self.model.config.code_size
        try:
            codes = torch.as_tensor(codes, dtype=torch.float32)
        except (TypeError, ValueError, RuntimeError):
            raise InputError("codes must be a tensor or nested list of numbers") from None
        single = codes.ndim == 1
        if codes.ndim not in (1, 2) or codes.shape[-1] != size or codes.numel() == 0 or not torch.isfinite(codes).all():
            raise InputError(f"codes must be finite, of shape ({size},) or (N, {size}); got {tuple(codes.shape)}")
        codes = codes.reshape(-1, size)
        per_code = {name: options.pop(name) for name in ("anchor", "draft", "length_anchor") if name in options}
        if options.get("length_weight", 0) > 0 and "length_anchor" not in per_code:
            raise InputError("length_weight needs length_anchor: one text per code whose length each output should keep")
        for name, given in per_code.items():
            if len(given) != codes.shape[0]:
                raise InputError(f"{name} must hold one text per code: {len(given)} texts for {codes.shape[0]} codes")
        known_words = options.pop("known_words", False)
        python_syntax = options.pop("python_syntax", False)
        if python_syntax and known_words:
            raise InputError("choose one of known_words=True (words of a lexicon) and python_syntax=True (Python lines)")
        if python_syntax:
            per_code.pop("draft", None)  # a draft only saves time, and greedy's check of it knows no guard
        if known_words and self.lexicon is None:
            raise InputError("known_words=True needs a lexicon: this model folder has no lexicon.txt (set editor.lexicon "
                             "to latentedit.lexicon.Lexicon.from_texts(your_corpus))")
        options.setdefault("max_length", self.model.config.max_length - 1)  # room for </s> on re-encoding
        texts = []
        for start in range(0, codes.shape[0], self.batch_size):
            for name, given in per_code.items():
                encoded = self.tokenizer.encode(given[start : start + self.batch_size], self.model.config.max_length)
                if name == "length_anchor":  # tokens of each text, without </s>
                    options["lengths"] = (encoded.mask.sum(1) - 1).to(self.device)
                else:
                    options[name] = encoded.ids.to(self.device)
            batch = codes[start : start + self.batch_size].to(self.device, self.model.shared.weight.dtype)
            if known_words:
                own = [given[start : start + self.batch_size] for given in per_code.values()]  # the rows' own words
                options["guard"] = self._word_guard([" ".join(row) for row in zip(*own)] if own else [""] * len(batch))
            if python_syntax:
                keep = options.get("num_beams", 4) if method == "beam" else 1  # beam_search's default: 4 beams
                options["guard"] = self._syntax_guard(len(batch), keep, options["max_length"])
            ids = self.model.generate(batch, method, **options)
            texts.extend(self.tokenizer.decode(ids.cpu()))
        return texts[0] if single else texts

    def reconstruct(self, texts: str | Sequence[str]) -> str | list[str]:
        """Encode (posterior mean) then greedily decode."""
        single, texts = _as_list(texts)
        decoded = self.decode(self.encode(texts), draft=texts)
        return decoded[0] if single else decoded

    def interpolate(self, a: str, b: str, steps: int = 11, method: str = "slerp",
                    num_beams: int = 1, python_syntax: bool = False) -> list[InterpolationPoint]:
        """Decode ``steps`` evenly spaced points between the codes of ``a`` and ``b`` (ends
        included): greedily, or by beam search with ``num_beams`` > 1 (on the python-lines model,
        8 beams make more of the points valid Python: benchmarks/results/interpolation_beams.md).
        ``python_syntax=True`` writes only Python that parses (see :meth:`decode`): valid by
        construction, so it says nothing of the latent space's smoothness.

        >>> editor = LatentEditor.load("python-lines")
        >>> [p.text for p in editor.interpolate("import os", "x = 1", steps=3, num_beams=4)][0]
        'import os'
        """
        steps = check_int("steps", steps, minimum=2)
        method = check_choice("method", method, ("slerp", "lerp"))
        start, end = self.encode([a, b])
        ts = torch.linspace(0.0, 1.0, steps)
        path = torch.stack([(slerp if method == "slerp" else lerp)(start, end, float(t)) for t in ts])
        texts = self.decode(path, **beam_options(num_beams), python_syntax=check_bool("python_syntax", python_syntax))
        return [InterpolationPoint(float(t), code, text) for t, code, text in zip(ts, path, texts)]

    def sample(self, n: int, temperature: float = 1.0, seed: int | None = None, python_syntax: bool = False) -> list[str]:
        """Decode n codes drawn from the prior N(0, temperature^2 I) greedily (only Python lines that
        parse with ``python_syntax=True``; see :meth:`decode`)."""
        n = check_int("n", n, minimum=1)
        temperature = check_number("temperature", temperature, minimum=0.0, open_min=True)
        seed = check_seed(seed, optional=True)
        generator = torch.Generator().manual_seed(seed) if seed is not None else None
        codes = torch.randn(n, self.model.config.code_size, generator=generator) * temperature
        return self.decode(codes, python_syntax=check_bool("python_syntax", python_syntax))

    # -- heads -----------------------------------------------------------------------------------

    def fit_head(self, name: str, texts: Sequence[str], values: Sequence[float] | None = None,
                 labels: Sequence | None = None, kind: str | None = None, hidden: int = 0,
                 description: str = "", seed: int = 0, layers: int = 1, batch_size: int = 0) -> dict:
        """Fit a property head on the codes of ``texts`` and keep it (``save`` writes it).

        Returns and prints the held-out metric (R2 for regression, accuracy for classification).
        ``hidden`` units in each of ``layers`` hidden layers (0: linear); ``batch_size`` > 0 fits on
        minibatches, which a deep head on many texts needs (see :func:`latentedit.heads.fit_head`).

        >>> editor.fit_head("sentiment", texts, labels=labels, hidden=1024, layers=2, batch_size=512)  # doctest: +SKIP
        """
        _, texts = _as_list(texts)
        head = fit_head(name, self.encode(texts, refine=0), values=values, labels=labels, kind=kind, hidden=hidden,
                        seed=seed, description=description, layers=layers, batch_size=batch_size)
        self.heads[name] = head
        c = head.config
        self._say(f"head {name!r} ({c.kind}): held-out {c.metric_name} {c.metric_value:.3f} "
                  f"on {c.heldout_examples} texts, fitted on {c.train_examples + c.heldout_examples}")
        return head.report()

    def score(self, texts: str | Sequence[str], heads: Sequence[str] | None = None) -> dict:
        """Each head's prediction for each text: {head: value} for one text, {head: [values]} for a list."""
        single, texts = _as_list(texts)
        scores = self._score_codes(self.encode(texts, refine=0), heads)
        return {k: v[0] for k, v in scores.items()} if single else scores

    def _score_codes(self, codes: torch.Tensor, heads: Sequence[str] | None = None) -> dict[str, list]:
        if heads is None:
            names = list(self.heads)
        elif isinstance(heads, (list, tuple)) and all(isinstance(name, str) for name in heads):
            names = list(heads)
        else:
            raise InputError(f"heads must be a list of head names (or None for all), got {shown(heads)}")
        for name in names:
            self._head(name)
        return {name: [round(v, 4) if isinstance(v, float) else v for v in self.heads[name].predict(codes)]
                for name in names}

    def _head(self, name: str) -> PropertyHead:
        if not isinstance(name, str) or name not in self.heads:
            raise InputError(f"unknown head {shown(name)}; available heads: {sorted(self.heads) or 'none'}")
        return self.heads[name]

    # -- directions ------------------------------------------------------------------------------

    def learn_direction(self, name: str, positive_texts: Sequence[str] | None = None,
                        negative_texts: Sequence[str] | None = None, method: str = "mean",
                        texts: Sequence[str] | None = None, values: Sequence[float] | None = None,
                        head: str = "", target: str = "", description: str = "",
                        positive_groups: Sequence | None = None, negative_groups: Sequence | None = None) -> Direction:
        """Learn a direction from two sets of texts (method "mean", "probe" or "paired"), or from
        ``texts`` with numeric ``values`` (the ridge direction of the property). ``head`` and
        ``target`` name the head verdict that ``strength="auto"`` shifts aim for.
        ``positive_groups`` and ``negative_groups`` (a label per text, method "mean") learn the
        direction within each group, so that what separates the groups (a genre the two sets do not
        share equally) stays out of it (see :func:`latentedit.directions.learn_direction`)."""
        check_name(name, "direction name")
        description = check_text(description, "description", allow_empty=True)
        head = "" if head is None else check_str("head", head)
        if head:
            if self._head(head).config.kind == "regression" and not (isinstance(target, str) and target in ("max", "min")):
                raise InputError(f"head {head!r} is a regression head: a direction's target is 'max' or 'min', "
                                 f"got {shown(target)}")
            target = str(parse_targets({head: target}, self.heads)[0].goal)
        elif not (target is None or isinstance(target, str) and not target):
            raise InputError("a direction's target needs a head: give head= too")
        else:
            target = ""
        if values is not None:
            _, texts = _as_list(texts)
            direction = property_direction(name, self.encode(texts, refine=0), check_numbers("values", values),
                                           description=description)
        else:
            if positive_texts is None or negative_texts is None:
                raise InputError("give positive_texts and negative_texts, or texts with values")
            _, positive_texts = _as_list(positive_texts)
            _, negative_texts = _as_list(negative_texts)
            if (positive_groups is None) != (negative_groups is None):
                raise InputError("give both positive_groups and negative_groups, or neither")
            groups = None if positive_groups is None else (list(positive_groups), list(negative_groups))
            direction = learn_direction(name, self.encode(positive_texts, refine=0),
                                        self.encode(negative_texts, refine=0), method, description=description,
                                        groups=groups)
        direction.head, direction.target = head, target
        self.directions[name] = direction
        return direction

    def describe_directions(self) -> list[dict]:
        return [d.describe() for d in self.directions.values()]

    def _direction(self, name: str) -> Direction:
        if not isinstance(name, str) or name not in self.directions:
            raise InputError(f"unknown direction {shown(name)}; available directions: {sorted(self.directions) or 'none'}")
        return self.directions[name]

    # -- edits -----------------------------------------------------------------------------------

    def shift(self, texts: str | Sequence[str], direction: str, strength: float | str = 1.0,
              max_strength: float = 4.0, grid: int = 8, anchor: float = 0.0,
              revert: bool = False, min_gain: float = 0.0, min_confidence: float = 0.0,
              substitute: float = 0.0, keep_norm: bool = False, select: str = "smallest") -> EditResult | list[EditResult]:
        """Move each text's code along a direction: z + strength * vector, then decode.

        Negative strength moves the other way; 0 gives the reconstruction. ``keep_norm=True``
        scales each moved code back to the norm of the code it moved from: the move turns the code
        toward the direction instead of carrying it off the shell where the codes of real texts lie
        (see :func:`moved`). ``strength="auto"``
        tries ``grid`` strengths up to ``max_strength`` and keeps, per text, the smallest whose
        decoded text differs from the source and the direction's head (re-encoding it) scores as
        the direction's target; ``max_strength`` when none does. ``anchor`` > 0 decodes with that
        logit bonus for every token that continues the source text (see :meth:`decode`): the edit
        keeps more of the source's wording, and usually needs a larger strength to arrive; with
        ``strength="auto"``, texts that arrive at no strength anchored are tried again unanchored
        (their ``trajectory`` lists both passes, each step with its ``anchor``). ``revert=True``
        (with ``strength="auto"``) then makes each arrived edit minimal: changed word spans go
        back to the source's wording, one at a time, while the head still scores the re-encoded
        text as the target (see :mod:`latentedit.revert`; the trajectory lists each revert).
        ``select="closest"`` (with ``strength="auto"``) keeps, instead of the smallest strength, the
        arrived text most similar to the source (word overlap, :func:`word_similarity`) among every
        strength and pass that arrived; with ``revert=True`` the partial reverts of each of them (any
        subset of its changed spans back to the source's wording, up to
        :data:`~latentedit.revert.MAX_PARTIAL_SPANS` spans; :func:`~latentedit.revert.partial_reverts`)
        compete as well, so an edit can lose a span whose lone revert the head refused.
        For a direction judged by a regression head (such as ``formal``), a text arrives when the
        head moves it toward the target by more than ``min_gain`` (head units; default 0: any move);
        for one judged by a classification head, when the head gives the target label a
        probability of at least ``min_confidence`` (default 0: the label is predicted).
        ``substitute=S`` > 0 (with ``strength="auto"``) first tries a lexical edit: the decoder,
        reading the source under its code moved S along the direction, proposes replacements for
        each word (:mod:`latentedit.substitute`); each round the head scores every one-word swap,
        a text arrives with the swap it likes best among those that arrive and move the code along
        the shift (:data:`~latentedit.substitute.MIN_ALIGNMENT`), and the others keep their best
        swap for the next round (at most :data:`SUBSTITUTION_ROUNDS`). Texts that
        arrive by no swap are shifted by decoding as above (a swapped result's ``strength`` is S).

        >>> editor.shift("the food was cold .", "positive", "auto", max_strength=9, anchor=10, revert=True)  # doctest: +SKIP
        >>> editor.shift("the food was cold .", "positive", "auto", max_strength=14, anchor=10, revert=True,
        ...              select="closest")  # doctest: +SKIP
        >>> editor.shift("the food was cold .", "positive", "auto", substitute=3, min_confidence=0.9)  # doctest: +SKIP
        >>> editor.shift("hey whats up", "formal", "auto", anchor=20, revert=True, min_gain=0.25)  # doctest: +SKIP
        """
        single, texts = _as_list(texts)

        def run(batch: list[str]) -> list[EditResult]:
            with self._remembering(batch) as codes:
                return self.shift_codes(codes, batch, direction, strength, max_strength, grid, anchor, revert=revert,
                                        min_gain=min_gain, min_confidence=min_confidence, substitute=substitute,
                                        keep_norm=keep_norm, select=select)

        results = self._in_batches(texts, f"shift {direction}", run)
        return results[0] if single else results

    def shift_codes(self, codes: torch.Tensor, source_texts: list[str], direction: str, strength: float | str = 1.0,
                    max_strength: float = 4.0, grid: int = 8, anchor: float = 0.0,
                    vectors: torch.Tensor | None = None, revert: bool = False, min_gain: float = 0.0,
                    min_confidence: float = 0.0, substitute: float = 0.0, keep_norm: bool = False,
                    select: str = "smallest") -> list[EditResult]:
        """:meth:`shift` of codes (N, D) already encoded from ``source_texts``. ``vectors`` (N, D)
        moves each code along its own vector instead of the direction's (per-text directions);
        the direction's head and target still judge arrival for ``strength="auto"``."""
        vector = self._direction(direction).vector
        if vectors is None:
            vectors = vector.expand_as(codes)
        elif not (isinstance(vectors, torch.Tensor) and vectors.shape == codes.shape and torch.isfinite(vectors).all()):
            raise InputError(f"vectors must be finite numbers shaped like the codes {tuple(codes.shape)}")
        anchor = check_number("anchor", anchor, minimum=0.0)
        revert = check_bool("revert", revert)
        min_gain = check_number("min_gain", min_gain, minimum=0.0)
        min_confidence = check_number("min_confidence", min_confidence, 0.0, 1.0)
        substitute = check_number("substitute", substitute, -MAX_STRENGTH, MAX_STRENGTH)
        keep_norm = check_bool("keep_norm", keep_norm)
        select = check_choice("select", select, ("smallest", "closest"))
        if isinstance(strength, str) and strength == "auto":
            return self._auto_shift(codes, source_texts, direction, max_strength, grid, anchor, vectors, revert, min_gain,
                                    min_confidence, substitute, keep_norm, select)
        for name, given in (("revert=True", revert), ("min_gain > 0", min_gain > 0), ("min_confidence > 0", min_confidence > 0),
                            ("substitute != 0", substitute != 0), ("select='closest'", select == "closest")):
            if given:
                raise InputError(f"{name} needs strength='auto': only an automatic strength asks the direction's head "
                                 "whether a text has arrived")
        if isinstance(strength, str):
            raise InputError(f"strength must be a finite number or 'auto', got {shown(strength)}")
        strength = check_number("strength", strength, -MAX_STRENGTH, MAX_STRENGTH)
        shifted = moved(codes, vectors, torch.tensor([strength]), keep_norm).squeeze(1)
        texts = self._decode_anchored(shifted, source_texts, anchor)
        return self._results(codes, source_texts, shifted, texts, "shift", strengths=[strength] * len(texts))

    def _auto_shift(self, codes, source_texts, direction_name, max_strength, grid, anchor, vectors, revert,
                    min_gain, min_confidence, substitute, keep_norm, select) -> list[EditResult]:
        direction = self._direction(direction_name)
        if not direction.head:
            raise InputError(f"direction {direction_name!r} has no head to judge arrival; learn it with head= and "
                             "target=, or give a numeric strength")
        max_strength = check_number("max_strength", max_strength, -MAX_STRENGTH, MAX_STRENGTH)
        grid = check_int("grid", grid, minimum=1)
        targets = parse_targets({direction.head: direction.target}, self.heads)
        if min_gain > 0:
            if targets[0].head.config.kind != "regression":
                raise InputError(f"min_gain applies to directions judged by a regression head; {direction_name!r} is judged "
                                 f"by the classification head {direction.head!r}, which must predict {direction.target!r}")
            targets[0].min_gain = min_gain
        if min_confidence > 0:
            if targets[0].head.config.kind != "classification":
                raise InputError(f"min_confidence applies to directions judged by a classification head; {direction_name!r} "
                                 f"is judged by the regression head {direction.head!r} (see min_gain)")
            targets[0].min_confidence = min_confidence
        strengths = torch.linspace(max_strength / grid, max_strength, grid)  # (G,)
        n, dim = codes.shape
        candidates = moved(codes, vectors, strengths, keep_norm)  # (N, G, D)
        trajectories = [[] for _ in range(n)]
        chosen = [grid - 1] * n  # grid index of each text's pick
        picked_texts, recoded = [""] * n, codes.new_empty(n, dim)
        todo = list(range(n))  # texts that have not arrived yet
        swapped = set()  # texts that arrived by word substitution
        arrivals = {}  # text index -> its arrived decodes (grid index, text, code), smallest strength first
        if substitute:
            proposing = moved(codes, vectors, torch.tensor([substitute]), keep_norm).squeeze(1)  # (N, D)
            for i, (text, code, steps) in enumerate(self._substitute(targets, codes, proposing, source_texts)):
                trajectories[i] += [{"strength": substitute, "substitute": True, "text": step, "arrived": step == text}
                                    for step in steps]
                if text is not None:
                    picked_texts[i], recoded[i] = text, code
                    swapped.add(i)
            todo = [i for i in todo if i not in swapped]
        for weight in (anchor, 0.0) if anchor > 0 else (0.0,):  # an anchored pass, then unanchored
            if not todo:
                break
            sources = [source_texts[i] for i in todo for _ in range(grid)]
            texts = self._decode_anchored(candidates[todo].reshape(-1, dim), sources, weight)
            tried = self._encode_distinct(texts)
            arrived = self._accepted(targets, tried, codes[todo].repeat_interleave(grid, 0), texts, sources)
            arrived, tried = arrived.view(-1, grid), tried.view(-1, grid, dim)
            for row, i in enumerate(todo):
                trajectories[i] += [{"strength": round(float(strengths[g]), 4), "anchor": weight,
                                     "text": texts[row * grid + g], "arrived": bool(arrived[row, g])} for g in range(grid)]
                chosen[i] = int(arrived[row].float().argmax()) if arrived[row].any() else grid - 1
                picked_texts[i], recoded[i] = texts[row * grid + chosen[i]], tried[row, chosen[i]]
                if arrived[row].any():
                    arrivals[i] = [(g, texts[row * grid + g], tried[row, g]) for g in range(grid) if arrived[row, g]]
            todo = [i for row, i in enumerate(todo) if not arrived[row].any()]
        rows = torch.arange(n)
        latents = candidates[rows, chosen]
        for i in swapped:  # a substituted text's own code is its edit
            latents[i] = recoded[i]
        if select == "closest":
            for i, (g, text, code, decoded) in self._closest(targets, arrivals, source_texts, codes, revert).items():
                chosen[i], picked_texts[i], recoded[i] = g, text, code
                latents[i] = candidates[i, g] if decoded else code  # a partial revert's own code is its edit
                trajectories[i].append({"strength": round(float(strengths[g]), 4), "closest": True, "text": text,
                                        "arrived": True})
        if revert:
            pending = set(todo)
            done = [i not in pending for i in range(n)]
            reverted, recoded, taken = self._revert(targets, picked_texts, recoded, source_texts, codes, done)
            for i in range(n):
                trajectories[i] += [{"strength": round(float(strengths[chosen[i]]), 4), "revert": True, "text": text,
                                     "arrived": True} for text, _ in taken[i]]
            latents = torch.where(torch.tensor([bool(t) for t in taken]).unsqueeze(1), recoded, latents)
            picked_texts = reverted
        return self._results(codes, source_texts, latents, picked_texts, "shift",
                             strengths=[substitute if i in swapped else float(strengths[c]) for i, c in enumerate(chosen)],
                             trajectories=trajectories, recoded=recoded)

    def _closest(self, targets: list, arrivals: dict[int, list], sources: list[str], starts: torch.Tensor,
                 partial: bool) -> dict[int, tuple[int, str, torch.Tensor, bool]]:
        """Per text index of ``arrivals`` (its arrived decodes as (grid index, text, code)), the
        candidate most similar to its source among those decodes and, when ``partial``, their
        partial reverts that still arrive (:meth:`_accepted`); ties go to the smallest strength.
        -> {text index: (grid index it came from, text, code (D,), whether it is a decode)}."""
        pool = [(i, g, candidate) for i, found in arrivals.items() for g, text, _ in found
                for candidate in (partial_reverts(sources[i], text) if partial else []) if candidate.strip()]
        if pool:
            rows, tried = [i for i, _, _ in pool], [c for _, _, c in pool]
            pool_codes = self._encode_distinct(tried)
            accepted = self._accepted(targets, pool_codes, starts[rows], tried, [sources[i] for i in rows]).tolist()
        best = {}  # text index -> (similarity, grid index, text, code, decoded)
        options = [(i, g, text, code, True) for i, found in arrivals.items() for g, text, code in found]
        options += [(i, g, text, pool_codes[k], False) for k, (i, g, text) in enumerate(pool) if accepted[k]]
        for i, g, text, code, decoded in options:
            similarity = word_similarity(sources[i], text)
            if i not in best or (similarity, -g) > (best[i][0], -best[i][1]):
                best[i] = (similarity, g, text, code, decoded)
        return {i: pick[1:] for i, pick in best.items()}

    @torch.no_grad()
    def _substitute(self, targets: list, codes: torch.Tensor, shifted: torch.Tensor,
                    sources: list[str]) -> list[tuple[str | None, torch.Tensor | None, list[str]]]:
        """Lexical edits of ``sources`` (codes (N, D)) toward ``targets``, proposed by the decoder
        under the ``shifted`` codes (N, D) (see :meth:`shift` and :mod:`latentedit.substitute`).
        -> per text (the arrived text or None, its code or None, the texts each round kept)."""
        cfg = self.model.config
        vocab = self._word_vocabulary()
        current, losses = list(sources), total_loss(targets, codes)
        kept: list[list[str]] = [[] for _ in sources]  # the swapped text each round kept, per text
        found: dict[int, tuple[str, torch.Tensor]] = {}  # text index -> (arrived text, its code)
        todo = list(range(len(sources)))
        for _ in range(SUBSTITUTION_ROUNDS):
            pool = []  # (text index, candidate)
            for start in range(0, len(todo), SUBSTITUTION_BATCH):
                rows = todo[start : start + SUBSTITUTION_BATCH]
                batch = self.tokenizer.encode([current[i] for i in rows], cfg.max_length)
                shape = (len(rows), cfg.latent_tokens, cfg.latent_dim)
                scores = teacher_forced_scores(self.model, shifted[rows].view(shape).to(self.device), batch.ids.to(self.device),
                                               contrast=codes[rows].view(shape).to(self.device), contrast_weight=CONTRAST).cpu()
                for row, i in enumerate(rows):
                    ids = batch.ids[row, : int(batch.mask[row].sum()) - 1].tolist()  # without </s>
                    pool += [(i, text) for text in word_substitutions(current[i], ids, scores[row], vocab)]
            if not pool:
                break
            owners, tried = [i for i, _ in pool], [text for _, text in pool]
            tried_codes = self._encode_distinct(tried)
            starts = codes[owners]
            arrived = self._accepted(targets, tried_codes, starts, tried, [sources[i] for i in owners])
            arrived &= F.cosine_similarity(tried_codes - starts, shifted[owners] - starts, dim=-1) >= MIN_ALIGNMENT
            tried_losses = total_loss(targets, tried_codes)
            rank = list(zip(arrived.tolist(), (-tried_losses).tolist()))  # arrived first, then the lowest loss
            best: dict[int, int] = {}  # text index -> its best pool index
            for k, i in enumerate(owners):
                if i not in best or rank[k] > rank[best[i]]:
                    best[i] = k
            todo = []
            for i, k in best.items():
                if not (arrived[k] or tried_losses[k] < losses[i]):
                    continue  # no swap brings this text closer to the target: it stops here
                current[i], losses[i] = tried[k], tried_losses[k]
                kept[i].append(tried[k])
                if arrived[k]:
                    found[i] = (tried[k], tried_codes[k])
                else:
                    todo.append(i)
            if not todo:
                break
        return [(*found.get(i, (None, None)), kept[i]) for i in range(len(sources))]

    def _word_vocabulary(self) -> WordVocabulary:
        """Which tokens start words (built on first use: it reads the whole vocabulary)."""
        if self._words is None:
            self._words = WordVocabulary.of(self.tokenizer)
        return self._words

    def _revert(self, targets: list, texts: list[str], recoded: torch.Tensor, sources: list[str],
                starts: torch.Tensor, arrived: list[bool],
                max_distance: float | None = None) -> tuple[list[str], torch.Tensor, list[list[tuple]]]:
        """Minimal edits of the arrived texts: each round tries every single-span revert of each
        text (see :func:`revert_candidates`) and keeps the one most similar to its source among
        those that still arrive (:meth:`_accepted`; code within ``max_distance`` of the start when
        given) and are more similar than the text; rounds go on until no text changes.
        -> (texts, their codes (N, D), the reverts each text took as (text, code) pairs)."""
        texts, recoded = list(texts), recoded.clone()
        taken = [[] for _ in texts]
        todo = [i for i in range(len(texts)) if arrived[i]]
        while todo:
            pool = [(i, c) for i in todo for c in revert_candidates(sources[i], texts[i]) if c.strip()]
            if not pool:
                break
            rows, tried = [i for i, _ in pool], [c for _, c in pool]
            codes = self._encode_distinct(tried)
            accepted = self._accepted(targets, codes, starts[rows], tried, [sources[i] for i in rows])
            if max_distance is not None:
                accepted &= (codes - starts[rows]).norm(dim=-1) <= max_distance
            best = {i: (word_similarity(sources[i], texts[i]), None) for i in todo}  # to beat: (similarity, pool index)
            for k, (i, candidate) in enumerate(pool):
                similarity = word_similarity(sources[i], candidate)
                if accepted[k] and similarity > best[i][0]:
                    best[i] = (similarity, k)
            best = {i: k for i, (_, k) in best.items() if k is not None}
            for i, k in best.items():
                texts[i], recoded[i] = tried[k], codes[k]
                taken[i].append((tried[k], codes[k]))
            todo = sorted(best)
        return texts, recoded, taken

    def optimize(self, texts: str | Sequence[str], target: dict, weights: dict | None = None,
                 method: str = "adam", steps: int = 50, lr: float = 0.05, proximity: float = 1.0,
                 prior: float = 0.1, candidates: int = 6, max_distance: float | None = None,
                 min_similarity: float | None = None, select: str = "loss",
                 seed: int = 0, anchor: float = 0.0, revert: bool = False) -> EditResult | list[EditResult]:
        """Search the latent space for an edit that moves the heads toward ``target``.

        target: {head: number | "max" | "min" | label}; weights: {head: weight}.
        method "adam" follows the gradient of target loss + proximity * ||z - z0||^2 / D +
        prior * ||z||^2 / 2D; "random" is a gradient-free trust-region random search. Along the
        path, ``candidates`` codes (and the start) are decoded; each decoded text is re-encoded and
        re-scored by the heads. Among the texts within ``max_distance`` (L2 between codes) and
        ``min_similarity`` (word overlap with the source, 0..1), ``select="loss"`` returns the one
        with the lowest target loss; ``select="closest"`` the one most similar to the source among
        those every head accepts (the goal label, or a move the right way; see ``Target.accepts``)
        in a text that differs from the source,
        falling back to the lowest loss when none does. The same seed gives the same result.
        ``anchor`` > 0 decodes the candidates anchored to the source text (see :meth:`shift`).
        ``revert=True`` makes a chosen candidate that every head accepts minimal, as in
        :meth:`shift` (within ``max_distance``; the trajectory gains a row per revert, step "revert").

        >>> editor.optimize("the food was cold .", {"sentiment": "positive"}, select="closest")  # doctest: +SKIP
        """
        single, texts = _as_list(texts)

        def run(batch: list[str]) -> list[EditResult]:
            with self._remembering(batch) as codes:
                return self.optimize_codes(codes, batch, target, weights, method, steps, lr, proximity, prior,
                                           candidates, max_distance, min_similarity, select, seed, anchor, revert)

        results = self._in_batches(texts, "optimize", run)
        return results[0] if single else results

    def optimize_codes(self, codes: torch.Tensor, source_texts: list[str], target: dict, weights: dict | None = None,
                       method: str = "adam", steps: int = 50, lr: float = 0.05, proximity: float = 1.0,
                       prior: float = 0.1, candidates: int = 6, max_distance: float | None = None,
                       min_similarity: float | None = None, select: str = "loss", seed: int = 0,
                       anchor: float = 0.0, revert: bool = False) -> list[EditResult]:
        targets = parse_targets(target, self.heads, weights)
        method = check_choice("method", method, ("adam", "random"))
        select = check_choice("select", select, ("loss", "closest"))
        steps, candidates = check_int("steps", steps, minimum=1), check_int("candidates", candidates, minimum=1)
        lr = check_number("lr", lr, minimum=0.0, open_min=True)
        proximity, prior = check_number("proximity", proximity, minimum=0.0), check_number("prior", prior, minimum=0.0)
        if max_distance is not None:
            max_distance = check_number("max_distance", max_distance, minimum=0.0)
        if min_similarity is not None:
            min_similarity = check_number("min_similarity", min_similarity, 0.0, 1.0)
        seed, anchor = check_seed(seed), check_number("anchor", anchor, minimum=0.0)
        revert = check_bool("revert", revert)
        objective = lambda z: total_loss(targets, z)  # noqa: E731
        if method == "adam":
            path = adam_search(codes, objective, steps, lr, proximity, prior, tolerance=1e-4, patience=10)
        else:
            generator = torch.Generator().manual_seed(seed)
            path = random_search(codes, objective, steps, proximity=proximity, prior=prior, generator=generator)
        last = path.shape[0] - 1  # Adam may stop early
        picks = sorted({0, *torch.linspace(1, last, min(candidates, last)).round().long().tolist()})
        n, dim = codes.shape
        tried = path[picks].transpose(0, 1)  # (N, C, D)
        sources = [t for t in source_texts for _ in picks]
        texts = self._decode_anchored(tried.reshape(-1, dim), sources, anchor)
        recoded = self._encode_distinct(texts)
        with torch.no_grad():
            losses = total_loss(targets, recoded).view(n, len(picks))
        accepted = self._accepted(targets, recoded, codes.repeat_interleave(len(picks), 0), texts, sources).view(n, len(picks))
        scores = self._score_codes(recoded, [t.head.config.name for t in targets])
        distances = (recoded.view(n, len(picks), dim) - codes.unsqueeze(1)).norm(dim=-1)
        chosen, trajectories = [], []
        for i in range(n):
            rows = []
            for c, step in enumerate(picks):
                text = texts[i * len(picks) + c]
                similarity = word_similarity(source_texts[i], text)
                allowed = ((max_distance is None or float(distances[i, c]) <= max_distance)
                           and (min_similarity is None or similarity >= min_similarity))
                rows.append({"step": step, "text": text, "loss": round(float(losses[i, c]), 4),
                             "scores": {head: values[i * len(picks) + c] for head, values in scores.items()},
                             "distance": round(float(distances[i, c]), 4), "similarity": round(similarity, 4),
                             "allowed": allowed, "accepted": bool(accepted[i, c])})
            allowed = [c for c, row in enumerate(rows) if row["allowed"]] or [0]  # the start competes too
            arrived = [c for c in allowed if rows[c]["accepted"]]
            if select == "closest" and arrived:
                chosen.append(min(arrived, key=lambda c: (-rows[c]["similarity"], rows[c]["distance"])))
            else:
                chosen.append(min(allowed, key=lambda c: (rows[c]["loss"], rows[c]["distance"])))
            trajectories.append(rows)
        rows_index = torch.arange(n)
        chosen_t = torch.tensor(chosen)
        latents, picked = tried[rows_index, chosen_t], [texts[i * len(picks) + c] for i, c in enumerate(chosen)]
        picked_codes = recoded.view(n, len(picks), dim)[rows_index, chosen_t]
        if revert:
            arrived = [trajectories[i][c]["accepted"] for i, c in enumerate(chosen)]
            picked, picked_codes, taken = self._revert(targets, picked, picked_codes, source_texts, codes, arrived,
                                                       max_distance)
            owners = [i for i, reverts in enumerate(taken) for _ in reverts]
            if owners:  # one trajectory row per revert, with the same figures as a candidate's
                reverted = [text for reverts in taken for text, _ in reverts]
                reverted_codes = torch.stack([code for reverts in taken for _, code in reverts])
                with torch.no_grad():
                    reverted_losses = total_loss(targets, reverted_codes)
                reverted_scores = self._score_codes(reverted_codes, [t.head.config.name for t in targets])
                for k, (i, text) in enumerate(zip(owners, reverted)):
                    trajectories[i].append({
                        "step": "revert", "text": text, "loss": round(float(reverted_losses[k]), 4),
                        "scores": {head: values[k] for head, values in reverted_scores.items()},
                        "distance": round(float((reverted_codes[k] - codes[i]).norm()), 4),
                        "similarity": round(word_similarity(source_texts[i], text), 4), "allowed": True, "accepted": True})
            latents = torch.where(torch.tensor([bool(t) for t in taken]).unsqueeze(1), picked_codes, latents)
        return self._results(codes, source_texts, latents, picked, "optimize", trajectories=trajectories,
                             recoded=picked_codes)

    def neighbors(self, text: str, n: int = 5, radius: float = 0.5, seed: int = 0) -> list[EditResult]:
        """Decode ``n`` random codes at distance ``radius`` x (the code's RMS size x sqrt(D)) around a text."""
        text = check_text(text)
        n, radius, seed = check_int("n", n, minimum=1), check_number("radius", radius), check_seed(seed)
        code = self.encode(text).unsqueeze(0)
        generator = torch.Generator().manual_seed(seed)
        noise = torch.randn(n, code.shape[1], generator=generator)
        noise = noise / noise.norm(dim=-1, keepdim=True) * code.norm() * radius
        codes = code + noise
        return self._results(code.expand(n, -1), [text] * n, codes, self.decode(codes), "neighbor")

    # -- shared ----------------------------------------------------------------------------------

    def _decode_anchored(self, codes: torch.Tensor, sources: list[str], anchor: float) -> list[str]:
        """Texts of codes (N, D) for edits of ``sources``: greedy, or by beam search with
        :attr:`edit_beams` > 1; anchored to their source texts when ``anchor`` > 0; in known words
        when :attr:`known_words` and the model has a lexicon; ending near their sources' lengths
        when :attr:`edit_length_prior` > 0. Greedy drafts on the sources (an edit often decodes back
        to its source)."""
        options = {"known_words": True} if self.known_words and self.lexicon is not None else {}
        if self.edit_length_prior > 0:
            options.update(length_anchor=sources, length_weight=self.edit_length_prior)
        if self.edit_beams > 1:
            return self.decode(codes, **beam_options(self.edit_beams), anchor=sources, anchor_weight=anchor,
                               no_repeat_ngram=NO_REPEAT_NGRAM, **options)
        if anchor > 0:
            options.update(anchor=sources, anchor_weight=anchor)
        return self.decode(codes, draft=sources, **options)

    def _word_guard(self, rows: list[str]) -> WordGuard:
        """A guard of :attr:`lexicon` for a batch of greedy decoding whose rows may also write the
        words of ``rows`` (its speller is kept while the lexicon stays the same)."""
        if self._speller is None or self._speller[0] is not self.lexicon:
            backend = self.tokenizer.backend  # byte-level BPE: tokens and words in its alphabet ("Ġ" = a space)
            surfaces = [backend.id_to_token(i) for i in range(backend.get_vocab_size())]
            spell = lambda word: "".join(piece for piece, _ in backend.pre_tokenizer.pre_tokenize_str(word))  # noqa: E731
            self._speller = (self.lexicon, self.lexicon.speller(surfaces, self.model.config.eos_token_id, WORD_START, spell))
        return self._speller[1].guard(rows)

    def _syntax_guard(self, rows: int, keep: int, max_tokens: int) -> SyntaxGuard:
        """A :class:`~latentedit.python_syntax.SyntaxGuard` for ``rows`` rows that keeps ``keep`` tokens per step
        and ends each row within ``max_tokens``."""
        if self._python_syntax is None:
            self._python_syntax = PythonSyntax(token_bytes(self.tokenizer.backend), self.model.config.eos_token_id)
        return self._python_syntax.guard(rows, keep, max_tokens)

    @contextmanager
    def _remembering(self, texts: list[str]):
        """Encode texts and remember their codes while the block runs: a candidate that decodes
        back to its source (common for a faithful model) then needs no second encode."""
        codes = self.encode(texts)
        self._local.known = dict(zip(texts, codes))
        try:
            yield codes
        finally:
            self._local.known = {}

    def _encode_distinct(self, texts: list[str]) -> torch.Tensor:
        """Codes of texts, encoding each distinct text once (candidates often decode alike) and
        none that is remembered (see :meth:`_remembering`)."""
        codes = dict(getattr(self._local, "known", {}))
        fresh = [text for text in dict.fromkeys(texts) if text not in codes]
        if fresh:
            codes.update(zip(fresh, self._encode(fresh)))
        return torch.stack([codes[text] for text in texts])

    def _accepted(self, targets: list, recoded: torch.Tensor, starts: torch.Tensor, texts: list[str],
                  sources: list[str]) -> torch.Tensor:
        """(N,) bool: has each decoded text arrived? Every target accepts its re-encoded code (N, D)
        against its start code (see ``Target.accepts``), and the text is no copy of its source,
        as written or as the tokenizer spells the source back."""
        with torch.no_grad():
            accepted = torch.stack([t.accepts(recoded, starts) for t in targets]).all(0)
        distinct = list(dict.fromkeys(sources))
        spelled = dict(zip(distinct, self.tokenizer.decode(self.tokenizer.encode(distinct, self.model.config.max_length).ids)))
        changed = [text not in (source, spelled[source]) for text, source in zip(texts, sources)]
        return accepted & torch.tensor(changed, dtype=torch.bool, device=accepted.device)

    def _results(self, sources: torch.Tensor, source_texts: list[str], codes: torch.Tensor, texts: list[str],
                 operation: str, strengths: list[float] | None = None, trajectories: list[list] | None = None,
                 recoded: torch.Tensor | None = None) -> list[EditResult]:
        """Package outputs; scores come from re-encoding the decoded texts."""
        recoded = self._encode_distinct(texts) if recoded is None else recoded
        new_scores = self._score_codes(recoded) if self.heads else {}
        old_scores = self._score_codes(sources) if self.heads else {}
        return [
            EditResult(
                text=texts[i], source_text=source_texts[i], latent=codes[i].detach().clone(),
                source_latent=sources[i].detach().clone(), operation=operation,
                scores={k: v[i] for k, v in new_scores.items()}, source_scores={k: v[i] for k, v in old_scores.items()},
                trajectory=trajectories[i] if trajectories else [],
                strength=strengths[i] if strengths else None,
                distance=float((recoded[i] - sources[i]).norm()), similarity=word_similarity(source_texts[i], texts[i]),
                editor=self,
            )
            for i in range(len(texts))
        ]

    def _in_batches(self, texts: list[str], description: str, run) -> list:
        """``run`` over batches of texts of similar length (greedy decoding of a batch lasts as long
        as its longest output); results come back in input order, with a progress bar (on stderr)
        when there is more than one batch."""
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        starts = range(0, len(texts), self.batch_size)
        if len(texts) > self.batch_size and not self.quiet:
            from rich.console import Console
            from rich.progress import track

            starts = track(starts, description=description, console=Console(stderr=True), transient=True)
        results = [None] * len(texts)
        for start in starts:
            chunk = order[start : start + self.batch_size]
            for i, result in zip(chunk, run([texts[i] for i in chunk])):
                results[i] = result
        return results

    def _say(self, message: str) -> None:
        if not self.quiet:
            from rich.console import Console

            Console(stderr=True).print(message)


def lerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    return (1 - t) * a + t * b


def slerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """Spherical interpolation (falls back to lerp for nearly parallel vectors)."""
    cos = torch.dot(a, b) / (a.norm() * b.norm()).clamp(min=1e-12)
    omega = torch.arccos(cos.clamp(-1.0, 1.0))
    if omega.abs() < 1e-4:
        return lerp(a, b, t)
    return (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / torch.sin(omega)


def builtin_models() -> list[str]:
    """Names of the models shipped inside the package."""
    if not BUILTIN_MODELS.is_dir():
        return []
    return sorted(p.name for p in BUILTIN_MODELS.iterdir() if (p / "config.json").is_file())


def resolve_model(name_or_path: str | Path) -> Path:
    """A path to an existing folder is used as is; otherwise a built-in model name."""
    path = check_path("model", name_or_path, ModelFolderError)
    if path.exists():
        return path
    builtin = BUILTIN_MODELS / str(name_or_path)
    if "/" not in str(name_or_path) and (builtin / "config.json").is_file():
        return builtin
    available = builtin_models()
    raise ModelFolderError(
        f"no model folder at {name_or_path!r} and no built-in model of that name "
        f"(built-in: {available or 'none shipped yet'})"
    )


def _as_list(texts: str | Sequence[str]) -> tuple[bool, list[str]]:
    """Validate text input: a non-empty string, or a non-empty list of them."""
    single = isinstance(texts, str)
    items = [texts] if single else texts
    if not isinstance(items, (list, tuple)):
        raise InputError(f"expected a string or a list of strings, got {type(texts).__name__}")
    if not items:
        raise InputError("expected at least one text, got an empty list")
    for index, text in enumerate(items):
        check_text(text, f"text {index}")
    return single, list(items)


def word_similarity(a: str, b: str) -> float:
    """Word-level similarity in [0, 1] (difflib ratio over whitespace tokens)."""
    return difflib.SequenceMatcher(a=a.split(), b=b.split(), autojunk=False).ratio()


def _check_generator(value) -> torch.Generator | None:
    if value is not None and not isinstance(value, torch.Generator):
        raise InputError(f"generator must be a torch.Generator or None, got {type(value).__name__}")
    return value


_DECODE_OPTION_CHECKS = {
    "max_length": lambda value: check_int("max_length", value, minimum=1),
    "no_repeat_ngram": lambda value: check_int("no_repeat_ngram", value, minimum=0),
    "temperature": lambda value: check_number("temperature", value, minimum=MIN_TEMPERATURE),
    "top_k": lambda value: check_int("top_k", value, minimum=0),
    "top_p": lambda value: check_number("top_p", value, 0.0, 1.0),
    "generator": _check_generator,
    "num_beams": lambda value: check_int("num_beams", value, minimum=1),
    "length_penalty": lambda value: check_number("length_penalty", value),
    "anchor": lambda value: _as_list(value)[1],
    "draft": lambda value: _as_list(value)[1],
    "anchor_weight": lambda value: check_number("anchor_weight", value, minimum=0.0),
    "length_anchor": lambda value: _as_list(value)[1],
    "length_weight": lambda value: check_number("length_weight", value, minimum=0.0),
    "known_words": lambda value: check_bool("known_words", value),
    "python_syntax": lambda value: check_bool("python_syntax", value),
}


def moved(codes: torch.Tensor, vectors: torch.Tensor, strengths: torch.Tensor, keep_norm: bool = False) -> torch.Tensor:
    """Codes (N, D) moved along vectors (N, D) by each strength (G,) -> (N, G, D); with
    ``keep_norm``, each scaled back to its code's norm.

    Real texts' codes lie near a shell (on the default model, norms 15.3 +- 1.7), and a direction
    vector is long: moving 12 along the default model's ``formal`` (norm 3.7) triples a code's norm,
    far outside anything the decoder was trained on. Keeping the norm turns the code toward the
    direction instead (by atan(strength * |v| / |z|) for a vector orthogonal to the code).

    >>> moved(torch.tensor([[3.0, 0.0]]), torch.tensor([[0.0, 1.0]]), torch.tensor([4.0]), keep_norm=True)
    tensor([[[1.8000, 2.4000]]])
    """
    shifted = codes.unsqueeze(1) + strengths.view(1, -1, 1).to(codes) * vectors.unsqueeze(1)  # (N, G, D)
    if keep_norm:
        shifted = shifted * (codes.norm(dim=-1).view(-1, 1, 1) / shifted.norm(dim=-1, keepdim=True).clamp(min=1e-12))
    return shifted


def beam_options(num_beams: int) -> dict:
    """The :meth:`LatentEditor.decode` options of greedy decoding (1 beam) or beam search."""
    num_beams = check_int("num_beams", num_beams, minimum=1)
    return {} if num_beams == 1 else {"method": "beam", "num_beams": num_beams}


def _decode_options(method: str, options: dict) -> dict:
    """The options of a decoding method, checked (see :data:`DECODE_OPTIONS`)."""
    method = check_choice("method", method, tuple(DECODE_OPTIONS))
    unknown = sorted(set(options) - set(DECODE_OPTIONS[method]))
    if unknown:
        raise InputError(f"decoding method {method!r} takes the options {list(DECODE_OPTIONS[method])}, not {unknown}")
    return {name: _DECODE_OPTION_CHECKS[name](value) for name, value in options.items()}
