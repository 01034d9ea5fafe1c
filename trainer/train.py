"""The training run, top to bottom: :func:`run` calls one stage after another.

Data (``trainer.data``: audit, split, balance, load), fit (here), calibration and
evaluation (``trainer.evaluate_run``), shortcut and cue checks (``trainer.cues``), export
(``trainer.export``), the model card (``trainer.card``), the report (``trainer.report``).
Every step writes into the run folder; nothing is ever written into the dataset.
The configuration is saved first and travels with every checkpoint.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from desktop.card import MELANOMA
from desktop.preprocessing import Preprocessing
from desktop.seal import seal_card
from trainer.balance import loss_weights, origin_shares
from trainer.card import add_scope, build_card, card_metrics, complete_card
from trainer.config import TrainConfig
from trainer.consistency import consistency_step
from trainer.cues import shortcut_check
from trainer.data import Arrays, load_arrays, prepare
from trainer.evaluate_run import (
    calibrate,
    choose_alert,
    evaluate,
    headline_split,
    reliability,
    tflite_probs,
)
from trainer.export import export_run
from trainer.group_dro import GroupDRO, group_ids
from trainer.operating_points import add_operating_point_figures, choose_operating_points
from trainer.plots import melanoma_scores
from trainer.pretrained import load_lite
from trainer.report import write_report
from trainer.run_clock import TRAIN, WALL, RunClock
from trainer.run_folder import RunFolder
from trainer.scope import fit_scope
from trainer.strategy import get_strategy


def log(msg: str) -> None:
    print(f"[trainer] {msg}", file=sys.stderr, flush=True)


def preprocessing_for(config: TrainConfig) -> Preprocessing:
    return Preprocessing(
        size=config.image_size,
        color_constancy=config.color_constancy,
        crop=config.crop,
        level=config.exposure_level,
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
        clock: RunClock,
    ):
        import keras

        from trainer.evaluate import balanced_accuracy

        folder = RunFolder(run_dir)

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
                    self.model.save_weights(folder.best_weights)
                state["epoch"] = epoch + 1
                state.setdefault("history", []).append({k: float(v) for k, v in logs.items()})
                # Checkpoint model + optimizer state, then the state file: a kill between the
                # two leaves the previous, consistent pair.
                self.model.save(folder.last_checkpoint)
                folder.write_state(clock.stamp(state))  # a killed session still counts
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
    if config.consistency > 0:
        parts.model.train_step = consistency_step(parts.model, config.consistency)


def train_dataset(
    config: TrainConfig,
    x: np.ndarray,
    y: np.ndarray,
    num_classes: int,
    weights: np.ndarray | None = None,
    groups: np.ndarray | None = None,
):
    """The training input pipeline: shuffle, JPEG/sharpness augmentation, full batches.

    With ``config.consistency`` each image comes as two copies, degraded independently
    (stacked on axis 1: a batch is ``(batch, 2, size, size, 3)``), for :func:`consistency_step`.
    With ``weights`` each element carries its row's loss weight (Keras's sample weight); with
    ``groups`` its images come as ``(images, origin index)`` for group DRO.
    """
    import keras
    import tensorflow as tf

    from trainer.model_spec import image_quality_augment

    def degrade(a):
        if config.augment and config.quality_rate > 0:
            return image_quality_augment(a, config.quality_rate)
        return tf.cast(a, tf.float32)

    def pair_or_one(a, *rest):
        image, group = a if groups is not None else (a, None)
        out = (
            tf.stack([degrade(image), degrade(image)]) if config.consistency > 0 else degrade(image)
        )
        return ((out, group) if groups is not None else out, *rest)

    columns = (x if groups is None else (x, groups), keras.utils.to_categorical(y, num_classes))
    if weights is not None:
        columns += (np.asarray(weights, np.float32),)
    return (
        tf.data.Dataset.from_tensor_slices(columns)
        .shuffle(len(x), seed=config.seed, reshuffle_each_iteration=True)
        .map(pair_or_one, num_parallel_calls=tf.data.AUTOTUNE)
        # Full batches only: TF 2.21 on CPU aborts ("double free") when a train step is
        # retraced for a smaller last batch. Shuffling each epoch means no image is lost for good.
        .batch(min(config.batch_size, len(x)), drop_remainder=True)
        .prefetch(tf.data.AUTOTUNE)
    )


def train_model(
    config: TrainConfig,
    run_dir: Path,
    data: Arrays,
    classes: tuple[str, ...],
    resume: bool,
    wall_start: float,
):
    """Fit the CNN; returns the model parts (best weights loaded), the training state and
    the run's clock."""
    import keras

    keras.utils.set_random_seed(config.seed)
    n = len(classes)
    folder = RunFolder(run_dir)
    folder.checkpoints.mkdir(exist_ok=True)
    state: dict[str, Any] = folder.read_state() if resume else {}
    initial_epoch = int(state.get("epoch", 0))
    earlier_wall = None
    if resume and WALL not in state and folder.report_json.is_file():  # made before it was kept
        earlier_wall = float(folder.read_report().get("training", {}).get(WALL) or 0.0)
    clock = RunClock(state, wall_start, earlier_wall)

    strategy = get_strategy(config.strategy)
    steps = int(np.ceil(len(data.x_train) / config.batch_size))
    with strategy.scope():
        parts = build_for_training(config, n, steps, fresh=initial_epoch == 0)
        if initial_epoch > 0 and folder.last_checkpoint.is_file():
            restore_checkpoint(config, parts, folder)
            log(
                f"resuming from epoch {initial_epoch} (best so far: epoch {state.get('best_epoch')})"
            )

    weights, class_weight = loss_weights(config, data.y_train, data.origins_train, n)
    if weights is not None:
        log(f"loss weight by origin: {origin_shares(weights, data.origins_train)}")
    groups, dro = None, None
    if config.group_dro > 0:
        groups, names = group_ids(data.origins_train)
        dro = GroupDRO(names, config.group_dro)
        parts.model.train_step = consistency_step(parts.model, config.consistency, dro)
    train_ds = train_dataset(config, data.x_train, data.y_train, n, weights, groups)
    val_ds = validation_dataset(data.x_val, data.y_val, n)
    callbacks = training_callbacks(config, run_dir, data, n, state, clock)
    if dro is not None:  # first, so that the checkpoint's history keeps the weights
        callbacks.insert(0, dro.log_callback(log))
    clock.start_fit()
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
    folder.write_state(clock.stamp(state))
    if interrupted:
        raise KeyboardInterrupt
    if folder.best_weights.is_file():
        parts.model.load_weights(folder.best_weights)
    return parts, state, clock


