"""Helpers for the tests of the repository's scripts (benchmarks/, recipes/): load one as a module,
and write the small line files their made-up data folders are built from."""

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def load_script(folder: str, name: str, prefix: str, cache: bool = False):
    """``ROOT/folder/name.py`` as module ``<prefix>_<name>``, with ``folder`` on sys.path (the scripts
    import their shared helpers from it). cache=True registers it in sys.modules before it runs
    (dataclasses look their module up while it loads) and returns the same module on later calls."""
    where = ROOT / folder
    if str(where) not in sys.path:
        sys.path.insert(0, str(where))
    key = f"{prefix}_{name}"
    if cache and key in sys.modules:
        return sys.modules[key]
    spec = importlib.util.spec_from_file_location(key, where / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    if cache:
        sys.modules[key] = module
    spec.loader.exec_module(module)
    return module


def write_lines(path: Path, lines) -> Path:
    """One line per item, UTF-8, parent folders created."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path
