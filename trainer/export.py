"""Export: TFLite conversion (named signature, quantization as named choices), the model card,
and atomic installation into ``assets/``.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from desktop.card import CardError, ModelCard, validate
from desktop.integrity import IntegrityError, verify_model_file
from trainer.card import split_figures
from trainer.config import recipe
from trainer.report import render_installed_report
from trainer.run_folder import CARD, MODEL, RunFileMissing, RunFolder, read_json, write_json

if TYPE_CHECKING:  # importing model_spec starts Keras: 10 s that `trainer audit` does not need
    from trainer.model_spec import ModelParts


def serving_model(parts: ModelParts, temperature: float):
    """Keras model without augmentation: image -> {probabilities (calibrated), features}."""
    import keras
    from keras import layers

    from trainer.model_spec import FEATURES, INPUT_NAME, PROBABILITIES

    size = int(parts.backbone.input_shape[1])
    image = keras.Input((size, size, 3), name=INPUT_NAME)
    feats = parts.backbone(image)
    pooled = layers.GlobalAveragePooling2D()(feats)
    logits = parts.head(pooled)
    scaled = layers.Rescaling(1.0 / float(temperature), name="temperature")(logits)
    probs = layers.Softmax(name=PROBABILITIES)(scaled)
    return keras.Model(image, {PROBABILITIES: probs, FEATURES: feats}, name="lesion_cnn_serving")


def to_tflite(
    parts: ModelParts,
    temperature: float,
    quantization: str,
    representative: np.ndarray | None = None,
) -> bytes:
    """Convert to a TFLite flatbuffer: "int8" (full integer, uint8 pixels in) or "float32"."""
    import keras
    import tensorflow as tf

    from trainer.model_spec import INPUT_NAME

    model = serving_model(parts, temperature)
    size = int(model.input_shape[1])
    with tempfile.TemporaryDirectory() as tmp:
        # Keras' ExportArchive writes variables so the converter can freeze them.
        archive = keras.export.ExportArchive()
        archive.track(model)
        archive.add_endpoint(
            name="serving_default",
            fn=lambda image: model(image, training=False),
            input_signature=[tf.TensorSpec([1, size, size, 3], tf.float32, name=INPUT_NAME)],
        )
        archive.write_out(tmp, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(tmp)
        if quantization == "int8":
            if representative is None or len(representative) == 0:
                raise ValueError("int8 export needs representative images")

            def rep() -> Iterable[dict[str, np.ndarray]]:
                for img in representative:
                    yield {INPUT_NAME: img[None].astype(np.float32)}

            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.representative_dataset = rep
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            converter.inference_input_type = tf.uint8
            converter.inference_output_type = tf.int8
        elif quantization != "float32":
            raise ValueError(f"unknown quantization {quantization!r}")
        return converter.convert()


def export_run(
    run_dir: Path,
    parts: ModelParts,
    temperature: float,
    quantization: str,
    x_train: np.ndarray,
    seed: int,
) -> bytes:
    """Write ``model.tflite`` (``quantization``: what ships), ``model_float32.tflite`` (for
    benchmarks) and ``model.keras`` into the run; returns the shipped model's bytes.

    Representative images for int8: up to 300 training images, drawn with ``seed``.
    """
    rng = np.random.default_rng(seed)
    rep = x_train[rng.choice(len(x_train), size=min(300, len(x_train)), replace=False)]
    tflite_bytes = to_tflite(parts, temperature, quantization, rep)
    folder = RunFolder(run_dir)
    folder.model.write_bytes(tflite_bytes)
    folder.model_float32.write_bytes(to_tflite(parts, temperature, "float32"))
    parts.model.save(folder.model_keras)
    return tflite_bytes


class ExportError(Exception):
    """A run that cannot be installed; nothing was changed in the destination."""


def attach_out_of_source(run_dir: Path, oos_dir: Path) -> tuple[Path, Path | None]:
    """Card and report of a run with the out-of-source check of its recipe added.

    The check is a second run of the same recipe with one source held out (``--holdout-source``);
    its figures go into the card (``metrics.out_of_source``) and the report, written as new
    files in the run folder so the run's own outputs stay as trained.
    """
    run, other = RunFolder(run_dir), RunFolder(oos_dir)
    oos = other.read_report()
    # One owner of "the same recipe" (trainer.config.recipe), as the held-out refits use.
    mine, theirs = recipe(read_json(run.config, "config.json")), recipe(oos["config"])
    differs = sorted(k for k in mine.keys() | theirs.keys() if mine.get(k) != theirs.get(k))
    if differs:
        raise ExportError(f"{other.name} is not the same recipe (differs in: {', '.join(differs)})")
    e = oos["evaluations"].get("holdout")
    if not e:
        raise ExportError(f"{other.name} has no held-out source evaluation")
    q = e[oos["card_metrics"]["model"]]
    card = run.read_card()
    card["metrics"]["out_of_source"] = {
        "source": oos["config"]["holdout_source"],
        **split_figures(q),
        "method": "same recipe retrained without this source, scored on it at that run's own threshold",
    }
    # That run's "high" melanoma grade and referral prompts on the held-out source, each at
    # its own threshold (runs made before these points existed have none).
    points = oos["card_metrics"].get("out_of_source", {}).get("operating_points")
    if points:
        card["metrics"]["out_of_source"]["operating_points"] = points
    write_json(run.installed_card, card)
    if not run.report_md.is_file():
        return run.installed_card, None
    # Rendered again whole, the check in its place, from the run's report.json.
    text = render_installed_report(run, card, oos, other.name)
    run.installed_report.write_text(text, encoding="utf-8")
    return run.installed_card, run.installed_report


def install(
    run_dir: Path, dest: Path, report_dir: Path | None = None, out_of_source: Path | None = None
) -> list[Path]:
    """Copy a run's model and card into ``dest`` atomically (temp file + rename, card last).

    Refuses an incomplete card, so the app never sees a half-installed model.
    """
    run = RunFolder(run_dir)
    dest = Path(dest)
    model, card, report_md = run.model, run.card, run.report_md
    if out_of_source is not None and card.is_file():
        try:
            card, installed_report = attach_out_of_source(run.path, Path(out_of_source))
        except RunFileMissing as exc:
            raise ExportError(str(exc)) from None
        report_md = installed_report or report_md
    if not model.is_file():
        raise ExportError(f"{model} not found: has the run finished?")
    try:
        data = read_json(card)
        validate(data)
    except FileNotFoundError:
        raise ExportError(f"{card} not found: has the run finished?") from None
    except (json.JSONDecodeError, CardError) as exc:
        raise ExportError(f"refusing to install: {exc}") from None
    try:  # the app would refuse a model its card was not sealed for; so does install
        seal = ModelCard.from_dict(data).integrity
        if seal is not None:
            verify_model_file(seal, model)
    except (CardError, IntegrityError) as exc:
        raise ExportError(f"refusing to install: {exc}") from None
    dest.mkdir(parents=True, exist_ok=True)
    pairs = [(model, dest / MODEL), (card, dest / CARD)]
    if report_dir is not None:
        report_dir = Path(report_dir)
        (report_dir / "plots").mkdir(parents=True, exist_ok=True)
        if report_md.is_file():
            pairs.append((report_md, report_dir / "model-report.md"))
        pairs += [(png, report_dir / "plots" / png.name) for png in sorted(run.plots.glob("*.png"))]
        oos_roc = RunFolder(out_of_source or "").plots / "roc_by_source.png"
        if out_of_source is not None and oos_roc.is_file():
            pairs.append((oos_roc, report_dir / "plots" / "roc_out_of_source.png"))
    # Stage every file first; only when all copies succeeded are they renamed into place
    # (model before card), so a failure leaves the previous model and card as they were.
    staged: list[tuple[Path, Path]] = []
    try:
        for src, dst in pairs:
            staged.append((_stage(src, dst), dst))
    except BaseException:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        raise
    for tmp, dst in staged:
        os.replace(tmp, dst)
    return [dst for _, dst in staged]


def _stage(src: Path, dst: Path) -> Path:
    """Copy ``src`` to a hidden temp file beside ``dst`` (same filesystem, so rename is atomic)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{dst.name}.", dir=dst.parent)
    os.close(fd)
    try:
        shutil.copyfile(src, tmp)
        os.chmod(
            tmp, 0o644
        )  # mkstemp makes 0600: the installed model must be readable by every user
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)
