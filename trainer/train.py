"""The training run, top to bottom: audit, split, balance, load, train, calibrate, evaluate, export.

Every step writes into the run folder; nothing is ever written into the dataset.
The configuration is saved first and travels with every checkpoint.
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from desktop.card import FORMAT_VERSION, MELANOMA
from desktop.imaging import Preprocessing
from trainer import TRAINER_VERSION
from trainer.config import TrainConfig
from trainer.data import EVAL_SPLITS, Prepared, load_split, prepare
from trainer.evaluate import (
    choose_prior_weight,
    choose_threshold,
    classification_report,
    expected_calibration_error,
    fit_temperature,
    reliability_bins,
    sensitivity_specificity,
    softmax,
)
from trainer.export import cam_weights, to_tflite, write_json
from trainer.pretrained import SOURCE as PRETRAINED_SOURCE
from trainer.pretrained import load_lite0
from trainer.sources import source_terms

INTENDED_USE = (
    "Decision aid for clinicians looking at dermoscopy images of a single skin lesion. "
    "It ranks nine ISIC lesion classes and flags possible melanoma for referral. "
    "It is not a diagnosis and must not replace examination, dermoscopy expertise or histopathology."
)
LIMITATIONS = [
    "Trained on a small public ISIC subset; classes come from different image archives, "
    "so some accuracy may come from camera or crop cues rather than the lesion.",
    "Only dermoscopy images of the nine listed classes; other skin conditions, clinical "
    "(non-dermoscopic) photos and other body sites are out of scope.",
    "Skin types are not recorded in the training data; performance on darker skin is unknown.",
    "Metrics are measured on a held-out split of the same archive, not on a prospective clinic population.",
]


def log(msg: str) -> None:
    print(f"[trainer] {msg}", file=sys.stderr, flush=True)


def preprocessing_for(config: TrainConfig) -> Preprocessing:
    return Preprocessing(
        size=config.image_size, color_constancy=config.color_constancy, crop=config.crop
    )


def make_run_dir(config: TrainConfig) -> Path:
    out = (
        Path(config.out) if config.out else Path("runs") / datetime.now().strftime("%Y%m%d-%H%M%S")
    )
    out = out.resolve()
    for folder in config.data:
        data = Path(folder).resolve()
        if out == data or data in out.parents:
            raise SystemExit(f"refusing to write the run inside a data folder: {out}")
    out.mkdir(parents=True, exist_ok=True)
    return out


def get_strategy(name: str):
    import tensorflow as tf

    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        return _reduce_per_element(tf.distribute.MultiWorkerMirroredStrategy())
    return tf.distribute.get_strategy()  # the default (one device) strategy, same code path


def _reduce_per_element(strategy):
    """Keras 3 fit() under MultiWorkerMirroredStrategy (keras-team/keras#20585) calls
    strategy.reduce on a whole (x, y, sample_weight) tuple, and with axis=0 on scalar metrics;
    CollectiveAllReduce handles neither. Reduce each tensor on its own, scalars over no axis."""
    import tensorflow as tf

    reduce = strategy.reduce

    def one(op, value, axis):
        local = value.values[0] if isinstance(value, tf.distribute.DistributedValues) else value
        rank = getattr(getattr(local, "shape", None), "rank", None)
        return reduce(op, value, axis if rank else None)

    strategy.reduce = lambda op, value, axis=None: tf.nest.map_structure(
        lambda v: one(op, v, axis), value
    )
    return strategy


class EpochCheckpoint:
    """Keras callback factory: validation balanced accuracy, per-epoch checkpoints, best weights."""

    @staticmethod
    def make(
        run_dir: Path,
        x_val: np.ndarray,
        y_val: np.ndarray,
        num_classes: int,
        monitor: str,
        state: dict,
    ):
        import keras

        from trainer.evaluate import balanced_accuracy

        class _Callback(keras.callbacks.Callback):
            def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
                logs = logs if logs is not None else {}
                logits = self.model.predict(x_val, batch_size=64, verbose=0)
                bacc = balanced_accuracy(y_val, logits.argmax(axis=1), num_classes)
                logs["val_balanced_accuracy"] = bacc
                score = (
                    bacc
                    if monitor == "val_balanced_accuracy"
                    else -float(logs.get("val_loss", np.inf))
                )
                improved = score > state.get("best_score", -np.inf)
                if improved:
                    state.update(best_score=score, best_epoch=epoch + 1)
                    self.model.save_weights(run_dir / "checkpoints" / "best.weights.h5")
                state["epoch"] = epoch + 1
                state.setdefault("history", []).append({k: float(v) for k, v in logs.items()})
                # Checkpoint model + optimizer state, then the state file: a kill between the
                # two leaves the previous, consistent pair.
                self.model.save(run_dir / "checkpoints" / "last.keras")
                (run_dir / "checkpoints" / "state.json").write_text(json.dumps(state, indent=1))
                log(
                    f"epoch {epoch + 1}: loss {logs.get('loss', float('nan')):.4f} "
                    f"val_loss {logs.get('val_loss', float('nan')):.4f} val_bacc {bacc:.4f}"
                    + (" (best)" if improved else "")
                )

        return _Callback()


def compile_for_training(config: TrainConfig, parts, steps_per_epoch: int) -> None:
    """AdamW on a warm-up + cosine schedule (with weight averaging when ``config.ema``); call
    inside the strategy's scope. Training and the training-step benchmark both use this."""
    import keras

    total = max(1, steps_per_epoch * config.epochs)
    warmup = min(total - 1, steps_per_epoch * config.warmup_epochs)
    schedule = (
        keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=config.learning_rate * 0.1,
            decay_steps=total - warmup,
            warmup_target=config.learning_rate,
            warmup_steps=warmup,
            alpha=0.01,
        )
        if warmup > 0
        else keras.optimizers.schedules.CosineDecay(config.learning_rate, total, alpha=0.01)
    )
    # Weight averaging: validation balanced accuracy of the raw weights jumps by +-5 points
    # from epoch to epoch, so picking the best epoch on it picked noise. The average is smoother.
    optimizer = keras.optimizers.AdamW(
        learning_rate=schedule,
        weight_decay=config.weight_decay,
        use_ema=config.ema > 0,
        ema_momentum=config.ema or 0.99,  # ignored when off
    )
    optimizer.exclude_from_weight_decay(var_names=["gamma", "beta", "bias"])
    parts.model.compile(
        optimizer=optimizer,
        loss=keras.losses.CategoricalCrossentropy(
            from_logits=True, label_smoothing=config.label_smoothing
        ),
        metrics=["accuracy"],  # by keyword: Keras 3 reads a third positional arg as loss_weights
    )


