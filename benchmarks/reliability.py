"""Reliability: crash-safe saves, bounded memory, thread safety and determinism.

What it measures (and tests/test_reliability.py checks, on a smaller scale, with the same code):

* **Kills survived.** Processes are SIGKILLed at random moments while they save a model over an
  existing folder (``LatentEditor.save`` and ``TransformerVAE.save_pretrained``, in a loop, so a
  kill lands inside a save) or while ``latentedit shift --input big.txt --output out.txt``
  streams over an existing ``out.txt``. After every kill the target must be the complete old
  version or the complete new one (every file of the folder carries the same version marker, all
  other tensors unchanged, the model card carried over; the output file byte for byte), it must
  load, and the staging folders / temporary files a kill leaves behind must not break the next
  save or write. The killed processes are forked from a helper process that imported latentedit
  once (an import costs 5-10 s here), plus a few fully fresh ``python -m latentedit.cli`` and
  ``python -c 'editor.save(...)'`` processes, killed after their staging folder or temporary
  file appeared.
* **Peak memory.** ``ru_maxrss`` (from ``wait4``) of a fresh ``python -m latentedit.cli shift``
  process over 10k and 100k input lines, with the tiny model described below; goal: within 10%.
  The peak is set while importing torch/transformers, so the RSS is also sampled (``VmRSS``,
  every 10 ms) and its growth after streaming started is reported (the tests: 1k vs 10k lines).
* **Threads.** N threads call encode / shift / optimize / decode / score / sample / neighbors
  on one LatentEditor at once; every result must equal the serial result.
* **Determinism.** Two fresh processes (different PYTHONHASHSEED, scrambled global RNGs) run the
  same ``optimize(method="random", seed=1)``, ``optimize`` (adam), ``shift`` (number and auto),
  seeded sampling and neighbors; outputs (texts and latent codes) must be identical.
* Also: a load of a model folder while another process saves over it (can it see a mix of two
  versions?), and whether ``optimize(method="adam")`` leaves gradients on the shared heads.
* Fuzz results are read from ``benchmarks/results/fuzz.json`` (written by the fuzz benchmark)
  when present.

Models: "tiny" is the CLI tests' model (d_model 32, 1 encoder + 2 decoder layers, latent 2x8,
vocabulary 300, 40 Adam steps on 40 reviews) with heads ``likes`` (regression) and
``sentiment`` (classification) and direction ``positive``; the kill loops save a "big"
untrained model (d_model 256 -> ~7M parameters, ~27 MB, by default) so that a save takes long
enough to be hit. Child processes run with OMP_NUM_THREADS=1 (a shared 2-core machine).

    python benchmarks/reliability.py            # full run (3-5 minutes on 2 shared cores)
    python benchmarks/reliability.py --quick    # about 1 minute

Writes benchmarks/results/reliability.json (reliability_quick.json with --quick) atomically,
prints a table, and ends with one summary line.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import io
import json
import os
import platform
import random
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
FUZZ_RESULTS = RESULTS / "fuzz.json"

POSITIVE = ["the food was great .", "the service was friendly .", "i love this place .", "great pizza and nice staff .",
            "the staff was very kind .", "best burger in town .", "the room was clean .", "we loved the dessert .",
            "amazing coffee and cake .", "the waiter was helpful .", "fresh bread and good soup .", "a lovely cafe .",
            "the prices are fair .", "the view was beautiful .", "quick and friendly service .", "tasty food .",
            "i will come back .", "the music was nice .", "my kids loved it .", "five stars from me ."]
NEGATIVE = ["the food was cold .", "the service was slow .", "i hate this place .", "bad pizza and rude staff .",
            "the staff was very rude .", "worst burger in town .", "the room was dirty .", "we hated the dessert .",
            "awful coffee and cake .", "the waiter was rude .", "stale bread and cold soup .", "a sad cafe .",
            "the prices are too high .", "the view was ugly .", "slow and rude service .", "bland food .",
            "i will never come back .", "the music was loud .", "my kids hated it .", "one star from me ."]
LIKES = [float(10 + i % 5) for i in range(20)] + [float(i % 5) for i in range(20)]
TINY = dict(vocab_size=300, d_model=32, d_ff=64, num_heads=2, d_kv=16, encoder_layers=1, decoder_layers=2,
            dropout=0.0, latent_tokens=2, latent_dim=8, max_length=24, regularizer="none")
TINY_DESCRIPTION = "tiny: d_model 32, 1+2 layers, latent 2x8, vocab 300, 40 Adam steps on 40 reviews"
CARD = "# a model card\n\nkept across saves\n"


# -- models and inputs -------------------------------------------------------------------------


def build_tiny_editor(folder: str | Path, seed: int = 0) -> Path:
    """The tiny model of the CLI tests, briefly trained, with heads likes + sentiment and direction
    positive, saved to ``folder``."""
    import torch

    from latentedit import LatentEditor, Tokenizer, TransformerVAE, VAEConfig

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(seed)
        texts = POSITIVE + NEGATIVE
        model = TransformerVAE(VAEConfig(**TINY))
        model.tokenizer = Tokenizer.train(texts, vocab_size=290)
        batch = model.tokenizer.encode(texts, TINY["max_length"])
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
        model.train()
        for _ in range(40):
            optimizer.zero_grad()
            model(batch.ids, batch.mask).loss.backward()
            optimizer.step()
        model.zero_grad(set_to_none=True)
        editor = LatentEditor(model.eval(), quiet=True)
        editor.fit_head("likes", texts, values=LIKES)
        editor.fit_head("sentiment", texts, labels=["pos"] * 20 + ["neg"] * 20)
        editor.learn_direction("positive", POSITIVE, NEGATIVE, head="sentiment", target="pos")
        editor.save(folder)
    finally:
        torch.set_num_threads(threads)
    return Path(folder)


def write_lines(path: str | Path, count: int) -> Path:
    """``count`` review lines (the bundled sample, cycled, numbered so that lines differ)."""
    from latentedit.data import SAMPLE_REVIEWS, read_texts

    sample = read_texts(SAMPLE_REVIEWS, column="text")
    with open(path, "w", encoding="utf-8") as stream:
        for i in range(count):
            stream.write(f"{sample[i % len(sample)]} {i % 97}\n")
    return Path(path)


def big_editor(d_model: int = 256, seed: int = 0):
    """An untrained model large enough that a save takes a while, with one head ("probe") and one
    direction ("toward"): every file of a saved folder carries a version marker (set_version)."""
    import torch

    from latentedit import LatentEditor, Tokenizer, TransformerVAE, VAEConfig
    from latentedit.data import SAMPLE_REVIEWS, read_texts
    from latentedit.directions import Direction
    from latentedit.heads import HeadConfig, PropertyHead

    torch.manual_seed(seed)
    config = VAEConfig(vocab_size=4000, d_model=d_model, d_ff=4 * d_model, num_heads=4, d_kv=d_model // 4,
                       encoder_layers=3, decoder_layers=3, latent_tokens=2, latent_dim=16, max_length=24,
                       regularizer="none")
    model = TransformerVAE(config)
    model.tokenizer = Tokenizer.train(read_texts(SAMPLE_REVIEWS, column="text"), vocab_size=4000)
    size = config.code_size
    head = PropertyHead(HeadConfig(name="probe", kind="regression", code_size=size))
    direction = Direction("toward", torch.zeros(size), "mean", 2, 2)
    return LatentEditor(model.eval(), heads={"probe": head}, directions={"toward": direction}, quiet=True)


def set_version(editor, version: int) -> None:
    """Stamp ``version`` into the weights, the head (weights and config) and the direction."""
    import torch

    with torch.no_grad():
        editor.model.to_posterior.bias.fill_(float(version))
        head = editor.heads["probe"]
        head.net.bias.fill_(float(version))
    head.config = dataclasses.replace(head.config, description=f"v{version}")
    direction = editor.directions["toward"]
    direction.vector = torch.full_like(direction.vector, float(version))
    direction.description = f"v{version}"


class MixedVersions(AssertionError):
    pass


def _marker(tensor, where: str) -> int:
    values = set(tensor.detach().flatten().tolist())
    if len(values) != 1:
        raise MixedVersions(f"{where} holds several values {sorted(values)[:4]}: a torn write")
    return int(values.pop())


def editor_folder_version(folder: str | Path, reference: dict | None = None) -> int:
    """Load a folder written by LatentEditor.save of big_editor(); return its version, raising
    MixedVersions when its files come from different saves (and, given ``reference`` tensors,
    when any other tensor differs from them)."""
    from latentedit import LatentEditor

    editor = LatentEditor.load(folder)
    head, direction = editor.heads["probe"], editor.directions["toward"]
    found = {"weights": _marker(editor.model.to_posterior.bias, "to_posterior.bias"),
             "head weights": _marker(head.net.bias, "head bias"),
             "head config": int(head.config.description[1:]),
             "direction vector": _marker(direction.vector, "direction vector"),
             "direction json": int(direction.description[1:])}
    if len(set(found.values())) != 1:
        raise MixedVersions(f"{folder} mixes versions: {found}")
    if reference is not None:
        _same_tensors(editor.model, reference)
    return found["weights"]


def model_folder_version(folder: str | Path, reference: dict | None = None) -> int:
    """Load a folder written by TransformerVAE.save_pretrained over a LatentEditor folder of
    version 0 with a model card: the card, head and direction must have been carried over."""
    from latentedit import LatentEditor

    editor = LatentEditor.load(folder)
    if (Path(folder) / "MODEL_CARD.md").read_text() != CARD:
        raise MixedVersions("the model card was not carried over")
    if int(editor.heads["probe"].config.description[1:]) != 0 or editor.directions["toward"].description != "v0":
        raise MixedVersions("the head or direction carried over from version 0 changed")
    if reference is not None:
        _same_tensors(editor.model, reference)
    return _marker(editor.model.to_posterior.bias, "to_posterior.bias")


def _same_tensors(model, reference: dict) -> None:
    import torch

    state = model.tensors_to_save()
    if state.keys() != reference.keys():
        raise MixedVersions("the weights file holds other tensors than the reference")
    for name, tensor in state.items():
        if name != "to_posterior.bias" and not torch.equal(tensor, reference[name]):
            raise MixedVersions(f"tensor {name} differs from every saved version")


def reference_tensors(folder: str | Path) -> dict:
    from latentedit import TransformerVAE

    return TransformerVAE.from_pretrained(folder).tensors_to_save()


def staging_leftovers(folder: str | Path) -> list[str]:
    """Staging folders of interrupted saves beside ``folder`` (atomic_folder names them
    ``.<name>.saving-*``; the non-Linux fallback uses ``.<name>.old-<pid>``)."""
    folder = Path(folder)
    prefixes = (f".{folder.name}.saving-", f".{folder.name}.old-")
    return sorted(p.name for p in folder.parent.iterdir() if p.name.startswith(prefixes))


def temp_leftovers(path: str | Path) -> list[str]:
    """Temporary files of interrupted atomic_file writes beside ``path``."""
    path = Path(path)
    return sorted(p.name for p in path.parent.iterdir() if p.name.startswith(f".{path.name}.") and p.name.endswith(".tmp"))


def remove_leftovers(folder: str | Path) -> None:
    import shutil

    folder = Path(folder)
    for name in staging_leftovers(folder) + temp_leftovers(folder):
        path = folder.parent / name
        shutil.rmtree(path) if path.is_dir() else path.unlink()


def shift_argv(model: str | Path, source: str | Path, output: str | Path) -> list[str]:
    return ["shift", "--model", str(model), "--direction", "positive", "--strength", "1.0",
            "--input", str(source), "--output", str(output)]


# -- the helper process ("zygote"): imports once, forks the processes that get killed ------------


class Zygote:
    """A child process that imports latentedit once and then, on request, forks workers (saving
    a model in a loop, or running the CLI's main()) and SIGKILLs them after a given delay, or
    runs an operation itself. Requests and replies are JSON lines on its stdin/stdout."""

    def __init__(self, hash_seed: int = 0, threads: int | None = 1, log: str | Path | None = None):
        env = {**os.environ, "TOKENIZERS_PARALLELISM": "false", "COLUMNS": "200", "PYTHONHASHSEED": str(hash_seed)}
        if threads is not None:
            env["OMP_NUM_THREADS"] = str(threads)
        self.log_path = Path(log) if log else Path(tempfile.mkstemp(prefix="zygote-", suffix=".log")[1])
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--serve"], cwd=ROOT, env=env,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log)
        self.pid = None

    def ready(self, timeout: float = 180) -> "Zygote":
        if self.pid is None:
            self.pid = self._receive(timeout)["pid"]
        return self

    def call(self, op: str, timeout: float = 300, **args):
        self.send(op, **args)
        return self.result(timeout)

    def send(self, op: str, **args) -> None:
        self.ready()
        self.process.stdin.write((json.dumps({"op": op, "args": args}) + "\n").encode())
        self.process.stdin.flush()

    def result(self, timeout: float = 300):
        reply = self._receive(timeout)
        if not reply.get("ok"):
            raise RuntimeError(f"zygote operation failed:\n{reply.get('error')}")
        return reply["result"]

    def _receive(self, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or self.process.poll() is not None:
                raise RuntimeError(f"zygote {'timed out' if left <= 0 else 'died'}; its log ends:\n{self.log_tail()}")
            if select.select([self.process.stdout], [], [], min(left, 1.0))[0]:
                line = self.process.stdout.readline()
                if not line:
                    continue
                return json.loads(line)

    def log_tail(self, size: int = 3000) -> str:
        self._log.flush()
        return self.log_path.read_bytes()[-size:].decode(errors="replace")

    def close(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(OSError):
                self.process.stdin.close()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


def _fork(work) -> int:
    """Run work() in a forked child that exits with its return code (never returns there)."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            code = work() or 0
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else 1
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(code)
    return pid


def _reap(pid: int, started: float) -> dict:
    _, status, usage = os.wait4(pid, 0)
    return _outcome(status, usage, started)


def _outcome(status: int, usage, started: float) -> dict:
    killed = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    return {"killed": killed, "rc": os.waitstatus_to_exitcode(status), "seconds": round(time.perf_counter() - started, 4),
            "maxrss_kb": usage.ru_maxrss}


def _vmrss_kb(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as stream:
            for line in stream:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def watch(pid: int, started: float, output: str | Path | None = None, interval: float = 0.01) -> dict:
    """Wait for a child, sampling its resident memory (VmRSS) every ``interval`` seconds: its peak
    (ru_maxrss from wait4, and the sampled maximum) and the RSS when its temporary ``output`` file
    appeared (the model is loaded and streaming starts), to tell the growth while streaming."""
    known = set(temp_leftovers(output)) if output else set()
    sampled, at_stream = 0, None
    while True:
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            break
        rss = _vmrss_kb(pid)
        if rss:
            sampled = max(sampled, rss)
            if output and at_stream is None and set(temp_leftovers(output)) - known:
                at_stream = rss
        time.sleep(interval)
    result = _outcome(status, usage, started)
    result.update(sampled_max_kb=sampled, rss_at_stream_start_kb=at_stream,
                  growth_while_streaming_kb=None if at_stream is None else sampled - at_stream)
    return result


def _kill_after(pid: int, delay: float, started: float) -> dict:
    time.sleep(max(0.0, delay - (time.perf_counter() - started)))
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    return _reap(pid, started)


class _Server:
    """The operations a Zygote runs (in the zygote process)."""

    def __init__(self):
        self.editor = None  # big_editor(), built by prepare_saves
        self.loops: set[int] = set()

    def fingerprint(self, folder: str, threads: int = 1) -> dict:
        return edit_fingerprint(folder, threads)

    def run_cli(self, argv: list[str], output: str | None = None) -> dict:
        """The CLI in a forked child: exit code, seconds and the child's memory (see watch)."""
        from latentedit import cli

        started = time.perf_counter()
        return watch(_fork(lambda: cli.main(argv)), started, output)

    def kill_cli(self, argv: list[str], delay: float, output: str) -> dict:
        from latentedit import cli

        known = set(temp_leftovers(output))  # left by earlier kills
        started = time.perf_counter()
        pid = _fork(lambda: cli.main(argv))
        time.sleep(max(0.0, delay - (time.perf_counter() - started)))
        writing = bool(set(temp_leftovers(output)) - known)  # its temporary output file is there: mid-write
        os.kill(pid, signal.SIGKILL)
        return {**_reap(pid, started), "mid_write": writing}

    def prepare_saves(self, editor_folder: str, model_folder: str, d_model: int = 256) -> dict:
        """Build the big editor; save version 0 to both folders (+ a model card in model_folder)."""
        self.editor = big_editor(d_model)
        set_version(self.editor, 0)
        self.editor.save(editor_folder)
        self.editor.save(model_folder)
        (Path(model_folder) / "MODEL_CARD.md").write_text(CARD)
        times = []
        for _ in range(3):
            started = time.perf_counter()
            self.editor.save(editor_folder)
            times.append(time.perf_counter() - started)
        size = sum(p.stat().st_size for p in Path(editor_folder).rglob("*") if p.is_file())
        return {"save_seconds": sorted(times)[1], "folder_bytes": size,
                "parameters": sum(p.numel() for p in self.editor.model.parameters())}

    def _save_loop(self, kind: str, folder: str, start: int, started_fd: int | None = None):
        parent = os.getpid()

        def loop():
            if started_fd is not None:
                os.write(started_fd, b"s")  # the fork is done: the kill delay counts from here
            version = start
            while os.getppid() == parent:  # an orphan (the zygote died) stops
                set_version(self.editor, version)
                if kind == "editor":
                    self.editor.save(folder)
                else:
                    self.editor.model.save_pretrained(folder)
                version += 1

        return loop

    def kill_save(self, kind: str, folder: str, start: int, delay: float) -> dict:
        """Fork a child that saves versions start, start+1, ... over ``folder``; SIGKILL it
        ``delay`` seconds after it started."""
        read_end, write_end = os.pipe()
        pid = _fork(self._save_loop(kind, folder, start, write_end))
        os.close(write_end)
        try:
            select.select([read_end], [], [], 30)
            os.read(read_end, 1)
        finally:
            os.close(read_end)
        return _kill_after(pid, delay, time.perf_counter())

    def save(self, kind: str, folder: str, version: int) -> None:
        set_version(self.editor, version)
        self.editor.save(folder) if kind == "editor" else self.editor.model.save_pretrained(folder)

    def start_save_loop(self, kind: str, folder: str, start: int) -> int:
        pid = _fork(self._save_loop(kind, folder, start))
        self.loops.add(pid)
        return pid

    def stop(self, pid: int) -> dict:
        self.loops.discard(pid)
        return _kill_after(pid, 0.0, time.perf_counter())


def serve() -> None:
    reply = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything printed (the CLI's tables, library output) goes to the log, not the replies
    sys.stdout = sys.stderr
    import torch

    import latentedit.cli  # noqa: F401  (imported once, before any fork)
    from latentedit import LatentEditor  # noqa: F401

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "0")) or torch.get_num_threads())
    torch.manual_seed(int.from_bytes(os.urandom(4), "little"))  # nothing may rely on the global RNG
    random.seed(os.urandom(8))
    server = _Server()
    reply.write(json.dumps({"ready": True, "pid": os.getpid()}) + "\n")
    try:
        for line in sys.stdin:
            request = json.loads(line)
            try:
                result = getattr(server, request["op"])(**request["args"])
                reply.write(json.dumps({"ok": True, "result": result}) + "\n")
            except Exception:
                reply.write(json.dumps({"ok": False, "error": traceback.format_exc()}) + "\n")
    finally:
        for pid in list(server.loops):
            server.stop(pid)


