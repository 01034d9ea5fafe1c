"""Fit the out-of-scope decision ("not a dermoscopy image") of a finished run.

The features come from the exported int8 model run through the app's own
:class:`desktop.inference.Classifier`, so the scope is fitted on exactly the numbers
the app will compare against, quantization included. No TensorFlow needed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from desktop.card import ModelCard, validate
from desktop.descriptor import pool
from desktop.inference import Classifier
from desktop.scope import DEFAULT_COMPONENTS, DEFAULT_KEEP, fit

MAX_TRAIN = 3000  # plenty for a shared covariance of a few hundred features
SEED = 0


def pooled_features(classifier: Classifier, x: np.ndarray) -> np.ndarray:
    """Pooled feature vectors ``(N, D)`` of preprocessed ``uint8`` images ``(N, S, S, 3)``."""
    if len(x) == 0:
        return np.zeros((0, len(classifier.card.cam_weights)))
    return np.stack([pool(classifier.run(img)[1]) for img in x])


def _load_cache(path: Path, size: int) -> tuple[np.ndarray, np.ndarray]:
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: the run has no cached arrays")
    with np.load(path) as data:
        x, y = data["x"], data["y"]
    if x.dtype != np.uint8 or x.ndim != 4 or x.shape[1:] != (size, size, 3):
        raise ValueError(f"{path.name}: 'x' must be uint8 N x {size} x {size} x 3, is {x.shape}")
    if len(y) != len(x):
        raise ValueError(f"{path.name}: 'x' and 'y' differ in length")
    return x, np.asarray(y).astype(np.int64).ravel()


def subsample(n: int, limit: int, seed: int = SEED) -> np.ndarray:
    """Sorted row indices: all rows up to ``limit``, else a fixed random choice."""
    if n <= limit:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=limit, replace=False))


def fit_scope(
    run_dir: Path,
    *,
    keep: float = DEFAULT_KEEP,
    components: int = DEFAULT_COMPONENTS,
    max_train: int = MAX_TRAIN,
    model: Path | None = None,
) -> dict[str, Any]:
    """The scope block of ``run_dir``, fitted but not written anywhere (benchmarks use this).

    Reads ``model.tflite`` (or ``model``, with its card beside it), ``model.json`` and
    ``cache/train.npz`` / ``cache/val.npz`` (``x``: preprocessed uint8 images, ``y``:
    class indices). The scope belongs to the model whose features it was fitted on.
    """
    run_dir = Path(run_dir)
    classifier = Classifier(model if model is not None else run_dir / "model.tflite")
    size = classifier.card.input_size
    x_train, y_train = _load_cache(run_dir / "cache" / "train.npz", size)
    rows = subsample(len(x_train), max_train)
    x_train, y_train = x_train[rows], y_train[rows]  # drop the rest before loading more
    x_val, _ = _load_cache(run_dir / "cache" / "val.npz", size)
    return fit(
        pooled_features(classifier, x_train),
        y_train,
        pooled_features(classifier, x_val),
        keep=keep,
        components=components,
    )


def fit_run(
    run_dir: Path,
    *,
    keep: float = DEFAULT_KEEP,
    components: int = DEFAULT_COMPONENTS,
    max_train: int = MAX_TRAIN,
) -> dict[str, Any]:
    """Fit the scope of ``run_dir`` and write it into ``run_dir/model.json``; returns the block.

    The card is rewritten (atomically) only after the new block has been validated with
    the rest of the card, so a failed fit leaves the run as it was.
    """
    run_dir = Path(run_dir)
    card_path = run_dir / "model.json"
    block = fit_scope(run_dir, keep=keep, components=components, max_train=max_train)
    data = json.loads(card_path.read_text(encoding="utf-8"))
    data["scope"] = block
    validate(data)
    ModelCard.from_dict(data)  # the app must be able to load what is written
    tmp = card_path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    tmp.replace(card_path)
    return block
