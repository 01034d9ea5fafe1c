"""Measurements of the model itself: LiteRT latency and accuracy in this process (as
the TF-free app runs it), Keras and numpy in child processes, and the FLOP rates."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import MARKER, ROOT, Result, Settings, Unavailable, file_sha256
from benchmarks.report import is_na, na
from benchmarks.timing import stats, timed_repeats
from desktop.card import ModelCard
from trainer.run_folder import RunFolder


def model_identity(model: Path, card: ModelCard, run_dir: Path) -> Result:
    """Which model was measured, and whether it is the run's: by file hash, not version.

    Two models trained the same day from the same data once shared a ``model_version``
    and were reported as the same model.
    """
    out: Result = {
        "model_version": card.model_version,
        "input_size": card.input_size,
        "model_sha256": file_sha256(model),
    }
    run_model = RunFolder(run_dir).model
    if run_model.is_file():
        out["run_model_sha256"] = file_sha256(run_model)
        out["same_model"] = out["run_model_sha256"] == out["model_sha256"]
    return out


def litert_latency(
    model_path: Path, card: ModelCard, threads: int, arr: np.ndarray, s: Settings
) -> Result:
    """ms per image at batch 1 through the app's own ``Classifier.run``."""
    from desktop.inference import Classifier

    if not model_path.is_file():
        raise Unavailable(f"{model_path} not found")
    clf = Classifier(model_path, card=card, num_threads=threads)
    for _ in range(3):
        clf.run(arr)
    secs = timed_repeats(lambda: clf.run(arr), s.repeats, s.min_iters, s.min_seconds)
    return stats([1000 * x for x in secs])


def litert_accuracy(model_path: Path, card: ModelCard, heldout: dict[str, Any]) -> Result:
    """Top-1 accuracy per held-out split, through ``Classifier.probabilities`` as the app
    reports it (the mean over the card's test-time views)."""
    from desktop.inference import Classifier

    if not model_path.is_file():
        raise Unavailable(f"{model_path} not found")
    clf = Classifier(model_path, card=card)
    out: Result = {}
    for split, (x, y) in heldout.items():
        pred = np.array([int(np.argmax(clf.probabilities(img)[0])) for img in x])
        out[split] = float((pred == y).mean())
    return out


def load_heldout(
    run_dir: Path, card: ModelCard, limit: int, splits: Sequence[str] = ("internal_test", "val")
) -> dict[str, Any]:
    """Held-out splits of a run, name -> (x, y), as the app sees them, through the
    trainer's own reader and loader (``trainer.data.load_run_split``).

    Decoded into a temporary cache: the run folder is never written to, and the card's
    preprocessing (the model being measured) is used, not the run's.
    """
    from trainer.data import load_run_split

    split = RunFolder(run_dir).split
    if not split.is_file():
        raise Unavailable(f"{split} not found")
    out: dict[str, Any] = {}
    listed = 0
    with tempfile.TemporaryDirectory(prefix="lesionlens-heldout-") as tmp:
        for name in splits:
            x, y, n = load_run_split(
                run_dir, name, card.classes, card.preprocessing, Path(tmp) / f"{name}.npz", limit
            )
            listed += n
            if len(x):
                out[name] = (x, y)
    if not out:
        why = f"{listed} listed images unreadable" if listed else "no held-out images listed"
        raise Unavailable(f"held-out data not available ({why})")
    return out


def run_tf_side(args: list[str], timeout: float = 900) -> Result:
    """Run ``benchmarks.tf_side`` and return its JSON; TF is never imported in this process."""
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.tf_side", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(MARKER):
            return json.loads(line[len(MARKER) :])
    tail = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()][-1:] or ["no output"]
    raise RuntimeError(f"tf_side {args[0]} exited {proc.returncode}: {tail[0][:200]}")


def numpy_matmul_gflops(threads: int, n: int, s: Settings) -> Result:
    """Attainable float32 GFLOP/s: a large numpy (OpenBLAS) matmul pinned to ``threads``."""
    env = dict(os.environ)
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    cmd = [sys.executable, "-m", "benchmarks.matmul", "--n", str(n), "--repeats", str(s.repeats)]
    cmd += ["--min-seconds", str(s.min_seconds)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)
    if proc.returncode:
        raise RuntimeError(f"numpy matmul exited {proc.returncode}")
    return stats(json.loads(proc.stdout.strip().splitlines()[-1]))


def achieved(latency: Result, flops: Result, attainable: Result) -> Result:
    """Achieved GFLOP/s per model and thread count, and the fraction of the float matmul peak.

    For int8 these are *effective* float-equivalent GFLOP/s: int8 arithmetic has a
    higher peak than the float32 matmul used as the yardstick.
    """
    if is_na(flops):
        return na("FLOPs not counted")
    out: Result = {}
    for name, per_thread in latency.items():
        out[name] = {}
        for t, lat in per_thread.items():
            peak = attainable.get(t, {}).get("best_median_gflops")
            if is_na(lat):
                out[name][t] = lat
                continue
            g = flops["flops"] / (lat["median"] / 1000) / 1e9
            out[name][t] = {
                "gflops": g,
                "fraction_of_attainable": (g / peak) if isinstance(peak, float) else None,
            }
    return out