# -- kill loops (run in the parent, which checks the invariant after every kill) ----------------


def kill_saves(zygote: Zygote, workdir: str | Path, kills: int, rng: random.Random, d_model: int = 256,
               kinds: tuple[str, ...] = ("editor", "model")) -> dict:
    """SIGKILL save loops at random delays; after each kill the folder must load as one complete
    version, no older than before the kill, with every other tensor unchanged."""
    workdir = Path(workdir)
    folders = {"editor": workdir / "e" / "editor", "model": workdir / "m" / "model"}
    for folder in folders.values():
        folder.parent.mkdir(parents=True, exist_ok=True)
    prepared = zygote.call("prepare_saves", editor_folder=str(folders["editor"]), model_folder=str(folders["model"]),
                           d_model=d_model)
    reference = reference_tensors(folders["editor"])
    check = {"editor": editor_folder_version, "model": model_folder_version}
    versions = {"editor": editor_folder_version(folders["editor"]), "model": model_folder_version(folders["model"])}
    save_seconds = prepared["save_seconds"]
    rows, failures = [], []
    for i in range(kills):
        kind = kinds[i % len(kinds)]
        folder, before = folders[kind], versions[kind]
        leftovers_before = set(staging_leftovers(folder))
        delay = rng.uniform(0.02, 3.0) * save_seconds
        outcome = zygote.call("kill_save", kind=kind, folder=str(folder), start=before + 1, delay=delay)
        row = {"kind": kind, "delay_s": round(delay, 4), "killed": outcome["killed"], "version_before": before,
               "staging_left": bool(set(staging_leftovers(folder)) - leftovers_before)}  # this kill's own folder
        try:
            after = check[kind](folder, reference)
            if after < before:
                raise MixedVersions(f"version went back from {before} to {after}")
            row["version_after"] = versions[kind] = after
            row["survived"] = outcome["killed"]
        except Exception as error:  # a failed load or a mix of versions: the kill was not survived
            row["survived"] = False
            row["error"] = f"{type(error).__name__}: {error}"
            failures.append(row)
        rows.append(row)
    # a later save still works next to the leftovers of the killed ones
    later = {}
    for kind, folder in folders.items():
        left = len(staging_leftovers(folder))
        zygote.call("save", kind=kind, folder=str(folder), version=versions[kind] + 1000)
        later[kind] = {"leftovers": left, "ok": check[kind](folder, reference) == versions[kind] + 1000,
                       "leftovers_after": len(staging_leftovers(folder))}
    killed = [r for r in rows if r["killed"]]
    return {
        "kills": len(killed), "survived": sum(r["survived"] for r in killed), "attempts": len(rows),
        "mid_save": sum(r["staging_left"] for r in killed),
        "advanced": sum(r.get("version_after", -1) > r["version_before"] for r in killed),
        "save_seconds": round(save_seconds, 4), "folder_mb": round(prepared["folder_bytes"] / 2**20, 1),
        "parameters": prepared["parameters"], "later_save": later, "failures": failures[:5], "rows": rows,
    }


