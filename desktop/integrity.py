"""The card's seal on its model: the model file's SHA-256 and a few check images.

Why: a model file with a few flipped bytes still loads and answers, wrongly; a card with two
class names swapped, or a preprocessing setting changed, is still a valid card. The seal
catches both. The hash is checked every time a model is loaded (``Classifier``); the check
images, with the probabilities the sealed model gave them by class name, are run by
``--self-check`` through the app's own path (the card's preprocessing and test-time views).

Any writer of cards (the trainer's export, a future ``adapt``) calls :func:`seal_card`.
``python -m desktop.integrity --seal MODEL.tflite`` seals the card beside a model in place.
Qt- and TensorFlow-free. Cards without a seal (older ones) are still accepted.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import dataclasses
import io
import json
import math
import numbers
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
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


def seal_card(card: dict[str, Any], tflite_path: str | os.PathLike[str]) -> dict[str, Any]:
    """A copy of ``card`` with its ``integrity`` block (re)computed for ``tflite_path``.

    Runs the model with LiteRT through the app's own path, so the stored probabilities are
    what the app will report. ``card`` must otherwise be complete and valid.
    """
    from desktop.card import ModelCard  # card imports this module
    from desktop.inference import Classifier

    unsealed = {k: v for k, v in card.items() if k != KEY}
    classifier = Classifier(tflite_path, card=ModelCard.from_dict(unsealed))
    pool = []
    for img in candidate_images():
        png = _png_bytes(img)
        with Image.open(io.BytesIO(png)) as stored:  # exactly what will be checked
            pool.append((png, check_probabilities(classifier, stored)))
    chosen = choose_check_images([p for _, p in pool], MAX_CHECK_IMAGES)
    block = {
        "model_sha256": sha256_file(tflite_path),
        "tolerance": TOLERANCE,
        "method": METHOD,
        "check_images": [
            {
                "png": base64.b64encode(pool[i][0]).decode("ascii"),
                "probabilities": {c: round(p, 6) for c, p in pool[i][1].items()},
            }
            for i in chosen
        ],
    }
    return {**card, KEY: block}


def choose_check_images(probs: Sequence[dict[str, float]], count: int) -> list[int]:
    """Indices of ``count`` candidates, chosen greedily so that every pair of classes has an
    image whose probabilities tell them apart (a swapped class list then fails the check)."""
    classes = list(probs[0])
    pairs = [(a, b) for i, a in enumerate(classes) for b in classes[i + 1 :]]

    def gaps(chosen: list[int]) -> list[float]:
        return [
            max((abs(probs[i][a] - probs[i][b]) for i in chosen), default=0.0) for a, b in pairs
        ]

    chosen: list[int] = []
    for _ in range(min(count, len(probs))):
        rest = [i for i in range(len(probs)) if i not in chosen]

        def score(i: int) -> tuple[int, float]:
            g = gaps([*chosen, i])
            return (sum(v >= SEPARATION for v in g), min(g))

        chosen.append(max(rest, key=score))
    return chosen


def candidate_images(count: int = 32, seed: int = 20240601) -> list[Image.Image]:
    """Small synthetic "lesions": a colour cast (so colour constancy matters), a blob that
    reaches the edge of the centre square (so the crop matters), not square (so the
    centre-square cut matters). Only used when sealing; the PNG bytes are what is stored."""
    rng = np.random.default_rng(seed)
    h, w = 36, 48
    yy, xx = np.mgrid[:h, :w].astype(np.float32)
    images = []
    for _ in range(count):
        skin = rng.uniform(120, 240, 3) * rng.uniform(0.6, 1.0, 3)  # a cast per channel
        img = skin + (xx / w - 0.5)[..., None] * rng.uniform(-40, 40, 3)
        for _blob in range(int(rng.integers(1, 4))):
            cy, cx = rng.uniform(0.2, 0.8) * h, rng.uniform(0.25, 0.75) * w
            ry, rx = rng.uniform(4, 14, 2)
            inside = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 < 1.0
            img[inside] = rng.uniform(20, 200, 3)
        img = img + rng.normal(0, 4, img.shape)
        images.append(Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), mode="RGB"))
    return images


def _png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def seal_files(model: Path, card_path: Path | None = None) -> Path:
    """Seal the card beside ``model`` (or ``card_path``) in place, atomically; returns its path.

    Only the ``integrity`` block changes; the rest of the card is written back as read.
    """
    from desktop.card import card_path_for, validate

    card_path = card_path or card_path_for(model)
    data = json.loads(card_path.read_text(encoding="utf-8-sig"))
    sealed = seal_card(data, model)
    validate(sealed)
    tmp = card_path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(sealed, indent=2) + "\n", encoding="utf-8")
    tmp.replace(card_path)
    return card_path


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m desktop.integrity --seal MODEL.tflite [--card CARD.json]``."""
    parser = argparse.ArgumentParser(
        prog="python -m desktop.integrity",
        description="Write the model file's SHA-256 and check images into its card.",
    )
    parser.add_argument("--seal", type=Path, required=True, metavar="MODEL.tflite")
    parser.add_argument("--card", type=Path, metavar="CARD.json", help="default: beside MODEL")
    args = parser.parse_args(argv)
    from desktop.card import CardError
    from desktop.inference import ModelLoadError

    try:
        path = seal_files(args.seal, args.card)
    except (OSError, ValueError, CardError, ModelLoadError) as exc:
        print(f"cannot seal the card: {exc}", file=sys.stderr)
        return 1
    print(f"sealed {path} for {args.seal.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
