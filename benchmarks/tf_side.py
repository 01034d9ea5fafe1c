"""TensorFlow-side measurements, run by ``benchmarks/run.py`` in child processes.

Why a separate process: TensorFlow's thread pools are fixed when its runtime
starts, so 1-thread and 2-thread numbers need fresh interpreters; it also keeps
the parent as TF-free as the clinic app, so LiteRT is timed the way it ships.

Each mode prints one line ``BENCH_JSON {...}`` on stdout (TF logs go to stderr).

    python benchmarks/tf_side.py keras --keras runs/shipped/model.keras --threads 1
    python benchmarks/tf_side.py train --config runs/shipped/config.json --classes 9
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

MARKER = "BENCH_JSON "


def stats(samples: list[float]) -> dict[str, float]:
    """Median and spread: the machine is shared and noisy, a single number would mislead."""
    arr = np.asarray(samples, dtype=np.float64)
    return {
        "median": float(np.median(arr)),
        "min": float(arr.min()),
        "max": float(arr.max()),
        "n": len(samples),
    }


def timed_repeats(
    fn: Callable[[], object], repeats: int, min_iters: int, min_seconds: float
) -> list[float]:
    """Seconds per call of ``fn``, one sample per repeat (each at least min_iters / min_seconds)."""
    out = []
    for _ in range(repeats):
        n, start = 0, time.perf_counter()
        while n < min_iters or time.perf_counter() - start < min_seconds:
            fn()
            n += 1
        out.append((time.perf_counter() - start) / n)
    return out


def set_threads(threads: int) -> None:
    """Pin TF's pools before its runtime starts (impossible afterwards)."""
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)


def count_flops(model: Any) -> dict[str, Any]:
    """Analytic FLOPs per image: 2 x multiply-accumulates of every Conv2D / Dense layer.

    BatchNorm, ReLU, Add and pooling are left out (a few percent, and memory-bound);
    augmentation layers are identity at inference and have no MACs.
    """
    from keras import layers

    macs, per_layer = 0, []

    def visit(layer: Any) -> None:
        nonlocal macs
        sub = getattr(layer, "layers", None)
        if sub:
            for child in sub:
                visit(child)
            return
        if isinstance(layer, layers.DepthwiseConv2D):
            kh, kw, cin, mult = layer.kernel.shape
            _, h, w, _ = layer.output.shape
            n = int(h) * int(w) * int(kh) * int(kw) * int(cin) * int(mult)
        elif isinstance(layer, layers.Conv2D):
            kh, kw, cin_g, cout = layer.kernel.shape
            _, h, w, _ = layer.output.shape
            n = int(h) * int(w) * int(kh) * int(kw) * int(cin_g) * int(cout)
        elif isinstance(layer, layers.Dense):
            cin, cout = layer.kernel.shape
            spatial = int(np.prod([int(d) for d in layer.output.shape[1:-1]] or [1]))
            n = spatial * int(cin) * int(cout)
        else:
            return
        macs += n
        per_layer.append({"layer": layer.name, "macs": n})

    visit(model)
    return {"flops": 2 * macs, "macs": macs, "layers": len(per_layer), "per_layer": per_layer}


def keras_mode(args: argparse.Namespace) -> dict[str, Any]:
    """Float Keras model at batch 1, called directly; FLOPs; accuracy; TF matmul GFLOP/s."""
    set_threads(args.threads)
    import keras
    import tensorflow as tf

    import trainer.model_spec  # noqa: F401  registers the custom augmentation layer saved in .keras

    model = keras.models.load_model(args.keras, compile=False)
    size = int(model.input_shape[1])
    out: dict[str, Any] = {"threads": args.threads, "input_size": size}
    if args.flops:
        out["flops"] = count_flops(model)

    rng = np.random.default_rng(0)
    x = tf.constant(rng.integers(0, 256, (1, size, size, 3)).astype(np.float32))
    for _ in range(3):  # first calls build and trace
        model(x, training=False)

    def once() -> None:
        np.asarray(model(x, training=False))

    out["latency_ms"] = stats(
        [1000 * s for s in timed_repeats(once, args.repeats, args.min_iters, args.min_seconds)]
    )

    if args.heldout:
        data = np.load(args.heldout)
        acc = {}
        for split in sorted({k[2:] for k in data.files if k.startswith("x_")}):
            xs, ys = data[f"x_{split}"], data[f"y_{split}"]
            preds = [
                np.asarray(model(xs[i : i + 64].astype(np.float32), training=False)).argmax(1)
                for i in range(0, len(xs), 64)
            ]
            acc[split] = float((np.concatenate(preds) == ys).mean()) if len(xs) else None
        out["accuracy"] = acc

    if args.matmul > 0:
        n = args.matmul
        a = tf.random.normal((n, n), dtype=tf.float32)
        b = tf.random.normal((n, n), dtype=tf.float32)
        mm = tf.function(lambda: tf.linalg.matmul(a, b))
        mm().numpy()
        secs = timed_repeats(lambda: mm().numpy(), args.repeats, 2, args.min_seconds)
        out["tf_matmul_gflops"] = stats([2 * n**3 / s / 1e9 for s in secs])
        out["matmul_n"] = n
    return out