def kill_cli_writes(zygote: Zygote, model: str | Path, source: str | Path, output: str | Path, kills: int,
                    rng: random.Random) -> dict:
    """SIGKILL ``latentedit shift --input source --output output`` at random moments while
    ``output`` holds an old version; afterwards it must be the old or the new file, byte for byte."""
    output = Path(output)
    old = b"an old output line\n" * 3
    argv = shift_argv(model, source, output)
    runs = []
    for _ in range(2):  # the first run in a fresh zygote is slower (lazy imports, cold caches)
        output.write_bytes(old)
        runs.append(zygote.call("run_cli", argv=argv))
        if runs[-1]["rc"] != 0:
            raise RuntimeError(f"latentedit shift failed (exit {runs[-1]['rc']}): {zygote.log_tail()}")
    new, seconds = output.read_bytes(), min(r["seconds"] for r in runs)
    rows, failures = [], []
    while sum(r["killed"] for r in rows) < kills and len(rows) < 3 * kills:  # a run may end before its kill
        output.write_bytes(old)
        delay = rng.uniform(0.05, 0.9) * seconds
        outcome = zygote.call("kill_cli", argv=argv, delay=delay, output=str(output))
        data = output.read_bytes()
        state = "old" if data == old else "new" if data == new else "other"
        row = {"delay_s": round(delay, 4), "killed": outcome["killed"], "mid_write": outcome["mid_write"],
               "output": state, "survived": outcome["killed"] and state != "other"}
        rows.append(row)
        if state == "other":
            failures.append({**row, "size": len(data)})
    left = temp_leftovers(output)
    later = zygote.call("run_cli", argv=argv)  # a later write next to the leftovers
    killed = [r for r in rows if r["killed"]]
    return {
        "kills": len(killed), "survived": sum(r["survived"] for r in killed), "attempts": len(rows),
        "mid_write": sum(r["mid_write"] for r in killed), "lines": new.count(b"\n"),
        "run_seconds": round(seconds, 3), "temp_files_left": len(left),
        "later_write_ok": later["rc"] == 0 and output.read_bytes() == new,
        "failures": failures[:5], "rows": rows,
    }