def train_dataset(config: TrainConfig, x: np.ndarray, y: np.ndarray, num_classes: int):
    """The training input pipeline: shuffle, JPEG/sharpness augmentation, full batches."""
    import keras
    import tensorflow as tf

    from trainer.model_spec import image_quality_augment

    return (
        tf.data.Dataset.from_tensor_slices((x, keras.utils.to_categorical(y, num_classes)))
        .shuffle(len(x), seed=config.seed, reshuffle_each_iteration=True)
        .map(
            (lambda a, b: (image_quality_augment(a, config.quality_rate), b))
            if config.augment and config.quality_rate > 0
            else (lambda a, b: (tf.cast(a, tf.float32), b)),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
        # Full batches only: TF 2.21 on CPU aborts ("double free") when a train step is
        # retraced for a smaller last batch. Shuffling each epoch means no image is lost for good.
        .batch(min(config.batch_size, len(x)), drop_remainder=True)
        .prefetch(tf.data.AUTOTUNE)
    )


def train_model(
    config: TrainConfig,
    run_dir: Path,
    data: dict[str, np.ndarray],
    classes: tuple[str, ...],
    resume: bool,
):
    """Fit the CNN; returns the model parts (best weights loaded) and the training state."""
    import keras
    import tensorflow as tf

    from trainer.model_spec import build_model_for

    keras.utils.set_random_seed(config.seed)
    n = len(classes)
    x_tr, y_tr, x_val, y_val = data["x_train"], data["y_train"], data["x_val"], data["y_val"]
    ckpt_dir = run_dir / "checkpoints"
    ckpt_dir.mkdir(exist_ok=True)
    state_path = ckpt_dir / "state.json"
    state: dict[str, Any] = (
        json.loads(state_path.read_text()) if resume and state_path.is_file() else {}
    )
    initial_epoch = int(state.get("epoch", 0))

    strategy = get_strategy(config.strategy)
    steps = int(np.ceil(len(x_tr) / config.batch_size))
    with strategy.scope():
        parts = build_model_for(config, n)
        if config.arch == "lite0" and config.pretrained and initial_epoch == 0:
            log(f"ImageNet weights loaded into {load_lite0(parts.backbone)} Lite0 blocks")
        compile_for_training(config, parts, steps)
        if initial_epoch > 0 and (ckpt_dir / "last.keras").is_file():
            saved = keras.models.load_model(ckpt_dir / "last.keras")
            parts.model.set_weights(saved.get_weights())
            parts.model.optimizer.build(parts.model.trainable_variables)
            for mine, theirs in zip(
                parts.model.optimizer.variables, saved.optimizer.variables, strict=False
            ):
                mine.assign(theirs)
            if config.ema > 0:
                _swap_ema(parts.model)  # checkpoints hold the average in the model
            log(
                f"resuming from epoch {initial_epoch} (best so far: epoch {state.get('best_epoch')})"
            )

    train_ds = train_dataset(config, x_tr, y_tr, n)
    y_val_1h = keras.utils.to_categorical(y_val, n)
    val_ds = tf.data.Dataset.from_tensor_slices((x_val.astype(np.float32), y_val_1h)).batch(64)
    class_weight = None
    if config.class_weights:
        counts = np.bincount(y_tr, minlength=n).astype(np.float64)
        class_weight = {i: float(len(y_tr) / (n * max(c, 1))) for i, c in enumerate(counts)}

    callbacks = [
        # First, so that the checkpoint callback below sees (and saves) the averaged weights.
        *([keras.callbacks.SwapEMAWeights(swap_on_epoch=True)] if config.ema > 0 else []),
        EpochCheckpoint.make(run_dir, x_val.astype(np.float32), y_val, n, config.monitor, state),
        keras.callbacks.EarlyStopping(
            monitor=config.monitor,
            mode="max" if config.monitor == "val_balanced_accuracy" else "min",
            patience=config.patience,
            restore_best_weights=False,
        ),
    ]
    start = time.perf_counter()
    interrupted = False
    if initial_epoch < config.epochs:
        try:
            parts.model.fit(
                train_ds,
                validation_data=val_ds,
                epochs=config.epochs,
                initial_epoch=initial_epoch,
                callbacks=callbacks,
                class_weight=class_weight,
                verbose=2 if os.environ.get("CI") or not sys.stderr.isatty() else 1,
            )
        except KeyboardInterrupt:
            interrupted = True
            log(f"interrupted: the last finished epoch is saved; continue with --resume {run_dir}")
    state["train_seconds"] = float(state.get("train_seconds", 0.0)) + time.perf_counter() - start
    state_path.write_text(json.dumps(state, indent=1))
    if interrupted:
        raise KeyboardInterrupt
    best = ckpt_dir / "best.weights.h5"
    if best.is_file():
        parts.model.load_weights(best)
    return parts, state


def _swap_ema(model) -> None:
    """Exchange model weights and their moving averages, exactly.

    Not SwapEMAWeights' own swap: on TensorFlow it swaps by adding and subtracting,
    which does not give the same floats back.
    """
    optimizer = model.optimizer
    for var, avg in zip(
        optimizer._trainable_variables, optimizer._model_variables_moving_average, strict=True
    ):
        raw = var.numpy()
        var.assign(avg)
        avg.assign(raw)


def logits_of(parts, x: np.ndarray) -> np.ndarray:
    if len(x) == 0:
        return np.zeros((0, parts.head.units), np.float32)
    return parts.model.predict(x.astype(np.float32), batch_size=64, verbose=0)


def tflite_probs(model_path: Path, card: dict[str, Any], x: np.ndarray) -> np.ndarray:
    """Run the exported model through the app's own classifier code (the path the clinic uses)."""
    from desktop.card import ModelCard
    from desktop.inference import Classifier

    clf = Classifier(model_path, card=ModelCard.from_dict(card))
    return (
        np.stack([clf.run(img)[0] for img in x]) if len(x) else np.zeros((0, len(card["classes"])))
    )


def data_summary(prepared: Prepared) -> dict[str, Any]:
    """What the card says about the data: sources (with licence and citation), counts, split."""
    ids = prepared.identities
    return {
        "sources": [{**s.summary(), **source_terms(s)} for s in prepared.sources],
        "content_sha256": prepared.content_hash(),
        "identities": len(ids.items),
        "cross_source_duplicates": ids.cross_source_duplicates,
        "cross_source_conflicts": ids.cross_source_conflicts,
        "per_class": {c: sum(1 for i in ids.items if i.label == c) for c in prepared.classes},
        "split": {k: len(prepared.split(k)) for k in ("train", *EVAL_SPLITS)},
        "holdout_source": prepared.extra.get("holdout_source", ""),
        "augmented_samples": len(prepared.augmented),
    }


def run(config: TrainConfig, resume: bool = False) -> Path:
    """One complete training run. Returns the run folder."""
    wall_start = time.perf_counter()
    run_dir = make_run_dir(config)
    if resume and (run_dir / "config.json").is_file():
        config = TrainConfig.load(run_dir / "config.json")
    else:
        config.save(run_dir / "config.json")
    log(f"run folder: {run_dir}")
    pre = preprocessing_for(config)
    prepared = prepare(config, run_dir)
    prepared.extra["holdout_source"] = config.holdout_source
    classes = prepared.classes
    if MELANOMA not in classes:
        raise SystemExit(
            f"no '{MELANOMA}' images: the melanoma alert needs them (classes: {', '.join(classes)})"
        )
    mel = classes.index(MELANOMA)

    cache = run_dir / "cache"
    harm = (config.harmonise_side, config.harmonise_quality) if config.harmonise else None
    x_tr, y_tr, _ = load_split(
        prepared.train + prepared.augmented, classes, pre, cache / "train.npz", harm
    )
    loaded = {
        n: load_split(prepared.split(n), classes, pre, cache / f"{n}.npz") for n in EVAL_SPLITS
    }
    x_val, y_val, _ = loaded["val"]
    if len(x_val) == 0 or len(np.unique(y_tr)) < 2:
        raise SystemExit(
            "not enough images to train and validate: add images or lower --val-fraction"
        )

    parts, state = train_model(
        config,
        run_dir,
        {"x_train": x_tr, "y_train": y_tr, "x_val": x_val, "y_val": y_val},
        classes,
        resume,
    )

    # Prior correction and calibration, both on the validation split only. The prior is the
    # class share of the training split before balancing (+1 so an empty class stays finite).
    counts = np.bincount([classes.index(r.label) for r in prepared.train], minlength=len(classes))
    log_prior = np.log((counts + 1.0) / (counts + 1.0).sum())
    prior_weight = (
        choose_prior_weight(logits_of(parts, x_val), y_val, log_prior)
        if config.prior_correction
        else 0.0
    )
    if prior_weight:
        # Folded into the classifier bias: the exported model and the CAM bias carry it.
        parts.head.bias.assign(parts.head.bias.numpy() + prior_weight * log_prior)
    log(f"prior correction weight {prior_weight:.2f}")
    temperature = fit_temperature(logits_of(parts, x_val), y_val)
    log(f"temperature {temperature:.3f}")

    # Export int8 (what ships) and float32 (for benchmarks); the card is built around the int8 model.
    rng = np.random.default_rng(config.seed)
    rep = x_tr[rng.choice(len(x_tr), size=min(300, len(x_tr)), replace=False)]
    tflite_bytes = to_tflite(parts, temperature, config.quantization, rep)
    (run_dir / "model.tflite").write_bytes(tflite_bytes)
    (run_dir / "model_float32.tflite").write_bytes(to_tflite(parts, temperature, "float32"))
    parts.model.save(run_dir / "model.keras")
    card = build_card(
        config, prepared, pre, parts, temperature, prior_weight, log_prior, tflite_bytes
    )

    # Probabilities as the app will see them (int8 through LiteRT) and from the float model.
    model_path = run_dir / "model.tflite"
    q_val = tflite_probs(model_path, card, x_val)
    threshold = choose_threshold(q_val[:, mel], y_val == mel, config.target_sensitivity)
    sens, spec = sensitivity_specificity(q_val[:, mel], y_val == mel, threshold)
    card["alert"].update(
        melanoma_threshold=threshold, validation_sensitivity=sens, validation_specificity=spec
    )
    log(
        f"melanoma threshold {threshold:.3f}: validation sensitivity {sens:.3f}, specificity {spec:.3f}"
    )

    qkey = config.quantization
    evals: dict[str, Any] = {}
    for name, (x, y, recs) in loaded.items():
        if len(x) == 0:
            continue
        logits = logits_of(parts, x)
        q = q_val if name == "val" else tflite_probs(model_path, card, x)
        evals[name] = {
            qkey: classification_report(q, y, classes, mel, threshold),
            "float": classification_report(
                softmax(logits, temperature), y, classes, mel, threshold
            ),
            "ece_uncalibrated_float": expected_calibration_error(softmax(logits), y),
            "top1_agreement_quantized_vs_float": float((q.argmax(1) == logits.argmax(1)).mean()),
            "by_source": by_source(q, y, recs, classes, mel, threshold),
        }
        log(
            f"{name}: "
            + json.dumps({k: v["melanoma"] for k, v in evals[name]["by_source"].items()})
        )
    headline_split = "internal_test" if "internal_test" in evals else "val"
    card["metrics"] = card_metrics(evals, headline_split, qkey)
    card["training"] = {
        "epochs_run": state.get("epoch"),
        "best_epoch": state.get("best_epoch"),
        "train_seconds": state.get("train_seconds"),
        "wall_seconds": time.perf_counter() - wall_start,
    }
    drop = evals["val"]["float"]["accuracy"] - evals["val"][qkey]["accuracy"]
    report = {
        "config": config.to_dict(),
        "card_metrics": card["metrics"],
        "alert": card["alert"],
        "temperature": temperature,
        "evaluations": evals,
        "training": card["training"],
        "history": state.get("history", []),
        "balance": {"before": prepared.balance.before, "after": prepared.balance.after},
        "data": card["training_data"],
        "model_bytes": len(tflite_bytes),
        "int8_accuracy_drop_val": drop,
        "shortcut_check": shortcut_check(prepared, classes, loaded, parts),
        "reliability": reliability(parts, model_path, card, loaded[headline_split][:2]),
    }
    write_json(run_dir / "report.json", report)
    # The int8 gate runs before the card is written: a run that fails it cannot be installed.
    if config.quantization == "int8" and drop > config.max_int8_drop:
        raise SystemExit(
            f"int8 model is {drop * 100:.1f} points less accurate than float on validation "
            f"(limit {config.max_int8_drop * 100:.0f}): not fit to ship"
        )
    write_json(run_dir / "model.json", card)
    # "Not a dermoscopy image": distances in the model's own feature space, fitted on this
    # run's training images, threshold chosen on validation (desktop/scope.py).
    from trainer.scope import fit_run

    card["scope"] = fit_run(run_dir)
    from trainer.report import write_report

    write_report(run_dir, report, card, prepared, pre)
    head = evals[headline_split][qkey]
    log(
        f"done in {card['training']['wall_seconds'] / 60:.1f} min: {headline_split} accuracy {head['accuracy']:.3f}, "
        f"balanced accuracy {head['balanced_accuracy']:.3f}"
    )
    return run_dir


def by_source(
    probs: np.ndarray, y: np.ndarray, records, classes, mel: int, threshold: float
) -> dict[str, Any]:
    """Every figure per source: a pooled number can hide a source the model cannot read."""
    out: dict[str, Any] = {}
    sources = np.array([r.source for r in records])
    for name in sorted(set(sources.tolist())):
        m = sources == name
        rep = classification_report(probs[m], y[m], classes, mel, threshold)
        out[name] = {
            "images": rep["images"],
            "melanomas": int((y[m] == mel).sum()),
            "accuracy": rep["accuracy"],
            "balanced_accuracy": rep["balanced_accuracy"],
            "melanoma": rep["melanoma"],
        }
    return out


def card_metrics(evals: dict[str, Any], headline_split: str, qkey: str) -> dict[str, Any]:
    """The measured figures the app shows, all from the shipped (quantized) model."""
    ev = evals[headline_split]
    head = ev[qkey]
    metrics: dict[str, Any] = {
        "measured_on": headline_split,
        "model": qkey,
        "images": head["images"],
        "accuracy": head["accuracy"],
        "balanced_accuracy": head["balanced_accuracy"],
        "macro_f1": head["macro_f1"],
        "macro_roc_auc": head["macro_roc_auc"],
        "melanoma_sensitivity": head["melanoma"]["sensitivity"],
        "melanoma_specificity": head["melanoma"]["specificity"],
        "melanoma_roc_auc": head["melanoma"]["roc_auc"],
        "ece_before_temperature": ev["ece_uncalibrated_float"],
        "ece_after_temperature": head["ece"],
        "ece_sampling_floor": head["ece_sampling_floor"],
        "float_accuracy": ev["float"]["accuracy"],
        "quantized_top1_agreement": ev["top1_agreement_quantized_vs_float"],
        "per_class_recall": {c: v["recall"] for c, v in head["per_class"].items()},
        "melanoma_by_source": {
            k: {
                "images": v["images"],
                "melanomas": v["melanomas"],
                "sensitivity": v["melanoma"]["sensitivity"],
                "specificity": v["melanoma"]["specificity"],
                "roc_auc": v["melanoma"]["roc_auc"],
            }
            for k, v in ev["by_source"].items()
        },
    }
    for name in ("test", "holdout"):
        if name in evals:
            e = evals[name][qkey]
            metrics["out_of_source" if name == "holdout" else "test_split"] = {
                "images": e["images"],
                "accuracy": e["accuracy"],
                "balanced_accuracy": e["balanced_accuracy"],
                "melanoma_sensitivity": e["melanoma"]["sensitivity"],
                "melanoma_specificity": e["melanoma"]["specificity"],
                "melanoma_roc_auc": e["melanoma"]["roc_auc"],
            }
    return metrics


def build_card(
    config, prepared: Prepared, pre, parts, temperature, prior_weight, log_prior, tflite_bytes
) -> dict[str, Any]:
    """The model card (validated by desktop.card when loaded); metrics are filled in later."""
    import hashlib

    weights, bias = cam_weights(parts)
    mel = prepared.classes.index(MELANOMA)
    return {
        "format_version": FORMAT_VERSION,
        "name": "LesionLens EfficientNet-Lite0"
        if config.arch == "lite0"
        else "LesionLens custom CNN",
        "base_model": (
            {**PRETRAINED_SOURCE, "blocks_kept": config.lite_blocks}
            if config.arch == "lite0" and config.pretrained
            else None
        ),
        # The model bytes identify a model; the date alone does not.
        "model_version": f"{datetime.now(UTC).strftime('%Y.%m.%d')}-{hashlib.sha256(tflite_bytes).hexdigest()[:8]}",
        "classes": list(prepared.classes),
        "melanoma_index": mel,
        "input": {"name": "image", "size": config.image_size, "channels": 3, "format": "RGB 0-255"},
        "preprocessing": pre.to_dict(),
        "outputs": {"probabilities": "probabilities", "features": "features"},
        "quantization": config.quantization,
        "calibration": {
            "method": "temperature scaling on the validation split",
            "temperature": temperature,
            "prior_correction": {
                "weight": prior_weight,
                "log_prior": [float(v) for v in log_prior],
                "method": "w * log(training class share) added to the logits; w chosen on validation",
            },
        },
        "alert": {"melanoma_threshold": 0.5, "target_sensitivity": config.target_sensitivity},
        "uncertainty": {"min_top_probability": config.min_top_probability},
        "cam": {"weights": weights, "bias": bias},
        "metrics": {},
        "training_data": data_summary(prepared),
        "config": {**config.to_dict(), "data": [Path(d).name for d in config.data], "out": ""},
        "trainer_version": TRAINER_VERSION,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "intended_use": INTENDED_USE,
        "limitations": LIMITATIONS,
    }


HAM10000_FIRST_ID = 24306  # ISIC_0024306 is the first HAM10000 image; lower ids are older archives


def reliability(
    parts, model_path: Path, card: dict[str, Any], xy: tuple[np.ndarray, np.ndarray]
) -> dict[str, Any]:
    """Reliability-diagram bins before (float, T=1) and after (shipped model) temperature scaling."""
    x, y = xy
    return {
        "before": reliability_bins(softmax(logits_of(parts, x)), y),
        "after": reliability_bins(tflite_probs(model_path, card, x), y),
    }


def shortcut_check(prepared, classes, splits, parts) -> dict[str, Any]:
    """Recall per class on held-out images from the older ISIC archives vs HAM10000.

    Classes drawn mostly from one archive let a CNN learn the archive (camera,
    crop, colour) instead of the lesion; a large gap here exposes that shortcut.
    """
    name = "internal_test" if len(prepared.internal_test) else "val"
    x, y, records = splits[name]
    if len(x) == 0 or len(records) != len(x):
        return {}
    pred = logits_of(parts, x).argmax(axis=1)
    out: dict[str, Any] = {"split": name, "per_class": {}}
    for i, c in enumerate(classes):
        row = {}
        for archive, test in (
            ("older_archives", lambda n: n < HAM10000_FIRST_ID),
            ("ham10000", lambda n: n >= HAM10000_FIRST_ID),
        ):
            mask = np.array(
                [
                    y[k] == i
                    and _isic_number(records[k].path.stem) is not None
                    and test(_isic_number(records[k].path.stem))
                    for k in range(len(records))
                ]
            )
            if mask.any():
                row[archive] = {"n": int(mask.sum()), "recall": float((pred[mask] == i).mean())}
        out["per_class"][c] = row
    out["cue_tests"] = cue_tests(parts, x, y, classes)
    return out


def paint_rim(x: np.ndarray, radius: float = 1.0, floor: float = 0.05) -> np.ndarray:
    """The dark round field of view of older dermoscopes, painted on (centred, touching the edges)."""
    from keras import ops

    from trainer.model_spec import rim_mask

    x = np.asarray(x, dtype=np.float32)
    yy, xx = np.meshgrid(
        np.linspace(-1, 1, x.shape[1]), np.linspace(-1, 1, x.shape[2]), indexing="ij"
    )
    mask = ops.convert_to_numpy(rim_mask(yy, xx, 0.0, 0.0, radius, floor)).astype(np.float32)
    return x * mask[None, :, :, None]


def _pil_each(x: np.ndarray, change) -> np.ndarray:
    from PIL import Image

    return np.stack([np.asarray(change(Image.fromarray(i.astype(np.uint8)))) for i in x])


def _jpeg(image, quality: int = 30):
    import io

    from PIL import Image

    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def _sharpen(image):
    from PIL import ImageFilter

    return image.filter(ImageFilter.UnsharpMask(2, 150, 2))


CUES = {
    "rim": ("dark round dermoscope field of view painted on", paint_rim),
    "jpeg_q30": ("re-encoded as JPEG quality 30", lambda x: _pil_each(x, _jpeg)),
    "sharpen": ("unsharp mask (radius 2, 150 %)", lambda x: _pil_each(x, _sharpen)),
}


def cue_tests(parts, x: np.ndarray, y: np.ndarray, classes: tuple[str, ...]) -> dict[str, Any]:
    """Does a change that says nothing about the lesion move the prediction between archives?

    Melanoma and nevus come only from the older ISIC archives, every other class only
    from HAM10000. Each cue (a dermoscope rim, heavy JPEG compression, sharpening) is
    applied to every held-out image; a model that reads the lesion should not move.
    Reported: accuracy before/after, the share of HAM10000-class images that move to
    melanoma or nevus, and the share of melanoma/nevus images that move away.
    """
    mel = classes.index(MELANOMA)
    older = [i for i, c in enumerate(classes) if c in (MELANOMA, "nevus")]
    if len(x) == 0 or not older:
        return {}
    is_older = np.isin(y, older)
    before = softmax(logits_of(parts, x))
    was = np.isin(before.argmax(1), older)
    out: dict[str, Any] = {}
    for name, (what, change) in CUES.items():
        after = softmax(logits_of(parts, change(x)))
        now = np.isin(after.argmax(1), older)
        out[name] = {
            "change": what,
            "accuracy_before": float((before.argmax(1) == y).mean()),
            "accuracy_after": float((after.argmax(1) == y).mean()),
            "ham10000_moved_to_melanoma_or_nevus": float((now & ~was)[~is_older].mean())
            if (~is_older).any()
            else None,
            "melanoma_or_nevus_moved_away": float((was & ~now)[is_older].mean())
            if is_older.any()
            else None,
            "mean_melanoma_probability_change": float((after[:, mel] - before[:, mel]).mean()),
        }
    return out


def _isic_number(stem: str) -> int | None:
    digits = stem.rsplit("_", 1)[-1]
    return int(digits) if digits.isdigit() else None
