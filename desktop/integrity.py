"""The card's seal on its model: the model file's SHA-256 and a few check images.

Why: a model file with a few flipped bytes still loads and answers, wrongly; a card with two
class names swapped, or a preprocessing setting changed, is still a valid card. The seal
catches both. The hash is checked every time a model is loaded (``Classifier``); the check
images, with the probabilities the sealed model gave them by class name, are run by
``--self-check`` through the app's own path (the card's preprocessing and test-time views).

Here the seal is read and checked, with neither the card's module nor a classifier imported;
it is written by :mod:`desktop.seal` (``seal_card``, ``python -m desktop.seal --seal
MODEL.tflite``). Qt- and TensorFlow-free. Cards without a seal (older ones) are still accepted.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import io
import math
import numbers
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image

from desktop.hashing import sha256_file
from desktop.imaging import preprocess

if TYPE_CHECKING:  # card imports this module (and inference imports card)
    from desktop.card import ModelCard
    from desktop.inference import Classifier

KEY = "integrity"
TOLERANCE = 1e-3  # per class; int8 outputs step by 1/256, averaged over the views
MAX_CHECK_IMAGES = 4
MAX_CHECK_SIDE = 256  # a check image is a thumbnail; anything larger is not one of ours
MAX_PNG_BYTES = 64 * 1024
SEPARATION = 0.005  # 5x the tolerance: some check image must tell two classes this far apart
_HEX64 = re.compile(r"[0-9a-f]{64}")
METHOD = (
    "model_sha256: SHA-256 of the model file; check_images: PNGs run through the card's "
    "preprocessing and test-time views, probabilities by class name, compared to 'tolerance'"
)


class IntegrityError(Exception):
    """The model file or the card does not match the seal; ``str(err)`` is one line."""


@dataclass(frozen=True)
class CheckImage:
    """One stored check image and the probabilities (by class name) the sealed model gave it."""

    png: bytes
    probabilities: dict[str, float]

    def image(self) -> Image.Image:
        with Image.open(io.BytesIO(self.png), formats=("PNG",)) as img:
            return img.convert("RGB")


@dataclass(frozen=True)
class Seal:
    """The card's ``integrity`` block, validated."""

    model_sha256: str
    check_images: tuple[CheckImage, ...]
    tolerance: float = TOLERANCE


def parse_seal(block: Any, classes: Sequence[str]) -> Seal:
    """Validate a card's ``integrity`` block; ``ValueError`` with a short reason otherwise.

    Extra keys are ignored (newer writers may add some); check-image probabilities must
    name exactly the card's classes, so a renamed class makes the seal stale, not wrong.
    """
    if not isinstance(block, dict):
        raise ValueError("must be an object")
    sha = block.get("model_sha256")
    if not isinstance(sha, str) or not _HEX64.fullmatch(sha):
        raise ValueError("'model_sha256' must be 64 lowercase hex digits")
    tolerance = block.get("tolerance", TOLERANCE)
    if not is_number(tolerance) or not 0.0 < tolerance <= 0.1:
        raise ValueError("'tolerance' must be a number in (0, 0.1]")
    items = block.get("check_images")
    if not isinstance(items, list) or not 1 <= len(items) <= 16:
        raise ValueError("'check_images' must be a list of 1 to 16 images")
    images = tuple(_parse_check_image(i, item, classes) for i, item in enumerate(items, 1))
    return Seal(model_sha256=sha, check_images=images, tolerance=float(tolerance))


def _parse_check_image(number: int, item: Any, classes: Sequence[str]) -> CheckImage:
    if not isinstance(item, dict):
        raise ValueError(f"check image {number} must be an object")
    text = item.get("png")
    if not isinstance(text, str) or len(text) > MAX_PNG_BYTES * 4 // 3 + 4:
        raise ValueError(f"check image {number} needs 'png': base64 text of a small PNG")
    try:
        png = base64.b64decode(text, validate=True)
        with Image.open(io.BytesIO(png), formats=("PNG",)) as img:
            w, h = img.size
    except (binascii.Error, ValueError, OSError, Image.DecompressionBombError):
        raise ValueError(f"check image {number} is not a base64 PNG") from None
    if not (1 <= w <= MAX_CHECK_SIDE and 1 <= h <= MAX_CHECK_SIDE):
        raise ValueError(f"check image {number} is {w}x{h}, over {MAX_CHECK_SIDE} pixels a side")
    probs = item.get("probabilities")
    if not isinstance(probs, dict) or sorted(probs) != sorted(classes):
        raise ValueError(f"check image {number} probabilities must name exactly the card's classes")
    if not all(is_number(v) and 0.0 <= v <= 1.0 for v in probs.values()):
        raise ValueError(f"check image {number} probabilities must be numbers in [0, 1]")
    return CheckImage(png=png, probabilities={k: float(v) for k, v in probs.items()})


def is_number(value: Any) -> bool:
    """A finite real number (numpy scalars welcome); bools and 400-digit ints are not.

    The one such check of the card's figures: ``desktop.card`` uses it too."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return False
    try:
        return math.isfinite(float(value))
    except (OverflowError, ValueError, TypeError):
        return False


def verify_model_file(seal: Seal, path: str | os.PathLike[str]) -> None:
    """Refuse a model file whose bytes are not the ones the card was sealed with."""
    actual = sha256_file(path)
    if actual != seal.model_sha256:
        raise IntegrityError(
            f"{Path(path).name} is not the model its card was made for (SHA-256 "
            f"{actual[:12]}..., the card says {seal.model_sha256[:12]}...): "
            "the file is damaged or was replaced"
        )


def check_probabilities(classifier: Classifier, image: Image.Image) -> dict[str, float]:
    """What the app reports for ``image``, by class name: the card's preprocessing, then the
    mean over the card's test-time views (``Classifier.probabilities``, as ``predict_image``)."""
    card = classifier.card
    probs, _ = classifier.probabilities(preprocess(image.convert("RGB"), card.preprocessing))
    return {c: float(p) for c, p in zip(card.classes, probs, strict=True)}


def verify_check_images(classifier: Classifier, seal: Seal) -> float:
    """Run every check image; raise :class:`IntegrityError` naming the worst class of the
    first image off by more than the tolerance. Returns the largest difference seen."""
    worst_seen = 0.0
    for number, check in enumerate(seal.check_images, 1):
        got = check_probabilities(classifier, check.image())
        diffs = {c: abs(got.get(c, math.nan) - p) for c, p in check.probabilities.items()}
        cls, worst = max(diffs.items(), key=lambda kv: -1.0 if math.isnan(kv[1]) else kv[1])
        if not worst <= seal.tolerance:  # NaN fails too
            raise IntegrityError(
                f"check image {number} of {len(seal.check_images)}: {cls} "
                f"{got.get(cls, math.nan):.4f} where the card says "
                f"{check.probabilities[cls]:.4f} (the card's classes, preprocessing or "
                "views do not match the model)"
            )
        worst_seen = max(worst_seen, worst)
    return worst_seen


def unsealed(card: ModelCard) -> ModelCard:
    """``card`` without its seal, for running a sibling export with it (a run's float32 model
    is measured with the int8 model's card, which describes it in all but its bytes)."""
    raw = {k: v for k, v in card.raw.items() if k != KEY}
    return dataclasses.replace(card, integrity=None, raw=raw)