def load_during_save(zygote: Zygote, folder: str | Path, seconds: float, stop_at_first: bool = True) -> dict:
    """Load a folder again and again while another process saves new versions over it."""
    pid = zygote.call("start_save_loop", kind="editor", folder=str(folder), start=10_000)
    loads = mixed = errors = busy = 0
    examples = []
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            try:
                editor_folder_version(folder)
                loads += 1
            except MixedVersions as error:
                mixed += 1
                examples.append(str(error))
            except Exception as error:
                if "kept changing" in str(error):  # a clean refusal: saves came faster than one load could finish
                    busy += 1
                    continue
                errors += 1
                examples.append(f"{type(error).__name__}: {error}")
            if stop_at_first and (mixed or errors):
                break
    finally:
        zygote.call("stop", pid=pid)
    return {"loads": loads + mixed + errors + busy, "consistent": loads, "mixed": mixed, "errors": errors,
            "refused_busy": busy, "examples": examples[:3]}


# -- memory, threads, determinism ---------------------------------------------------------------


def fresh_cli_rss(argv: list[str], output: str | Path, threads: int = 1) -> dict:
    """Run ``python -m latentedit.cli ARGV`` as a fresh process: exit code, seconds and memory (see watch)."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "TOKENIZERS_PARALLELISM": "false"}
    started = time.perf_counter()
    with tempfile.TemporaryFile() as stderr:
        process = subprocess.Popen([sys.executable, "-m", "latentedit.cli", *argv], cwd=ROOT, env=env,
                                   stdout=subprocess.DEVNULL, stderr=stderr)
        result = watch(process.pid, started, output)
        process.returncode = result["rc"]
        stderr.seek(0)
        result["stderr"] = stderr.read().decode(errors="replace")[-300:]
    return result


def _rows(results) -> list[dict]:
    return [{"text": r.text, "latent": r.latent.tolist(), "scores": r.scores, "strength": r.strength}
            for r in results]


def edit_ops(editor, texts: list[str]) -> dict:
    """Named editor calls whose results are plain, comparable Python values."""
    return {
        "encode": lambda: editor.encode(texts).tolist(),
        "encode_sampled_seed3": lambda: editor.encode(texts, sample=True, seed=3).tolist(),
        "decode": lambda: editor.decode(editor.encode(texts)),
        "score": lambda: editor.score(texts),
        "shift": lambda: _rows(editor.shift(texts, "positive", 1.0)),
        "shift_auto": lambda: _rows(editor.shift(texts, "positive", "auto")),
        "optimize_adam": lambda: _rows(editor.optimize(texts, {"sentiment": "pos"}, steps=20)),
        "optimize_random_seed1": lambda: _rows(editor.optimize(texts, {"likes": "max"}, method="random", seed=1,
                                                               steps=20)),
        "sample_seed2": lambda: editor.sample(4, seed=2),
        "neighbors_seed4": lambda: _rows(editor.neighbors(texts[0], n=4, seed=4)),
    }


def edit_fingerprint(folder: str | Path, threads: int = 1) -> dict:
    """The results of edit_ops on a model folder, after scrambling the global RNGs."""
    import torch

    from latentedit import LatentEditor

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    torch.manual_seed(int.from_bytes(os.urandom(4), "little"))
    random.seed(os.urandom(8))
    try:
        editor = LatentEditor.load(folder)
        editor.quiet = True
        return {name: op() for name, op in edit_ops(editor, NEGATIVE[:8]).items()}
    finally:
        torch.set_num_threads(before)


def thread_check(editor, texts: list[str], threads: int = 4, rounds: int = 2) -> dict:
    """Every edit_ops call, serially, then from ``threads`` threads at once (each in a different
    order, ``rounds`` times); also a shift with several batches and progress bars (quiet=False)."""
    from latentedit import LatentEditor

    batched = LatentEditor(editor.model, heads=editor.heads, directions=editor.directions, batch_size=3, quiet=False)
    ops = {**edit_ops(editor, texts), "shift_batched_progress": lambda: _rows(batched.shift(texts, "positive", 0.5))}
    with contextlib.redirect_stderr(io.StringIO()):  # progress bars
        serial = {name: op() for name, op in ops.items()}
        mismatches, errors = [], []
        barrier = threading.Barrier(threads)

        def worker(index: int) -> None:
            names = list(ops)
            names = names[index % len(names):] + names[: index % len(names)]
            barrier.wait()
            for _ in range(rounds):
                for name in names:
                    try:
                        if ops[name]() != serial[name]:
                            mismatches.append(name)
                    except Exception as error:  # noqa: BLE001 - reported
                        errors.append(f"{name}: {type(error).__name__}: {error}")

        pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
        started = time.perf_counter()
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join()
    return {"threads": threads, "rounds": rounds, "calls": threads * rounds * len(ops), "operations": sorted(ops),
            "mismatches": sorted(set(mismatches)), "errors": errors[:5], "same_as_serial": not mismatches and not errors,
            "model_still_in_eval_mode": not editor.model.training, "seconds": round(time.perf_counter() - started, 2)}


def head_gradients_after_adam(editor, texts: list[str]) -> list[str]:
    """Heads whose parameters hold gradients after one optimize(method="adam") call."""
    for head in editor.heads.values():
        head.zero_grad(set_to_none=True)
    editor.optimize(texts, {"sentiment": "pos"}, steps=5)
    return sorted(name for name, head in editor.heads.items() if any(p.grad is not None for p in head.parameters()))


def fit_head_reseeds_global_rng(editor) -> bool:
    """Does LatentEditor.fit_head reset the process-wide torch RNG (shared by every thread)? True
    when the random numbers drawn after it no longer depend on the seed set before it."""
    import torch

    streams = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        editor.fit_head("rng_probe", POSITIVE + NEGATIVE, labels=["pos"] * 20 + ["neg"] * 20)
        streams.append(torch.rand(4))
    editor.heads.pop("rng_probe", None)
    return torch.equal(*streams)


def diff_fingerprints(a: dict, b: dict) -> list[str]:
    return sorted(name for name in set(a) | set(b) if a.get(name) != b.get(name))


def describe_differences(a: dict, b: dict) -> dict:
    """For each operation whose results differ: do the texts (all strings) differ, and by how much
    at most do the numbers (codes, scores) differ."""

    def leaves(value):
        if isinstance(value, dict):
            for key in sorted(value):
                yield from leaves(value[key])
        elif isinstance(value, (list, tuple)):
            for item in value:
                yield from leaves(item)
        else:
            yield value

    described = {}
    for name in diff_fingerprints(a, b):
        x, y = list(leaves(a.get(name))), list(leaves(b.get(name)))
        numbers = [abs(p - q) for p, q in zip(x, y) if isinstance(p, float) and isinstance(q, float)]
        described[name] = {"texts_identical": [v for v in x if isinstance(v, str)] == [v for v in y if isinstance(v, str)],
                           "max_number_difference": max(numbers, default=0.0)}
    return described


# -- fuzz results -------------------------------------------------------------------------------


def read_fuzz(path: Path | None = None) -> dict:
    """Cases run and failures from benchmarks/fuzz.py's JSON (fuzz.json, else fuzz_quick.json)."""
    candidates = [path] if path else [FUZZ_RESULTS, FUZZ_RESULTS.with_name("fuzz_quick.json")]
    found = next((p for p in candidates if p.is_file()), None)
    if found is None:
        return {"present": False, "cases": None, "failures": None, "source": None}
    source = str(found.relative_to(ROOT)) if found.is_relative_to(ROOT) else str(found)
    try:
        data = json.loads(found.read_text())
    except (OSError, ValueError) as error:
        return {"present": True, "readable": False, "error": str(error), "cases": None, "failures": None, "source": source}

    def number(value):
        return len(value) if isinstance(value, list) else value

    keep = ("date", "failure_signatures", "unknown_failure_signatures", "known_bugs", "examples_per_target")
    return {"present": True, "source": source, "cases": number(data.get("cases", data.get("cases_run"))),
            "failures": number(data.get("failures")), **{k: data[k] for k in keep if k in data}}


