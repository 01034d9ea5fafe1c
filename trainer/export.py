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
from typing import TYPE_CHECKING, Any

import numpy as np

from desktop.card import CardError, ModelCard, validate
from desktop.integrity import IntegrityError, verify_model_file

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
    (run_dir / "model.tflite").write_bytes(tflite_bytes)
    (run_dir / "model_float32.tflite").write_bytes(to_tflite(parts, temperature, "float32"))
    parts.model.save(run_dir / "model.keras")
    return tflite_bytes


def cam_weights(parts: ModelParts) -> tuple[list[list[float]], list[float]]:
    """Dense kernel (channels x classes) and bias: CAM = features . kernel[:, class]."""
    kernel, bias = parts.head.get_weights()
    return kernel.astype(float).tolist(), bias.astype(float).tolist()


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, default=_json_default) + "\n", encoding="utf-8")


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


class ExportError(Exception):
    """A run that cannot be installed; nothing was changed in the destination."""


def attach_out_of_source(run_dir: Path, oos_dir: Path) -> tuple[Path, Path | None]:
    """Card and report of a run with the out-of-source check of its recipe added.

    The check is a second run of the same recipe with one source held out (``--holdout-source``);
    its figures go into the card (``metrics.out_of_source``) and the report, written as new
    files in the run folder so the run's own outputs stay as trained.
    """
    from trainer.card import split_figures
    from trainer.report import out_of_source_section

    oos = json.loads((oos_dir / "report.json").read_text(encoding="utf-8"))
    mine = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))
    theirs = {k: v for k, v in oos["config"].items() if k not in ("data", "out", "holdout_source")}
    differs = sorted(k for k, v in theirs.items() if mine.get(k) != v)
    if differs:
        raise ExportError(
            f"{oos_dir.name} is not the same recipe (differs in: {', '.join(differs)})"
        )
    e = oos["evaluations"].get("holdout")
    if not e:
        raise ExportError(f"{oos_dir.name} has no held-out source evaluation")
    q = e[oos["card_metrics"]["model"]]
    card = json.loads((run_dir / "model.json").read_text(encoding="utf-8"))
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
    card_out = run_dir / "model.installed.json"
    write_json(card_out, card)
    report_out = None
    if (run_dir / "report.md").is_file():
        report_out = run_dir / "report.installed.md"
        text = (run_dir / "report.md").read_text(encoding="utf-8")
        section = out_of_source_section(oos, oos_dir.name)
        cut = text.find("## Per source")
        text = text[:cut] + section + "\n" + text[cut:] if cut >= 0 else text + "\n" + section
        report_out.write_text(text, encoding="utf-8")
    return card_out, report_out


def install(
    run_dir: Path, dest: Path, report_dir: Path | None = None, out_of_source: Path | None = None
) -> list[Path]:
    """Copy a run's model and card into ``dest`` atomically (temp file + rename, card last).

    Refuses an incomplete card, so the app never sees a half-installed model.
    """
    run_dir, dest = Path(run_dir), Path(dest)
    model, card = run_dir / "model.tflite", run_dir / "model.json"
    report_md = run_dir / "report.md"
    if out_of_source is not None and card.is_file():
        card, installed_report = attach_out_of_source(run_dir, Path(out_of_source))
        report_md = installed_report or report_md
    if not model.is_file():
        raise ExportError(f"{model} not found: has the run finished?")
    try:
        data = json.loads(card.read_text(encoding="utf-8"))
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
    pairs = [(model, dest / "model.tflite"), (card, dest / "model.json")]
    if report_dir is not None:
        report_dir = Path(report_dir)
        (report_dir / "plots").mkdir(parents=True, exist_ok=True)
        if report_md.is_file():
            pairs.append((report_md, report_dir / "model-report.md"))
        pairs += [
            (png, report_dir / "plots" / png.name)
            for png in sorted((run_dir / "plots").glob("*.png"))
        ]
        oos_roc = Path(out_of_source or "") / "plots" / "roc_by_source.png"
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
