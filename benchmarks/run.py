"""LesionLens benchmarks: int8 vs float inference, --classify throughput, app start, training.

Everything is measured side by side in one run on one machine, so the ratios
mean something even where the absolute numbers depend on the hardware. Timings
are medians of several repeats with their spread; the machine may be shared.
Pieces that are missing (no float export, no data, no frozen bundle) are
reported as "n/a (why)" instead of failing the run.

    python -m benchmarks.run [--run runs/shipped] [--model assets/model.tflite] [--quick]

Writes ``benchmarks/results.json`` (``--out``) and prints a table with PASS/FAIL
against the targets; ``python -m docs.generate`` then puts the figures into README.md
and docs/benchmarks.md (``make bench`` does both). LiteRT latency is timed in this
process first, as the TF-free app runs it; the Keras and training measurements run in
child processes (``benchmarks.tf_side``), numpy's matmul in another (``benchmarks.matmul``).
This module only orders the sections: the model's measurements are in
``benchmarks.model_side``, the app's in ``benchmarks.app_side``, the targets in
``benchmarks.targets``.
(Loading the held-out split through ``trainer.data`` imports TensorFlow here as long as
that module does; nothing timed before it is affected.)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from benchmarks.app_side import classify_and_start, classify_train, frozen_start, throughput
from benchmarks.common import (
    DEFAULT_DATA,
    ROOT,
    Result,
    Settings,
    guarded,
    machine_info,
    without_root,
)
from benchmarks.model_side import (
    achieved,
    litert_accuracy,
    litert_latency,
    load_heldout,
    model_identity,
    numpy_matmul_gflops,
    run_tf_side,
)
from benchmarks.report import format_table, is_na, na
from benchmarks.targets import targets
from desktop.card import ModelCard, card_path_for, load_card
from trainer.run_folder import RunFolder

Log = Callable[[str], None]


def benchmark(
    run_dir: Path,
    model: Path,
    s: Settings,
    threads: Sequence[int] = (1, 2),
    data_root: Path = DEFAULT_DATA,
    log: Log = lambda m: None,
) -> Result:
    """Measure everything; returns the results dict (the JSON file's content)."""
    run_dir, model = Path(run_dir), Path(model)
    folder = RunFolder(run_dir)
    keras_path = folder.model_keras
    models = {"int8_tflite": model, "float32_tflite": folder.model_float32}
    meta: Result = {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "run": str(run_dir),
        "model": str(model),
        "quick": s.quick,
        "repeats": s.repeats,
        "threads": list(threads),
        "machine": machine_info(),
    }
    res: Result = {"meta": meta}
    res["sizes_bytes"] = {
        name: (p.stat().st_size if p.is_file() else na(f"{p} not found"))
        for name, p in (*models.items(), ("keras", keras_path))
    }
    try:
        card: ModelCard | None = load_card(card_path_for(model))
        meta["card"] = model_identity(model, card, run_dir)
    except Exception as exc:
        card = None
        meta["card"] = na(str(exc))

    latency = litert_side(models, card, threads, s, log)
    heldout = guarded(load_heldout, run_dir, card, s.heldout_limit) if card else _no_card()
    accuracy = litert_accuracies(models, card, heldout, log)
    tf_matmul, flops = keras_side(keras_path, heldout, threads, s, latency, accuracy, log)
    res["inference_ms"] = latency
    res["accuracy"] = accuracy
    res["flops_per_image"] = flops
    res["attainable_gflops"] = attainable(tf_matmul, threads, s, log)
    res["achieved_gflops"] = achieved(latency, flops, res["attainable_gflops"])
    res.update(app_side(model, s, data_root, log))
    res["training"] = training_side(folder.config, card, s, log)
    res["targets"] = targets(res, model)
    return without_root(res)


def _no_card() -> Result:
    return na("model card could not be loaded")


def _card_for(name: str, card: ModelCard | None) -> ModelCard | None:
    """The card sealed for the int8 model; the float32 sibling runs with it unsealed."""
    if card is None or name == "int8_tflite":
        return card
    from desktop.integrity import unsealed

    return unsealed(card)


def litert_side(
    models: dict[str, Path], card: ModelCard | None, threads: Sequence[int], s: Settings, log: Log
) -> Result:
    """ms per image of each .tflite file at each thread count (Keras filled in later)."""
    latency: Result = {k: {} for k in (*models, "keras_float")}
    sample = None
    if card is not None:
        from desktop.cli import synthetic_lesion
        from desktop.imaging import preprocess

        sample = preprocess(synthetic_lesion(), card.preprocessing)
    for name, path in models.items():
        for t in threads:
            log(f"{name}: latency, {t} thread(s)")
            latency[name][str(t)] = (
                guarded(litert_latency, path, _card_for(name, card), t, sample, s)
                if card
                else _no_card()
            )
    return latency


def litert_accuracies(
    models: dict[str, Path], card: ModelCard | None, heldout: Result, log: Log
) -> Result:
    """Top-1 accuracy of each .tflite file on the run's held-out splits, beside the card's."""
    accuracy: Result = {}
    if is_na(heldout):
        accuracy["n/a"] = heldout["n/a"]
    else:
        accuracy["images"] = {k: len(v[1]) for k, v in heldout.items()}
        for name, path in models.items():
            log(f"{name}: accuracy")
            accuracy[name] = guarded(litert_accuracy, path, _card_for(name, card), heldout)
    if card is not None:
        accuracy["test_time_views"] = card.test_time_views  # the TFLite rows; Keras: one view
        accuracy["card"] = {
            "measured_on": card.metrics.get("measured_on"),
            "accuracy": card.metrics.get("accuracy"),
            "float_accuracy": card.metrics.get("float_accuracy"),
        }
    return accuracy


def keras_side(
    keras_path: Path,
    heldout: Result,
    threads: Sequence[int],
    s: Settings,
    latency: Result,
    accuracy: Result,
    log: Log,
) -> tuple[Result, Result]:
    """The float Keras model in child processes (fresh TF thread pools per thread count):
    fills its latency and accuracy in, returns TF's matmul GFLOP/s and the FLOPs per image."""
    flops: Result = na(f"{keras_path} not found")
    tf_matmul: Result = {}
    with tempfile.TemporaryDirectory(prefix="lesionlens-heldout-") as tmp:
        heldout_file = ""
        if not is_na(heldout):
            heldout_file = os.path.join(tmp, "heldout.npz")
            np.savez(
                heldout_file,
                **{f"x_{k}": v[0] for k, v in heldout.items()},
                **{f"y_{k}": v[1] for k, v in heldout.items()},
            )
        for i, t in enumerate(threads):
            if not keras_path.is_file():
                latency["keras_float"][str(t)] = na(f"{keras_path} not found")
                continue
            last = i == len(threads) - 1
            log(f"keras_float: latency, {t} thread(s)" + (", FLOPs, accuracy" if last else ""))
            args = ["keras", "--keras", str(keras_path), "--threads", str(t)]
            args += ["--repeats", str(s.repeats), "--min-iters", str(s.min_iters)]
            args += ["--min-seconds", str(s.min_seconds), "--matmul", str(s.matmul_n)]
            if last:
                args += ["--flops"] + (["--heldout", heldout_file] if heldout_file else [])
            out = guarded(run_tf_side, args)
            if is_na(out):
                latency["keras_float"][str(t)] = tf_matmul[str(t)] = out
                continue
            latency["keras_float"][str(t)] = out["latency_ms"]
            tf_matmul[str(t)] = out.get("tf_matmul_gflops", na("not measured"))
            flops = out.get("flops", flops)
            if "accuracy" in out:
                accuracy["keras_float"] = out["accuracy"]
    if "keras_float" not in accuracy and not is_na(heldout):
        accuracy["keras_float"] = na("Keras model not measured")
    return tf_matmul, flops


def attainable(tf_matmul: Result, threads: Sequence[int], s: Settings, log: Log) -> Result:
    """What the machine can do: the higher of numpy's and TF's float32 matmul GFLOP/s."""
    out: Result = {}
    for t in threads:
        log(f"numpy matmul, {t} thread(s)")
        np_mm = guarded(numpy_matmul_gflops, t, s.matmul_n, s)
        tf_mm = tf_matmul.get(str(t), na("TF not run"))
        best = max([v["median"] for v in (np_mm, tf_mm) if not is_na(v)] or [0.0])
        out[str(t)] = {
            "numpy_gflops": np_mm,
            "tf_gflops": tf_mm,
            "best_median_gflops": best or na("no matmul measured"),
            "matmul_n": s.matmul_n,
        }
    return out


def app_side(model: Path, s: Settings, data_root: Path, log: Log) -> Result:
    """Throughput in process (1 and all views, serial against pipelined), ``--classify``
    over the training folder and over a folder of copies, ``app_start_s``."""
    log("throughput: 1 and all views, serial against pipelined, per-stage times")
    out: Result = {"throughput": guarded(throughput, model, data_root / "Train")}
    log("--classify --json over the training folder, best of two")
    out["classify_train"] = guarded(classify_train, model, data_root / "Train")
    log("--classify throughput and app start")
    with tempfile.TemporaryDirectory(prefix="lesionlens-bench-") as tmpdir:
        e2e = guarded(classify_and_start, model, Path(tmpdir), s, data_root)
        if is_na(e2e):
            return out | {
                "classify": e2e,
                "app_start_s": {"unfrozen": e2e, "frozen": na("unfrozen start failed")},
            }
        log("frozen app start")
        return out | {
            "classify": e2e["classify"],
            "app_start_s": {
                "unfrozen": e2e["start_unfrozen_s"],
                "frozen": guarded(frozen_start, model, e2e["one_image"], s),
            },
        }


def training_side(config_path: Path, card: ModelCard | None, s: Settings, log: Log) -> Result:
    """The trainer's input pipeline against its training step (a child process)."""
    log("training: input pipeline vs training step")
    if not config_path.is_file():
        return na(f"{config_path} not found")
    args = ["train", "--config", str(config_path)]
    args += ["--classes", str(card.num_classes if card else 9)]
    args += ["--batches", str(s.train_batches), "--steps", str(s.train_steps)]
    return guarded(run_tf_side, [*args, "--repeats", str(s.repeats)])


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", type=Path, default=ROOT / "runs" / "shipped", help="training run")
    p.add_argument("--model", type=Path, default=ROOT / "assets" / "model.tflite")
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results.json")
    p.add_argument("--quick", action="store_true", help="smoke run: few repeats, small sizes")
    p.add_argument("--repeats", type=int, default=None, help="repeats per timing (default 5)")
    p.add_argument("--threads", default="1,2", help="LiteRT/Keras thread counts (default 1,2)")
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="dataset for 180-px images")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    threads = tuple(int(t) for t in args.threads.split(",") if t.strip())
    s = Settings(args.quick, args.repeats)
    start = time.perf_counter()
    res = benchmark(
        args.run,
        args.model,
        s,
        threads,
        args.data,
        log=lambda m: print(f"[bench] {m}", file=sys.stderr, flush=True),
    )
    res["meta"]["command"] = " ".join(
        ["python", "-m", "benchmarks.run", *(argv if argv is not None else sys.argv[1:])]
    )
    res["meta"]["seconds"] = time.perf_counter() - start
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=2) + "\n", encoding="utf-8")
    print(format_table(res))
    print(f"\nwritten {args.out}; python -m docs.generate puts it into the docs", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