# -- fresh-process kills ------------------------------------------------------------------------

_FRESH_SAVE = """
import sys
sys.path.insert(0, {here!r})
import reliability as r
editor = r.big_editor({d_model})
version = {start}
while True:
    r.set_version(editor, version)
    editor.save({folder!r}) if {kind!r} == "editor" else editor.model.save_pretrained({folder!r})
    version += 1
"""


def fresh_kills(workdir: Path, tiny: Path, source: Path, new: bytes, rounds: int, rng: random.Random,
                d_model: int) -> dict:
    """Kills of fully fresh processes (no fork): a python process saving the big editor in a loop,
    killed a random moment after its first staging folder appeared; ``python -m latentedit.cli
    shift`` killed a random moment after its temporary output file appeared."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    folder = workdir / "fresh" / "editor"
    folder.parent.mkdir(parents=True, exist_ok=True)
    rows = []
    version = None
    for _ in range(rounds):
        # saves (the folder is created by the first process)
        start = 0 if version is None else version + 1
        code = _FRESH_SAVE.format(here=str(Path(__file__).parent), d_model=d_model, start=start, folder=str(folder),
                                  kind="editor")
        process = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        known = set(staging_leftovers(folder))
        deadline = time.monotonic() + 120
        while process.poll() is None and time.monotonic() < deadline and not (set(staging_leftovers(folder)) - known):
            time.sleep(0.002)
        time.sleep(rng.uniform(0.0, 0.3) if version is not None else 1.0)  # the very first run: let a save finish
        process.send_signal(signal.SIGKILL)
        process.wait()
        row = {"kind": "editor.save (fresh process)", "killed": process.returncode == -signal.SIGKILL}
        try:
            if not folder.exists():
                row.update(survived=row["killed"], note="killed before the first save finished: no folder yet")
            else:
                after = editor_folder_version(folder)
                row.update(survived=row["killed"] and (version is None or after >= version), version=after)
                version = after
        except Exception as error:
            row.update(survived=False, error=f"{type(error).__name__}: {error}")
        rows.append(row)
        # CLI output
        output = workdir / "fresh" / "out.txt"
        old = b"an old output line\n"
        output.write_bytes(old)
        process = subprocess.Popen([sys.executable, "-m", "latentedit.cli", *shift_argv(tiny, source, output)], cwd=ROOT,
                                   env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        known = set(temp_leftovers(output))
        while process.poll() is None and not (set(temp_leftovers(output)) - known):
            time.sleep(0.002)
        time.sleep(rng.uniform(0.0, 0.5))
        process.send_signal(signal.SIGKILL)
        process.wait()
        data = output.read_bytes()
        state = "old" if data == old else "new" if data == new else "other"
        rows.append({"kind": "latentedit shift --output (fresh process)", "killed": process.returncode == -signal.SIGKILL,
                     "output": state, "survived": process.returncode == -signal.SIGKILL and state != "other"})
    killed = [r for r in rows if r["killed"]]
    return {"kills": len(killed), "survived": sum(r["survived"] for r in killed), "rows": rows}


# -- the benchmark ------------------------------------------------------------------------------


def versions() -> dict:
    import tokenizers
    import torch
    import transformers

    import latentedit

    return {"latentedit": latentedit.__version__, "torch": torch.__version__, "transformers": transformers.__version__,
            "tokenizers": tokenizers.__version__, "python": platform.python_version(), "platform": platform.platform(),
            "cpus": os.cpu_count()}


def run(args) -> dict:
    import torch

    from latentedit import LatentEditor
    from latentedit.cli import CHUNK_LINES
    from latentedit.model_folder import atomic_file

    started = time.perf_counter()
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="reliability-"))
    zygote_a, zygote_b = Zygote(hash_seed=1, log=work / "zygote-a.log"), Zygote(hash_seed=2, log=work / "zygote-b.log")
    result: dict = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                    "quick": args.quick, "versions": versions(), "models": {"tiny": TINY_DESCRIPTION}}
    try:
        tiny = build_tiny_editor(work / "tiny")
        step = lambda name: print(f"[{time.perf_counter() - started:6.1f}s] {name}", file=sys.stderr, flush=True)  # noqa: E731

        step("determinism: two fresh processes")
        prints = {}
        for threads in (1, 2):
            zygote_a.ready().send("fingerprint", folder=str(tiny), threads=threads)
            zygote_b.ready().send("fingerprint", folder=str(tiny), threads=threads)
            prints[threads] = (zygote_a.result(), zygote_b.result())
        zygote_b.close()
        result["determinism"] = {
            "processes": 2, "operations": sorted(prints[1][0]),
            "differences_1_thread": diff_fingerprints(*prints[1]), "differences_2_threads": diff_fingerprints(*prints[2]),
            "same_across_processes": prints[1][0] == prints[1][1] and prints[2][0] == prints[2][1],
            "info_1_vs_2_threads_differ_in": describe_differences(prints[1][0], prints[2][0]),
        }

        step("memory: fresh CLI processes")
        small, large = args.memory_lines
        memory = {"model": TINY_DESCRIPTION, "torch_threads": 1, "chunk_lines": CHUNK_LINES}
        for name, lines in (("one_line", 1), ("small", small), ("large", large)):
            source = write_lines(work / f"lines-{lines}.txt", lines)
            output = work / f"out-{lines}.txt"
            measured = fresh_cli_rss(shift_argv(tiny, source, output), output)
            if measured["rc"] != 0:
                raise RuntimeError(f"latentedit shift over {lines} lines failed: {measured['stderr']}")
            growth = measured["growth_while_streaming_kb"]
            memory[name] = {"lines": lines, "maxrss_mb": round(measured["maxrss_kb"] / 1024, 1),
                            "sampled_max_rss_mb": round(measured["sampled_max_kb"] / 1024, 1),
                            "growth_while_streaming_mb": None if growth is None else round(growth / 1024, 1),
                            "seconds": measured["seconds"]}
        memory["ratio_large_to_small"] = round(memory["large"]["maxrss_mb"] / memory["small"]["maxrss_mb"], 4)
        memory["growth_mb"] = round(memory["large"]["maxrss_mb"] - memory["small"]["maxrss_mb"], 1)
        memory["goal"] = 1.10
        memory["ok"] = memory["ratio_large_to_small"] <= 1.10
        result["memory"] = memory

        step("threads: one LatentEditor, several threads")
        torch.set_num_threads(1)
        editor = LatentEditor.load(tiny)
        editor.quiet = True
        result["threads"] = thread_check(editor, NEGATIVE[:6], threads=args.threads, rounds=args.thread_rounds)
        torch.set_num_threads(2)  # Python threads on top of torch's own intra-op threads
        two = thread_check(editor, NEGATIVE[:6], threads=args.threads, rounds=1)
        torch.set_num_threads(1)
        result["threads"]["with_2_torch_threads"] = {k: two[k] for k in ("calls", "mismatches", "errors", "same_as_serial")}
        result["threads"]["heads_with_gradients_after_optimize_adam"] = head_gradients_after_adam(editor, NEGATIVE[:3])
        result["threads"]["fit_head_reseeds_global_torch_rng"] = fit_head_reseeds_global_rng(editor)

        step(f"kills: {args.cli_kills} CLI writes")
        source = write_lines(work / "kill-input.txt", args.kill_lines)
        (work / "out").mkdir()
        cli_kills = kill_cli_writes(zygote_a, tiny, source, work / "out" / "out.txt", args.cli_kills, rng)
        step(f"kills: {args.save_kills} saves")
        save_kills = kill_saves(zygote_a, work / "saves", args.save_kills, rng, d_model=args.d_model)
        step("load during a concurrent save")
        concurrent = load_during_save(zygote_a, work / "saves" / "e" / "editor", seconds=args.load_seconds,
                                      stop_at_first=False)
        step(f"kills: {args.fresh_kills} x 2 fresh processes")
        fresh = fresh_kills(work, tiny, source, (work / "out" / "out.txt").read_bytes(), args.fresh_kills, rng,
                            args.d_model)
        for block in (save_kills, cli_kills):
            block.pop("rows")
        result["kills"] = {
            "survived": save_kills["survived"] + cli_kills["survived"] + fresh["survived"],
            "total": save_kills["kills"] + cli_kills["kills"] + fresh["kills"],
            "model_saves": save_kills, "cli_output": cli_kills, "fresh_processes": fresh,
        }
        result["load_during_concurrent_save"] = concurrent
        result["fuzz"] = read_fuzz()
        result["seconds"] = round(time.perf_counter() - started, 1)
    finally:
        zygote_a.close()
        zygote_b.close()
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    name = "reliability_quick.json" if args.quick else "reliability.json"
    with atomic_file(RESULTS / name) as stream:
        json.dump(result, stream, indent=2)
        stream.write("\n")
    result["written_to"] = str((RESULTS / name).relative_to(ROOT))
    return result


def report(result: dict) -> str:
    from rich.console import Console
    from rich.table import Table

    k, m, t, d, f = result["kills"], result["memory"], result["threads"], result["determinism"], result["fuzz"]
    c = result["load_during_concurrent_save"]
    saves, cli, fresh = k["model_saves"], k["cli_output"], k["fresh_processes"]
    table = Table("check", "result", "goal", title=f"latentedit reliability ({result['date']})")
    fuzz = ("no benchmarks/results/fuzz.json yet" if not f["present"] else
            f"{f['failures']} failures in {f['cases']} cases ({f['source']}, {f.get('date', 'undated')})")
    table.add_row("fuzz (from fuzz.json)", fuzz, "0 failures")
    table.add_row("kills survived (all)", f"{k['survived']} / {k['total']}", "all")
    table.add_row("  save loops (editor.save, save_pretrained)",
                  f"{saves['survived']} / {saves['kills']}; {saves['mid_save']} left a staging folder; "
                  f"{saves['advanced']} saved a newer version first; save {saves['save_seconds']} s, {saves['folder_mb']} MB",
                  "old or new version, loads")
    table.add_row("  latentedit shift --output", f"{cli['survived']} / {cli['kills']}; {cli['mid_write']} mid-write; "
                  f"{cli['lines']} lines in {cli['run_seconds']} s", "old or new file")
    table.add_row("  fresh processes", f"{fresh['survived']} / {fresh['kills']}", "")
    later = all(v["ok"] for v in saves["later_save"].values()) and cli["later_write_ok"]
    table.add_row("  later save/write next to leftovers",
                  f"{'ok' if later else 'FAILED'} ({sum(v['leftovers'] for v in saves['later_save'].values())} staging "
                  f"folders, {cli['temp_files_left']} temp files left, never cleaned up)", "works")
    table.add_row(f"peak memory {m['small']['lines']} vs {m['large']['lines']} lines",
                  f"{m['small']['maxrss_mb']} MB vs {m['large']['maxrss_mb']} MB (x{m['ratio_large_to_small']}, "
                  f"+{m['growth_mb']} MB; 1 line: {m['one_line']['maxrss_mb']} MB)", "within 10%")
    table.add_row("  RSS growth while streaming (sampled)",
                  f"+{m['small']['growth_while_streaming_mb']} MB ({m['small']['lines']} lines), "
                  f"+{m['large']['growth_while_streaming_mb']} MB ({m['large']['lines']} lines)", "")
    two = t["with_2_torch_threads"]
    table.add_row(f"threads ({t['threads']} x {t['rounds']} rounds, {t['calls']} calls; + {two['calls']} with 2 torch threads)",
                  "same as serial" if t["same_as_serial"] and two["same_as_serial"] else
                  f"DIFFERENT: {t['mismatches']} {t['errors']} / {two['mismatches']} {two['errors']}", "same")
    table.add_row("  heads with gradients after optimize(adam)", ", ".join(t["heads_with_gradients_after_optimize_adam"])
                  or "none", "none")
    table.add_row("  fit_head reseeds the global torch RNG", "yes" if t["fit_head_reseeds_global_torch_rng"] else "no",
                  "no")
    table.add_row("determinism across 2 processes", "identical" if d["same_across_processes"] else
                  f"DIFFERENT: {d['differences_1_thread']} {d['differences_2_threads']}", "identical")
    table.add_row("  1 vs 2 torch threads (info)", "; ".join(
        f"{name}: {'same' if v['texts_identical'] else 'OTHER'} texts, numbers differ by <= {v['max_number_difference']:.2g}"
        for name, v in d["info_1_vs_2_threads_differ_in"].items()) or "identical", "")
    table.add_row("load during a concurrent save", f"{c['mixed']} of {c['loads']} loads mixed two versions, "
                  f"{c['errors']} failed", "0")
    console = Console(width=200)
    console.print(table)
    ratio = m["ratio_large_to_small"]
    fuzz_counts = f"{f['failures']} failures / {f['cases']} cases" if f["present"] else "n/a"
    return (f"reliability: fuzz {fuzz_counts}; "
            f"kills survived {k['survived']}/{k['total']}; peak memory {m['large']['lines']}/{m['small']['lines']} lines "
            f"x{ratio} ({'ok' if m['ok'] else 'over'} 1.10); threads {'same as serial' if t['same_as_serial'] else 'DIFFERENT'}; "
            f"determinism {'identical' if d['same_across_processes'] else 'DIFFERENT'}; mixed loads during save "
            f"{c['mixed']}/{c['loads']}")


def main(argv: list[str] | None = None) -> int:
    if argv is None and sys.argv[1:] == ["--serve"]:
        serve()
        return 0
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer kills, 2k vs 20k lines (about 1 minute)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the kill delays")
    args = ap.parse_args(argv)
    full = dict(save_kills=60, cli_kills=40, fresh_kills=3, memory_lines=(10_000, 100_000), kill_lines=1000,
                threads=4, thread_rounds=3, load_seconds=10.0, d_model=256)
    quick = dict(save_kills=10, cli_kills=6, fresh_kills=1, memory_lines=(2000, 20_000), kill_lines=1000,
                 threads=4, thread_rounds=1, load_seconds=3.0, d_model=256)
    for key, value in (quick if args.quick else full).items():
        setattr(args, key, value)
    result = run(args)
    print(report(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