def build_for_training(config: TrainConfig, num_classes: int, steps_per_epoch: int, fresh: bool):
    """The model, with ImageNet weights on a fresh Lite0/Lite1 start, compiled; call inside
    the strategy's scope."""
    from trainer.model_spec import LITE_ARCHS, build_model_for

    parts = build_model_for(config, num_classes)
    if config.arch in LITE_ARCHS and config.pretrained and fresh:
        filled = load_lite(parts.backbone, variant=config.arch)
        log(f"ImageNet weights loaded into {filled} {config.arch.capitalize()} blocks")
    compile_for_training(config, parts, steps_per_epoch)
    return parts


def restore_checkpoint(config: TrainConfig, parts, folder: RunFolder) -> None:
    """Resuming: the last finished epoch's weights and optimizer state into ``parts``; call
    inside the strategy's scope."""
    import keras

    saved = keras.models.load_model(folder.last_checkpoint)
    parts.model.set_weights(saved.get_weights())
    parts.model.optimizer.build(parts.model.trainable_variables)
    for mine, theirs in zip(
        parts.model.optimizer.variables, saved.optimizer.variables, strict=False
    ):
        mine.assign(theirs)
    if config.ema > 0:
        _swap_ema(parts.model)  # checkpoints hold the average in the model


def validation_dataset(x_val: np.ndarray, y_val: np.ndarray, num_classes: int):
    """The validation images as float32 with one-hot labels, in batches of 64."""
    import keras
    import tensorflow as tf

    y_val_1h = keras.utils.to_categorical(y_val, num_classes)
    return tf.data.Dataset.from_tensor_slices((x_val.astype(np.float32), y_val_1h)).batch(64)


def training_callbacks(
    config: TrainConfig,
    run_dir: Path,
    data: Arrays,
    num_classes: int,
    state: dict[str, Any],
    clock: RunClock,
) -> list:
    """Weight averaging's swap, the per-epoch checkpoint, early stopping."""
    import keras

    x_val = data.x_val.astype(np.float32)
    return [
        # First, so that the checkpoint callback below sees (and saves) the averaged weights.
        *([keras.callbacks.SwapEMAWeights(swap_on_epoch=True)] if config.ema > 0 else []),
        EpochCheckpoint.make(run_dir, x_val, data.y_val, num_classes, config.monitor, state, clock),
        keras.callbacks.EarlyStopping(
            monitor=config.monitor,
            mode="max" if config.monitor == "val_balanced_accuracy" else "min",
            patience=config.patience,
            restore_best_weights=False,
        ),
    ]


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


def open_run(config: TrainConfig, resume: bool) -> tuple[Path, TrainConfig]:
    """The run folder, with the configuration saved first (or, resuming, the saved one)."""
    run_dir = make_run_dir(config)
    folder = RunFolder(run_dir)
    if resume and folder.config.is_file():
        # Saved again: a setting added since the run started is recorded at its default.
        config = folder.read_config()
    folder.write_config(config)
    log(f"run folder: {run_dir}")
    return run_dir, config


def melanoma_index(classes: tuple[str, ...]) -> int:
    if MELANOMA not in classes:
        raise SystemExit(
            f"no '{MELANOMA}' images: the melanoma alert needs them (classes: {', '.join(classes)})"
        )
    return classes.index(MELANOMA)


