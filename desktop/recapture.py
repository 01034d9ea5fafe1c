"""Taking the same photo again: the re-captures a GP's second shot may differ by.

Fixed re-captures (:data:`VARIANTS`) are what ``benchmarks.robustness`` measures the verdict's
stability on; :func:`random_recapture` draws one at random from wider ranges
(:data:`RANGES`), the augmentation a head is fitted on so that a re-take moves it less. Pillow
and NumPy only: the app's ``adapt`` may use it.
"""

from __future__ import annotations

import hashlib
import io
import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter, ImageOps


def jpeg(img: Image.Image, quality: int) -> Image.Image:
    """Saved and re-opened as JPEG at ``quality``: the phone's or the PACS's compression."""
    buf = io.BytesIO()
    img.convert("RGB").save(buf, format="JPEG", quality=quality)
    buf.seek(0)
    with Image.open(buf) as out:
        return out.convert("RGB")


def scaled(img: Image.Image, factor: float) -> Image.Image:
    """Resized by ``factor`` per side (a photo taken from further away, or a smaller sensor)."""
    w, h = img.size
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    return img.resize(size, Image.Resampling.LANCZOS)


def half_size(img: Image.Image) -> Image.Image:
    return scaled(img, 0.5)


def rotate_90(img: Image.Image) -> Image.Image:
    """The camera held a quarter turn round (a dermoscopy photo has no 'up')."""
    return img.transpose(Image.Transpose.ROTATE_90)


def mirror(img: Image.Image) -> Image.Image:
    return ImageOps.mirror(img)


def channel_gains(img: Image.Image, gains: Sequence[float]) -> Image.Image:
    """Each RGB channel multiplied by its gain, clipped to 0..255 (exposure, white balance)."""
    arr = np.asarray(img.convert("RGB"), dtype=np.float32) * np.asarray(gains, np.float32)
    return Image.fromarray(np.clip(np.round(arr), 0, 255).astype(np.uint8), mode="RGB")


def brighter(img: Image.Image) -> Image.Image:
    return channel_gains(img, (1.12, 1.12, 1.12))


def warmer(img: Image.Image) -> Image.Image:
    """A warmer white balance: red up 8 %, blue down 8 %."""
    return channel_gains(img, (1.08, 1.0, 0.92))


def centre_crop(img: Image.Image, keep: float = 0.85) -> Image.Image:
    """The centre ``keep`` of each side: the lesion framed a little closer."""
    w, h = img.size
    cw, ch = max(1, round(w * keep)), max(1, round(h * keep))
    left, top = (w - cw) // 2, (h - ch) // 2
    return img.crop((left, top, left + cw, top + ch))


def blur(img: Image.Image, radius: float = 1.0) -> Image.Image:
    """Slightly out of focus (Gaussian, ``radius`` pixels)."""
    return img.filter(ImageFilter.GaussianBlur(radius))


def phone(img: Image.Image) -> Image.Image:
    """A phone through a clip-on dermatoscope: soft optics, warm, smaller, JPEG 60."""
    return jpeg(scaled(warmer(blur(img, 0.7)), 0.75), 60)


@dataclass(frozen=True)
class Variant:
    """One way of taking the photo again, and its words for the table."""

    make: Callable[[Image.Image], Image.Image]
    description: str


VARIANTS: dict[str, Variant] = {
    "jpeg_q40": Variant(lambda im: jpeg(im, 40), "JPEG quality 40"),
    "half_size": Variant(half_size, "half size (each side halved, Lanczos)"),
    "rotate_90": Variant(rotate_90, "90° rotation"),
    "mirror": Variant(mirror, "mirrored left-right"),
    "brighter_12": Variant(brighter, "+12 % brightness"),
    "warmer": Variant(warmer, "warmer white balance (R x1.08, B x0.92)"),
    "crop_85": Variant(centre_crop, "85 % centre crop"),
    "blur_1px": Variant(blur, "Gaussian blur, radius 1 px"),
    "phone": Variant(phone, "phone-like: blur 0.7 px, warmer, 75 % size, JPEG 60"),
}


# Each step of a random re-capture: the chance it is applied, and the range its strength is
# drawn from (uniform). Wider than the fixed variants on every side, so that the benchmark's
# re-captures are inside what a head is fitted on, not the ranges' edges.
RANGES: dict[str, tuple[float, tuple[float, float]]] = {
    "crop": (0.5, (0.75, 1.0)),  # share of each side kept around the centre
    "scale": (0.5, (0.4, 1.0)),  # size per side (a further shot, a smaller sensor)
    "blur": (0.3, (0.3, 1.3)),  # Gaussian radius, pixels
    "brightness": (0.5, (0.85, 1.15)),  # gain on every channel
    "white_balance": (0.5, (0.9, 1.1)),  # red gain; blue gets its reciprocal
    "jpeg": (0.5, (30.0, 95.0)),  # quality
}


# Which copies a seed gives: a cache of copies' features (desktop.features) holds this, so new
# ranges or steps make new copies rather than reuse old ones.
RECAPTURE_VERSION = hashlib.sha256(json.dumps(["v1", RANGES]).encode()).hexdigest()[:8]


def random_recapture(img: Image.Image, rng: random.Random) -> Image.Image:
    """``img`` taken again: each step of :data:`RANGES` applied with its chance, in a camera's
    order (framing, distance, focus, exposure, white balance, compression)."""

    def draw(step: str) -> float | None:
        chance, (lo, hi) = RANGES[step]
        return rng.uniform(lo, hi) if rng.random() < chance else None

    out = img.convert("RGB")
    if (keep := draw("crop")) is not None:
        out = centre_crop(out, keep)
    if (factor := draw("scale")) is not None:
        out = scaled(out, factor)
    if (radius := draw("blur")) is not None:
        out = blur(out, radius)
    gains = np.ones(3)
    if (gain := draw("brightness")) is not None:
        gains *= gain
    if (red := draw("white_balance")) is not None:
        gains *= (red, 1.0, 1.0 / red)
    if not np.allclose(gains, 1.0):
        out = channel_gains(out, tuple(gains))
    if (quality := draw("jpeg")) is not None:
        out = jpeg(out, round(quality))
    return out
