"""Sealing a card to its model: the model file's SHA-256 and a few check images with the
probabilities the model gives them (the ``integrity`` block that :mod:`desktop.integrity`
verifies).

Why a module of its own: sealing runs the model (a :class:`~desktop.inference.Classifier`
on a :class:`~desktop.card.ModelCard`), while the card reads its seal with
:mod:`desktop.integrity`; kept apart, verifying the seal needs neither the card nor a
classifier and no module imports in a circle.

Any writer of cards (the trainer's export, ``adapt``) calls :func:`seal_card`.
``python -m desktop.seal --seal MODEL.tflite`` seals the card beside a model in place.
Qt- and TensorFlow-free.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from desktop.card import CardError, ModelCard, card_path_for, validate
from desktop.hashing import sha256_file
from desktop.inference import Classifier, ModelLoadError
from desktop.integrity import (
    KEY,
    MAX_CHECK_IMAGES,
    METHOD,
    SEPARATION,
    TOLERANCE,
    check_probabilities,
)


def seal_card(card: dict[str, Any], tflite_path: str | os.PathLike[str]) -> dict[str, Any]:
    """A copy of ``card`` with its ``integrity`` block (re)computed for ``tflite_path``.

    Runs the model with LiteRT through the app's own path, so the stored probabilities are
    what the app will report. ``card`` must otherwise be complete and valid.
    """
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


SIDE_H, SIDE_W = 36, 48  # not square, so the centre-square cut matters


def candidate_images(count: int = 32, seed: int = 20240601) -> list[Image.Image]:
    """Small synthetic "lesions": a colour cast (so colour constancy matters), a blob that
    reaches the edge of the centre square (so the crop matters), not square (so the
    centre-square cut matters). Only used when sealing; the PNG bytes are what is stored."""
    rng = np.random.default_rng(seed)
    xx = np.mgrid[:SIDE_H, :SIDE_W][1].astype(np.float32)
    images = []
    for _ in range(count):
        skin = rng.uniform(120, 240, 3) * rng.uniform(0.6, 1.0, 3)  # a cast per channel
        img = skin + (xx / SIDE_W - 0.5)[..., None] * rng.uniform(-40, 40, 3)
        for _blob in range(int(rng.integers(1, 4))):
            inside = _ellipse(rng, (0.2, 0.8), (0.25, 0.75), (4, 14))
            img[inside] = rng.uniform(20, 200, 3)
        images.append(_picture(rng, img))
    return images + _red_candidates(count, seed + 1)


def _red_candidates(count: int, seed: int) -> list[Image.Image]:
    """Pink-to-red rough patches on pale skin: the dark blobs above leave the red, scaly
    classes (actinic keratosis, squamous cell carcinoma) near zero and too alike to tell
    apart, and a swap of two such classes must still fail the check."""
    rng = np.random.default_rng(seed)
    images = []
    for _ in range(count):
        pale = rng.uniform(150, 240, 3) * np.array([1.0, 0.8, 0.75])
        img = np.tile(pale, (SIDE_H, SIDE_W, 1))
        inside = _ellipse(rng, (0.3, 0.7), (0.3, 0.7), (6, 16))
        img[inside] = rng.uniform([150, 40, 40], [255, 150, 150])
        img[inside] += rng.normal(0, rng.uniform(5, 40), (int(inside.sum()), 3))
        images.append(_picture(rng, img))
    return images


def _ellipse(
    rng: np.random.Generator, y: tuple[float, float], x: tuple[float, float], r: tuple[int, int]
) -> np.ndarray:
    """A random elliptic blob's mask: centre within the fractions ``y``, ``x`` of the sides,
    radii within ``r`` pixels."""
    yy, xx = np.mgrid[:SIDE_H, :SIDE_W].astype(np.float32)
    cy, cx = rng.uniform(*y) * SIDE_H, rng.uniform(*x) * SIDE_W
    ry, rx = rng.uniform(*r, 2)
    return ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 < 1.0


def _picture(rng: np.random.Generator, img: np.ndarray) -> Image.Image:
    """Sensor noise added, as an 8-bit RGB picture."""
    img = img + rng.normal(0, 4, img.shape)
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), mode="RGB")


def _png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def seal_files(model: Path, card_path: Path | None = None) -> Path:
    """Seal the card beside ``model`` (or ``card_path``) in place, atomically; returns its path.

    Only the ``integrity`` block changes; the rest of the card is written back as read.
    """
    card_path = card_path or card_path_for(model)
    data = json.loads(card_path.read_text(encoding="utf-8-sig"))
    sealed = seal_card(data, model)
    validate(sealed)
    tmp = card_path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(sealed, indent=2) + "\n", encoding="utf-8")
    tmp.replace(card_path)
    return card_path


def main(argv: Sequence[str] | None = None, prog: str = "python -m desktop.seal") -> int:
    """``python -m desktop.seal --seal MODEL.tflite [--card CARD.json]``."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Write the model file's SHA-256 and check images into its card.",
    )
    parser.add_argument("--seal", type=Path, required=True, metavar="MODEL.tflite")
    parser.add_argument("--card", type=Path, metavar="CARD.json", help="default: beside MODEL")
    args = parser.parse_args(argv)
    try:
        path = seal_files(args.seal, args.card)
    except (OSError, ValueError, CardError, ModelLoadError) as exc:
        print(f"cannot seal the card: {exc}", file=sys.stderr)
        return 1
    print(f"sealed {path} for {args.seal.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
