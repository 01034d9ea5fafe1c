"""TensorFlow-side measurements, run by ``benchmarks.run`` in child processes.

Why a separate process: TensorFlow's thread pools are fixed when its runtime
starts, so 1-thread and 2-thread numbers need fresh interpreters; it also keeps
the parent as TF-free as the clinic app, so LiteRT is timed the way it ships.

Each mode prints one line ``BENCH_JSON {...}`` on stdout (TF logs go to stderr).

    python -m benchmarks.tf_side keras --keras runs/shipped/model.keras --threads 1
    python -m benchmarks.tf_side train --config runs/shipped/config.json --classes 9
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from benchmarks.common import MARKER  # noqa: E402
from benchmarks.report import na  # noqa: E402
from benchmarks.timing import stats, timed_repeats  # noqa: E402

# What the training rows time: the trainer's own functions, never a copy of them.
PIPELINE = "trainer.train.train_dataset"
COMPILE = "trainer.train.compile_for_training"


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
    """Input pipeline alone vs augmentation alone vs a full training step, images/s.

    The pipeline and the compiled model are built by the trainer's own functions
    (``PIPELINE``, ``COMPILE``, ``build_model_for``) at the run's config, so what is
    timed is what training runs. Where the trainer does not offer them, the result
    is n/a instead of a number for something training does not run.
    """
    import keras
    import tensorflow as tf

    from trainer import train
    from trainer.config import TrainConfig
    from trainer.model_spec import build_model_for

    missing = [name for name in (PIPELINE, COMPILE) if not hasattr(train, name.rsplit(".", 1)[1])]
    if missing:
        return na(
            f"{' and '.join(missing)} not in the trainer: the copy it replaces timed another pipeline"
        )
    config = TrainConfig.load(Path(args.config))
    bs, size, n_cls = config.batch_size, config.image_size, args.classes
    rng = np.random.default_rng(config.seed)
    x_tr = rng.integers(0, 256, (bs * args.batches, size, size, 3), dtype=np.uint8)
    y_tr = rng.integers(0, n_cls, len(x_tr))

    keras.utils.set_random_seed(config.seed)
    ds = train.train_dataset(config, x_tr, y_tr, n_cls)
    out: dict[str, Any] = {
        "pipeline": PIPELINE,
        "batch_size": bs,
        "image_size": size,
        "images_per_epoch": len(x_tr),
        "augment": config.augment,
        "quality_rate": config.quality_rate,
        "width": config.model_width,
    }

    def one_epoch() -> int:
        return sum(int(xb.shape[0]) for xb, _ in ds)

    seen = one_epoch()
    secs = timed_repeats(one_epoch, args.repeats)
    out["pipeline_images_per_s"] = stats([seen / s for s in secs])

    parts = build_model_for(config, n_cls)
    train.compile_for_training(config, parts, max(1, len(x_tr) // bs))
    xb, yb = next(iter(ds))

    if config.augment:
        aug = parts.model.get_layer("augment")
        aug_fn = tf.function(lambda x: aug(x, training=True))
        aug_fn(xb).numpy()
        secs = timed_repeats(lambda: aug_fn(xb).numpy(), args.repeats, args.steps)
        out["augment_images_per_s"] = stats([bs / s for s in secs])

    for _ in range(2):  # trace and build the optimizer
        parts.model.train_on_batch(xb, yb)
    secs = timed_repeats(lambda: parts.model.train_on_batch(xb, yb), args.repeats, args.steps)
    out["train_step_images_per_s"] = stats([bs / s for s in secs])

    steps = min(args.steps, args.batches)
    parts.model.fit(ds, epochs=1, steps_per_epoch=1, verbose=0)  # warm-up
    fit_secs = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        parts.model.fit(ds, epochs=1, steps_per_epoch=steps, verbose=0)
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
