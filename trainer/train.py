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
from desktop.imaging import ImageLoadError, Preprocessing, load_image
from trainer import TRAINER_VERSION
from trainer.audit import AuditPolicy, apply_policy, format_table, run_audit
from trainer.balance import balance
from trainer.config import TrainConfig
from trainer.dataset import Record, discover
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
from trainer.split import stratified_group_split

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


def load_arrays(
    records: list[Record] | tuple[Record, ...],
    classes: tuple[str, ...],
    pre: Preprocessing,
    desc: str,
):
    """Decode with the shared loader; files that fail are skipped and returned with reasons."""
    from tqdm import tqdm

    index = {c: i for i, c in enumerate(classes)}
    xs, ys, kept, failed = [], [], [], []
    for r in tqdm(records, desc=desc, unit="img", file=sys.stderr):
        try:
            xs.append(load_image(r.path, pre))
        except ImageLoadError as exc:
            failed.append({"path": str(r.path), "reason": str(exc)})
            continue
        ys.append(index[r.label])
        kept.append(r)
    x = np.stack(xs) if xs else np.zeros((0, pre.size, pre.size, 3), np.uint8)
    return x, np.array(ys, dtype=np.int64), kept, failed


def make_run_dir(config: TrainConfig) -> Path:
    out = (
        Path(config.out) if config.out else Path("runs") / datetime.now().strftime("%Y%m%d-%H%M%S")
    )
    out = out.resolve()
    data = Path(config.data).resolve()
    if out == data or data in out.parents:
        raise SystemExit(f"refusing to write the run inside the dataset folder: {out}")
    out.mkdir(parents=True, exist_ok=True)
    return out


def get_strategy(name: str):
    import tensorflow as tf

    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()  # the default (one device) strategy, same code path


