"""What every benchmark script shares: the checkout's root, settings, n/a handling,
the machine description and the scrubbing of absolute paths from results."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.report import na
from desktop.hashing import sha256_file

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "isic-9class"

MARKER = "BENCH_JSON "  # a child process (benchmarks.tf_side) prints its JSON after this

Result = dict[str, Any]


def load_arrays(path: Path) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` file (feature rows, re-captures), by name. A benchmark scores
    one run on several sets, so the last two files read are kept (re-read when a file changes);
    the arrays are read-only, and the dict is the caller's own to add keys to."""
    st = Path(path).stat()
    return dict(_arrays(str(Path(path).resolve()), st.st_mtime_ns, st.st_size))


@lru_cache(maxsize=2)
def _arrays(path: str, _mtime: int, _size: int) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as z:
        out = {k: z[k] for k in z.files}
    for a in out.values():
        a.setflags(write=False)
    return out


def write_card_block(
    card_path: Path,
    keys: tuple[str, ...],
    block: Any,
    require: Callable[[Any], str | None] | None = None,
) -> None:
    """Replace one block of a model card (``keys`` is its path: ``("scope",)``,
    ``("alert", "borderline")``) and nothing else, in the card's own format (indent 2, newline).
    The whole card must still load, and pass ``require`` (a problem in words, or None), before
    it replaces the old one; otherwise the old card stays as it was."""
    from desktop.card import load_card

    data = json.loads(card_path.read_text(encoding="utf-8"))
    node = data
    for key in keys[:-1]:
        node = node[key]
    node[keys[-1]] = block
    tmp = card_path.with_name(card_path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    try:
        problem = require(load_card(tmp)) if require else None
    except BaseException:
        tmp.unlink()
        raise
    if problem:
        tmp.unlink()
        raise SystemExit(f"{card_path}: {problem}")
    tmp.replace(card_path)


class Unavailable(Exception):
    """A measurement that cannot be made here; the message is the 'why' in 'n/a (why)'."""


def guarded(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run one measurement; a missing piece or a crash becomes n/a instead of ending the run."""
    try:
        return fn(*args, **kwargs)
    except Unavailable as exc:
        return na(str(exc))
    except Exception as exc:  # a benchmark must report what it could measure
        line = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        return na(f"error: {type(exc).__name__}: {line}")


class Settings:
    """Repeats and sizes for a full run or a ``--quick`` smoke run."""

    def __init__(self, quick: bool, repeats: int | None = None) -> None:
        self.quick = quick
        self.repeats = repeats or (2 if quick else 5)
        self.min_iters = 3 if quick else 20
        self.min_seconds = 0.0 if quick else 0.5
        self.heldout_limit = 24 if quick else 0  # 0: every held-out image
        self.classify_images = 20 if quick else 500
        self.matmul_n = 256 if quick else 2048
        self.train_batches = 2 if quick else 16
        self.train_steps = 1 if quick else 5


def file_sha256(path: Path) -> str | None:
    """Hash of a model file (None when absent): what says which model was measured."""
    return sha256_file(path) if path.is_file() else None


def machine_info() -> Result:
    """What the numbers were measured on (the README quotes this)."""
    cpu = platform.processor() or platform.machine()
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                cpu = line.split(":", 1)[1].strip()
    except (OSError, subprocess.SubprocessError):
        pass
    versions = {}
    from importlib.metadata import PackageNotFoundError, version

    for dist in ("numpy", "Pillow", "ai-edge-litert", "tensorflow-cpu", "keras"):
        try:
            versions[dist] = version(dist)
        except PackageNotFoundError:
            versions[dist] = None
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = None
    return {
        "cpu": cpu,
        "nproc": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": versions,
        "load_average_1min_at_start": load,
    }


def without_root(value: Any) -> Any:
    """The results with this checkout's absolute path taken out of every string: the JSON is
    committed and rendered into the docs, where no machine's paths belong."""
    if isinstance(value, dict):
        return {k: without_root(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_root(v) for v in value]
    if isinstance(value, str):
        value = value.replace(str(ROOT) + os.sep, "").replace(str(ROOT), ".")
        return value.replace(str(ROOT.parent) + os.sep, ".." + os.sep)
    return value


def write_result(out: Path, what: str, command: str, body: Result, table: str) -> None:
    """A benchmark's JSON (what, command, when, then ``body``) into ``out``, and its table
    on stdout: the figures a docs block is generated from, and what the command shows."""
    head = {"what": what, "command": command}
    head["created"] = datetime.now(UTC).isoformat(timespec="seconds")
    out.write_text(json.dumps(head | body, indent=1) + "\n", encoding="utf-8")
    print(table)