def training_summary(state: dict[str, Any], clock: RunClock, run_dir: Path) -> dict[str, Any]:
    """The card's ``training`` entry: epochs, best epoch, time spent. A resumed run's times
    include the earlier sessions' (:class:`~trainer.run_clock.RunClock`), so they are the
    whole cost of the model, not of the last session."""
    RunFolder(run_dir).write_state(clock.stamp(state, fitting=False))
    return {
        "epochs_run": state.get("epoch"),
        "best_epoch": state.get("best_epoch"),
        "train_seconds": state.get(TRAIN),
        "wall_seconds": state[WALL],
    }


def scope_of(run_dir: Path, card: dict[str, Any]) -> dict[str, Any]:
    """The scope block for the finished ``card``, fitted before the card is written.

    The scope step runs the model through the app's classifier, which reads the card beside
    the model; so model and card go into a scratch folder, and the run's card is written
    once, whole (the images come from the run's cache)."""
    with tempfile.TemporaryDirectory(prefix="lesionlens-scope-") as tmp:
        scratch = RunFolder(tmp)
        shutil.copyfile(RunFolder(run_dir).model, scratch.model)
        scratch.write_card(card)
        return fit_scope(run_dir, model=scratch.model)


def int8_gate(config: TrainConfig, drop: float) -> None:
    """Stop the run when the int8 model loses more than ``max_int8_drop`` validation accuracy."""
    if config.quantization == "int8" and drop > config.max_int8_drop:
        raise SystemExit(
            f"int8 model is {drop * 100:.1f} points less accurate than float on validation "
            f"(limit {config.max_int8_drop * 100:.0f}): not fit to ship"
        )


def run(config: TrainConfig, resume: bool = False) -> Path:
    """One complete training run. Returns the run folder."""
    wall_start = time.perf_counter()
    run_dir, config = open_run(config, resume)
    pre = preprocessing_for(config)
    # Data: sources -> identities -> leak-free split -> balance -> decoded arrays.
    prepared = prepare(config, run_dir)
    prepared.extra["holdout_source"] = config.holdout_source
    classes = prepared.classes
    mel = melanoma_index(classes)
    arrays = load_arrays(config, prepared, pre, run_dir)

    # Fit (best weights loaded), then prior correction and temperature on validation only.
    parts, state, clock = train_model(config, run_dir, arrays, classes, resume, wall_start)
    calib = calibrate(config, parts, prepared, arrays.x_val, arrays.y_val)

    # Export int8 (what ships) and float32 (for benchmarks); the card is built around the int8 model.
    tflite_bytes = export_run(
        run_dir, parts, calib.temperature, config.quantization, arrays.x_train, config.seed
    )
    card = build_card(config, prepared, pre, parts, calib, tflite_bytes)

    # Probabilities as the app will see them (int8 through LiteRT) and from the float model.
    folder = RunFolder(run_dir)
    model_path = folder.model
    q_val = tflite_probs(model_path, card, arrays.x_val)
    alert = choose_alert(q_val[:, mel], arrays.y_val == mel, config.target_sensitivity)
    card["alert"].update(alert.card_fields())
    # The "high" melanoma grade and the referral prompts, from the same validation scores.
    card["alert"].update(choose_operating_points(q_val, arrays.y_val, classes, mel).card_fields())
    evals, probs, untempered = evaluate(
        parts, model_path, card, arrays.splits, calib, alert.threshold, {"val": q_val}
    )
    qkey, headline = config.quantization, headline_split(evals)
    training = training_summary(state, clock, run_dir)
    metrics = card_metrics(evals, headline, qkey)
    add_operating_point_figures(metrics, card, probs, arrays.splits, headline)
    complete_card(card, metrics, training)
    # The card seals the model it describes: its SHA-256 and check images (desktop.integrity).
    card = seal_card(card, model_path)
    drop = evals["val"]["float"]["accuracy"] - evals["val"][qkey]["accuracy"]
    report = {
        "config": config.to_dict(),
        "card_metrics": card["metrics"],
        "alert": card["alert"],
        "temperature": calib.temperature,
        "evaluations": evals,
        "training": card["training"],
        "history": state.get("history", []),
        "balance": {"before": prepared.balance.before, "after": prepared.balance.after},
        "data": card["training_data"],
        "model_bytes": len(tflite_bytes),
        "int8_accuracy_drop_val": drop,
        "shortcut_check": shortcut_check(prepared, classes, arrays.splits, parts),
        "reliability": reliability(
            arrays.splits[headline][1], untempered[headline], probs[headline]
        ),
    }
    folder.write_report(report)
    # The int8 gate runs before the card is written: a run that fails it cannot be installed.
    int8_gate(config, drop)
    # "Not a dermoscopy image": distances in the model's own feature space, fitted on this
    # run's training images, threshold chosen on validation (desktop/scope.py).
    add_scope(card, scope_of(run_dir, card))
    folder.write_card(card)  # once, finished
    write_report(run_dir, report, card, prepared, pre, melanoma_scores(probs, arrays.splits, mel))
    head = evals[headline][qkey]
    log(
        f"done in {training['wall_seconds'] / 60:.1f} min: {headline} accuracy {head['accuracy']:.3f}, "
        f"balanced accuracy {head['balanced_accuracy']:.3f}"
    )
    return run_dir
