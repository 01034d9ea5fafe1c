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
(Loading the held-out split through ``trainer.data`` imports TensorFlow here as long as
that module does; nothing timed before it is affected.)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from benchmarks.report import format_table, is_na, median, na
from benchmarks.timing import stats, timed_repeats
from desktop.card import ModelCard, card_path_for, load_card
from desktop.imaging import is_image_path, load_image

ROOT = Path(__file__).resolve().parent.parent
MARKER = "BENCH_JSON "
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "isic-9class"

# Targets (issue 8).
INT8_MS_MAX = 5.0
INT8_SPEEDUP_MIN = 3.0
CLASSIFY_IPS_MIN = 100.0
MODEL_BYTES_MAX = 1_000_000  # 1 MB, decimal: the stricter reading

Result = dict[str, Any]


class Unavailable(Exception):
    """A measurement that cannot be made here; the message is the 'why' in 'n/a (why)'."""


def file_sha256(path: Path) -> str | None:
    """Hash of a model file (None when absent): what says which model was measured."""
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


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
    run_model = run_dir / "model.tflite"
    if run_model.is_file():
        out["run_model_sha256"] = file_sha256(run_model)
        out["same_model"] = out["run_model_sha256"] == out["model_sha256"]
    return out


def guarded(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run one measurement; a missing piece or a crash becomes n/a instead of ending the run."""
    try:
        return fn(*args, **kwargs)
    except Unavailable as exc:
        return na(str(exc))
    except Exception as exc:  # a benchmark must report what it could measure
        line = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        return na(f"error: {type(exc).__name__}: {line}")


# ---------------------------------------------------------------- settings


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


# ---------------------------------------------------------------- machine


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


# ---------------------------------------------------------------- LiteRT (this process)


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
    """Top-1 accuracy per held-out split, through ``Classifier.run`` like the app."""
    from desktop.inference import Classifier

    if not model_path.is_file():
        raise Unavailable(f"{model_path} not found")
    clf = Classifier(model_path, card=card)
    out: Result = {}
    for split, (x, y) in heldout.items():
        pred = np.array([int(np.argmax(clf.run(img)[0])) for img in x])
        out[split] = float((pred == y).mean())
    return out


def load_heldout(
    run_dir: Path, card: ModelCard, limit: int, splits: Sequence[str] = ("internal_test", "val")
) -> dict[str, Any]:
    """Held-out splits of a run, name -> (x, y), as the app sees them, through the
    trainer's own reader and loader (``trainer.data.split_records`` / ``load_split``).

    Decoded into a temporary cache: the run folder is never written to, and the card's
    preprocessing (the model being measured) is used, not the run's.
    """
    from trainer.data import load_split, split_records
    from trainer.dataset import Record

    if not (run_dir / "split.json").is_file():
        raise Unavailable(f"{run_dir / 'split.json'} not found")
    out: dict[str, Any] = {}
    listed = 0
    with tempfile.TemporaryDirectory(prefix="lesionlens-heldout-") as tmp:
        for name in splits:
            rows = [(p, c) for p, c in split_records(run_dir, name) if c in card.classes]
            if limit:
                rows = rows[:: max(1, len(rows) // limit)][:limit]  # spread over classes
            listed += len(rows)
            records = [Record(path=p, label=c, split=name) for p, c in rows]
            x, y, _ = load_split(
                records, card.classes, card.preprocessing, Path(tmp) / f"{name}.npz"
            )
            if len(x):
                out[name] = (x, y)
    if not out:
        why = f"{listed} listed images unreadable" if listed else "no held-out images listed"
        raise Unavailable(f"held-out data not available ({why})")
    return out


# ---------------------------------------------------------------- child processes


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


# ---------------------------------------------------------------- end to end


def make_images(folder: Path, count: int, data_root: Path) -> str:
    """``count`` 180x180 JPEGs: real ISIC images centre-cropped to 180 px when the data is
    here, else synthetic lesions (noise varies per image so no two files are identical)."""
    folder.mkdir(parents=True, exist_ok=True)
    train = data_root / "Train"
    sources: list[Path] = []
    if train.is_dir():
        per_class = [
            sorted(p for p in d.iterdir() if is_image_path(p))
            for d in sorted(train.iterdir())
            if d.is_dir()
        ]
        i = 0
        while len(sources) < count and any(i < len(c) for c in per_class):
            sources += [c[i] for c in per_class if i < len(c)]
            i += 1
        sources = sources[:count]
    if len(sources) == count:
        for k, src in enumerate(sources):
            with Image.open(src) as img:
                rgb = img.convert("RGB")
            w, h = rgb.size
            side = min(w, h)
            box = ((w - side) // 2, (h - side) // 2, (w + side) // 2, (h + side) // 2)
            rgb.crop(box).resize((180, 180), Image.Resampling.BILINEAR).save(
                folder / f"img_{k:04d}.jpg", quality=90
            )
        return f"{count} ISIC images from {train}, centre-cropped to 180x180, JPEG q90"
    from desktop.cli import synthetic_lesion

    base = np.asarray(synthetic_lesion(180), dtype=np.int16)
    rng = np.random.default_rng(0)
    for k in range(count):
        arr = np.clip(base + rng.integers(-12, 13, base.shape), 0, 255).astype(np.uint8)
        Image.fromarray(arr).save(folder / f"img_{k:04d}.jpg", quality=90)
    return f"{count} synthetic 180x180 lesion JPEGs, q90"


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


def time_process(cmd: list[str], expect: int) -> float:
    """Wall seconds of one ``--classify --json`` process; checks it classified ``expect`` files."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, timeout=900)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["no message"])[-1][:200]
        raise RuntimeError(f"exit {proc.returncode}: {tail}")
    results = json.loads(proc.stdout)
    # Every file must have been run through the model; "cannot assess" (the synthetic lesion
    # is no dermoscopy) is an answer, only an unreadable file is not.
    ok = sum(1 for r in results if not r.get("error"))
    if ok != expect:
        raise RuntimeError(f"classified {ok} of {expect} images")
    return elapsed


def classify_and_start(model: Path, workdir: Path, s: Settings, data_root: Path) -> Result:
    """--classify over a folder (images/s) and app start to first result (one image).

    Per repeat, one 1-image and one N-image process; throughput excluding start-up
    is (N - 1) / (t_N - t_1), since t_1 is start-up plus one image.
    """
    folder = workdir / "images"
    source = make_images(folder, s.classify_images, data_root)
    one = sorted(folder.iterdir())[0]
    base = [sys.executable, "-m", "desktop", "--classify", "--json", "--model", str(model)]
    n = s.classify_images
    time_process([*base, str(one)], 1)  # warm the page cache once
    t1, tn = [], []
    for _ in range(s.repeats):
        t1.append(time_process([*base, str(one)], 1))
        tn.append(time_process([*base, str(folder)], n))
    excl = [(n - 1) / (b - a) for a, b in zip(t1, tn, strict=True) if b > a]
    return {
        "classify": {
            "images": n,
            "source": source,
            "command": "python -m desktop --classify --json --model MODEL FOLDER",
            "total_s": stats(tn),
            "images_per_s": stats([n / t for t in tn]),
            "images_per_s_excl_startup": stats(excl) if excl else na("start-up dominated"),
            "in_process_ms_per_image": guarded(stage_breakdown, model, sorted(folder.iterdir())),
        },
        "start_unfrozen_s": stats(t1),
        "one_image": str(one),
    }


def stage_breakdown(model: Path, files: list[Path]) -> Result:
    """Where one --classify image's time goes (in this process, default threads): decode +
    resize + colour constancy, the forward pass, and the whole per-file path with CAM."""
    from desktop.inference import Classifier
    from desktop.results import classify_path

    clf = Classifier(model)
    pre = clf.card.preprocessing
    files = files[:100]
    classify_path(clf, files[0])
    load, infer, whole = [], [], []
    for f in files:
        t0 = time.perf_counter()
        arr = load_image(f, pre)
        t1 = time.perf_counter()
        clf.run(arr)
        t2 = time.perf_counter()
        classify_path(clf, f)
        t3 = time.perf_counter()
        load.append(t1 - t0)
        infer.append(t2 - t1)
        whole.append(t3 - t2)
    return {
        "images": len(files),
        "decode_preprocess": 1000 * float(np.median(load)),
        "inference": 1000 * float(np.median(infer)),
        "classify_path_total": 1000 * float(np.median(whole)),
    }


def frozen_start(model: Path, one_image: str, s: Settings) -> Result:
    """Start to first result of the PyInstaller bundle, when one has been built."""
    exe = ROOT / "dist" / "LesionLens" / ("LesionLens.exe" if os.name == "nt" else "LesionLens")
    if not exe.is_file():
        raise Unavailable(f"no bundle at {exe.relative_to(ROOT)} (make bundle)")
    cmd = [str(exe), "--classify", "--json", "--model", str(model), one_image]
    time_process(cmd, 1)
    return stats([time_process(cmd, 1) for _ in range(s.repeats)])


# ---------------------------------------------------------------- the run


def benchmark(
    run_dir: Path,
    model: Path,
    s: Settings,
    threads: Sequence[int] = (1, 2),
    data_root: Path = DEFAULT_DATA,
    log: Callable[[str], None] = lambda m: None,
) -> Result:
    """Measure everything; returns the results dict (the JSON file's content)."""
    run_dir, model = Path(run_dir), Path(model)
    float_path = run_dir / "model_float32.tflite"
    keras_path = run_dir / "model.keras"
    config_path = run_dir / "config.json"
    res: Result = {
        "meta": {
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "run": str(run_dir),
            "model": str(model),
            "quick": s.quick,
            "repeats": s.repeats,
            "threads": list(threads),
            "machine": machine_info(),
        }
    }
    res["sizes_bytes"] = {
        name: (p.stat().st_size if p.is_file() else na(f"{p} not found"))
        for name, p in (
            ("int8_tflite", model),
            ("float32_tflite", float_path),
            ("keras", keras_path),
        )
    }

    try:
        card: ModelCard | None = load_card(card_path_for(model))
    except Exception as exc:
        card = None
        res["meta"]["card"] = na(str(exc))
    if card is not None:
        res["meta"]["card"] = model_identity(model, card, run_dir)

    models = {"int8_tflite": model, "float32_tflite": float_path}
    latency: Result = {k: {} for k in (*models, "keras_float")}
    accuracy: Result = {}
    no_card = na("model card could not be loaded")
    sample = None
    if card is not None:
        from desktop.cli import synthetic_lesion
        from desktop.imaging import preprocess

        sample = preprocess(synthetic_lesion(), card.preprocessing)
    for name, path in models.items():
        for t in threads:
            log(f"{name}: latency, {t} thread(s)")
            latency[name][str(t)] = (
                guarded(litert_latency, path, card, t, sample, s) if card else no_card
            )

    heldout = (
        guarded(load_heldout, run_dir, card, s.heldout_limit) if card else no_card
    )  # dict split -> (x, y), or n/a
    heldout_file = ""
    if not is_na(heldout):
        accuracy["images"] = {k: len(v[1]) for k, v in heldout.items()}
        for name, path in models.items():
            log(f"{name}: accuracy")
            accuracy[name] = guarded(litert_accuracy, path, card, heldout)
        fd, heldout_file = tempfile.mkstemp(suffix=".npz")
        os.close(fd)
        np.savez(
            heldout_file,
            **{f"x_{k}": v[0] for k, v in heldout.items()},
            **{f"y_{k}": v[1] for k, v in heldout.items()},
        )
    else:
        accuracy["n/a"] = heldout["n/a"]
    if card is not None:
        accuracy["card"] = {
            "measured_on": card.metrics.get("measured_on"),
            "accuracy": card.metrics.get("accuracy"),
            "float_accuracy": card.metrics.get("float_accuracy"),
        }

    flops: Result = na(f"{keras_path} not found")
    tf_matmul: Result = {}
    for i, t in enumerate(threads):
        if not keras_path.is_file():
            latency["keras_float"][str(t)] = na(f"{keras_path} not found")
            continue
        last = i == len(threads) - 1
        log(f"keras_float: latency, {t} thread(s)" + (", FLOPs, accuracy" if last else ""))
        args = [
            "keras",
            "--keras",
            str(keras_path),
            "--threads",
            str(t),
            "--repeats",
            str(s.repeats),
            "--min-iters",
            str(s.min_iters),
            "--min-seconds",
            str(s.min_seconds),
            "--matmul",
            str(s.matmul_n),
        ]
        if last:
            args += ["--flops"] + (["--heldout", heldout_file] if heldout_file else [])
        out = guarded(run_tf_side, args)
        if is_na(out):
            latency["keras_float"][str(t)] = out
            tf_matmul[str(t)] = out
            continue
        latency["keras_float"][str(t)] = out["latency_ms"]
        tf_matmul[str(t)] = out.get("tf_matmul_gflops", na("not measured"))
        if "flops" in out:
            flops = out["flops"]
        if "accuracy" in out:
            accuracy["keras_float"] = out["accuracy"]
    if heldout_file:
        Path(heldout_file).unlink(missing_ok=True)
    if "keras_float" not in accuracy and not is_na(heldout):
        accuracy["keras_float"] = na("Keras model not measured")
    res["inference_ms"] = latency
    res["accuracy"] = accuracy
    res["flops_per_image"] = flops

    attainable: Result = {}
    for t in threads:
        log(f"numpy matmul, {t} thread(s)")
        np_mm = guarded(numpy_matmul_gflops, t, s.matmul_n, s)
        tf_mm = tf_matmul.get(str(t), na("TF not run"))
        best = max(
            [v["median"] for v in (np_mm, tf_mm) if not is_na(v)] or [0.0]
        )  # the higher of the two libraries is what the machine can do
        attainable[str(t)] = {
            "numpy_gflops": np_mm,
            "tf_gflops": tf_mm,
            "best_median_gflops": best or na("no matmul measured"),
            "matmul_n": s.matmul_n,
        }
    res["attainable_gflops"] = attainable
    res["achieved_gflops"] = achieved(latency, flops, attainable)

    log("--classify throughput and app start")
    with tempfile.TemporaryDirectory(prefix="lesionlens-bench-") as tmpdir:
        e2e = guarded(classify_and_start, model, Path(tmpdir), s, data_root)
        if is_na(e2e):
            res["classify"] = e2e
            res["app_start_s"] = {"unfrozen": e2e, "frozen": na("unfrozen start failed")}
        else:
            res["classify"] = e2e["classify"]
            log("frozen app start")
            res["app_start_s"] = {
                "unfrozen": e2e["start_unfrozen_s"],
                "frozen": guarded(frozen_start, model, e2e["one_image"], s),
            }

    log("training: input pipeline vs training step")
    if not config_path.is_file():
        res["training"] = na(f"{config_path} not found")
    else:
        classes = card.num_classes if card else 9
        res["training"] = guarded(
            run_tf_side,
            [
                "train",
                "--config",
                str(config_path),
                "--classes",
                str(classes),
                "--batches",
                str(s.train_batches),
                "--steps",
                str(s.train_steps),
                "--repeats",
                str(s.repeats),
            ],
        )
    res["targets"] = targets(res, model)
    return without_root(res)


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


def targets(res: Result, model: Path) -> list[Result]:
    """PASS/FAIL against issue 8's targets; None where the number could not be measured."""
    int8 = median(res, "inference_ms", "int8_tflite", "1")
    keras_1 = median(res, "inference_ms", "keras_float", "1")
    speedup = keras_1 / int8 if int8 and keras_1 else None
    ips = median(res, "classify", "images_per_s")
    size = model.stat().st_size if model.is_file() else None

    def row(name: str, target: str, value: float | None, ok: bool | None, unit: str) -> Result:
        return {"name": name, "target": target, "value": value, "unit": unit, "pass": ok}

    return [
        row(
            "int8 latency, 1 thread",
            f"<= {INT8_MS_MAX:g} ms",
            int8,
            None if int8 is None else int8 <= INT8_MS_MAX,
            "ms",
        ),
        row(
            "int8 speed-up vs float Keras, 1 thread",
            f">= {INT8_SPEEDUP_MIN:g}x",
            speedup,
            None if speedup is None else speedup >= INT8_SPEEDUP_MIN,
            "x",
        ),
        row(
            "--classify throughput (whole process)",
            f">= {CLASSIFY_IPS_MIN:g} images/s",
            ips,
            None if ips is None else ips >= CLASSIFY_IPS_MIN,
            "images/s",
        ),
        row(
            f"{model.name} size",
            f"<= {MODEL_BYTES_MAX:,} bytes",
            size,
            None if size is None else size <= MODEL_BYTES_MAX,
            "bytes",
        ),
    ]


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