def train_mode(args: argparse.Namespace) -> dict[str, Any]:
    """tf.data pipeline alone vs augmentation alone vs a full training step, images/s.

    The pipeline is the one ``trainer.train.train_model`` builds (from in-memory
    uint8 arrays: shuffle, cast, batch with drop_remainder, prefetch); the model
    and optimiser come from the run's config, so the step is the real one.
    """
    import keras
    import tensorflow as tf

    from trainer.config import TrainConfig
    from trainer.model_spec import build_model_for

    config = TrainConfig.load(Path(args.config))
    bs, size, n_cls = config.batch_size, config.image_size, args.classes
    rng = np.random.default_rng(config.seed)
    x_tr = rng.integers(0, 256, (bs * args.batches, size, size, 3), dtype=np.uint8)
    y_tr = rng.integers(0, n_cls, len(x_tr))
    y_1h = keras.utils.to_categorical(y_tr, n_cls)

    keras.utils.set_random_seed(config.seed)

    def pipeline() -> tf.data.Dataset:
        # Same stages and order as trainer/train.py::train_model.
        return (
            tf.data.Dataset.from_tensor_slices((x_tr, y_1h))
            .shuffle(len(x_tr), seed=config.seed, reshuffle_each_iteration=True)
            .map(lambda x, y: (tf.cast(x, tf.float32), y), num_parallel_calls=tf.data.AUTOTUNE)
            .batch(min(bs, len(x_tr)), drop_remainder=True)
            .prefetch(tf.data.AUTOTUNE)
        )

    ds = pipeline()
    out: dict[str, Any] = {
        "batch_size": bs,
        "image_size": size,
        "images_per_epoch": len(x_tr),
        "augment": config.augment,
        "width": config.width,
    }

    def one_epoch() -> None:
        for _ in ds:
            pass

    one_epoch()
    secs = timed_repeats(one_epoch, args.repeats, 1, 0.0)
    out["pipeline_images_per_s"] = stats([len(x_tr) / s for s in secs])

    parts = build_model_for(config, n_cls)
    optimizer = keras.optimizers.AdamW(
        learning_rate=config.learning_rate, weight_decay=config.weight_decay
    )
    optimizer.exclude_from_weight_decay(var_names=["gamma", "beta", "bias"])
    parts.model.compile(
        optimizer=optimizer,
        loss=keras.losses.CategoricalCrossentropy(
            from_logits=True, label_smoothing=config.label_smoothing
        ),
        metrics=["accuracy"],
    )
    xb = tf.constant(x_tr[:bs].astype(np.float32))
    yb = tf.constant(y_1h[:bs])

    if config.augment:
        aug = parts.model.get_layer("augment")
        aug_fn = tf.function(lambda x: aug(x, training=True))
        aug_fn(xb).numpy()
        secs = timed_repeats(lambda: aug_fn(xb).numpy(), args.repeats, args.steps, 0.0)
        out["augment_images_per_s"] = stats([bs / s for s in secs])

    for _ in range(2):  # trace and build the optimizer
        parts.model.train_on_batch(xb, yb)
    secs = timed_repeats(lambda: parts.model.train_on_batch(xb, yb), args.repeats, args.steps, 0.0)
    out["train_step_images_per_s"] = stats([bs / s for s in secs])

    steps = min(args.steps, args.batches)
    parts.model.fit(ds, epochs=1, steps_per_epoch=1, verbose=0, shuffle=False)  # warm-up
    fit_secs = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        parts.model.fit(ds, epochs=1, steps_per_epoch=steps, verbose=0, shuffle=False)
        fit_secs.append(time.perf_counter() - start)
    out["fit_images_per_s"] = stats([steps * bs / s for s in fit_secs])
    out["fit_steps"] = steps
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="mode", required=True)
    k = sub.add_parser("keras")
    k.add_argument("--keras", required=True)
    k.add_argument("--threads", type=int, default=1)
    k.add_argument("--flops", action="store_true")
    k.add_argument("--heldout", default="", help="npz with x_<split>, y_<split>")
    k.add_argument("--matmul", type=int, default=0, help="n of an n x n float32 matmul; 0: skip")
    t = sub.add_parser("train")
    t.add_argument("--config", required=True)
    t.add_argument("--classes", type=int, required=True)
    t.add_argument("--batches", type=int, default=16, help="batches in the in-memory epoch")
    t.add_argument("--steps", type=int, default=5, help="train steps per timed repeat")
    for q in (k, t):
        q.add_argument("--repeats", type=int, default=5)
        q.add_argument("--min-iters", type=int, default=20)
        q.add_argument("--min-seconds", type=float, default=0.5)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    result = keras_mode(args) if args.mode == "keras" else train_mode(args)
    sys.stdout.write(MARKER + json.dumps(result) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
