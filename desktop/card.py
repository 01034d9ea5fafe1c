"""The model card (``model.json``): the only contract between trainer and app.

The trainer writes it, the app reads it; neither hard-codes class order, input
size, preprocessing, temperature or the melanoma threshold. Qt- and TF-free.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from desktop.imaging import Preprocessing

FORMAT_VERSION = 1
MELANOMA = "melanoma"

REQUIRED_KEYS = (
    "format_version",
    "model_version",
    "classes",
    "melanoma_index",
    "input",
    "preprocessing",
    "outputs",
    "calibration",
    "alert",
    "uncertainty",
    "cam",
    "metrics",
    "training_data",
    "trainer_version",
    "created",
    "intended_use",
    "limitations",
)


class CardError(Exception):
    """A missing, unreadable or inconsistent model card; ``str(err)`` says what is wrong."""


@dataclass(frozen=True)
class ModelCard:
    """Validated view of ``model.json``; ``raw`` keeps everything for the About dialog."""

    classes: tuple[str, ...]
    melanoma_index: int
    preprocessing: Preprocessing
    input_name: str
    probabilities_output: str
    features_output: str
    temperature: float
    melanoma_threshold: float
    min_top_probability: float
    cam_weights: tuple[tuple[float, ...], ...]  # (channels, classes)
    cam_bias: tuple[float, ...]
    model_version: str
    raw: dict[str, Any] = field(repr=False, compare=False)

    @property
    def input_size(self) -> int:
        return int(self.preprocessing.size)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def metrics(self) -> dict[str, Any]:
        return dict(self.raw.get("metrics", {}))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelCard:
        """Validate a card dict; raises :class:`CardError` naming the first problem."""
        validate(data)
        cam = data["cam"]
        return cls(
            classes=tuple(data["classes"]),
            melanoma_index=int(data["melanoma_index"]),
            preprocessing=Preprocessing.from_dict(data["preprocessing"]),
            input_name=str(data["input"]["name"]),
            probabilities_output=str(data["outputs"]["probabilities"]),
            features_output=str(data["outputs"]["features"]),
            temperature=float(data["calibration"]["temperature"]),
            melanoma_threshold=float(data["alert"]["melanoma_threshold"]),
            min_top_probability=float(data["uncertainty"]["min_top_probability"]),
            cam_weights=tuple(tuple(float(v) for v in row) for row in cam["weights"]),
            cam_bias=tuple(float(v) for v in cam["bias"]),
            model_version=str(data["model_version"]),
            raw=data,
        )


def validate(data: Any) -> None:
    """Raise :class:`CardError` unless ``data`` is a complete, self-consistent card."""
    if not isinstance(data, dict):
        raise CardError("model card is not a JSON object")
    missing = [k for k in REQUIRED_KEYS if k not in data]
    if missing:
        raise CardError(f"model card is incomplete: missing {', '.join(missing)}")
    if data["format_version"] != FORMAT_VERSION:
        raise CardError(
            f"model card format {data['format_version']!r} is not supported (expected {FORMAT_VERSION})"
        )
    classes = data["classes"]
    if (
        not isinstance(classes, list)
        or len(classes) < 2
        or not all(isinstance(c, str) and c for c in classes)
        or len(set(classes)) != len(classes)
    ):
        raise CardError("model card 'classes' must be a list of at least two distinct names")
    mi = data["melanoma_index"]
    if not isinstance(mi, int) or not 0 <= mi < len(classes):
        raise CardError("model card 'melanoma_index' does not point into 'classes'")
    try:
        pre = Preprocessing.from_dict(data["preprocessing"])
    except (TypeError, ValueError, AttributeError) as exc:
        raise CardError(f"model card 'preprocessing' is invalid: {exc}") from None
    inp = data["input"]
    if not isinstance(inp, dict) or "name" not in inp or inp.get("size") != pre.size:
        raise CardError("model card 'input' must name the input and match the preprocessing size")
    outs = data["outputs"]
    if not isinstance(outs, dict) or not {"probabilities", "features"} <= set(outs):
        raise CardError("model card 'outputs' must name 'probabilities' and 'features'")
    for section, key in (
        ("calibration", "temperature"),
        ("alert", "melanoma_threshold"),
        ("uncertainty", "min_top_probability"),
    ):
        value = data[section].get(key) if isinstance(data[section], dict) else None
        if not isinstance(value, int | float) or not math.isfinite(value):
            raise CardError(f"model card '{section}.{key}' must be a number")
    if data["calibration"]["temperature"] <= 0:
        raise CardError("model card temperature must be positive")
    for section, key in (("alert", "melanoma_threshold"), ("uncertainty", "min_top_probability")):
        if not 0.0 <= data[section][key] <= 1.0:
            raise CardError(f"model card '{section}.{key}' must lie in [0, 1]")
    cam = data["cam"]
    try:
        weights, bias = cam["weights"], cam["bias"]
        ok = (
            len(weights) > 0
            and all(len(row) == len(classes) for row in weights)
            and len(bias) == len(classes)
        )
    except (TypeError, KeyError):
        ok = False
    if not ok:
        raise CardError(
            "model card 'cam' must hold weights (channels x classes) and bias (classes)"
        )
    if not isinstance(data["metrics"], dict):
        raise CardError("model card 'metrics' must be an object")


def load_card(path: str | os.PathLike[str]) -> ModelCard:
    """Read and validate a card file; every failure is a :class:`CardError`."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CardError(f"model card not found: {p}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CardError(f"model card cannot be read: {p} ({exc})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CardError(f"model card is not valid JSON: {p} (line {exc.lineno})") from None
    return ModelCard.from_dict(data)


def card_path_for(model_path: str | os.PathLike[str]) -> Path:
    """The card lives beside the model: ``model.tflite`` -> ``model.json``."""
    return Path(model_path).with_suffix(".json")
