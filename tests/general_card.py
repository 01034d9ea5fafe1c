"""A copy of the shipped model with a tiny general-purpose network beside it: what the tests of
the general network and of the scope's gate build on (desktop.general, desktop.scope)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from desktop.descriptor import DESCRIPTOR

ASSETS = Path(__file__).resolve().parent.parent / "assets"
SIZE = 32  # the tiny network's input: the shipped card's 128-pixel views shrink by 4
FEATURES = 6


def tiny_network(folder: Path) -> tuple[Path, dict]:
    """A tiny Keras network from images to 6 features, exported as the app's general network
    (the ``tiny_general`` fixture of conftest)."""
    import keras

    from trainer.general import export

    keras.utils.set_random_seed(0)
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.Rescaling(1 / 255.0)(inputs)
    x = keras.layers.Conv2D(FEATURES, 3, activation="relu")(x)
    model = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(x), name="tiny")
    block = export(folder / "general.tflite", SIZE, model)
    return folder / "general.tflite", block


def card_data() -> dict:
    """The shipped card without a general network, and a scope that reads the lesion model only
    (whatever the shipped card holds): the base these tests add the tiny network to."""
    data = json.loads((ASSETS / "model.json").read_text(encoding="utf-8"))
    data.pop("general", None)
    scope = data.get("scope")
    if isinstance(scope, dict) and scope.get("general_features"):
        data.pop("scope")
    return data


def plain_model(folder: Path) -> Path:
    """A copy of the shipped model with :func:`_card_data` beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(ASSETS / "model.tflite", folder / "model.tflite")
    (folder / "model.json").write_text(json.dumps(card_data()), encoding="utf-8")
    return folder / "model.tflite"


def assets_with(tmp_path: Path, tiny_general, **changes) -> Path:
    """:func:`_plain` with the tiny network beside it."""
    from trainer.general import attach

    model = plain_model(tmp_path)
    shutil.copy(tiny_general[0], tmp_path / "general.tflite")
    attach(tmp_path / "model.json", {**tiny_general[1], **changes})
    return model


def general_scope(card: dict) -> dict:
    """A (flat) scope block that reads the lesion descriptor and the tiny network's features."""
    dim = len(card["cam"]["weights"]) * len(DESCRIPTOR) + FEATURES
    return {
        "method": "dermoscopy-vs-other-logistic",
        "inputs": "mean+spatial+general",
        "general_features": FEATURES,
        "mean": [0.0] * dim,
        "scale": [1.0] * dim,
        "weights": [0.0] * dim,
        "bias": 0.0,
        "threshold": -1.0,
    }


def image(seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 255, (150, 200, 3), dtype=np.uint8))