def prepare_data(config: TrainConfig, run_dir: Path) -> dict[str, Any]:
    """Audit, clean, split (before augmentation) and balance; save every list of files."""
    layout = discover(config.data)
    log(
        f"dataset {layout.root}: {len(layout.train)} train / {len(layout.test)} test files, {len(layout.classes)} classes"
    )
    audit = run_audit(layout, near_duplicates=config.near_duplicates)
    write_json(run_dir / "audit.json", audit.to_json())
    log("audit:\n" + format_table(audit))
    policy = AuditPolicy(near_duplicates=config.near_duplicates)
    clean = apply_policy(layout, audit, policy)
    fractions = (config.val_fraction,) + (
        (config.test_fraction,) if config.test_fraction > 0 else ()
    )
    parts = stratified_group_split(clean.train, clean.group_of, fractions, config.seed)
    train, val = parts[0], parts[1]
    internal_test = parts[2] if len(parts) > 2 else []
    split = {
        "seed": config.seed,
        "policy": policy.__dict__,
        "train": [str(r.path) for r in train],
        "val": [str(r.path) for r in val],
        "internal_test": [str(r.path) for r in internal_test],
        "test": [str(r.path) for r in clean.test],
        "excluded": [
            {"path": str(r.path), "class": r.label, "reason": why} for r, why in clean.excluded
        ],
    }
    write_json(run_dir / "split.json", split)
    log(
        f"split: {len(train)} train / {len(val)} val / {len(internal_test)} internal test; {len(clean.excluded)} excluded"
    )
    target: str | int = (
        config.balance_target
        if config.balance_target in ("max", "none")
        else int(config.balance_target)
    )
    balanced = balance(train, run_dir / "work", target, config.seed, config.balance_max_factor)
    write_json(run_dir / "balance.json", {"before": balanced.before, "after": balanced.after})
    return {
        "layout": layout,
        "audit": audit,
        "train": train,
        "augmented": list(balanced.records),
        "val": val,
        "internal_test": internal_test,
        "test": list(clean.test),
        "balance": balanced,
    }


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

    from trainer.model_spec import build_model_for, image_quality_augment

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
        total = max(1, steps * config.epochs)
        warmup = min(total - 1, steps * config.warmup_epochs)
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
            metrics=[
                "accuracy"
            ],  # by keyword: Keras 3 reads a third positional arg as loss_weights
        )
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

    y_tr_1h = keras.utils.to_categorical(y_tr, n)
    y_val_1h = keras.utils.to_categorical(y_val, n)
    train_ds = (
        tf.data.Dataset.from_tensor_slices((x_tr, y_tr_1h))
        .shuffle(len(x_tr), seed=config.seed, reshuffle_each_iteration=True)
        .map(
            (lambda x, y: (image_quality_augment(x, config.quality_rate), y))
            if config.augment and config.quality_rate > 0
            else (lambda x, y: (tf.cast(x, tf.float32), y)),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
        # Full batches only: TF 2.21 on CPU aborts ("double free") when a train step is
        # retraced for a smaller last batch. Shuffling each epoch means no image is lost for good.
        .batch(min(config.batch_size, len(x_tr)), drop_remainder=True)
        .prefetch(tf.data.AUTOTUNE)
    )
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


def data_summary(prepared: dict[str, Any], content_hash: str) -> dict[str, Any]:
    audit = prepared["audit"]
    return {
        "source": str(prepared["layout"].root),
        "content_sha256": content_hash,
        "images": audit.images,
        "per_class": {c: v["train"] for c, v in audit.per_class.items()},
        "duplicate_groups": len(audit.duplicate_groups),
        "conflicting_label_groups": len(audit.conflicting_labels),
        "split": {k: len(prepared[k]) for k in ("train", "val", "internal_test", "test")},
        "augmented_samples": len(prepared["augmented"]),
    }


def dataset_hash(audit) -> str:
    """Hash of (class, file content) pairs: identifies exactly the data a model was trained on."""
    import hashlib

    h = hashlib.sha256()
    for path, digest in sorted((str(p), d) for p, d in audit.hashes.items()):
        h.update(f"{Path(path).parent.name}/{digest}\n".encode())
    return h.hexdigest()


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
    prepared = prepare_data(config, run_dir)
    classes = prepared["layout"].classes
    if MELANOMA not in classes:
        raise SystemExit(
            f"no '{MELANOMA}' class folder: the melanoma alert needs one (classes: {', '.join(classes)})"
        )
    mel = classes.index(MELANOMA)

    x_tr, y_tr, _, f1 = load_arrays(
        prepared["train"] + prepared["augmented"], classes, pre, "load train"
    )
    x_val, y_val, _, f2 = load_arrays(prepared["val"], classes, pre, "load val")
    x_it, y_it, _, f3 = load_arrays(prepared["internal_test"], classes, pre, "load internal test")
    x_te, y_te, _, f4 = load_arrays(prepared["test"], classes, pre, "load test")
    if f1 + f2 + f3 + f4:
        log(f"{len(f1 + f2 + f3 + f4)} files could not be decoded and were skipped")
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
    counts = np.bincount(
        [classes.index(r.label) for r in prepared["train"]], minlength=len(classes)
    )
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
    val_logits = logits_of(parts, x_val)
    temperature = fit_temperature(val_logits, y_val)
    log(f"temperature {temperature:.3f}")

    # Export int8 (what ships) and float32 (for benchmarks); the card is built around the int8 model.
    rng = np.random.default_rng(config.seed)
    rep = x_tr[rng.choice(len(x_tr), size=min(300, len(x_tr)), replace=False)]
    tflite_bytes = to_tflite(parts, temperature, config.quantization, rep)
    (run_dir / "model.tflite").write_bytes(tflite_bytes)
    (run_dir / "model_float32.tflite").write_bytes(to_tflite(parts, temperature, "float32"))
    parts.model.save(run_dir / "model.keras")

    weights, bias = cam_weights(parts)
    card: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "name": "LesionLens EfficientNet-Lite0"
        if config.arch == "lite0"
        else "LesionLens custom CNN",
        "base_model": (
            {**PRETRAINED_SOURCE, "blocks_kept": config.lite_blocks}
            if config.arch == "lite0" and config.pretrained
            else None
        ),
        "model_version": f"{datetime.now(UTC).strftime('%Y.%m.%d')}-{dataset_hash(prepared['audit'])[:8]}",
        "classes": list(classes),
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
        "training_data": data_summary(prepared, dataset_hash(prepared["audit"])),
        "config": config.to_dict(),
        "trainer_version": TRAINER_VERSION,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "intended_use": INTENDED_USE,
        "limitations": LIMITATIONS,
    }

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

    evals: dict[str, Any] = {}
    splits = {"val": (x_val, y_val), "internal_test": (x_it, y_it), "test": (x_te, y_te)}
    for name, (x, y) in splits.items():
        if len(x) == 0:
            continue
        logits = logits_of(parts, x)
        q = q_val if name == "val" else tflite_probs(model_path, card, x)
        evals[name] = {
            "int8" if config.quantization == "int8" else config.quantization: classification_report(
                q, y, classes, mel, threshold
            ),
            "float": classification_report(
                softmax(logits, temperature), y, classes, mel, threshold
            ),
            "ece_uncalibrated_float": expected_calibration_error(softmax(logits), y),
            "top1_agreement_quantized_vs_float": float((q.argmax(1) == logits.argmax(1)).mean()),
        }
    qkey = "int8" if config.quantization == "int8" else config.quantization
    headline_split = "internal_test" if "internal_test" in evals else "val"
    head = evals[headline_split][qkey]
    drop = evals["val"]["float"]["accuracy"] - evals["val"][qkey]["accuracy"]
    card["metrics"] = {
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
        "ece_before_temperature": evals[headline_split]["ece_uncalibrated_float"],
        "ece_after_temperature": head["ece"],
        "ece_sampling_floor": head["ece_sampling_floor"],
        "float_accuracy": evals[headline_split]["float"]["accuracy"],
        "quantized_top1_agreement": evals[headline_split]["top1_agreement_quantized_vs_float"],
        "per_class_recall": {c: v["recall"] for c, v in head["per_class"].items()},
    }
    if "test" in evals:
        card["metrics"]["test_split"] = {
            "accuracy": evals["test"][qkey]["accuracy"],
            "balanced_accuracy": evals["test"][qkey]["balanced_accuracy"],
        }
    card["training"] = {
        "epochs_run": state.get("epoch"),
        "best_epoch": state.get("best_epoch"),
        "train_seconds": state.get("train_seconds"),
        "wall_seconds": time.perf_counter() - wall_start,
    }
    write_json(run_dir / "model.json", card)

    from trainer.report import write_report

    report = {
        "config": config.to_dict(),
        "card_metrics": card["metrics"],
        "alert": card["alert"],
        "temperature": temperature,
        "evaluations": evals,
        "training": card["training"],
        "history": state.get("history", []),
        "balance": {"before": prepared["balance"].before, "after": prepared["balance"].after},
        "model_bytes": len(tflite_bytes),
        "int8_accuracy_drop_val": drop,
        "shortcut_check": shortcut_check(prepared, classes, splits, parts),
        "reliability": reliability(parts, model_path, card, splits[headline_split]),
    }
    write_json(run_dir / "report.json", report)
    write_report(run_dir, report, card, prepared, pre)
    log(
        f"done in {card['training']['wall_seconds'] / 60:.1f} min: {headline_split} accuracy {head['accuracy']:.3f}, "
        f"balanced accuracy {head['balanced_accuracy']:.3f}"
    )
    if config.quantization == "int8" and drop > config.max_int8_drop:
        raise SystemExit(
            f"int8 model is {drop * 100:.1f} points less accurate than float on validation "
            f"(limit {config.max_int8_drop * 100:.0f}): not fit to ship"
        )
    return run_dir


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
    name = "internal_test" if len(prepared["internal_test"]) else "val"
    records = prepared[name]
    x, y = splits[name]
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
